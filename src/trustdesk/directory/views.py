"""Shaping directory objects for output."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.cases import repository as case_queries
from trustdesk.core.identity import User
from trustdesk.directory import catalogue, repository, service
from trustdesk.directory.models import Agent, CatalogueEntry, CatalogueStatus, Market, Presence, Queue, Team, Topic
from trustdesk.directory.schemas import AgentOut, CatalogueEntryOut, OwnerOut, QueueCount, QueueOut, TopicOut


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


def topic_outs(topics: Sequence[Topic]) -> list[TopicOut]:
    return [TopicOut(id=t.id, key=t.key, parent_key=catalogue.parent_key(t.key), depth=t.depth, names=t.names,
                     description=t.description, is_active=t.is_active) for t in topics]


def catalogue_outs(session: Session, rows: Sequence[CatalogueEntry]) -> list[CatalogueEntryOut]:
    topic_keys = repository.topic_keys_by_ids(session, {r.topic_id for r in rows if r.topic_id is not None})
    team_keys = repository.team_keys(session, {r.team_id for r in rows})
    return [
        CatalogueEntryOut(
            id=r.id, entry_id=r.entry_id or r.id, version=r.version, status=r.status,
            topic=topic_keys.get(r.topic_id) if r.topic_id is not None else None, market_scope=r.market_scope,
            channel=r.channel, party_kind=r.party_kind, team_id=r.team_id, team_key=team_keys[r.team_id],
            tier=r.tier, contact_user_id=r.contact_user_id, escalation_user_id=r.escalation_user_id,
            sla_policy_key=r.sla_policy_key, position=r.position, valid_from=r.valid_from, valid_to=r.valid_to,
            note=r.note, author_user_id=r.author_user_id, approver_user_id=r.approver_user_id,
            decided_at=r.decided_at, owner_user_id=r.owner_user_id, review_interval_days=r.review_interval_days,
            review_due_at=catalogue.review_due_at(r) if r.status == CatalogueStatus.APPROVED.value else None,
        )
        for r in rows
    ]


def owner_out(session: Session, ownership: catalogue.Ownership, *, market: Market, channel: str | None,
              party_kind: str | None, at: datetime) -> OwnerOut:
    considered = catalogue_outs(session, ownership.considered)
    return OwnerOut(at=at, topic=ownership.topic_key, market=market.code, channel=channel, party_kind=party_kind,
                    entry=considered[0] if considered else None,
                    specificity=list(ownership.specificity) if ownership.specificity else None,
                    considered=considered, explanation=ownership.explanation)
