"""Assignment: a queue hands a case to an online agent who speaks its language and has room.

Least-loaded first; ties go to whoever was assigned longest ago (round robin). Rows are
claimed safely under concurrency: the case with ``FOR UPDATE SKIP LOCKED`` so two workers
never take the same case, and the team's candidate agents ``FOR UPDATE`` (in id order) so two
cases never push one agent over capacity. SQLite serializes writers, which gives the same
guarantees.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases import repository
from trustdesk.cases.models import Case, Status
from trustdesk.cases.service import assign_case
from trustdesk.core.db import is_postgres
from trustdesk.core.events import SYSTEM, EventActor
from trustdesk.directory.models import Agent, Presence, Queue, TeamMembership
from trustdesk.text.language import base_language

ASSIGNABLE = (Status.NEW.value, Status.OPEN.value)


def _lock_case(session: Session, case_id: int) -> Case | None:
    query = select(Case).where(Case.id == case_id, Case.assignee_id.is_(None), Case.status.in_(ASSIGNABLE))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def pick_agent(session: Session, case: Case) -> Agent | None:
    """The best online agent of the case's team for its language, or None if all are full.

    On PostgreSQL the candidates are locked together, in id order, before their loads are
    counted: a consistent lock order cannot deadlock, and a concurrent assignment to the same
    team waits until this one commits, then sees its result.
    """
    if case.team_id is None:
        return None
    query = (
        select(Agent)
        .join(TeamMembership, TeamMembership.agent_id == Agent.id)
        .where(TeamMembership.team_id == case.team_id, Agent.presence == Presence.ONLINE.value, Agent.capacity > 0)
        .order_by(Agent.id)
    )
    if is_postgres(session):
        query = query.with_for_update(of=Agent)
    candidates = [a for a in session.scalars(query) if _speaks(a, case.language)]
    if not candidates:
        return None
    loads = repository.agent_loads(session, [a.id for a in candidates])
    ranked = sorted(
        (a for a in candidates if loads[a.id] < a.capacity),
        key=lambda a: (loads[a.id] / a.capacity, loads[a.id],
                       a.last_assigned_at.timestamp() if a.last_assigned_at else 0.0, a.id),
    )
    return ranked[0] if ranked else None


def _speaks(agent: Agent, language: str) -> bool:
    wanted = base_language(language)
    return any(base_language(code) == wanted for code in agent.languages)


def auto_assign(session: Session, case_id: int, *, now: datetime, actor: EventActor = SYSTEM) -> Agent | None:
    """Give one case to the best agent; a no-op when it is taken, closed or nobody has room."""
    case = _lock_case(session, case_id)
    if case is None:
        return None
    queue = session.get(Queue, case.queue_id) if case.queue_id else None
    if queue is None or not queue.auto_assign:
        return None
    agent = pick_agent(session, case)
    if agent is None:
        return None
    assign_case(session, case, agent, actor=actor, now=now, reason="auto")
    return agent


def claim_next(session: Session, agent: Agent, *, queue_id: int | None, now: datetime,
               actor: EventActor) -> Case | None:
    """"Get next": the oldest unassigned case the agent may work, taken under a row lock."""
    teams = select(TeamMembership.team_id).where(TeamMembership.agent_id == agent.id)
    query = (
        select(Case)
        .where(Case.assignee_id.is_(None), Case.status.in_(ASSIGNABLE), Case.team_id.in_(teams))
        .order_by(Case.created_at, Case.id)
        .limit(20)
    )
    if queue_id is not None:
        query = query.where(Case.queue_id == queue_id)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=Case)
    for case in session.scalars(query):
        if _speaks(agent, case.language):
            assign_case(session, case, agent, actor=actor, now=now, reason="claimed")
            return case
    return None


def assign_waiting(session: Session, *, now: datetime, limit: int = 200) -> int:
    """Sweep: offer unassigned cases in auto-assign queues to agents who came online since."""
    query = (
        select(Case.id)
        .join(Queue, Queue.id == Case.queue_id)
        .where(Case.assignee_id.is_(None), Case.status.in_(ASSIGNABLE), Queue.auto_assign.is_(True))
        .order_by(Case.created_at)
        .limit(limit)
    )
    assigned = 0
    for case_id in list(session.scalars(query)):
        if auto_assign(session, case_id, now=now) is not None:
            assigned += 1
    return assigned
