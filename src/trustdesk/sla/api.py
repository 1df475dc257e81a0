"""JSON routes of business-hours calendars: hours, holidays (by hand or iCalendar), due-time answers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import AwareDatetime

from trustdesk.cases.access import case_for
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.sla import calendars, policies, timers
from trustdesk.sla import metrics as sla_metrics
from trustdesk.sla.clocks import Clock
from trustdesk.sla.schemas import (
    CALENDAR_KEY,
    CalendarIn,
    CalendarOut,
    CaseSlaOut,
    ClockOut,
    ComplianceOut,
    DueOut,
    HolidayIn,
    HolidayOut,
    ImportOut,
    PolicyIn,
    PolicyOut,
)
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(tags=["sla"])
Reader = Annotated[Actor, Depends(Requires(Perm.DIRECTORY_READ))]
Admin = Annotated[Actor, Depends(Requires(Perm.DIRECTORY_ADMIN))]
Key = Annotated[str, Path(pattern=CALENDAR_KEY)]
CaseReader = Annotated[Actor, Depends(Requires(Perm.CASE_READ))]


@router.get("/calendars", response_model=list[CalendarOut], summary="Business-hours calendars")
def list_calendars(session: SessionDep, actor: Reader) -> list[CalendarOut]:
    return [CalendarOut.model_validate(c) for c in calendars.list_calendars(session)]


@router.post("/calendars", response_model=CalendarOut, status_code=201, summary="Add a calendar")
def create_calendar(body: CalendarIn, session: SessionDep, clock: ClockDep, actor: Admin) -> CalendarOut:
    return CalendarOut.model_validate(calendars.create_calendar(session, body, now=clock.now()))


@router.get("/calendars/{key}", response_model=CalendarOut, summary="One calendar")
def get_calendar(key: Key, session: SessionDep, actor: Reader) -> CalendarOut:
    return CalendarOut.model_validate(calendars.calendar_by_key(session, key))


@router.put("/calendars/{key}", response_model=CalendarOut, summary="Change a calendar's hours, zone or name")
def update_calendar(key: Key, body: CalendarIn, session: SessionDep, clock: ClockDep, actor: Admin) -> CalendarOut:
    row = calendars.update_calendar(session, calendars.calendar_by_key(session, key), body, now=clock.now())
    timers.refresh_calendar(session, row.key)  # running clocks on it fall due at other times now
    return CalendarOut.model_validate(row)


@router.get("/calendars/{key}/holidays", response_model=list[HolidayOut], summary="Holidays, oldest first")
def list_holidays(key: Key, session: SessionDep, actor: Reader, since: date | None = None) -> list[HolidayOut]:
    row = calendars.calendar_by_key(session, key)
    return [HolidayOut.model_validate(h) for h in calendars.holidays(session, row, since=since)]


@router.put("/calendars/{key}/holidays/{day}", response_model=HolidayOut,
            summary="Close a day, or give it short hours")
def set_holiday(key: Key, day: date, body: HolidayIn, session: SessionDep, clock: ClockDep,
                actor: Admin) -> HolidayOut:
    if body.day != day:
        raise Invalid(f"the body's day must be the one in the path ({day.isoformat()})", field="day")
    holiday, _ = calendars.set_holiday(session, calendars.calendar_by_key(session, key), body, now=clock.now())
    timers.refresh_calendar(session, key)
    return HolidayOut.model_validate(holiday)


@router.delete("/calendars/{key}/holidays/{day}", status_code=204, summary="Open a day as usual again")
def delete_holiday(key: Key, day: date, session: SessionDep, actor: Admin) -> None:
    calendars.delete_holiday(session, calendars.calendar_by_key(session, key), day)
    timers.refresh_calendar(session, key)


@router.post("/calendars/{key}/holidays/import", response_model=ImportOut,
             summary="Import all-day events of an iCalendar file as closed days (idempotent)")
def import_holidays(key: Key, session: SessionDep, clock: ClockDep, actor: Admin,
                    content: Annotated[str, Body(media_type="text/calendar", max_length=2_000_000)]) -> ImportOut:
    report = calendars.import_ical(session, calendars.calendar_by_key(session, key), content, now=clock.now())
    timers.refresh_calendar(session, key)
    return ImportOut(created=report.created, updated=report.updated, unchanged=report.unchanged,
                     skipped=report.skipped)


@router.get("/calendars/{key}/due", response_model=DueOut,
            summary="When N minutes of business time after a start are over (and whether it is open now)")
def due(key: Key, session: SessionDep, actor: Reader, start: AwareDatetime,
        minutes: Annotated[int, Query(ge=0, le=525_600)]) -> DueOut:
    calendar = calendars.load(session, calendars.calendar_by_key(session, key))
    return DueOut(start=start, minutes=minutes, due=calendar.add(start, timedelta(minutes=minutes)),
                  open_now=calendar.is_open(start), next_open=calendar.next_open(start))


# ---------------------------------------------------------------- policies


@router.get("/sla/policies", response_model=list[PolicyOut], summary="SLA policies in the order they are tried")
def list_policies(session: SessionDep, actor: Reader) -> list[PolicyOut]:
    return [PolicyOut.model_validate(p) for p in policies.list_policies(session)]


@router.post("/sla/policies", response_model=PolicyOut, status_code=201,
             summary="Add a policy (the default first: every case needs one to fall back on)")
def create_policy(body: PolicyIn, session: SessionDep, clock: ClockDep, actor: Admin) -> PolicyOut:
    return PolicyOut.model_validate(policies.create_policy(session, body, now=clock.now()))


@router.put("/sla/policies/{key}", response_model=PolicyOut,
            summary="Change a policy: a new version for new cases; running clocks keep their terms")
def update_policy(key: Key, body: PolicyIn, session: SessionDep, clock: ClockDep, actor: Admin) -> PolicyOut:
    row = policies.policy_by_key(session, key)
    return PolicyOut.model_validate(policies.update_policy(session, row, body, now=clock.now()))


def _clock_out(clock: Clock) -> ClockOut:
    return ClockOut(metric=clock.metric.value, outcome=clock.outcome.value, started_at=clock.started_at,
                    stopped_at=clock.stopped_at, due_at=clock.due_at, warn_at=clock.warn_at,
                    breached_at=clock.breached_at, used_minutes=round(clock.used.total_seconds() / 60, 2),
                    budget_minutes=clock.budget.total_seconds() / 60, business=clock.business,
                    history=[{"what": what, "at": at.isoformat()} for what, at in clock.history])


@router.get("/cases/{case_id}/sla", response_model=CaseSlaOut,
            summary="The case's SLA terms and every clock (due, warning, breach), folded from its events")
def case_sla(case_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, clock: ClockDep,
             actor: CaseReader) -> CaseSlaOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    snapshot = policies.snapshot_of(session, case.id)
    if snapshot is None:
        raise NotFound(f"case {case_id} has no SLA (no policy existed when it was opened)", field="case_id")
    clocks = policies.case_clocks(session, snapshot, now=clock.now())
    return CaseSlaOut(case_id=case.id, policy_key=snapshot.policy_key, policy_version=snapshot.policy_version,
                      priority=snapshot.priority, calendar_key=snapshot.calendar_key, applied_at=snapshot.applied_at,
                      clocks=[_clock_out(c) for c in clocks])


@router.get("/sla/compliance", response_model=list[ComplianceOut],
            summary="SLA compliance: targets met on time / targets that came due, per target and group")
def compliance(session: SessionDep, clock: ClockDep, actor: Reader, since: AwareDatetime | None = None,
               until: AwareDatetime | None = None,
               by: Annotated[str, Query(pattern="^(metric|queue|team|market|tier)$")] = "metric",
               ) -> list[ComplianceOut]:
    end = until or clock.now()
    rows = sla_metrics.compliance(session, since=since or end - timedelta(days=28), until=end, by=by)
    return [ComplianceOut(**row.as_dict()) for row in rows]
