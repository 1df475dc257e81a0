"""Escalations: a ladder running for a case, step by step, until someone acknowledges.

The ladder's steps are copied onto the escalation when it starts, so editing the ladder never
changes one that runs. ``advance`` is what the scheduler calls; it re-reads the escalation's state
and runs only what is due, and each step is claimed by a unique (escalation, round, step) row in
the same transaction as its effects: a second tick, a duplicate scheduler or a stale worker finds
the step taken and sends nothing twice. Acknowledging stops every pending step; when the ladder
has an ack timeout and the case is still open when it passes, the escalation resumes from the
step that paged the acknowledger (a new round), as PagerDuty does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, RerouteReason, Status
from trustdesk.core import webhooks
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.events import SYSTEM, EventActor, record_case_event
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import get_settings
from trustdesk.directory.models import Market, Queue, Team
from trustdesk.oncall import ladders, paging, schedules
from trustdesk.oncall.models import Escalation, EscalationLadder, EscalationStepRun

MAX_STEPS_PER_TICK = 200  # a ladder of repeats with no waits cannot spin a tick forever


class EscalationStatus(StrEnum):
    ACTIVE = "active"  # steps still to run
    ACKNOWLEDGED = "acknowledged"  # someone has it; an ack timeout may resume it
    EXHAUSTED = "exhausted"  # every step ran and nobody acknowledged: it waits for an ack or the case's end
    RESOLVED = "resolved"  # the case was solved or closed, or someone resolved the escalation
    CANCELLED = "cancelled"


OPEN = (EscalationStatus.ACTIVE.value, EscalationStatus.ACKNOWLEDGED.value, EscalationStatus.EXHAUSTED.value)
DONE_CASE = (Status.SOLVED.value, Status.CLOSED.value)


@dataclass(frozen=True)
class CaseFacts:
    id: int
    reference: str
    subject: str
    status: str
    priority: str
    market: str
    team_key: str | None


def case_facts(session: Session, case_id: int) -> CaseFacts:
    row = session.execute(
        select(Case.id, Case.reference, Case.subject, Case.status, Case.priority, Market.code, Team.key)
        .join(Market, Market.id == Case.market_id).outerjoin(Team, Team.id == Case.team_id)
        .where(Case.id == case_id)).one_or_none()
    if row is None:
        raise NotFound(f"case {case_id} does not exist", field="case_id")
    return CaseFacts(id=row[0], reference=row[1] or f"#{row[0]}", subject=row[2], status=row[3], priority=row[4],
                     market=row[5], team_key=row[6])


def open_escalation(session: Session, case_id: int) -> Escalation | None:
    return session.scalar(select(Escalation).where(Escalation.case_id == case_id, Escalation.crisis_id.is_(None),
                                                   Escalation.status.in_(OPEN)))


def open_for_crisis(session: Session, crisis_id: int) -> Sequence[Escalation]:
    return session.scalars(select(Escalation).where(Escalation.crisis_id == crisis_id,
                                                    Escalation.status.in_(OPEN))).all()


def escalations_of(session: Session, case_id: int) -> Sequence[Escalation]:
    return session.scalars(select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id)).all()


def escalation_by_id(session: Session, escalation_id: int, *, for_update: bool = False) -> Escalation:
    query = select(Escalation).where(Escalation.id == escalation_id)
    if for_update and is_postgres(session):
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"escalation {escalation_id} does not exist", field="escalation_id")
    return row


def start(session: Session, case_id: int, *, trigger: str, reason: str, actor: EventActor, now: datetime,
          ladder_key: str | None = None, crisis_id: int | None = None) -> Escalation | None:
    """Start the ladder that applies (or the one named) and run its first steps now.

    A trigger from the system (a breach, a warning, an urgent priority) starts nothing when no
    ladder applies or the case already escalates; a person's ``manual`` escalation is told why."""
    if trigger not in ladders.TRIGGERS:
        raise Invalid(f"unknown trigger {trigger!r}", field="trigger")
    facts = case_facts(session, case_id)
    by_person = trigger in ("manual", "crisis")
    if facts.status in DONE_CASE:
        if by_person:
            raise Conflict(f"a {facts.status} case is not escalated", field="status")
        return None
    if crisis_id is None and (running := open_escalation(session, case_id)) is not None:
        if by_person:
            raise Conflict(f"the case is escalating already (escalation {running.id}, {running.status}); "
                           "acknowledge or resolve it first", field="case_id")
        return None
    ladder: EscalationLadder | None
    if ladder_key is not None:
        ladder = ladders.ladder_by_key(session, ladder_key, field="ladder")
        if not ladder.is_active:
            raise Invalid(f"ladder {ladder_key!r} is switched off", field="ladder")
        if trigger not in ladder.triggers:
            raise Invalid(f"ladder {ladder_key!r} is not started by {trigger}", field="ladder")
    else:
        ladder = ladders.matching_ladder(session, trigger=trigger, team_key=facts.team_key, market=facts.market,
                                         priority=facts.priority)
    if ladder is None:
        if by_person:
            raise Invalid("no escalation ladder applies to this case; name one", field="ladder")
        return None
    escalation = Escalation(
        case_id=case_id, crisis_id=crisis_id, ladder_id=ladder.id, ladder_key=ladder.key,
        ladder_version=ladder.version, steps=list(ladder.steps), ack_timeout_minutes=ladder.ack_timeout_minutes,
        trigger=trigger, reason=reason[:500], started_by_id=actor.user_id or None, started_at=now,
        status=EscalationStatus.ACTIVE.value, round=0, step_index=0, repeats_done=0, next_run_at=now,
        level_index=None, acknowledged_at=None, acknowledged_by_id=None, ack_deadline_at=None, ack_timeouts=0,
        ended_at=None, ended_reason=None)
    session.add(escalation)
    session.flush()
    record_case_event(session, case_id, "case.escalated", actor, now, {
        "escalation_id": escalation.id, "ladder": ladder.key, "version": ladder.version, "trigger": trigger,
        "reason": escalation.reason, "crisis_id": crisis_id})
    advance(session, escalation, now=now)
    return escalation


def skip(session: Session, case_id: int, *, trigger: str, why: str, now: datetime) -> None:
    """Say on the case's timeline why a trigger started no escalation (a stale announcement)."""
    record_case_event(session, case_id, "case.escalation_skipped", SYSTEM, now, {"trigger": trigger, "why": why})


def _end(session: Session, escalation: Escalation, status: EscalationStatus, reason: str, *, actor: EventActor,
         now: datetime) -> None:
    escalation.status, escalation.ended_at, escalation.ended_reason = status.value, now, reason
    escalation.next_run_at = escalation.ack_deadline_at = None
    record_case_event(session, escalation.case_id, f"case.escalation_{status.value}", actor, now,
                      {"escalation_id": escalation.id, "reason": reason})


def advance(session: Session, escalation: Escalation, *, now: datetime) -> int:
    """Run every step that is due by ``now``; returns how many ran. Safe to call any number of times."""
    if escalation.status == EscalationStatus.ACKNOWLEDGED.value:
        _maybe_resume(session, escalation, now=now)
    if escalation.status not in OPEN:
        return 0
    facts = case_facts(session, escalation.case_id)
    if facts.status in DONE_CASE and escalation.crisis_id is None:
        _end(session, escalation, EscalationStatus.RESOLVED, f"case {facts.status}", actor=SYSTEM, now=now)
        return 0
    ran = 0
    while (escalation.status == EscalationStatus.ACTIVE.value and escalation.next_run_at is not None
           and escalation.next_run_at <= now and ran < MAX_STEPS_PER_TICK):
        if escalation.step_index >= len(escalation.steps):
            escalation.status, escalation.next_run_at = EscalationStatus.EXHAUSTED.value, None
            record_case_event(session, escalation.case_id, "case.escalation_exhausted", SYSTEM, now,
                              {"escalation_id": escalation.id, "round": escalation.round})
            break
        run = _claim(session, escalation, now=now)
        if run is None:
            session.refresh(escalation)  # another worker ran it: take up its state and stop
            return ran
        _run_step(session, escalation, facts, run, now=now)
        ran += 1
    return ran


def _claim(session: Session, escalation: Escalation, *, now: datetime) -> EscalationStepRun | None:
    run = EscalationStepRun(escalation_id=escalation.id, round=escalation.round, step_index=escalation.step_index,
                            kind=escalation.steps[escalation.step_index]["type"], ran_at=now, outcome={})
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


def _run_step(session: Session, escalation: Escalation, facts: CaseFacts, run: EscalationStepRun, *,
              now: datetime) -> None:
    index, step = escalation.step_index, escalation.steps[escalation.step_index]
    due = escalation.next_run_at or now
    kind = step["type"]
    outcome: dict[str, Any] = {}
    subject = paging.Subject(case_id=facts.id, case_reference=facts.reference, case_subject=facts.subject,
                             escalation_id=escalation.id, crisis_id=escalation.crisis_id)
    title = f"Escalation: {facts.reference} ({escalation.trigger})"
    body = f"{facts.subject}\nWhy: {escalation.reason}"
    next_index = index + 1
    if kind == "wait":
        escalation.next_run_at = due + timedelta(minutes=int(step["minutes"]))
        outcome["until"] = escalation.next_run_at.isoformat()
    elif kind == "repeat":
        if escalation.repeats_done < int(step["times"]):
            escalation.repeats_done += 1
            escalation.round += 1
            next_index = 0
        outcome["repeats_done"] = escalation.repeats_done
    elif kind in ladders.PAGING_STEPS:
        if kind == "notify_oncall":
            user_id = schedules.oncall_user(session, str(step["schedule"]), now)
            targets = [user_id] if user_id is not None else []
            outcome["schedule"] = step["schedule"]
            if not targets:
                outcome["gap"] = True  # nobody on call: say so on the timeline and go on up the ladder
        elif kind == "round_robin":
            targets = [_next_in_turn(session, escalation, list(step["users"]))]
        else:
            targets = list(step["users"])
        pages = paging.page(session, targets, subject, title=title, body=body, now=now, actor=SYSTEM,
                            schedule_key=step.get("schedule"))
        outcome["paged"] = [p.user_id for p in pages]
        if pages:
            escalation.level_index = index
    elif kind == "reassign":
        outcome.update(_reassign(session, facts, str(step["team"]), now=now))
    elif kind == "webhook":
        endpoint = webhooks.endpoint_by_key(session, str(step["endpoint"]), field="endpoint")
        outcome["webhook_ids"] = webhooks.emit(session, "escalation.step", {
            "escalation_id": escalation.id, "case": {"id": facts.id, "reference": facts.reference,
                                                     "subject": facts.subject},
            "trigger": escalation.trigger, "reason": escalation.reason, "step": index},
            now=now, text=f"*{title}*\n{body}", endpoint=endpoint)
    run.outcome = outcome
    escalation.step_index = next_index
    record_case_event(session, facts.id, "case.escalation_step", SYSTEM, now, {
        "escalation_id": escalation.id, "round": escalation.round, "step": index, "kind": kind, **outcome})


def _next_in_turn(session: Session, escalation: Escalation, members: list[int]) -> int:
    """Each escalation of this ladder pages the next member of the group (counted from history)."""
    before = session.scalar(
        select(func.count()).select_from(EscalationStepRun).join(Escalation, Escalation.id ==
                                                                 EscalationStepRun.escalation_id)
        .where(Escalation.ladder_key == escalation.ladder_key, EscalationStepRun.step_index == escalation.step_index,
               EscalationStepRun.kind == "round_robin")) or 0
    return members[(int(before) - 1) % len(members)]  # the current run is already counted


def _reassign(session: Session, facts: CaseFacts, team_key: str, *, now: datetime) -> dict[str, Any]:
    from trustdesk.cases import service as cases_service  # cases calls oncall through the outbox only

    team = session.scalar(select(Team).where(Team.key == team_key))
    case = session.get(Case, facts.id)
    if team is None or case is None:
        return {"reassigned": False, "why": f"team {team_key} is gone"}
    market_id = case.market_id
    queue = session.scalar(select(Queue).where(Queue.team_id == team.id, Queue.is_active.is_(True),
                                               Queue.is_triage.is_(False),
                                               (Queue.market_id == market_id) | Queue.market_id.is_(None))
                           .order_by(Queue.market_id.is_(None), Queue.intake_order, Queue.id))
    if queue is None:
        return {"reassigned": False, "why": f"team {team_key} has no active queue for this market"}
    if case.queue_id == queue.id:
        return {"reassigned": False, "why": f"the case is in {queue.key} already"}
    cases_service.reroute_case(session, case, to_queue=queue, reason=RerouteReason.ESCALATED, actor=SYSTEM,
                               settings=get_settings(), now=now)
    return {"reassigned": True, "team": team_key, "queue": queue.key}


def _maybe_resume(session: Session, escalation: Escalation, *, now: datetime) -> None:
    """The ack timeout: acknowledged but the case is still open when it passes: page again."""
    deadline = escalation.ack_deadline_at
    if deadline is None or deadline > now:
        return
    facts = case_facts(session, escalation.case_id)
    if facts.status in DONE_CASE and escalation.crisis_id is None:
        _end(session, escalation, EscalationStatus.RESOLVED, f"case {facts.status}", actor=SYSTEM, now=now)
        return
    escalation.status = EscalationStatus.ACTIVE.value
    escalation.round += 1
    escalation.step_index = escalation.level_index or 0
    escalation.next_run_at, escalation.ack_deadline_at = deadline, None
    escalation.acknowledged_at = escalation.acknowledged_by_id = None
    escalation.ack_timeouts += 1
    record_case_event(session, escalation.case_id, "case.escalation_reescalated", SYSTEM, now, {
        "escalation_id": escalation.id, "round": escalation.round, "from_step": escalation.step_index,
        "ack_timeouts": escalation.ack_timeouts})


def may_acknowledge(session: Session, actor: Actor, escalation: Escalation) -> bool:
    paged = {p.user_id for p in paging.pages_of_escalation(session, escalation.id)}
    return actor.user_id in paged or actor.can(Perm.ONCALL_RESPOND)


def acknowledge(session: Session, escalation: Escalation, *, user_id: int, actor: EventActor, now: datetime,
                via: str) -> Escalation:
    """Stop every pending step; with an ack timeout, the clock for resuming starts now. Twice is harmless."""
    if escalation.status == EscalationStatus.ACKNOWLEDGED.value:
        return escalation
    if escalation.status not in OPEN:
        raise Conflict(f"the escalation is {escalation.status}", field="status")
    escalation.status = EscalationStatus.ACKNOWLEDGED.value
    escalation.acknowledged_at, escalation.acknowledged_by_id, escalation.next_run_at = now, user_id, None
    own_step = _step_that_paged(session, escalation, user_id)
    if own_step is not None:  # an ack timeout pages the acknowledger's level again, not the last one
        escalation.level_index = own_step
    if escalation.ack_timeout_minutes:
        escalation.ack_deadline_at = now + timedelta(minutes=escalation.ack_timeout_minutes)
    pages = paging.pages_of_escalation(session, escalation.id)
    first_page = min((p.created_at for p in pages if p.acknowledged_at is None), default=None)
    paging.mark_acknowledged(session, escalation.id, by=user_id, now=now)
    seconds = (now - first_page).total_seconds() if first_page is not None else None
    record_case_event(session, escalation.case_id, "case.escalation_acknowledged", actor, now, {
        "escalation_id": escalation.id, "user_id": user_id, "via": via, "seconds_to_ack": seconds,
        "round": escalation.round})
    webhooks.emit(session, "page.acknowledged", {"escalation_id": escalation.id, "case_id": escalation.case_id,
                                                 "user_id": user_id, "via": via}, now=now)
    return escalation


def _step_that_paged(session: Session, escalation: Escalation, user_id: int) -> int | None:
    runs = session.scalars(select(EscalationStepRun).where(
        EscalationStepRun.escalation_id == escalation.id, EscalationStepRun.round == escalation.round)
        .order_by(EscalationStepRun.step_index.desc()))
    return next((run.step_index for run in runs if user_id in (run.outcome.get("paged") or [])), None)


def acknowledge_as(session: Session, actor: Actor, escalation: Escalation, *, now: datetime, via: str) -> Escalation:
    if not may_acknowledge(session, actor, escalation):
        raise Forbidden("only someone paged for it, or an oncall responder, acknowledges an escalation")
    return acknowledge(session, escalation, user_id=actor.user_id, actor=actor, now=now, via=via)


def resolve(session: Session, escalation: Escalation, *, actor: EventActor, now: datetime, reason: str) -> Escalation:
    if escalation.status not in OPEN:
        raise Conflict(f"the escalation is {escalation.status}", field="status")
    _end(session, escalation, EscalationStatus.RESOLVED, reason or "resolved", actor=actor, now=now)
    return escalation


def due_ids(session: Session, *, now: datetime, limit: int = 500) -> list[int]:
    """Escalations with a step due or an ack timeout passed, soonest first."""
    steps = select(Escalation.id).where(Escalation.status == EscalationStatus.ACTIVE.value,
                                        Escalation.next_run_at <= now)
    acks = select(Escalation.id).where(Escalation.status == EscalationStatus.ACKNOWLEDGED.value,
                                       Escalation.ack_deadline_at <= now)
    return sorted(set(session.scalars(steps.limit(limit))) | set(session.scalars(acks.limit(limit))))


def open_on_done_cases(session: Session, *, limit: int = 500) -> list[int]:
    """Open escalations whose case has been solved or closed since (they end at the next tick)."""
    return list(session.scalars(select(Escalation.id).join(Case, Case.id == Escalation.case_id).where(
        Escalation.status.in_(OPEN), Escalation.crisis_id.is_(None), Case.status.in_(DONE_CASE)).limit(limit)))
