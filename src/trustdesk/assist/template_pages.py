"""Console pages of response templates: the list (by team and language, with usage), a template's
texts and usage per team, the form that writes and translates one (checked live as the author types),
retire and restore; and on the case page, the "Insert template" picker of the reply box.

The picker inserts the template's text, rendered for the case, into the reply box for the agent to
edit, and puts the template in the reply form. When the reply is sent, the use is recorded and the
template's actions (status, tags, priority) are applied, in the reply's transaction
(``send_with_template``, called by the case page's reply handler). Nothing happens on insert alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from trustdesk.assist import macros, rendering
from trustdesk.assist.models import ResponseTemplate
from trustdesk.cases.access import case_for
from trustdesk.cases.models import Case, Message, Party, Priority, Status
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Conflict, DomainError, Invalid, NotFound, PreconditionFailed
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory import service as directory
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep
from trustdesk.web.pages import (
    FormDep,
    attempt,
    form_text,
    htmx_target,
    is_htmx,
    parse_id,
    render_console,
    see_other,
    split_list,
    with_query,
)
from trustdesk.web.templating import language_name, render

router = APIRouter(include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Replier = Annotated[Actor, Depends(PageRequires(Perm.CASE_REPLY))]
Editor = Annotated[Actor, Depends(PageRequires(Perm.TEMPLATES_EDIT))]
ShortText = Annotated[str, Query(max_length=200)]

LIST_URL = "/console/templates"
STATUS_LABELS = {"open": "Open", "pending": "Pending", "on_hold": "On hold", "solved": "Solved"}
STATUS_FILTER_LABELS = {"active": "In use", "retired": "Retired", "all": "In use and retired"}
USAGE_DAYS = 30
FIELD_NAME = re.compile(r"^[a-z_]{1,20}(\.[a-z_]{1,20})?(_\d{1,2})?$")
MAX_ROWS = macros.MAX_LOCALES + 1
NOTICES = {
    "template_created": "Template created: agents of its team can insert it from the reply box now.",
    "template_saved": "Saved: the next insert uses the new text.",
    "template_retired": "Retired: agents no longer see it; its texts and usage stay.",
    "template_restored": "Restored: agents can insert it again.",
}


def _notice(request: Request) -> dict[str, str]:
    text = NOTICES.get(request.query_params.get("notice", ""))
    return {"notice": text} if text else {}


def _team_options(session: Session, actor: Actor) -> list[tuple[str, str]]:
    teams = [t for t in directory.list_teams(session) if actor.vendor_id is None or t.vendor_id == actor.vendor_id]
    return [(str(t.id), t.name) for t in sorted(teams, key=lambda t: t.name.lower())]


def _language_options(session: Session) -> list[tuple[str, str]]:
    codes = {code for market in directory.list_markets(session) for code in market.languages} | {"en"}
    return [(code, f"{language_name(code)} ({code})") for code in sorted(codes)]


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class TeamUsage:
    team: str
    uses: int
    templates: int


def _team_usage(rows: list[macros.UsageRow]) -> list[TeamUsage]:
    totals: dict[str, tuple[int, set[int]]] = {}
    for row in rows:
        name = row.team or "No team"
        uses, templates = totals.get(name, (0, set()))
        totals[name] = (uses + row.uses, templates | {row.template_id})
    return sorted((TeamUsage(team=name, uses=uses, templates=len(ids)) for name, (uses, ids) in totals.items()),
                  key=lambda t: (-t.uses, t.team))


@router.get(LIST_URL)
def list_page(request: Request, session: SessionDep, clock: ClockDep, actor: Replier, team: ShortText = "",
              locale: ShortText = "", status: ShortText = "active", q: ShortText = "") -> HTMLResponse:
    teams = _team_options(session, actor)
    team = team if team == macros.EVERY_TEAM or team in {value for value, _name in teams} else ""
    locale = locale if rendering.LOCALE.match(locale) else ""
    status = status if status in macros.STATUS_FILTERS else "active"
    q = q.strip()
    rows = macros.list_templates(session, actor, team=team, locale=locale, status=status, q=q)
    anything = bool(rows) or bool(macros.list_templates(session, actor, status="all", limit=1))
    now = clock.now()
    context: dict[str, Any] = {
        "rows": rows, "anything": anything, "params": {"team": team, "locale": locale, "status": status, "q": q},
        "filtered": bool(team or locale or q or status != "active"),
        "team_filters": [("", "Any team"), (macros.EVERY_TEAM, "For every team"), *teams],
        "locale_filters": [("", "Any language"), *_language_options(session)],
        "status_filters": list(STATUS_FILTER_LABELS.items()), "can_edit": actor.can(Perm.TEMPLATES_EDIT),
        "actions_of": lambda t: macros.describe_actions(macros.Actions.of(t), status_labels=STATUS_LABELS),
        "team_usage": _team_usage(macros.usage(session, actor, since=now - timedelta(days=USAGE_DAYS))),
        "usage_days": USAGE_DAYS, **_notice(request),
    }
    if htmx_target(request) == "template-results":
        return render(request, "replies/_results.html", context)
    return render_console(request, session, actor, "replies/list.html", context, active="templates")


# ---------------------------------------------------------------- the form


@dataclass
class FormState:
    """What the author typed, kept as typed; ``rows`` are (locale, text) pairs, one per translation."""

    values: dict[str, Any]
    rows: list[tuple[str, str]]


def _form_state(form: FormData) -> FormState:
    values = {
        "key": form_text(form, "key", max_chars=120).strip(), "name": form_text(form, "name", max_chars=300),
        "description": form_text(form, "description", max_chars=2000),
        "team_id": form_text(form, "team_id", max_chars=20).strip(),
        "default_locale": form_text(form, "default_locale", max_chars=20).strip(),
        "actions.status": form_text(form, "actions.status", max_chars=20).strip(),
        "actions.add_tags": form_text(form, "actions.add_tags", max_chars=1000),
        "actions.priority": form_text(form, "actions.priority", max_chars=20).strip(),
        "version": form_text(form, "version", max_chars=12).strip(),
    }
    rows = [(form_text(form, f"locale_{i}", max_chars=20).strip(),
             form_text(form, f"body_{i}", max_chars=rendering.MAX_BODY + 1000)) for i in range(MAX_ROWS)]
    return FormState(values=values, rows=[(loc, text) for loc, text in rows if loc or text.strip()])


def _state_of(session: Session, template: ResponseTemplate | None) -> FormState:
    if template is None:
        return FormState(values={"key": "", "name": "", "description": "", "team_id": "", "default_locale": "en",
                                 "actions.status": "", "actions.add_tags": "", "actions.priority": "",
                                 "version": ""}, rows=[("en", "")])
    actions = macros.Actions.of(template)
    bodies = macros.bodies_of(session, template.id)
    ordered = sorted(bodies, key=lambda loc: (loc != template.default_locale, loc))
    return FormState(values={
        "key": template.key, "name": template.name, "description": template.description,
        "team_id": str(template.team_id or ""), "default_locale": template.default_locale,
        "actions.status": actions.status or "", "actions.add_tags": ", ".join(actions.add_tags),
        "actions.priority": actions.priority or "", "version": str(template.version),
    }, rows=[(loc, bodies[loc].body) for loc in ordered])


def _draft(state: FormState) -> tuple[macros.TemplateDraft, dict[str, str]]:
    """The draft for the service, and the problems only the form can have (a text without a language)."""
    errors: dict[str, str] = {}
    bodies: dict[str, str] = {}
    for index, (locale, text) in enumerate(state.rows):
        if not locale:
            errors[f"locale_{index}"] = "choose the language of this text"
        elif text.strip():  # an emptied text removes that translation
            bodies[locale] = text
    team_id = parse_id(state.values["team_id"]) if state.values["team_id"] else None
    if state.values["team_id"] and team_id is None:
        errors["team_id"] = "choose a team"
    values = state.values
    return macros.TemplateDraft(
        key=values["key"], name=values["name"], description=values["description"], team_id=team_id,
        default_locale=values["default_locale"], bodies=bodies,
        actions=macros.Actions(status=values["actions.status"] or None,
                                add_tags=split_list(values["actions.add_tags"]),
                                priority=values["actions.priority"] or None)), errors


def _field_of(error_field: str, state: FormState) -> str:
    """The form field a service problem belongs to: ``bodies.es`` -> the row whose language is es."""
    if not error_field.startswith("bodies."):
        return error_field
    wanted = error_field.removeprefix("bodies.")
    for index, (locale, _text) in enumerate(state.rows):
        try:
            code = rendering.normalize_locale(locale, field="locale") if locale else ""
        except Invalid:
            code = ""
        if wanted in (locale, code):
            return f"body_{index}" if code else f"locale_{index}"
    return "default_locale" if error_field == f"bodies.{state.values['default_locale']}" else "form"


def _problems(session: Session, actor: Actor, state: FormState,
              template: ResponseTemplate | None) -> tuple[macros.TemplateDraft, dict[str, str]]:
    draft, errors = _draft(state)
    cleaned, found = macros.check_draft(session, actor, draft, current=template)
    for error in found:
        errors.setdefault(_field_of(error.field or "form", state), error.detail)
    return cleaned, errors


def _previews(state: FormState, errors: dict[str, str]) -> list[tuple[str, str, list[str]]]:
    """Each text that passed its checks, rendered with made-up values: (locale, text, missing)."""
    shown = []
    for index, (locale, text) in enumerate(state.rows):
        if locale and text.strip() and f"body_{index}" not in errors and f"locale_{index}" not in errors:
            rendered, missing = rendering.render_text(text, rendering.SAMPLE)
            shown.append((locale, rendered, missing))
    return shown


def _labels(rows: list[tuple[str, str]]) -> dict[str, str]:
    """What the check calls each field."""
    labels = {"key": "Key", "name": "Name", "description": "When to use it", "team_id": "Team",
              "default_locale": "Default language", "actions.status": "Set status", "actions.add_tags": "Add tags",
              "actions.priority": "Set priority", "form": "Template"}
    for index, (locale, _text) in enumerate(rows):
        labels[f"locale_{index}"] = f"Language code of text {index + 1}"
        labels[f"body_{index}"] = f"Text ({locale or index + 1})"
    return labels


def _form_page(request: Request, session: Session, actor: Actor, *, template: ResponseTemplate | None,
               state: FormState, errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    rows = list(state.rows)
    if len(rows) < MAX_ROWS:
        rows.append(("", ""))  # room for one more translation
    context = {
        "template": template, "values": state.values, "rows": rows, "errors": errors,
        "team_options": _team_options(session, actor), "every_team": actor.vendor_id is None,
        "language_options": _language_options(session),
        "status_options": [(s.value, STATUS_LABELS[s.value]) for s in macros.ACTION_STATUSES],
        "priority_options": [(p.value, p.value.capitalize()) for p in Priority],
        "variables": list(rendering.VARIABLES.items()), "filters": rendering.FILTER_USAGE,
        "previews": _previews(state, errors) if not errors else [], "labels": _labels(rows),
        "field_order": ["key", "name", "description", "team_id", "default_locale", "actions.status",
                        "actions.add_tags", "actions.priority",
                        *(f"{kind}_{i}" for i in range(len(rows)) for kind in ("locale", "body"))],
    }
    return render_console(request, session, actor, "replies/form.html", context, active="templates",
                          status_code=status_code)


def _save(request: Request, session: Session, actor: Actor, *, template: ResponseTemplate | None, state: FormState,
          save: Callable[[macros.TemplateDraft], ResponseTemplate], notice_key: str) -> Response:
    draft, errors = _draft(state)
    if errors:
        _cleaned, errors = _problems(session, actor, state, template)
        return _form_page(request, session, actor, template=template, state=state, errors=errors, status_code=422)

    def work() -> ResponseTemplate:
        try:
            return save(draft)
        except PreconditionFailed as stale:  # shown in the form, like any refusal
            raise Conflict(stale.detail, field="form") from stale

    saved, refused = attempt(session, work)
    if refused is not None or saved is None:
        _cleaned, errors = _problems(session, actor, state, template)
        if refused is not None:
            errors.setdefault(_field_of(refused.field or "form", state), refused.detail)
        return _form_page(request, session, actor, template=template, state=state, errors=errors,
                          status_code=refused.status if refused else 422)
    return see_other(request, with_query(f"{LIST_URL}/{saved.id}", notice=notice_key))


@router.get(f"{LIST_URL}/new")
def new_form(request: Request, session: SessionDep, actor: Editor, team: ShortText = "") -> HTMLResponse:
    state = _state_of(session, None)
    if team.isdigit():
        state.values["team_id"] = team
    return _form_page(request, session, actor, template=None, state=state, errors={})


@router.post(f"{LIST_URL}/new")
def create(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Editor) -> Response:
    return _save(request, session, actor, template=None, state=_form_state(form), notice_key="template_created",
                 save=lambda draft: macros.create_template(session, actor, draft, now=clock.now()))


@router.post(f"{LIST_URL}/check")
def check(request: Request, form: FormDep, session: SessionDep, actor: Editor) -> HTMLResponse:
    """The live check of the form (htmx, as the author types): every problem, or a preview."""
    template_id = parse_id(form_text(form, "template_id", max_chars=20))
    template = macros.template_for(session, actor, template_id) if template_id is not None else None
    state = _form_state(form)
    _cleaned, errors = _problems(session, actor, state, template)
    # The inline errors the page shows since it was last submitted: updated or removed along with the check.
    shown = [f for f in form_text(form, "shown_errors", max_chars=2000).split(",") if FIELD_NAME.match(f)]
    return render(request, "replies/_check.html", {"errors": errors, "labels": _labels(state.rows),
                                                   "previews": _previews(state, errors), "shown_errors": shown})


@router.get(f"{LIST_URL}/{{template_id}}")
def view(request: Request, template_id: RowId, session: SessionDep, actor: Replier) -> HTMLResponse:
    template = macros.template_for(session, actor, template_id)
    bodies = macros.bodies_of(session, template.id)
    team = macros.team_names(session, {template.team_id}).get(template.team_id) if template.team_id else None
    context = {
        "template": template, "team": team,
        "bodies": sorted(bodies.values(), key=lambda b: (b.locale != template.default_locale, b.locale)),
        "actions": macros.describe_actions(macros.Actions.of(template), status_labels=STATUS_LABELS),
        "usage": macros.usage(session, actor, template_id=template.id),
        "can_edit": macros.may_edit(actor, template), **_notice(request),
    }
    return render_console(request, session, actor, "replies/view.html", context, active="templates")


@router.get(f"{LIST_URL}/{{template_id}}/edit")
def edit_form(request: Request, template_id: RowId, session: SessionDep, actor: Editor) -> HTMLResponse:
    template = macros.editable_for(session, actor, template_id)
    return _form_page(request, session, actor, template=template, state=_state_of(session, template), errors={})


@router.post(f"{LIST_URL}/{{template_id}}/edit")
def update(request: Request, template_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
           actor: Editor) -> Response:
    template = macros.editable_for(session, actor, template_id)
    state = _form_state(form)
    version = parse_id(state.values["version"]) if state.values["version"] else None
    return _save(request, session, actor, template=template, state=state, notice_key="template_saved",
                 save=lambda draft: macros.update_template(session, actor, template, draft, expected_version=version,
                                                            now=clock.now(), version_field="form"))


def _switch(request: Request, session: Session, actor: Actor, template_id: int, *, retire: bool,
            now: datetime) -> Response:
    template = macros.editable_for(session, actor, template_id)
    (macros.retire_template if retire else macros.restore_template)(template, actor=actor, now=now)
    notice = "template_retired" if retire else "template_restored"
    return see_other(request, with_query(f"{LIST_URL}/{template.id}", notice=notice), full_page=True)


@router.post(f"{LIST_URL}/{{template_id}}/retire")
def retire(request: Request, template_id: RowId, session: SessionDep, clock: ClockDep, actor: Editor) -> Response:
    return _switch(request, session, actor, template_id, retire=True, now=clock.now())


@router.post(f"{LIST_URL}/{{template_id}}/restore")
def restore(request: Request, template_id: RowId, session: SessionDep, clock: ClockDep, actor: Editor) -> Response:
    return _switch(request, session, actor, template_id, retire=False, now=clock.now())


# ---------------------------------------------------------------- on the case page


@router.get("/console/cases/{case_id}/templates")
def case_templates(request: Request, case_id: RowId, session: SessionDep, settings: SettingsDep, actor: Replier,
                   q: ShortText = "") -> HTMLResponse:
    """The picker's list (htmx); without JavaScript, a page with each template's text for the case."""
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
    offers = macros.offers_for_case(session, actor, case, q=q.strip())
    context: dict[str, Any] = {"case": case, "offers": offers, "q": q.strip(),
                               "actions_of": lambda t: macros.describe_actions(macros.Actions.of(t),
                                                                                status_labels=STATUS_LABELS)}
    if is_htmx(request):
        return render(request, "replies/_picker_list.html", context)
    shown = macros.render_many_for_case(session, [o.template for o in offers], case, actor=actor, settings=settings)
    # A template whose text fails for this case is said to, next to it; the others stay usable.
    context["rendered"] = {i: r for i, r in shown.items() if isinstance(r, macros.Rendered)}
    context["broken"] = {i: r.detail for i, r in shown.items() if isinstance(r, rendering.RenderFailed)}
    return render_console(request, session, actor, "replies/case_templates.html", context,
                          active=f"queue-{case.queue_id}")


@router.post("/console/cases/{case_id}/templates/{template_id}/insert")
def insert(request: Request, case_id: RowId, template_id: RowId, form: FormDep, session: SessionDep,
           settings: SettingsDep, actor: Replier) -> HTMLResponse:
    """The template's text for the case, added to what the reply box holds, and the template put in the
    reply form (the reply box and the form's template slot, swapped by htmx)."""
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
    template = macros.template_for(session, actor, template_id)
    macros.check_usable(template, case)
    shown = macros.render_for_case(session, template, case, actor=actor, settings=settings)
    current = form_text(form, "body").rstrip()
    text = f"{current}\n\n{shown.text}" if current else shown.text
    return inserted(request, session, case, template, shown, text)


def inserted(request: Request, session: Session, case: Case, template: ResponseTemplate,
             shown: macros.Rendered, text: str) -> HTMLResponse:
    """The reply box holding ``text`` and ``template`` put in the reply form (also used when a
    suggested reply that is a template is chosen: its use and actions then count the same way)."""
    chosen = {"template_id": str(template.id), "template_locale": shown.locale, "template_name": template.name,
              "template_actions": "; ".join(macros.describe_actions(macros.Actions.of(template),
                                                                     status_labels=STATUS_LABELS)),
              "fallback": "1" if shown.fallback else "", "missing": rendering.missing_in(text)}
    party = session.get(Party, case.party_id)
    return render(request, "replies/_inserted.html", {"case": case, "party": party, "text": text,
                                                      "template_chosen": chosen})


def describe_use(data: dict[str, Any]) -> str:
    """A ``case.template_used`` event in words, for the case's timeline."""
    summary = f"{'Replied with' if data.get('message_id') else 'Used'} template {data.get('template_key')} " \
              f"({data.get('locale')})"
    applied = data.get("actions") or {}
    words = macros.describe_actions(macros.Actions(status=applied.get("status"),
                                                     add_tags=list(applied.get("add_tags") or []),
                                                     priority=applied.get("priority")), status_labels=STATUS_LABELS)
    if words:
        summary += ": " + "; ".join(words)
    if applied.get("status_left"):
        summary += f" (its status left out: {applied['status_left']})"
    if applied.get("left_out"):
        summary += " (its actions left out)"
    return summary


def chosen_in(form: FormData) -> dict[str, Any]:
    """The template the reply box holds (put there by "Insert template"), as the reply form sends it;
    empty when none. Kept as sent so a refused reply shows it again."""
    template_id = form_text(form, "template_id", max_chars=20).strip()
    if not template_id:
        return {}
    return {"template_id": template_id, "template_locale": form_text(form, "template_locale", max_chars=20).strip(),
            "template_name": form_text(form, "template_name", max_chars=200),
            "template_actions": form_text(form, "template_actions", max_chars=500),
            "template_apply": form_text(form, "template_apply", max_chars=3) == "1",
            "fallback": form_text(form, "fallback", max_chars=3),
            "missing": rendering.missing_in(form_text(form, "body"))}


def send_with_template(session: Session, actor: Actor, case: Case, chosen: dict[str, Any], *, body: str,
                       then_status: Status | None, settings: Settings, now: datetime) -> Message:
    """Send the reply and record the template's use, applying its actions unless the agent unticked
    them: one transaction (the reply handler's savepoint). A reply still showing ``[[name]]`` is refused."""
    template_id = parse_id(str(chosen.get("template_id", "")))
    if template_id is None:
        raise Invalid("the template in the reply box is not known; insert it again", field="body")
    try:
        template = macros.template_for(session, actor, template_id, field="body")
    except NotFound as gone:  # deleted since it was inserted: keep the reply, say so next to it
        raise Invalid("the template in the reply box no longer exists; send the reply without it by "
                      "reloading the case", field="body") from gone
    try:
        used = macros.use_template(session, template, case, actor=actor, settings=settings, now=now, via="console",
                                    locale=str(chosen.get("template_locale") or "") or None, reply=body,
                                    agent_status=then_status, apply_actions=bool(chosen.get("template_apply")))
    except DomainError as error:
        if error.field in ("reply", "template_id", "locale"):
            error.field = "body"  # the reply box: where the agent can act on it
        raise
    assert used.message is not None
    return used.message
