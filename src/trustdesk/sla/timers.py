"""The clocks the sweep watches: each open case's running and paused clocks, refreshed from the fold
whenever the case's events change, and the sweep that announces warnings and breaches once.

The refresh runs just before a transaction commits, for every case that got an event in it
(``sla.*`` events excluded: the sweep's own announcements change no clock). Bulk loads may defer
it (``session.info[DEFER] = True``) and call ``refresh_open`` once at the end.

A refresh also tells the case's story: a clock that went from running to paused, back to running, or
to met since the last refresh gets an ``sla.paused`` / ``sla.resumed`` / ``sla.fulfilled`` event, dated
when it happened. The timer row keeps the state it last saw, so each change is recorded once and a
second refresh records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, event, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from trustdesk.cases.models import Case, Status
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Invalid
from trustdesk.core.events import SYSTEM, CaseEvent, record_case_event
from trustdesk.core.outbox import enqueue
from trustdesk.sla import policies
from trustdesk.sla.clocks import Clock, Outcome
from trustdesk.sla.models import CaseSla, SlaTimer

TOUCHED = "sla.touched"
DEFER = "sla.defer"
_ACTIVE = (Outcome.RUNNING.value, Outcome.PAUSED.value)


def _last_at(clock: Clock, what: str) -> datetime:
    return next((at for name, at in reversed(clock.history) if name == what), clock.started_at)


def _record_transition(session: Session, case_id: int, clock: Clock, before: str | None) -> None:
    """The event for a clock's change of state since the last refresh, if it is one the timeline tells."""
    after = clock.outcome.value
    if before is None or before == after:
        return  # a new clock, or one whose state the row did not know (written before states were kept)
    base: dict[str, Any] = {"metric": clock.metric.value, "seq": clock.seq}
    if after == Outcome.PAUSED.value and before == Outcome.RUNNING.value:
        waiting = clock.paused_for.value if clock.paused_for is not None else None
        record_case_event(session, case_id, "sla.paused", SYSTEM, _last_at(clock, "paused"),
                          base | {"waiting_on": waiting})
    elif after == Outcome.RUNNING.value and before in (Outcome.PAUSED.value, Outcome.FULFILLED.value):
        record_case_event(session, case_id, "sla.resumed", SYSTEM, _last_at(clock, "resumed"),
                          base | {"reopened": before == Outcome.FULFILLED.value})
    elif after == Outcome.FULFILLED.value and before in _ACTIVE:
        assert clock.stopped_at is not None
        record_case_event(session, case_id, "sla.fulfilled", SYSTEM, clock.stopped_at, base | {
            "in_time": clock.breached_at is None, "used_minutes": round(clock.used.total_seconds() / 60, 2),
            "target_minutes": int(clock.budget.total_seconds() // 60), "business": clock.business})
    # A cancelled clock (the case was solved before a reply was needed) gets no event: the status change
    # that stopped it tells the timeline already.


def refresh(session: Session, case_id: int, *, record_transitions: bool = True) -> None:
    """Make the case's timers match its clocks. Every clock of an open case keeps its row (a stopped or
    paused one with no due time), so a reopened case's clock finds the marks of what was announced and
    nothing is announced twice; a closed case's rows go.

    ``record_transitions``: record on the case's timeline what changed since the last refresh (paused,
    resumed, met). Bulk loads turn it off: their history is already told by its own events."""
    existing = {(t.metric, t.seq): t for t in session.scalars(select(SlaTimer).where(SlaTimer.case_id == case_id))}
    snapshot = policies.snapshot_of(session, case_id)
    status = session.scalar(select(Case.status).where(Case.id == case_id))
    closed = status == Status.CLOSED.value
    clocks: dict[tuple[str, int], Clock] = {}
    # A closed case is folded only when one of its clocks was still going (closed straight from open, or
    # merged): the last word on it belongs on the timeline. Closing a solved case changes no clock.
    worth_folding = not closed or (record_transitions and any(t.state in (*_ACTIVE, None) for t in existing.values()))
    if snapshot is not None and worth_folding:
        last = session.scalar(select(CaseEvent.occurred_at).where(CaseEvent.case_id == case_id)
                              .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc()).limit(1))
        try:
            folded = policies.case_clocks(session, snapshot, now=last or snapshot.applied_at)
        except Invalid:  # a calendar with no open time ahead: nothing can fall due, so nothing is watched
            folded = []
        clocks = {(clock.metric.value, clock.seq): clock for clock in folded}
    if record_transitions:
        for key, clock in clocks.items():
            row = existing.get(key)
            _record_transition(session, case_id, clock, row.state if row is not None else None)
    if closed:
        clocks = {}
    for key, clock in clocks.items():
        running = clock.outcome is Outcome.RUNNING
        due, warn = (clock.due_at, clock.warn_at) if running else (None, None)
        row = existing.pop(key, None)
        if row is None:
            session.add(SlaTimer(case_id=case_id, metric=key[0], seq=key[1], started_at=clock.started_at,
                                 due_at=due, warn_at=warn, warning_sent_at=None, breach_sent_at=None,
                                 state=clock.outcome.value))
            continue
        # An announcement made before the due time moved later (a lower priority, a holiday added) no
        # longer holds: the new time is announced when it comes.
        if row.breach_sent_at is not None and due is not None and due > row.breach_sent_at:
            row.breach_sent_at = None
        if row.warning_sent_at is not None and warn is not None and warn > row.warning_sent_at:
            row.warning_sent_at = None
        row.started_at, row.due_at, row.warn_at, row.state = clock.started_at, due, warn, clock.outcome.value
    for row in existing.values():
        session.delete(row)


def refresh_calendar(session: Session, calendar_key: str) -> int:
    """After a calendar's hours or holidays change: refresh the open cases whose terms use it."""
    ids = list(session.scalars(select(CaseSla.case_id).join(Case, Case.id == CaseSla.case_id).where(
        CaseSla.calendar_key == calendar_key, Case.status != Status.CLOSED.value)))
    for case_id in ids:
        refresh(session, case_id)
    return len(ids)


def next_due(session: Session, case_ids: Iterable[int]) -> dict[int, tuple[str, datetime]]:
    """Each case's soonest running clock: (metric, due_at), for queue rows."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    soonest: dict[int, tuple[str, datetime]] = {}
    rows = session.execute(select(SlaTimer.case_id, SlaTimer.metric, SlaTimer.due_at)
                           .where(SlaTimer.case_id.in_(ids), SlaTimer.due_at.is_not(None)))
    for case_id, metric, due_at in rows:
        if due_at is not None and (case_id not in soonest or due_at < soonest[case_id][1]):
            soonest[case_id] = (metric, due_at)
    return soonest


def refresh_open(session: Session, *, record_transitions: bool = False) -> int:
    """Refresh every case that is not closed (after a bulk load that deferred the refresh).

    ``record_transitions`` is off by default: a bulk load writes history whose pauses and replies are
    told by its own events, and a first refresh has no earlier state to compare with anyway."""
    ids = list(session.scalars(select(Case.id).where(Case.status != Status.CLOSED.value)))
    for case_id in ids:
        refresh(session, case_id, record_transitions=record_transitions)
    return len(ids)


def soonest_due(case_id: ColumnElement[int] | InstrumentedAttribute[int] | None = None,
                ) -> ScalarSelect[datetime | None]:
    """SQL for a case's soonest running clock's due time (NULL: no clock is running), for ordering a
    list of cases by what falls due first. Correlated on ``cases.id`` (or on ``case_id``, another
    table's column naming the case): it reads that case's rows only."""
    column = Case.id if case_id is None else case_id
    return (select(func.min(SlaTimer.due_at)).where(SlaTimer.case_id == column, SlaTimer.due_at.is_not(None))
            .scalar_subquery())


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.new:
        if isinstance(obj, CaseEvent) and not obj.type.startswith("sla."):
            session.info.setdefault(TOUCHED, set()).add(obj.case_id)


@event.listens_for(Session, "before_commit")
def _refresh_touched(session: Session) -> None:
    session.flush()  # the events of this transaction must be readable by the fold
    touched: set[int] = session.info.pop(TOUCHED, set())
    if not touched or session.info.get(DEFER):
        return
    for case_id in sorted(touched):
        refresh(session, case_id)
    session.flush()


# ---------------------------------------------------------------- the sweep


def _due(session: Session, column: Any, sent: Any, now: datetime, limit: int) -> Iterable[SlaTimer]:
    query = (select(SlaTimer).where(column.is_not(None), column <= now, sent.is_(None))
             .order_by(column).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)  # two sweepers never announce the same timer
    return session.scalars(query).all()


def sweep(session: Session, *, now: datetime, limit: int = 1000) -> tuple[int, int]:
    """Announce warnings and breaches that are due: an ``sla.warned`` / ``sla.breached`` event on the
    case (its timeline) and, for a breach, an outbox message for escalation (both). Each exactly once."""
    warned = breached = 0
    for timer in _due(session, SlaTimer.warn_at, SlaTimer.warning_sent_at, now, limit):
        timer.warning_sent_at = now
        record_case_event(session, timer.case_id, "sla.warned", SYSTEM, now,
                          {"metric": timer.metric, "warn_at": timer.warn_at.isoformat() if timer.warn_at else None,
                           "due_at": timer.due_at.isoformat() if timer.due_at else None})
        enqueue(session, "sla.warned", {"case_id": timer.case_id, "metric": timer.metric,
                                        "warn_at": timer.warn_at.isoformat() if timer.warn_at else None,
                                        "due_at": timer.due_at.isoformat() if timer.due_at else None}, now=now)
        warned += 1
    for timer in _due(session, SlaTimer.due_at, SlaTimer.breach_sent_at, now, limit):
        timer.breach_sent_at = now
        due = timer.due_at.isoformat() if timer.due_at else None
        record_case_event(session, timer.case_id, "sla.breached", SYSTEM, now, {"metric": timer.metric,
                                                                                 "due_at": due})
        enqueue(session, "sla.breached", {"case_id": timer.case_id, "metric": timer.metric, "due_at": due}, now=now)
        breached += 1
    return warned, breached
