"""Console pages of oncall: who is on call now and next for every schedule, a schedule's final
rotation with its gaps, coverage and balance (overrides, swaps, calendar feeds), my pages, crises;
the escalate and crisis forms of a case; and the page link that acknowledges without signing in.

Handlers are thin: they read the form, call oncall's services and render; a refusal runs in a
savepoint, so nothing of it is kept, and is shown next to the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.cases.access import case_for
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError, Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.core.yamltext import read_yaml, write_yaml
from trustdesk.oncall import crises, escalations, ladders, metrics, paging, people, rotation, schedules, views
from trustdesk.oncall.models import OncallSchedule, Page
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep, public
from trustdesk.web.pages import (
    FormDep,
    attempt,
    form_text,
    parse_id,
    render_console,
    safe_next,
    see_other,
    with_query,
)
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, Depends(PageRequires(Perm.ONCALL_READ))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.ONCALL_ADMIN, in_house=True))]
Responder = Annotated[Actor, Depends(PageRequires(Perm.ONCALL_RESPOND, in_house=True))]
CrisisReader = Annotated[Actor, Depends(PageRequires(Perm.ONCALL_READ, in_house=True))]
SignedIn = Annotated[Actor, Depends(PageRequires(Perm.SELF))]
Key = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Token = Annotated[str, Path(min_length=8, max_length=100)]
DAY_CHOICES = (7, 14, 28)
METRIC_DAYS = 28


# ---------------------------------------------------------------- shaping for the templates


@dataclass(frozen=True)
class ShiftRow:
    starts: str
    ends: str
    length: str
    who: str | None  # None: a gap
    source: str
    is_now: bool


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M")


def parse_local(value: str, zone: ZoneInfo, *, field: str) -> datetime:
    """A ``datetime-local`` input read in the schedule's zone, as an aware UTC instant."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Invalid("a date and time such as 2026-11-24T09:00", field=field) from exc
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=zone)


def _rows(report: schedules.Report, names: dict[int, str], zone: ZoneInfo, now: datetime) -> list[ShiftRow]:
    pieces: list[tuple[datetime, datetime, str | None, str]] = [
        (s.starts_at, s.ends_at, names.get(int(s.who), s.who), s.source) for s in report.shifts]
    pieces += [(a, b, None, "gap") for a, b in report.gaps]
    pieces.sort(key=lambda p: p[0])
    return [ShiftRow(starts=local(a, zone), ends=local(b, zone), length=_length(b - a), who=who, source=source,
                     is_now=a <= now < b) for a, b, who, source in pieces]


def _length(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def _shift_text(shift: rotation.Shift | None, names: dict[int, str], zone: ZoneInfo) -> dict[str, str] | None:
    if shift is None:
        return None
    return {"who": names.get(int(shift.who), shift.who), "from": local(shift.starts_at, zone),
            "until": local(shift.ends_at, zone)}


@dataclass(frozen=True)
class Overview:
    schedule: OncallSchedule
    now: dict[str, str] | None
    next: dict[str, str] | None
    coverage: float
    gaps: int


def _overview(session: Session, schedule: OncallSchedule, now: datetime) -> Overview:
    report = schedules.report(session, schedule, start=now, end=now + timedelta(days=7), now=now)
    ids = [int(s.who) for s in report.shifts[:3]] + ([int(report.next.who)] if report.next else [])
    names = schedules.user_names(session, ids)
    zone = ZoneInfo(schedule.time_zone)
    return Overview(schedule=schedule, now=_shift_text(report.now, names, zone),
                    next=_shift_text(report.next, names, zone), coverage=report.coverage, gaps=len(report.gaps))


# ---------------------------------------------------------------- oncall home


def _home(request: Request, session: Session, actor: Actor, *, now: datetime,
          feed_url: str | None = None) -> HTMLResponse:
    context = {"overviews": [_overview(session, s, now) for s in schedules.list_schedules(session)],
               "figures": metrics.figures(session, since=now - timedelta(days=METRIC_DAYS), until=now).as_dict(),
               "metric_days": METRIC_DAYS, "pages": paging.pages_of_user(session, actor.user_id, limit=20),
               "crises": crises.list_crises(session, open_only=True) if actor.vendor_id is None else [],
               "feed_url": feed_url,
               "feeds": schedules.feeds_of(session, user_id=actor.user_id),
               "can_admin": actor.can(Perm.ONCALL_ADMIN) and actor.vendor_id is None}
    return render_console(request, session, actor, "oncall/home.html", context, active="oncall")


@router.get("/console/oncall")
def oncall_home(request: Request, session: SessionDep, clock: ClockDep, actor: Reader) -> HTMLResponse:
    return _home(request, session, actor, now=clock.now())


def _feed_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/api/v1/oncall/feeds/{token}.ics"


@router.post("/console/oncall/feeds")
def create_my_feed(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                   actor: Reader) -> HTMLResponse:
    _row, token = schedules.create_feed(session, schedule=None, user_id=actor.user_id, actor=actor, now=clock.now())
    return _home(request, session, actor, now=clock.now(), feed_url=_feed_url(settings, token))


@router.post("/console/oncall/feeds/{feed_id}/revoke")
def revoke_feed(request: Request, feed_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                actor: Reader) -> Response:
    schedules.revoke_feed(session, feed_id, actor=actor, now=clock.now())
    return see_other(request, _back_to(form, "/console/oncall", "feed_revoked"))


# ---------------------------------------------------------------- one schedule


def _schedule_page(request: Request, session: Session, actor: Actor, schedule: OncallSchedule, *, now: datetime,
                   days: int = 14, errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                   feed_url: str | None = None, status_code: int = 200) -> HTMLResponse:
    zone = ZoneInfo(schedule.time_zone)
    report = schedules.report(session, schedule, start=now, end=now + timedelta(days=days), now=now)
    layers = schedules.layers_of(session, schedule.id)
    participant_ids = sorted({int(p) for layer in layers for p in layer.participants})
    overrides = schedules.overrides_of(session, schedule.id, since=now)
    swaps = schedules.swaps_of(session, schedule.id, since=now)
    ids = (participant_ids + [int(s.who) for s in report.shifts] + [o.user_id for o in overrides if o.user_id]
           + [s.giver_id for s in swaps] + [s.taker_id for s in swaps])
    names = schedules.user_names(session, ids)
    total = sum((v for v in report.load.values()), timedelta())
    load = sorted(((names.get(uid, str(uid)), round(t.total_seconds() / 3600, 1),
                    t / total if total else 0.0) for uid, t in report.load.items()), key=lambda r: -r[1])
    context = {
        "schedule": schedule, "zone": schedule.time_zone, "days": days, "day_choices": DAY_CHOICES,
        "rows": _rows(report, names, zone, now), "coverage": report.coverage, "fairness": report.fairness,
        "gaps": len(report.gaps), "load": load, "now_shift": _shift_text(report.now, names, zone),
        "next_shift": _shift_text(report.next, names, zone), "layers": layers, "names": names,
        "participants": [(uid, names.get(uid, str(uid))) for uid in participant_ids],
        "overrides": [(o, local(o.starts_at, zone), local(o.ends_at, zone)) for o in overrides],
        "swaps": [(s, local(s.starts_at, zone), local(s.ends_at, zone)) for s in swaps],
        "feeds": schedules.feeds_of(session, schedule_id=schedule.id), "feed_url": feed_url,
        "can_admin": actor.can(Perm.ONCALL_ADMIN) and actor.vendor_id is None,
        "can_swap": actor.vendor_id is None and ((actor.user_id in participant_ids and actor.can(Perm.ONCALL_RESPOND))
                                                 or actor.can(Perm.ONCALL_ADMIN)),
        "me": actor.user_id, "errors": errors or {}, "values": values or {},
    }
    return render_console(request, session, actor, "oncall/schedule.html", context, active="oncall",
                          status_code=status_code)


@router.get("/console/oncall/schedules/{key}")
def schedule_page(request: Request, key: Key, session: SessionDep, clock: ClockDep, actor: Reader,
                  days: Annotated[int, Query(ge=1, le=28)] = 14) -> HTMLResponse:
    return _schedule_page(request, session, actor, schedules.schedule_by_key(session, key), now=clock.now(), days=days)


def _refused(error: DomainError, form_name: str) -> dict[str, str]:
    return {f"{form_name}.{error.field or 'form'}": error.detail}


@router.post("/console/oncall/schedules/{key}/overrides")
def add_override(request: Request, key: Key, form: FormDep, session: SessionDep, clock: ClockDep,
                 actor: Admin) -> Response:
    schedule = schedules.schedule_by_key(session, key)
    zone = ZoneInfo(schedule.time_zone)
    values = {name: form_text(form, name, max_chars=300) for name in ("starts_at", "ends_at", "user_id", "reason")}

    def work() -> object:
        who = values["user_id"].strip()
        user_id = parse_id(who) if who else None
        if who and user_id is None:
            raise Invalid("choose a person, or nobody", field="user_id")
        return schedules.add_override(session, schedule, starts_at=parse_local(values["starts_at"], zone,
                                                                               field="starts_at"),
                                      ends_at=parse_local(values["ends_at"], zone, field="ends_at"), user_id=user_id,
                                      reason=values["reason"].strip(), actor=actor, now=clock.now())

    _row, error = attempt(session, work)
    if error is not None:
        return _schedule_page(request, session, actor, schedule, now=clock.now(), values=values,
                              errors=_refused(error, "override"), status_code=error.status)
    return see_other(request, with_query(f"/console/oncall/schedules/{key}", notice="override_added"))


@router.post("/console/oncall/schedules/{key}/overrides/{override_id}/delete")
def delete_override(request: Request, key: Key, override_id: RowId, session: SessionDep, actor: Admin) -> Response:
    schedules.remove_override(session, schedules.schedule_by_key(session, key), override_id)
    return see_other(request, with_query(f"/console/oncall/schedules/{key}", notice="override_removed"))


@router.post("/console/oncall/schedules/{key}/swaps")
def add_swap(request: Request, key: Key, form: FormDep, session: SessionDep, clock: ClockDep,
             actor: Responder) -> Response:
    schedule = schedules.schedule_by_key(session, key)
    zone = ZoneInfo(schedule.time_zone)
    values = {name: form_text(form, name, max_chars=300)
              for name in ("starts_at", "ends_at", "giver_id", "taker_id", "reason")}

    def work() -> object:
        giver, taker = parse_id(values["giver_id"]), parse_id(values["taker_id"])
        if giver is None:
            raise Invalid("choose who gives the shift", field="giver_id")
        if taker is None:
            raise Invalid("choose who takes the shift", field="taker_id")
        return schedules.add_swap(session, schedule, starts_at=parse_local(values["starts_at"], zone,
                                                                           field="starts_at"),
                                  ends_at=parse_local(values["ends_at"], zone, field="ends_at"), giver_id=giver,
                                  taker_id=taker, reason=values["reason"].strip(), actor=actor, now=clock.now())

    _row, error = attempt(session, work)
    if error is not None:
        return _schedule_page(request, session, actor, schedule, now=clock.now(), values=values,
                              errors=_refused(error, "swap"), status_code=error.status)
    return see_other(request, with_query(f"/console/oncall/schedules/{key}", notice="swap_added"))


@router.post("/console/oncall/schedules/{key}/feeds")
def create_schedule_feed(request: Request, key: Key, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                         actor: Admin) -> HTMLResponse:
    schedule = schedules.schedule_by_key(session, key)
    _row, token = schedules.create_feed(session, schedule=schedule, user_id=None, actor=actor, now=clock.now())
    return _schedule_page(request, session, actor, schedule, now=clock.now(), feed_url=_feed_url(settings, token))


# ---------------------------------------------------------------- writing schedules

NEW_SCHEDULE = """key: my-team-oncall
name: My team oncall
team: TEAM-KEY                     # whose oncall this is ("who is on call for team X")
time_zone: Europe/Madrid           # how the console shows it
description: Weekly rotation handing over on Monday at 09:00
layers:                            # later layers win where they have someone on call
  - name: Weekly
    time_zone: Europe/Madrid
    starts_at: 2026-11-30T09:00    # the first person starts here (in the layer's zone)
    handoff: FREQ=WEEKLY;BYDAY=MO;BYHOUR=9
    participants: [first@example.com, second@example.com]
    restrictions: []               # e.g. [{days: [mon, tue, wed, thu, fri], start: '08:00', end: '20:00'}]
"""


def _schedule_editor(request: Request, session: Session, actor: Actor, *, editing: str, text: str,
                     error: str | None = None, status_code: int = 200) -> HTMLResponse:
    context = {"editing": editing, "text": text, "error": error}
    return render_console(request, session, actor, "oncall/schedule_form.html", context, active="oncall",
                          status_code=status_code)


@router.get("/console/oncall/new-schedule")
def new_schedule(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _schedule_editor(request, session, actor, editing="new", text=NEW_SCHEDULE)


@router.get("/console/oncall/schedules/{key}/edit")
def edit_schedule(request: Request, key: Key, session: SessionDep, actor: Admin) -> HTMLResponse:
    row = schedules.schedule_by_key(session, key)
    return _schedule_editor(request, session, actor, editing=key, text=write_yaml(schedules.as_data(session, row)))


@router.post("/console/oncall/schedules")
def save_schedule(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    text = form_text(form, "schedule_yaml", max_chars=50_000)
    editing = form_text(form, "editing", max_chars=64).strip()

    def work() -> OncallSchedule:
        data = schedules.from_data(session, read_yaml(text, field="schedule_yaml"), field="schedule_yaml")
        if editing == "new":
            return schedules.create_schedule(session, now=clock.now(), **data)
        if data["key"] != editing:
            raise Invalid(f"the key is {editing}; a schedule's key never changes", field="key")
        row = schedules.schedule_by_key(session, editing)
        del data["key"]
        return schedules.update_schedule(session, row, now=clock.now(), **data)

    row, error = attempt(session, work)
    if error is not None:
        where = "" if error.field in (None, "schedule_yaml") else f" (at {error.field})"
        return _schedule_editor(request, session, actor, editing=editing, text=text, error=error.detail + where,
                                status_code=error.status)
    assert row is not None
    return see_other(request, with_query(f"/console/oncall/schedules/{row.key}", notice="schedule_saved"))


# ---------------------------------------------------------------- escalation ladders

NEW_LADDER = """key: my-ladder
name: What it is for
triggers: [breach, manual]        # breach, warning, urgent, manual, crisis
conditions: {teams: [], markets: [], priorities: [high, urgent]}
ack_timeout_minutes: 30           # acknowledged but still open after this: page again
steps:
  - {type: notify_oncall, schedule: SCHEDULE-KEY}
  - {type: wait, minutes: 15}
  - {type: notify_users, users: [lead@example.com]}
  - {type: repeat, times: 1}
"""


def _ladders_page(request: Request, session: Session, actor: Actor, *, edit: str | None = None,
                  text: str | None = None, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    rows = ladders.list_ladders(session)
    editing = next((row for row in rows if row.key == edit), None)
    if text is None and editing is not None:
        text = write_yaml(ladders.as_data(session, editing))
    names = schedules.user_names(session, [u for row in rows for step in row.steps for u in step.get("users", [])])
    context = {"ladders": [(row, [views.step_words(step, names) for step in row.steps]) for row in rows],
               "can_admin": actor.can(Perm.ONCALL_ADMIN) and actor.vendor_id is None,
               "edit": edit if editing is not None or edit == "new" else None,
               "text": text if text is not None else NEW_LADDER, "error": error}
    return render_console(request, session, actor, "oncall/ladders.html", context, active="oncall",
                          status_code=status_code)


@router.get("/console/oncall/ladders")
def ladders_page(request: Request, session: SessionDep, actor: Reader,
                 edit: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    return _ladders_page(request, session, actor, edit=edit if actor.can(Perm.ONCALL_ADMIN) else None)


@router.post("/console/oncall/ladders")
def save_ladder(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    text = form_text(form, "ladder_yaml", max_chars=50_000)
    editing = form_text(form, "editing", max_chars=64).strip()

    def work() -> object:
        data = ladders.from_data(session, read_yaml(text, field="ladder_yaml"), field="ladder_yaml")
        if editing != "new" and data["key"] != editing:
            raise Invalid(f"the key is {editing}; a ladder's key never changes", field="key")
        return ladders.save_ladder(session, create=editing == "new", now=clock.now(), **data)

    row, error = attempt(session, work)
    if error is not None:
        where = "" if error.field in (None, "ladder_yaml") else f" (at {error.field})"
        return _ladders_page(request, session, actor, edit=editing, text=text, error=error.detail + where,
                             status_code=error.status)
    assert row is not None
    return see_other(request, with_query("/console/oncall/ladders", notice="ladder_saved"))


# ---------------------------------------------------------------- escalations from the console


def _back_to(form: Any, fallback: str, notice: str) -> str:
    """Where the form came from, with the notice in its query (before any #fragment)."""
    target = safe_next(form_text(form, "next", max_chars=300)) or fallback
    path, _, fragment = target.partition("#")
    return with_query(path, notice=notice) + (f"#{fragment}" if fragment else "")


@router.post("/console/escalations/{escalation_id}/acknowledge")
def acknowledge(request: Request, escalation_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                actor: SignedIn) -> Response:
    row = escalations.escalation_by_id(session, escalation_id, for_update=True)
    case_for(session, actor, row.case_id, permission=Perm.CASE_READ)
    escalations.acknowledge_as(session, actor, row, now=clock.now(), via="console")
    return see_other(request, _back_to(form, f"/console/cases/{row.case_id}", "acknowledged"))


@router.post("/console/escalations/{escalation_id}/resolve")
def resolve(request: Request, escalation_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
            actor: Responder) -> Response:
    row = escalations.escalation_by_id(session, escalation_id, for_update=True)
    case_for(session, actor, row.case_id, permission=Perm.CASE_READ)
    escalations.resolve(session, row, actor=actor, now=clock.now(), reason=form_text(form, "reason", max_chars=200))
    return see_other(request, with_query(f"/console/cases/{row.case_id}", notice="escalation_resolved"))


def _crisis_page(request: Request, session: Session, actor: Actor, crisis_id: int, *,
                 errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    crisis = crises.crisis_by_id(session, crisis_id)
    timeline = crises.timeline(session, crisis.id)
    linked = crises.linked_cases(session, crisis.id)
    people = {crisis.owner_id} | {e.actor_id for e in timeline if e.actor_id}
    for event in timeline:
        people |= set(event.data.get("user_ids", []))
    context = {"crisis": crisis, "timeline": timeline, "linked": linked,
               "names": schedules.user_names(session, [p for p in people if p]),
               "statuses": [s.value for s in crises.CrisisStatus], "severities": crises.SEVERITIES,
               "can_respond": actor.can(Perm.ONCALL_RESPOND), "errors": errors or {}, "values": values or {}}
    return render_console(request, session, actor, "oncall/crisis.html", context, active="oncall",
                          status_code=status_code)


@router.get("/console/crises/{crisis_id}")
def crisis_page(request: Request, crisis_id: RowId, session: SessionDep, actor: CrisisReader) -> HTMLResponse:
    return _crisis_page(request, session, actor, crisis_id)


@router.post("/console/crises/{crisis_id}/updates")
def crisis_update(request: Request, crisis_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                  actor: Responder) -> Response:
    crisis = crises.crisis_by_id(session, crisis_id)
    values = {name: form_text(form, name, max_chars=4000) for name in ("body", "status", "severity")}
    _row, error = attempt(session, lambda: crises.post_update(
        session, crisis, body=values["body"], status=values["status"] or None,
        severity=values["severity"] or None, owner_id=None, actor=actor, now=clock.now()))
    if error is not None:
        return _crisis_page(request, session, actor, crisis_id, values=values,
                            errors={f"update.{error.field or 'form'}": error.detail}, status_code=error.status)
    return see_other(request, with_query(f"/console/crises/{crisis_id}", notice="crisis_updated"))


@router.post("/console/crises/{crisis_id}/cases")
def crisis_link(request: Request, crisis_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                actor: Responder) -> Response:
    crisis = crises.crisis_by_id(session, crisis_id)
    text = form_text(form, "case", max_chars=40).strip()

    def work() -> object:
        case_id = parse_id(text.removeprefix("#"))
        if case_id is None:
            raise Invalid("a case number such as 1234", field="case")
        try:
            case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
        except NotFound as exc:
            raise Invalid(exc.detail, field="case") from exc
        return crises.link_case(session, crisis, case.id, actor=actor, now=clock.now())

    _row, error = attempt(session, work)
    if error is not None:
        return _crisis_page(request, session, actor, crisis_id, values={"case": text},
                            errors={f"link.{error.field or 'form'}": error.detail}, status_code=error.status)
    return see_other(request, with_query(f"/console/crises/{crisis_id}", notice="case_linked"))


# ---------------------------------------------------------------- the page link (no sign-in)


PAGE_LINK_DAYS = 7  # a page's link acknowledges for a week; after that, sign in


def _link_state(session: Session, page: Page, now: datetime) -> str:
    """What the page's link may still do: ``open``, or why not."""
    if page.acknowledged_at is not None:
        return "already"
    if page.user_id not in people.responders(session, [page.user_id]) or now - page.created_at > timedelta(
            days=PAGE_LINK_DAYS):
        return "expired"
    return "open"


@router.get("/oncall/pages/{token}", dependencies=[Depends(public)])
def page_link(request: Request, token: Token, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    page = paging.page_by_token(session, token)
    return render(request, "oncall/page_link.html", {"page": page, "token": token, "done": False,
                                                     "state": _link_state(session, page, clock.now())})


@router.post("/oncall/pages/{token}", dependencies=[Depends(public)])
def page_link_ack(request: Request, token: Token, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    page = paging.page_by_token(session, token)
    state = _link_state(session, page, clock.now())
    outcome = state
    if state == "open":
        outcome = "acknowledged"
        if page.escalation_id is not None:
            row = escalations.escalation_by_id(session, page.escalation_id, for_update=True)
            if row.status in escalations.OPEN:
                escalations.acknowledge(session, row, user_id=page.user_id, actor=paging.PageHolder(page.user_id),
                                        now=clock.now(), via="page_link")
            else:
                outcome = row.status
        else:
            paging.acknowledge_page(session, page, now=clock.now())
    return render(request, "oncall/page_link.html", {"page": page, "token": token, "done": True,
                                                     "outcome": outcome, "state": state})


@router.post("/console/oncall/pages/{page_id}/acknowledge")
def acknowledge_page(request: Request, page_id: RowId, session: SessionDep, clock: ClockDep,
                     actor: SignedIn) -> Response:
    """A page with no escalation behind it (a crisis's): its person says they have it."""
    page = paging.page_of_user(session, page_id, actor.user_id)
    paging.acknowledge_page(session, page, now=clock.now())
    return see_other(request, with_query("/console/oncall", notice="page_acknowledged"))
