"""SLA compliance and breaches from the event log, by the same fold as ``trustdesk sla replay``.

A target *comes due* in a period when, folding the case's events, its clock was met within the
period (on time) or went past its budget within the period (a breach, met later or never).
**SLA compliance** = targets met on time / targets that came due, per target type (GLOSSARY), and
per queue, team, market or tier (the case's current one). A clock still running whose due time
has not come counts in neither.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Status
from trustdesk.core.errors import Invalid
from trustdesk.core.events import CaseEvent
from trustdesk.directory.models import Market, Queue, Team
from trustdesk.sla import policies
from trustdesk.sla.calendar import Calendar
from trustdesk.sla.clocks import Clock, Outcome, run_periods
from trustdesk.sla.models import CaseSla

GROUPS = ("metric", "queue", "team", "market", "tier")
CHUNK = 500


@dataclass
class Compliance:
    key: str  # the group's value ("first_reply", "t1-us", "US", "tier1"...)
    metric: str
    met: int = 0
    breached: int = 0

    @property
    def due(self) -> int:
        return self.met + self.breached

    @property
    def rate(self) -> float | None:
        return self.met / self.due if self.due else None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "metric": self.metric, "met": self.met, "breached": self.breached,
                "came_due": self.due, "compliance": None if self.rate is None else round(self.rate, 6)}


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def compliance(session: Session, *, since: datetime, until: datetime, by: str = "metric") -> list[Compliance]:
    """Targets that came due in [since, until), met and breached, grouped ``by`` (and by target)."""
    if by not in GROUPS:
        raise Invalid(f"group by one of {', '.join(GROUPS)}", field="by")
    if until <= since:
        raise Invalid("the end must come after the start", field="until")
    # Cases whose clocks could come due in the period: an event since its start (a reply, a status
    # change, the sweep's announcement, the closing), or still open (a clock may run out silently).
    touched = select(CaseEvent.case_id).where(CaseEvent.occurred_at >= since).distinct()
    still_open = select(Case.id).where(Case.status != Status.CLOSED.value)
    # (By the case's creation: a snapshot's applied_at moves when the priority changes.)
    opened_before = select(Case.id).where(Case.created_at < until)
    snapshots = {s.case_id: s for s in session.scalars(select(CaseSla).where(
        CaseSla.case_id.in_(opened_before), CaseSla.case_id.in_(touched) | CaseSla.case_id.in_(still_open)))}
    labels = _labels(session, list(snapshots), by)
    calendars: dict[str | None, Calendar] = {}

    def calendar(key: str | None) -> Calendar:
        if key not in calendars:
            calendars[key] = policies.calendar_for(session, key)
        return calendars[key]

    out: dict[tuple[str, str], Compliance] = {}
    for chunk in _chunks(sorted(snapshots)):
        events: dict[int, list[Any]] = defaultdict(list)
        for event in session.execute(
                select(CaseEvent.case_id, CaseEvent.type, CaseEvent.occurred_at, CaseEvent.data)
                .where(CaseEvent.case_id.in_(chunk), CaseEvent.type.in_(policies.FOLDED_EVENTS),
                       CaseEvent.occurred_at < until)  # the period is judged as it stood at its end
                .order_by(CaseEvent.case_id, CaseEvent.occurred_at, CaseEvent.id)):
            events[event.case_id].append(event)
        for case_id in chunk:
            try:
                # The terms the case had over time (a priority change), exactly as replay folds them.
                periods = [p for p in policies.periods_of(session, snapshots[case_id], calendar=calendar)
                           if p.since is None or p.since < until]
                clocks = run_periods(periods, policies.happenings(events[case_id]), now=until.astimezone(UTC))
            except Invalid:  # a calendar with no open time: nothing can come due
                continue
            for metric, at, met in came_due(clocks):
                if not since <= at < until:
                    continue
                key = metric if by == "metric" else labels.get(case_id, "—")
                row = out.setdefault((key, metric), Compliance(key=key, metric=metric))
                if met:
                    row.met += 1
                else:
                    row.breached += 1
    return sorted(out.values(), key=lambda r: (r.key, r.metric))


def came_due(clocks: Iterable[Clock]) -> Iterator[tuple[str, datetime, bool]]:
    """Each clock that came due: (target, when, met in time). A breach comes due when it went past its
    budget (met later or never); a met clock when it was met; a clock still running in time, never."""
    for clock in clocks:
        if clock.breached_at is not None:
            yield clock.metric.value, clock.breached_at, False
        elif clock.outcome is Outcome.FULFILLED and clock.stopped_at is not None:
            yield clock.metric.value, clock.stopped_at, True


def _labels(session: Session, case_ids: list[int], by: str) -> dict[int, str]:
    if by == "metric" or not case_ids:
        return {}
    column: Any = {"queue": Queue.key, "team": Team.key, "market": Market.code, "tier": Team.tier}[by]
    query = select(Case.id, column).select_from(Case)
    if by == "queue":
        query = query.outerjoin(Queue, Queue.id == Case.queue_id)
    elif by == "market":
        query = query.join(Market, Market.id == Case.market_id)
    else:
        query = query.outerjoin(Team, Team.id == Case.team_id)
    labels: dict[int, str] = {}
    for chunk in _chunks(case_ids):
        labels.update({case_id: value or "—" for case_id, value in session.execute(query.where(Case.id.in_(chunk)))})
    return labels
