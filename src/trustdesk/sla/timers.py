"""The clocks the sweep watches: each open case's running and paused clocks, refreshed from the fold
whenever the case's events change, and the sweep that announces warnings and breaches once.

The refresh runs just before a transaction commits, for every case that got an event in it
(``sla.*`` events excluded: the sweep's own announcements change no clock). Bulk loads may defer
it (``session.info[DEFER] = True``) and call ``refresh_open`` once at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Status
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Invalid
from trustdesk.core.events import SYSTEM, CaseEvent, record_case_event
from trustdesk.core.outbox import enqueue
from trustdesk.sla import policies
from trustdesk.sla.clocks import Outcome
from trustdesk.sla.models import CaseSla, SlaTimer

TOUCHED = "sla.touched"
DEFER = "sla.defer"


def refresh(session: Session, case_id: int) -> None:
    """Make the case's timers match its clocks. Every clock of an open case keeps its row (a stopped or
    paused one with no due time), so a reopened case's clock finds the marks of what was announced and
    nothing is announced twice; a closed case's rows go."""
    existing = {(t.metric, t.seq): t for t in session.scalars(select(SlaTimer).where(SlaTimer.case_id == case_id))}
    snapshot = policies.snapshot_of(session, case_id)
    status = session.scalar(select(Case.status).where(Case.id == case_id))
    clocks: dict[tuple[str, int], Any] = {}
    if snapshot is not None and status != Status.CLOSED.value:
        last = session.scalar(select(CaseEvent.occurred_at).where(CaseEvent.case_id == case_id)
                              .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc()).limit(1))
        seen: dict[str, int] = {}
        try:
            folded = policies.case_clocks(session, snapshot, now=last or snapshot.applied_at)
        except Invalid:  # a calendar with no open time ahead: nothing can fall due, so nothing is watched
            folded = []
        for clock in folded:
            seq = seen.get(clock.metric.value, 0)
            seen[clock.metric.value] = seq + 1
            clocks[(clock.metric.value, seq)] = clock
    for key, clock in clocks.items():
        running = clock.outcome is Outcome.RUNNING
        due, warn = (clock.due_at, clock.warn_at) if running else (None, None)
        row = existing.pop(key, None)
        if row is None:
            session.add(SlaTimer(case_id=case_id, metric=key[0], seq=key[1], started_at=clock.started_at,
                                 due_at=due, warn_at=warn, warning_sent_at=None, breach_sent_at=None))
        else:
            row.due_at, row.warn_at = due, warn
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


def refresh_open(session: Session) -> int:
    """Refresh every case that is not closed (after a bulk load that deferred the refresh)."""
    ids = list(session.scalars(select(Case.id).where(Case.status != Status.CLOSED.value)))
    for case_id in ids:
        refresh(session, case_id)
    return len(ids)


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
    case (its timeline) and, for a breach, an outbox message for escalation. Each exactly once."""
    warned = breached = 0
    for timer in _due(session, SlaTimer.warn_at, SlaTimer.warning_sent_at, now, limit):
        timer.warning_sent_at = now
        record_case_event(session, timer.case_id, "sla.warned", SYSTEM, now,
                          {"metric": timer.metric, "warn_at": timer.warn_at.isoformat() if timer.warn_at else None,
                           "due_at": timer.due_at.isoformat() if timer.due_at else None})
        warned += 1
    for timer in _due(session, SlaTimer.due_at, SlaTimer.breach_sent_at, now, limit):
        timer.breach_sent_at = now
        due = timer.due_at.isoformat() if timer.due_at else None
        record_case_event(session, timer.case_id, "sla.breached", SYSTEM, now, {"metric": timer.metric,
                                                                                 "due_at": due})
        enqueue(session, "sla.breached", {"case_id": timer.case_id, "metric": timer.metric, "due_at": due}, now=now)
        breached += 1
    return warned, breached
