"""Shaping directory objects for output."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from trustdesk.cases import repository as case_queries
from trustdesk.core.identity import User
from trustdesk.directory import service
from trustdesk.directory.models import Agent, Presence, Queue, Team
from trustdesk.directory.schemas import AgentOut, QueueCount, QueueOut


def agent_outs(session: Session, rows: Sequence[tuple[Agent, User]]) -> list[AgentOut]:
    ids = [agent.id for agent, _ in rows]
    teams = service.team_ids_of(session, ids)
    loads = case_queries.agent_loads(session, ids)
    return [
        AgentOut(id=a.id, user_id=a.user_id, display_name=u.display_name, vendor_id=a.vendor_id,
                 languages=a.languages, skills=a.skills, capacity=a.capacity, presence=Presence(a.presence),
                 team_ids=teams[a.id], open_cases=loads[a.id], last_assigned_at=a.last_assigned_at)
        for a, u in rows
    ]


def queue_counts(session: Session, rows: Sequence[tuple[Queue, Team]]) -> list[QueueCount]:
    counts = case_queries.queue_status_counts(session, [q.id for q, _ in rows])
    return [QueueCount(queue=QueueOut.model_validate(q), team_name=t.name, **counts[q.id]) for q, t in rows]
