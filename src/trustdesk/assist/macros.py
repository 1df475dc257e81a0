"""Response templates: the rules.

A template belongs to a team (or serves every team) and has a text per locale, checked when saved
(``rendering``). Using one on a case records the use (who, which case and team, which locale) and
applies its actions (status, tags, priority) through the cases service, in the caller's transaction.
A reply sent with a template that still shows a missing variable as ``[[name]]`` is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.orm import Session

from trustdesk.assist.models import ResponseTemplate, ResponseTemplateBody, ResponseTemplateUse
from trustdesk.assist.rendering import (
    RenderFailed,
    canonical_locale,
    case_values_in,
    check_body,
    locale_chain,
    missing_in,
    normalize_locale,
    pick_locale,
    render_text,
)
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Message, Priority, Status
from trustdesk.cases.schemas import TAG_PATTERN
from trustdesk.core.db import MAX_ID, is_postgres
from trustdesk.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, PreconditionFailed
from trustdesk.core.events import record_case_event
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory import service as directory
from trustdesk.directory.models import Team

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MAX_LOCALES = 20
MAX_TAGS = 10
# A status a template may leave the case in: not "new" (it was touched), not "closed" (the reopen
# window closes cases; closing by hand takes the customer's chance to reopen away).
ACTION_STATUSES = (Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED)


# ---------------------------------------------------------------- what a template is made of


@dataclass
class Actions:
    """What using the template does to the case (as typed; ``clean_actions`` checks it)."""

    status: str | None = None
    add_tags: list[str] = field(default_factory=list)
    priority: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "add_tags": list(self.add_tags), "priority": self.priority}

    @classmethod
    def of(cls, template: ResponseTemplate) -> Actions:
        data = template.actions or {}
        return cls(status=data.get("status"), add_tags=list(data.get("add_tags") or []),
                   priority=data.get("priority"))

    @property
    def empty(self) -> bool:
        return not (self.status or self.add_tags or self.priority)


@dataclass
class TemplateDraft:
    """A template as submitted (API body or console form), before it is checked."""

    name: str
    default_locale: str
    bodies: dict[str, str]
    team_id: int | None = None
    key: str = ""
    description: str = ""
    actions: Actions = field(default_factory=Actions)


def clean_actions(actions: Actions) -> tuple[Actions, list[Invalid]]:
    errors: list[Invalid] = []
    status = (actions.status or "").strip() or None
    if status is not None and status not in {s.value for s in ACTION_STATUSES}:
        errors.append(Invalid(f"a template can leave the case {', '.join(s.value for s in ACTION_STATUSES)}; "
                              f"not {status}", field="actions.status"))
    priority = (actions.priority or "").strip() or None
    if priority is not None and priority not in {p.value for p in Priority}:
        errors.append(Invalid(f"choose a priority: {', '.join(p.value for p in Priority)}", field="actions.priority"))
    tags: list[str] = []
    for raw in actions.add_tags:
        tag = raw.strip().lower()
        if not tag:
            continue
        if not TAG_PATTERN.match(tag):
            errors.append(Invalid(f"tag {raw!r} must be 1-64 of a-z, 0-9, _ : . - (starting with a letter or digit)",
                                  field="actions.add_tags"))
            break
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        errors.append(Invalid(f"add at most {MAX_TAGS} tags", field="actions.add_tags"))
    return Actions(status=status, add_tags=tags, priority=priority), errors


def check_draft(session: Session, actor: Actor | None, draft: TemplateDraft, *,
                current: ResponseTemplate | None) -> tuple[TemplateDraft, list[DomainError]]:
    """The draft cleaned (locales normalised, tags lower-cased) and every problem found, field by field,
    in the order of the form. Saving refuses the first; the console shows them all as the author types.
    ``actor`` None: TrustDesk itself (the demo), in-house."""
    vendor_id = actor.vendor_id if actor is not None else None
    errors: list[DomainError] = []
    key = current.key if current is not None else draft.key.strip()
    if current is None:
        if not KEY.match(key):
            errors.append(Invalid("use lower-case letters, digits, dashes and underscores (at most 100), "
                                  "e.g. refund-issued", field="key"))
        elif session.scalar(select(ResponseTemplate.id).where(ResponseTemplate.key == key)) is not None:
            errors.append(Conflict(f"a template with the key {key} exists", field="key"))
    name = " ".join(draft.name.split())
    if not name:
        errors.append(Invalid("give the template a name agents recognise", field="name"))
    elif len(name) > 200:
        errors.append(Invalid("must be at most 200 characters", field="name"))
    description = draft.description.strip()
    if len(description) > 1000:
        errors.append(Invalid("must be at most 1000 characters", field="description"))
    if draft.team_id is not None:
        try:
            team = directory.team_by_id(session, draft.team_id, field="team_id")
            if vendor_id is not None and team.vendor_id != vendor_id:
                errors.append(Invalid("choose one of your vendor's teams", field="team_id"))
        except Invalid as error:
            errors.append(error)
    elif vendor_id is not None:
        errors.append(Invalid("a vendor's staff write templates for their own teams: choose one", field="team_id"))
    default_locale = draft.default_locale
    try:
        default_locale = normalize_locale(draft.default_locale, field="default_locale")
    except Invalid as error:
        errors.append(error)
    bodies: dict[str, str] = {}
    for raw_locale, body in draft.bodies.items():
        try:
            locale = normalize_locale(raw_locale, field=f"bodies.{raw_locale}")
        except Invalid as error:
            errors.append(error)
            continue
        if locale in bodies:
            errors.append(Invalid(f"two texts for {locale}", field=f"bodies.{raw_locale}"))
            continue
        try:
            check_body(body, field=f"bodies.{locale}")
        except Invalid as error:
            errors.append(error)
        bodies[locale] = body.strip("\n")
    if len(bodies) > MAX_LOCALES:
        errors.append(Invalid(f"at most {MAX_LOCALES} translations", field="bodies"))
    if default_locale not in bodies and not any(e.field == "default_locale" for e in errors):
        errors.append(Invalid(f"write the text in the default locale ({default_locale})",
                              field=f"bodies.{default_locale}"))
    actions, action_errors = clean_actions(draft.actions)
    errors += action_errors
    return TemplateDraft(name=name, default_locale=default_locale, bodies=bodies, team_id=draft.team_id, key=key,
                         description=description, actions=actions), errors


# ---------------------------------------------------------------- access


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """A vendor's staff see the templates for every team and their own teams'; in-house staff see all."""
    if actor.vendor_id is None:
        return true()
    return or_(ResponseTemplate.team_id.is_(None),
               ResponseTemplate.team_id.in_(select(Team.id).where(Team.vendor_id == actor.vendor_id)))


def template_id_of(session: Session, key: str) -> int | None:
    return session.scalar(select(ResponseTemplate.id).where(ResponseTemplate.key == key))


def template_for(session: Session, actor: Actor, template_id: int, *, for_update: bool = False,
                 field: str = "template_id") -> ResponseTemplate:
    """The template if ``actor`` may see it (another vendor's is reported missing, never forbidden)."""
    query = select(ResponseTemplate).where(ResponseTemplate.id == template_id, visible_to(actor))
    if for_update and is_postgres(session):
        query = query.with_for_update(of=ResponseTemplate)
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"template {template_id} does not exist", field=field)
    return row


def editable_for(session: Session, actor: Actor, template_id: int) -> ResponseTemplate:
    """The template, locked, if ``actor`` may change it."""
    if not actor.can(Perm.TEMPLATES_EDIT):
        raise Forbidden(f"this needs the {Perm.TEMPLATES_EDIT.value} permission")
    template = template_for(session, actor, template_id, for_update=True)
    if actor.vendor_id is not None and template.team_id is None:
        raise Forbidden("the templates for every team are the platform's; a vendor's staff edit their own teams'")
    return template


def may_edit(actor: Actor, template: ResponseTemplate) -> bool:
    return actor.can(Perm.TEMPLATES_EDIT) and (actor.vendor_id is None or template.team_id is not None)


def check_version(template: ResponseTemplate, expected: int | None, *, field: str = "If-Match") -> None:
    if expected is not None and expected != template.version:
        raise PreconditionFailed(f"the template is at version {template.version}: someone changed it meanwhile; "
                                 "reload it and apply your change again", field=field,
                                 current_version=template.version)


# ---------------------------------------------------------------- writing


def _first_error(errors: list[DomainError]) -> None:
    if errors:
        raise errors[0]


def _set_bodies(session: Session, template: ResponseTemplate, bodies: Mapping[str, str], *, actor: Actor | None,
                now: datetime) -> None:
    author = actor.user_id if actor is not None else None
    existing = {b.locale: b for b in bodies_of(session, template.id).values()}
    for locale, gone in existing.items():
        if locale not in bodies:
            session.delete(gone)
    for locale, text in bodies.items():
        variables = check_body(text, field=f"bodies.{locale}")
        row = existing.get(locale)
        if row is None:
            session.add(ResponseTemplateBody(template_id=template.id, locale=locale, body=text, variables=variables,
                                             updated_by_user_id=author, updated_at=now))
        elif row.body != text:
            row.body, row.variables, row.updated_by_user_id, row.updated_at = text, variables, author, now


def _touch(template: ResponseTemplate, actor: Actor, now: datetime) -> None:
    template.version += 1
    template.updated_at, template.updated_by_user_id = now, actor.user_id


def create_template(session: Session, actor: Actor | None, draft: TemplateDraft, *,
                    now: datetime) -> ResponseTemplate:
    """``actor`` None: created by TrustDesk itself (the demo)."""
    if actor is not None and not actor.can(Perm.TEMPLATES_EDIT):
        raise Forbidden(f"this needs the {Perm.TEMPLATES_EDIT.value} permission")
    author = actor.user_id if actor is not None else None
    cleaned, errors = check_draft(session, actor, draft, current=None)
    _first_error(errors)
    template = ResponseTemplate(
        key=cleaned.key, name=cleaned.name, description=cleaned.description, team_id=cleaned.team_id,
        default_locale=cleaned.default_locale, actions=cleaned.actions.as_json(), is_active=True, usage_count=0,
        version=1, created_by_user_id=author, updated_by_user_id=author, created_at=now,
        updated_at=now)
    session.add(template)
    session.flush()
    _set_bodies(session, template, cleaned.bodies, actor=actor, now=now)
    session.flush()
    return template


def update_template(session: Session, actor: Actor, template: ResponseTemplate, draft: TemplateDraft, *,
                    expected_version: int | None, now: datetime, version_field: str = "If-Match") -> ResponseTemplate:
    """Replace the template's fields, texts and actions (its key never changes)."""
    check_version(template, expected_version, field=version_field)
    cleaned, errors = check_draft(session, actor, draft, current=template)
    _first_error(errors)
    template.name, template.description, template.team_id = cleaned.name, cleaned.description, cleaned.team_id
    template.default_locale, template.actions = cleaned.default_locale, cleaned.actions.as_json()
    _set_bodies(session, template, cleaned.bodies, actor=actor, now=now)
    _touch(template, actor, now)
    session.flush()
    return template


def draft_of(session: Session, template: ResponseTemplate) -> TemplateDraft:
    """The template as a draft, to change one part of it and save the whole."""
    return TemplateDraft(key=template.key, name=template.name, description=template.description,
                         team_id=template.team_id, default_locale=template.default_locale,
                         bodies={locale: row.body for locale, row in bodies_of(session, template.id).items()},
                         actions=Actions.of(template))


def set_translation(session: Session, actor: Actor, template: ResponseTemplate, locale: str, body: str, *,
                    expected_version: int | None, now: datetime) -> ResponseTemplateBody:
    code = normalize_locale(locale, field="locale")
    draft = draft_of(session, template)
    draft.bodies[code] = body
    try:
        update_template(session, actor, template, draft, expected_version=expected_version, now=now)
    except Invalid as error:
        if error.field == f"bodies.{code}":
            error.field = "body"  # the body of this request
        raise
    return bodies_of(session, template.id)[code]


def remove_translation(session: Session, actor: Actor, template: ResponseTemplate, locale: str, *,
                       expected_version: int | None, now: datetime) -> ResponseTemplate:
    code = normalize_locale(locale, field="locale")
    draft = draft_of(session, template)
    if code not in draft.bodies:
        raise NotFound(f"the template has no {code} text", field="locale")
    if code == template.default_locale:
        raise Conflict(f"{code} is the default locale: choose another default first", field="locale")
    del draft.bodies[code]
    return update_template(session, actor, template, draft, expected_version=expected_version, now=now)


def retire_template(template: ResponseTemplate, *, actor: Actor, now: datetime,
                    expected_version: int | None = None) -> ResponseTemplate:
    """Hide it from agents; its text and usage stay (restore brings it back)."""
    check_version(template, expected_version)
    if not template.is_active:
        raise Conflict("the template is retired already", field="template_id")
    template.is_active, template.retired_at = False, now
    _touch(template, actor, now)
    return template


def restore_template(template: ResponseTemplate, *, actor: Actor, now: datetime,
                     expected_version: int | None = None) -> ResponseTemplate:
    check_version(template, expected_version)
    if template.is_active:
        raise Conflict("the template is in use already", field="template_id")
    template.is_active, template.retired_at = True, None
    _touch(template, actor, now)
    return template


def delete_template(session: Session, template: ResponseTemplate) -> None:
    """Only a template never used goes away; a used one is retired, so its usage stays reported."""
    if template.usage_count or session.scalar(select(ResponseTemplateUse.id).where(
            ResponseTemplateUse.template_id == template.id).limit(1)) is not None:
        raise Conflict(f"the template was used {template.usage_count} times: retire it instead, so its usage "
                       "stays reported", field="template_id")
    session.delete(template)
    session.flush()


# ---------------------------------------------------------------- reading


def bodies_of(session: Session, template_id: int) -> dict[str, ResponseTemplateBody]:
    return bodies_for(session, [template_id])[template_id]


def bodies_for(session: Session, template_ids: Sequence[int]) -> dict[int, dict[str, ResponseTemplateBody]]:
    """Each template's texts by locale, in one query."""
    found: dict[int, dict[str, ResponseTemplateBody]] = {i: {} for i in template_ids}
    if template_ids:
        for row in session.scalars(select(ResponseTemplateBody)
                                   .where(ResponseTemplateBody.template_id.in_(set(template_ids)))
                                   .order_by(ResponseTemplateBody.template_id, ResponseTemplateBody.locale)):
            found[row.template_id][row.locale] = row
    return found


def locales_of(session: Session, template_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in template_ids}
    if template_ids:
        for template_id, locale in session.execute(
                select(ResponseTemplateBody.template_id, ResponseTemplateBody.locale)
                .where(ResponseTemplateBody.template_id.in_(template_ids)).order_by(ResponseTemplateBody.locale)):
            found[template_id].append(locale)
    return found


def team_names(session: Session, team_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in team_ids if i is not None}
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))}


@dataclass(frozen=True)
class TemplateRow:
    template: ResponseTemplate
    team: str | None  # None: for every team
    locales: list[str]


STATUS_FILTERS = ("active", "retired", "all")
EVERY_TEAM = "every"


def list_templates(session: Session, actor: Actor, *, team: str = "", locale: str = "", status: str = "active",
                   q: str = "", case_team_id: int | None = None, limit: int = 500) -> list[TemplateRow]:
    """Templates ``actor`` sees, by name. ``team``: a team id (the templates its agents see: its own and
    those for every team), ``every`` (only those for every team) or empty (all); ``locale``: those with
    a text in that language (es also finds es-MX)."""
    query = select(ResponseTemplate).where(visible_to(actor))
    if status == "active":
        query = query.where(ResponseTemplate.is_active.is_(True))
    elif status == "retired":
        query = query.where(ResponseTemplate.is_active.is_(False))
    if team == EVERY_TEAM:
        query = query.where(ResponseTemplate.team_id.is_(None))
    elif team.isdigit() and int(team) <= MAX_ID:
        query = query.where(or_(ResponseTemplate.team_id.is_(None), ResponseTemplate.team_id == int(team)))
    if case_team_id is not None:
        query = query.where(or_(ResponseTemplate.team_id.is_(None), ResponseTemplate.team_id == case_team_id))
    if locale:
        query = query.where(ResponseTemplate.id.in_(select(ResponseTemplateBody.template_id).where(or_(
            ResponseTemplateBody.locale == locale, ResponseTemplateBody.locale.like(f"{locale}-%")))))
    if q.strip():
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(ResponseTemplate.name).like(like), ResponseTemplate.key.like(like)))
    rows = list(session.scalars(query.order_by(func.lower(ResponseTemplate.name), ResponseTemplate.id).limit(limit)))
    locales = locales_of(session, [r.id for r in rows])
    names = team_names(session, {r.team_id for r in rows})
    return [TemplateRow(template=r, team=names.get(r.team_id) if r.team_id else None, locales=locales[r.id])
            for r in rows]


@dataclass(frozen=True)
class Offer:
    """A template offered on a case, with the locale its text would be in."""

    template: ResponseTemplate
    team: str | None
    locale: str
    fallback: bool  # not in the case's language (nor its base language)


def offers_for_case(session: Session, actor: Actor, case: Case, *, q: str = "", limit: int = 50) -> list[Offer]:
    """The active templates for the case's team (its own first, then the most used), in its language."""
    rows = list_templates(session, actor, case_team_id=case.team_id if case.team_id is not None else -1, q=q)
    rows.sort(key=lambda r: (r.template.team_id is None, -r.template.usage_count, r.template.name.lower()))
    offers = []
    for row in rows[:limit]:
        locale = pick_locale(row.locales, case.language, row.template.default_locale)
        offers.append(Offer(template=row.template, team=row.team, locale=locale,
                            fallback=locale not in locale_chain(case.language, case.language)))
    return offers


@dataclass(frozen=True)
class Rendered:
    template: ResponseTemplate
    text: str
    locale: str  # the text's locale
    requested: str  # the case's language (or the locale asked for)
    tried: list[str]  # the fallback chain, in order
    missing: list[str]  # variables the case has no value for, shown as [[name]] in the text
    values: dict[str, str | None]  # the variables the text uses, with the case's values

    @property
    def fallback(self) -> bool:
        """The text is not in the language asked for (nor in its base language)."""
        return self.locale not in locale_chain(self.requested, self.requested)


def _render(template: ResponseTemplate, bodies: Mapping[str, ResponseTemplateBody], requested: str,
            values: Mapping[str, Mapping[str, str | None]]) -> Rendered:
    chosen = pick_locale(list(bodies), requested, template.default_locale)
    if chosen not in bodies:
        raise RenderFailed(f"template {template.key} has no text in {chosen}", field="template_id",
                           template_id=template.id, template_key=template.key)
    body = bodies[chosen]
    try:
        text, missing = render_text(body.body, values[chosen])
    except RenderFailed as failed:
        raise RenderFailed(f"template {template.key} cannot be used on this case: its {chosen} text "
                           f"{failed.detail.removeprefix('the text ')}; a lead can correct it in the templates",
                           field="template_id",
                           template_id=template.id, template_key=template.key, locale=chosen) from failed
    return Rendered(template=template, text=text, locale=chosen, requested=requested,
                    tried=locale_chain(requested, template.default_locale), missing=missing,
                    values={name: values[chosen].get(name) for name in body.variables})


def render_many_for_case(session: Session, templates: Sequence[ResponseTemplate], case: Case, *, actor: Actor,
                         settings: Settings, locale: str | None = None) -> dict[int, Rendered | RenderFailed]:
    """Each template's text for ``case`` (by template id), in the case's language when it has one (or in
    ``locale``): one query for the texts and one read of the case's values, whatever the number of
    templates. A template whose text cannot be rendered maps to its ``RenderFailed``, for the caller to
    leave out (or show as broken)."""
    requested = normalize_locale(locale, field="locale") if locale else canonical_locale(case.language)
    bodies = bodies_for(session, [t.id for t in templates])
    locales = {pick_locale(list(bodies[t.id]), requested, t.default_locale) for t in templates}
    values = case_values_in(session, case, actor=actor, settings=settings, locales=locales) if templates else {}
    shown: dict[int, Rendered | RenderFailed] = {}
    for template in templates:
        try:
            shown[template.id] = _render(template, bodies[template.id], requested, values)
        except RenderFailed as failed:
            shown[template.id] = failed
    return shown


def render_for_case(session: Session, template: ResponseTemplate, case: Case, *, actor: Actor, settings: Settings,
                    locale: str | None = None) -> Rendered:
    """The template's text for ``case``, to edit before sending: in the case's language when it has one.
    ``RenderFailed`` (409, naming the template) when its text cannot be rendered for the case."""
    shown = render_many_for_case(session, [template], case, actor=actor, settings=settings, locale=locale)[template.id]
    if isinstance(shown, RenderFailed):
        raise shown
    return shown


# ---------------------------------------------------------------- using a template on a case


@dataclass(frozen=True)
class Used:
    use: ResponseTemplateUse
    message: Message | None  # the reply sent with it, if any
    applied: dict[str, Any]  # the actions applied (and any left out, with why)


def _apply_actions(session: Session, template: ResponseTemplate, case: Case, *, actor: Actor, now: datetime,
                   agent_status: Status | None) -> dict[str, Any]:
    actions = Actions.of(template)
    applied: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    new_tags = [tag for tag in actions.add_tags if tag not in case.tags]
    if new_tags:
        changes["tags"] = [*case.tags, *new_tags]
    if actions.priority and actions.priority != case.priority:
        changes["priority"] = actions.priority
    if changes:
        if not actor.can(Perm.CASE_UPDATE):
            raise Forbidden(f"this template changes the case's tags or priority, which needs the "
                            f"{Perm.CASE_UPDATE.value} permission")
        cases.update_case(session, case, changes, actor=actor, now=now)
        if new_tags:
            applied["add_tags"] = new_tags
        if "priority" in changes:
            applied["priority"] = changes["priority"]
    if actions.status:
        if agent_status is not None and agent_status.value != actions.status:
            applied["status_left"] = f"the agent chose {agent_status.value}"  # the person sending decides
        elif case.status != actions.status:
            if not actor.can(Perm.CASE_STATUS):
                raise Forbidden(f"this template sets the status, which needs the {Perm.CASE_STATUS.value} permission")
            cases.change_status(session, case, Status(actions.status), actor=actor, now=now, reason="template")
            applied["status"] = actions.status
    return applied


def check_usable(template: ResponseTemplate, case: Case) -> None:
    """Refuse a retired template, one of another team, or a closed case."""
    if not template.is_active:
        raise Conflict(f"template {template.key} is retired", field="template_id")
    if template.team_id is not None and template.team_id != case.team_id:
        raise Invalid(f"template {template.key} belongs to another team than the case's", field="template_id")
    if Status(case.status) in cases.FINAL:
        raise Conflict("a closed case takes no templates", field="case_id")


def use_template(session: Session, template: ResponseTemplate, case: Case, *, actor: Actor, settings: Settings,
                 now: datetime, via: str, locale: str | None = None, reply: str | None = None,
                 agent_status: Status | None = None, apply_actions: bool = True) -> Used:
    """Record that ``actor`` used the template on ``case`` and apply its actions; with ``reply``, send that
    text (the agent's edit of the rendered template) as the public reply first. One transaction: the
    caller's. A reply still showing a missing variable as ``[[name]]`` is refused."""
    check_usable(template, case)
    bodies = bodies_of(session, template.id)
    used_locale = (normalize_locale(locale, field="locale") if locale
                   else pick_locale(list(bodies), case.language, template.default_locale))
    if used_locale not in bodies:
        raise Invalid(f"template {template.key} has no {used_locale} text", field="locale")
    message = None
    if reply is not None:
        unfilled = missing_in(reply)
        if unfilled:
            raise Invalid("fill in " + ", ".join(unfilled) + " first: the reply still shows "
                          + ", ".join(f"[[{name}]]" for name in unfilled), field="reply", variables=unfilled)
        message = cases.add_agent_reply(session, case, body=reply, actor=actor, settings=settings, now=now,
                                        then_status=agent_status)
    if apply_actions:
        applied = _apply_actions(session, template, case, actor=actor, now=now, agent_status=agent_status)
    else:
        applied = {} if Actions.of(template).empty else {"left_out": Actions.of(template).as_json()}
    use = ResponseTemplateUse(template_id=template.id, case_id=case.id, user_id=actor.user_id, team_id=case.team_id,
                              locale=used_locale, via=via, at=now)
    session.add(use)
    # In SQL, so that two agents using it at once both count.
    session.execute(update(ResponseTemplate).where(ResponseTemplate.id == template.id)
                    .values(usage_count=ResponseTemplate.usage_count + 1, last_used_at=now))
    record_case_event(session, case.id, "case.template_used", actor, now, {
        "template_id": template.id, "template_key": template.key, "locale": used_locale, "via": via,
        "message_id": message.id if message else None, "actions": applied,
    })
    session.flush()
    return Used(use=use, message=message, applied=applied)


# ---------------------------------------------------------------- usage


@dataclass(frozen=True)
class UsageRow:
    template_id: int
    template_key: str
    template_name: str
    team_id: int | None
    team: str | None  # None: the case had no team
    uses: int


def usage(session: Session, actor: Actor, *, template_id: int | None = None, team_id: int | None = None,
          since: datetime | None = None, until: datetime | None = None) -> list[UsageRow]:
    """Uses per template and team (the case's team at the time), most used first. A vendor's staff see
    their own teams' uses only."""
    query = (select(ResponseTemplateUse.template_id, ResponseTemplate.key, ResponseTemplate.name,
                    ResponseTemplateUse.team_id, func.count(ResponseTemplateUse.id))
             .join(ResponseTemplate, ResponseTemplate.id == ResponseTemplateUse.template_id)
             .where(visible_to(actor))
             .group_by(ResponseTemplateUse.template_id, ResponseTemplate.key, ResponseTemplate.name,
                       ResponseTemplateUse.team_id))
    if actor.vendor_id is not None:
        query = query.where(ResponseTemplateUse.team_id.in_(select(Team.id).where(Team.vendor_id == actor.vendor_id)))
    if template_id is not None:
        query = query.where(ResponseTemplateUse.template_id == template_id)
    if team_id is not None:
        query = query.where(ResponseTemplateUse.team_id == team_id)
    if since is not None:
        query = query.where(ResponseTemplateUse.at >= since)
    if until is not None:
        query = query.where(ResponseTemplateUse.at < until)
    rows = list(session.execute(query))
    names = team_names(session, {r[3] for r in rows})
    out = [UsageRow(template_id=r[0], template_key=r[1], template_name=r[2], team_id=r[3],
                    team=names.get(r[3]) if r[3] is not None else None, uses=int(r[4])) for r in rows]
    out.sort(key=lambda r: (-r.uses, r.template_key, r.team or ""))
    return out


def describe_actions(actions: Actions, *, status_labels: Mapping[str, str] | None = None) -> list[str]:
    """The actions in words, e.g. ["status → Solved", "add tags refund, refund-issued"]."""
    words = []
    if actions.status:
        words.append(f"status → {(status_labels or {}).get(actions.status, actions.status)}")
    if actions.add_tags:
        words.append(f"add tag{'s' if len(actions.add_tags) > 1 else ''} {', '.join(actions.add_tags)}")
    if actions.priority:
        words.append(f"priority → {actions.priority}")
    return words


def problem_fields(errors: Sequence[DomainError]) -> dict[str, str]:
    """Each field's first problem, for a form."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field or "form", error.detail)
    return found
