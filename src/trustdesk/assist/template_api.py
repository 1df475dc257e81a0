"""JSON routes of response templates: list, read and use them (cases.reply); write, translate, retire
and delete them (templates.edit). Changes carry the template's version: If-Match with its ETag."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import Field

from trustdesk.assist import macros
from trustdesk.assist.models import ResponseTemplate
from trustdesk.assist.rendering import MAX_BODY
from trustdesk.cases.access import case_for
from trustdesk.cases.models import Status
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Invalid, PreconditionFailed, PreconditionRequired
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import DbId, Out, StrictIn
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep

router = APIRouter(tags=["templates"])
Reader = Annotated[Actor, Depends(Requires(Perm.CASE_REPLY))]
Editor = Annotated[Actor, Depends(Requires(Perm.TEMPLATES_EDIT))]
TemplateId = Annotated[int, Path(ge=1, le=MAX_ID)]
LocaleCode = Annotated[str, Path(min_length=2, max_length=16, examples=["es-MX"])]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY)]


class ActionsIn(StrictIn):
    status: str | None = Field(default=None, description="Leave the case open, pending, on_hold or solved",
                               examples=["solved"])
    add_tags: list[str] = Field(default_factory=list, max_length=macros.MAX_TAGS, examples=[["refund"]])
    priority: str | None = Field(default=None, description="low, normal, high or urgent")


class TemplateUpdate(StrictIn):
    name: str = Field(min_length=1, max_length=200, examples=["Refund issued"])
    description: str = Field(default="", max_length=1000)
    team_id: DbId | None = Field(default=None, description="The team whose agents use it; none: every team")
    default_locale: str = Field(default="en", min_length=2, max_length=16,
                                description="The text used when the case's language has none")
    bodies: dict[str, Body] = Field(min_length=1, max_length=macros.MAX_LOCALES,
                                    description="The text per locale; variables as {{ customer_name }}",
                                    examples=[{"en": "Hi {{ customer_first_name }}, your refund is on its way."}])
    actions: ActionsIn = Field(default_factory=ActionsIn)

    def draft(self, key: str = "") -> macros.TemplateDraft:
        return macros.TemplateDraft(key=key, name=self.name, description=self.description, team_id=self.team_id,
                                     default_locale=self.default_locale, bodies=dict(self.bodies),
                                     actions=macros.Actions(status=self.actions.status,
                                                             add_tags=list(self.actions.add_tags),
                                                             priority=self.actions.priority))


class TemplateIn(TemplateUpdate):
    key: str = Field(min_length=1, max_length=100, examples=["refund-issued"], description="Never changes")


class TranslationIn(StrictIn):
    body: Body


class ActionsOut(Out):
    status: str | None
    add_tags: list[str]
    priority: str | None


class TemplateSummaryOut(Out):
    id: int
    key: str
    name: str
    team_id: int | None
    team: str | None = Field(description="The team's name; none: for every team")
    default_locale: str
    locales: list[str]
    is_active: bool
    usage_count: int
    last_used_at: datetime | None
    version: int
    offered_locale: str | None = Field(default=None, description="With case_id: the locale used on that case")


class TemplateOut(TemplateSummaryOut):
    description: str
    bodies: dict[str, str]
    variables: dict[str, list[str]] = Field(description="The variables each locale's text uses")
    actions: ActionsOut
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None


class RenderOut(Out):
    template_id: int
    case_id: int
    locale: str = Field(description="The locale of the text")
    requested_locale: str
    fallback: bool = Field(description="The text is not in the requested language (nor its base language)")
    tried: list[str] = Field(description="Where the text was looked for, in order")
    text: str
    missing: list[str] = Field(description="Variables the case has no value for: shown as [[name]] in the text")
    values: dict[str, str | None]
    actions: ActionsOut


class UseIn(StrictIn):
    case_id: DbId
    locale: str | None = Field(default=None, min_length=2, max_length=16,
                               description="The locale used; default: the case's, with the fallback")
    reply: str | None = Field(default=None, min_length=1, max_length=20_000,
                              description="Send this text (the edited template) as the public reply, too")
    then_status: Status | None = Field(default=None, description="With reply: the status it leaves the case in "
                                       "(wins over the template's status action)")
    apply_actions: bool = True


class UseOut(Out):
    id: int
    template_id: int
    case_id: int
    team_id: int | None
    locale: str
    via: str
    at: datetime
    message_id: int | None
    applied: dict[str, Any]


class UsageOut(Out):
    template_id: int
    template_key: str
    template_name: str
    team_id: int | None
    team: str | None
    uses: int


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag you read, so no change is lost", field="If-Match")
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" in tags:
        return None
    versions = [int(tag) for tag in tags if tag.isdigit()]
    if len(versions) != 1:
        raise PreconditionFailed("If-Match must be the template's ETag, e.g. \"3\"", field="If-Match")
    return versions[0]


def _etag(template: ResponseTemplate) -> dict[str, str]:
    return {"ETag": f'"{template.version}"'}


def _summaries(rows: list[macros.TemplateRow], offered: dict[int, str] | None = None) -> list[TemplateSummaryOut]:
    return [TemplateSummaryOut.model_validate({
        **{k: getattr(r.template, k) for k in ("id", "key", "name", "team_id", "default_locale", "is_active",
                                                "usage_count", "last_used_at", "version")},
        "team": r.team, "locales": r.locales, "offered_locale": (offered or {}).get(r.template.id)}) for r in rows]


def _detail(session: SessionDep, template: ResponseTemplate, response: Response) -> TemplateOut:
    session.flush()
    bodies = macros.bodies_of(session, template.id)
    team = macros.team_names(session, {template.team_id}).get(template.team_id) if template.team_id else None
    response.headers.update(_etag(template))
    return TemplateOut.model_validate({
        **{k: getattr(template, k) for k in ("id", "key", "name", "team_id", "default_locale", "is_active",
                                              "usage_count", "last_used_at", "version", "description", "created_at",
                                              "updated_at", "retired_at")},
        "team": team, "locales": list(bodies), "bodies": {loc: b.body for loc, b in bodies.items()},
        "variables": {loc: list(b.variables) for loc, b in bodies.items()},
        "actions": macros.Actions.of(template).as_json()})


@router.get("/templates", response_model=list[TemplateSummaryOut],
            summary="Templates you may use; with case_id, those offered on that case in its language")
def list_templates(session: SessionDep, actor: Reader,
                   team: Annotated[str, Query(max_length=12, pattern=r"^(\d{1,10}|every)?$",
                                              description="A team id (its own and every team's) or 'every'")] = "",
                   locale: Annotated[str, Query(max_length=16, pattern=r"^([a-z]{2,3}(-[A-Z]{2})?)?$")] = "",
                   status: Annotated[str, Query(pattern=r"^(active|retired|all)$")] = "active",
                   q: Annotated[str, Query(max_length=200)] = "",
                   case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> list[TemplateSummaryOut]:
    if case_id is not None:
        case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
        offers = macros.offers_for_case(session, actor, case, q=q, limit=500)
        locales = macros.locales_of(session, [o.template.id for o in offers])
        rows = [macros.TemplateRow(template=o.template, team=o.team, locales=locales[o.template.id]) for o in offers]
        return _summaries(rows, {o.template.id: o.locale for o in offers})
    return _summaries(macros.list_templates(session, actor, team=team, locale=locale, status=status, q=q))


@router.get("/templates/usage", response_model=list[UsageOut],
            summary="Uses per template and team (the case's team when used), most used first")
def usage(session: SessionDep, actor: Reader, since: datetime | None = None, until: datetime | None = None,
          team_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
          template_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> list[UsageOut]:
    rows = macros.usage(session, actor, template_id=template_id, team_id=team_id, since=since, until=until)
    return [UsageOut.model_validate(row) for row in rows]


@router.post("/templates", response_model=TemplateOut, status_code=201,
             summary="Create a template (its text is checked now: unknown variables and syntax errors are refused)")
def create(body: TemplateIn, session: SessionDep, clock: ClockDep, actor: Editor, response: Response) -> TemplateOut:
    template = macros.create_template(session, actor, body.draft(body.key), now=clock.now())
    response.headers["Location"] = f"/api/v1/templates/{template.id}"
    return _detail(session, template, response)


@router.get("/templates/{template_id}", response_model=TemplateOut, summary="A template with its texts")
def get(template_id: TemplateId, session: SessionDep, actor: Reader, response: Response) -> TemplateOut:
    return _detail(session, macros.template_for(session, actor, template_id), response)


@router.put("/templates/{template_id}", response_model=TemplateOut,
            summary="Replace a template's fields, texts and actions (needs If-Match)")
def replace(template_id: TemplateId, body: TemplateUpdate, session: SessionDep, clock: ClockDep, actor: Editor,
            response: Response, if_match: IfMatch = None) -> TemplateOut:
    template = macros.editable_for(session, actor, template_id)
    macros.update_template(session, actor, template, body.draft(), expected_version=_expected_version(if_match),
                            now=clock.now())
    return _detail(session, template, response)


@router.delete("/templates/{template_id}", status_code=204,
               summary="Delete a template never used (a used one is retired instead)")
def delete(template_id: TemplateId, session: SessionDep, actor: Editor) -> Response:
    macros.delete_template(session, macros.editable_for(session, actor, template_id))
    return Response(status_code=204)


@router.post("/templates/{template_id}/retire", response_model=TemplateOut,
             summary="Retire: agents no longer see it; its texts and usage stay")
def retire(template_id: TemplateId, session: SessionDep, clock: ClockDep, actor: Editor, response: Response,
           if_match: IfMatch = None) -> TemplateOut:
    template = macros.editable_for(session, actor, template_id)
    macros.retire_template(template, actor=actor, now=clock.now(),
                            expected_version=_expected_version(if_match) if if_match else None)
    return _detail(session, template, response)


@router.post("/templates/{template_id}/restore", response_model=TemplateOut, summary="Bring a retired template back")
def restore(template_id: TemplateId, session: SessionDep, clock: ClockDep, actor: Editor, response: Response,
            if_match: IfMatch = None) -> TemplateOut:
    template = macros.editable_for(session, actor, template_id)
    macros.restore_template(template, actor=actor, now=clock.now(),
                             expected_version=_expected_version(if_match) if if_match else None)
    return _detail(session, template, response)


@router.put("/templates/{template_id}/translations/{locale}", response_model=TemplateOut,
            summary="Add or change one locale's text (needs If-Match)")
def translate(template_id: TemplateId, locale: LocaleCode, body: TranslationIn, session: SessionDep,
              clock: ClockDep, actor: Editor, response: Response, if_match: IfMatch = None) -> TemplateOut:
    template = macros.editable_for(session, actor, template_id)
    macros.set_translation(session, actor, template, locale, body.body, expected_version=_expected_version(if_match),
                            now=clock.now())
    return _detail(session, template, response)


@router.delete("/templates/{template_id}/translations/{locale}", response_model=TemplateOut,
               summary="Remove one locale's text (not the default's; needs If-Match)")
def untranslate(template_id: TemplateId, locale: LocaleCode, session: SessionDep, clock: ClockDep, actor: Editor,
                response: Response, if_match: IfMatch = None) -> TemplateOut:
    template = macros.editable_for(session, actor, template_id)
    macros.remove_translation(session, actor, template, locale, expected_version=_expected_version(if_match),
                               now=clock.now())
    return _detail(session, template, response)


@router.get("/templates/{template_id}/render", response_model=RenderOut,
            summary="The template's text for a case, to edit before sending (missing variables are listed)")
def render(template_id: TemplateId, session: SessionDep, settings: SettingsDep, actor: Reader,
           case_id: Annotated[int, Query(ge=1, le=MAX_ID)],
           locale: Annotated[str | None, Query(min_length=2, max_length=16)] = None) -> RenderOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
    template = macros.template_for(session, actor, template_id)
    shown = macros.render_for_case(session, template, case, actor=actor, settings=settings, locale=locale)
    return RenderOut(template_id=template.id, case_id=case.id, locale=shown.locale, requested_locale=shown.requested,
                     fallback=shown.fallback, tried=shown.tried, text=shown.text, missing=shown.missing,
                     values=shown.values, actions=ActionsOut.model_validate(macros.Actions.of(template).as_json()))


@router.post("/templates/{template_id}/use", response_model=UseOut, status_code=201,
             summary="Record a use on a case and apply the template's actions (optionally sending the reply)")
def use(template_id: TemplateId, body: UseIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
        actor: Reader) -> UseOut:
    if body.then_status is not None and body.reply is None:
        raise Invalid("then_status goes with a reply: send the reply too, or change the status on the case",
                      field="then_status")
    case = case_for(session, actor, body.case_id, permission=Perm.CASE_REPLY, for_update=True)
    template = macros.template_for(session, actor, template_id)
    used = macros.use_template(session, template, case, actor=actor, settings=settings, now=clock.now(), via="api",
                                locale=body.locale, reply=body.reply, agent_status=body.then_status,
                                apply_actions=body.apply_actions)
    return UseOut(id=used.use.id, template_id=template.id, case_id=case.id, team_id=used.use.team_id,
                  locale=used.use.locale, via=used.use.via, at=used.use.at,
                  message_id=used.message.id if used.message else None, applied=used.applied)
