"""Queries of the directory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from trustdesk.core.identity import User
from trustdesk.directory.models import (
    Agent,
    CatalogueEntry,
    CatalogueStatus,
    Market,
    Queue,
    Team,
    TeamMembership,
    Topic,
    Vendor,
)


def markets(session: Session, *, active_only: bool = False) -> Sequence[Market]:
    query = select(Market).order_by(Market.code)
    if active_only:
        query = query.where(Market.is_active.is_(True))
    return session.scalars(query).all()


def market_by_code(session: Session, code: str) -> Market | None:
    return session.scalar(select(Market).where(Market.code == code.upper()))


def vendors(session: Session) -> Sequence[Vendor]:
    return session.scalars(select(Vendor).order_by(Vendor.name)).all()


def teams(session: Session, *, vendor_id: int | None = None) -> Sequence[Team]:
    query = select(Team).order_by(Team.name)
    if vendor_id is not None:
        query = query.where(Team.vendor_id == vendor_id)
    return session.scalars(query).all()


def queues_with_teams(session: Session, *, vendor_id: int | None = None,
                      restrict_to_vendor: bool = False) -> Sequence[tuple[Queue, Team]]:
    query = select(Queue, Team).join(Team, Team.id == Queue.team_id).order_by(Queue.name)
    if restrict_to_vendor:
        query = query.where(Team.vendor_id == vendor_id)
    return [(q, t) for q, t in session.execute(query)]


def intake_candidates(session: Session, market_id: int) -> Sequence[Queue]:
    return session.scalars(_INTAKE_CANDIDATES, {"market_id": market_id}).all()


def agents_with_users(session: Session) -> Sequence[tuple[Agent, User]]:
    query = select(Agent, User).join(User, User.id == Agent.user_id).order_by(User.display_name)
    return [(a, u) for a, u in session.execute(query)]


def agent_by_user(session: Session, user_id: int) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.user_id == user_id))


def team_ids_of_agents(session: Session, agent_ids: Sequence[int]) -> dict[int, list[int]]:
    result: dict[int, list[int]] = {agent_id: [] for agent_id in agent_ids}
    if not agent_ids:
        return result
    rows = session.execute(
        select(TeamMembership.agent_id, TeamMembership.team_id)
        .where(TeamMembership.agent_id.in_(agent_ids))
        .order_by(TeamMembership.team_id)
    )
    for agent_id, team_id in rows:
        result[agent_id].append(team_id)
    return result


def memberships(session: Session, agent_id: int) -> Sequence[TeamMembership]:
    return session.scalars(select(TeamMembership).where(TeamMembership.agent_id == agent_id)).all()


def market_by_region(session: Session, region: str) -> Market | None:
    return session.scalar(select(Market).where(Market.region == region).limit(1))


# ---------------------------------------------------------------- topics


def topics(session: Session, *, active_only: bool = False) -> Sequence[Topic]:
    query = select(Topic).order_by(Topic.key)
    if active_only:
        query = query.where(Topic.is_active.is_(True))
    return session.scalars(query).all()


def topic_by_key(session: Session, key: str) -> Topic | None:
    return session.scalar(select(Topic).where(Topic.key == key))


def topics_by_keys(session: Session, keys: Sequence[str]) -> dict[str, Topic]:
    if not keys:
        return {}
    return {t.key: t for t in session.scalars(_TOPICS_BY_KEYS, {"keys": sorted(set(keys))})}


def topic_keys_by_ids(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {topic_id: key for topic_id, key in session.execute(select(Topic.id, Topic.key).where(Topic.id.in_(ids)))}


# ---------------------------------------------------------------- the service catalogue


# Built once: routing asks this for every new case, and building the statement costs more than running it.
_CANDIDATES = (
    select(CatalogueEntry)
    .where(CatalogueEntry.status == CatalogueStatus.APPROVED.value, CatalogueEntry.valid_from <= bindparam("at"),
           or_(CatalogueEntry.valid_to.is_(None), CatalogueEntry.valid_to > bindparam("at")),
           or_(CatalogueEntry.topic_id.is_(None), CatalogueEntry.topic_id.in_(bindparam("topic_ids", expanding=True))),
           CatalogueEntry.market_scope.in_(bindparam("scopes", expanding=True)),
           or_(CatalogueEntry.channel.is_(None), CatalogueEntry.channel == bindparam("channel")),
           or_(CatalogueEntry.party_kind.is_(None), CatalogueEntry.party_kind == bindparam("party_kind")))
    .order_by(CatalogueEntry.position, CatalogueEntry.entry_id)
)
_TOPICS_BY_KEYS = select(Topic).where(Topic.key.in_(bindparam("keys", expanding=True)))
_INTAKE_CANDIDATES = (
    select(Queue)
    .where(Queue.is_active.is_(True), or_(Queue.market_id == bindparam("market_id"), Queue.market_id.is_(None)))
    .order_by(Queue.intake_order, Queue.id)
)


def approved_versions(session: Session) -> Sequence[CatalogueEntry]:
    return session.scalars(select(CatalogueEntry).where(
        CatalogueEntry.status == CatalogueStatus.APPROVED.value)).all()


def catalogue_candidates(session: Session, at: datetime, *, topic_ids: Sequence[int], scopes: Sequence[str],
                         channel: str | None, party_kind: str | None) -> Sequence[CatalogueEntry]:
    """Approved versions in force at ``at`` that could answer for these facts. An entry naming a
    channel or party kind matches only when that one is asked (a None never equals a value)."""
    return session.scalars(_CANDIDATES, {"at": at, "topic_ids": list(topic_ids), "scopes": list(scopes),
                                         "channel": channel, "party_kind": party_kind}).all()


def catalogue_versions_in_force(session: Session, at: datetime, *, entry_id: int | None = None,
                                topic_ids: Sequence[int] | None = None, scopes: Sequence[str] | None = None,
                                channel: str | None = None, party_kind: str | None = None,
                                ) -> Sequence[CatalogueEntry]:
    """Approved versions in force at ``at``; with filters, only those that could match them
    (an empty column matches anything)."""
    query = select(CatalogueEntry).where(
        CatalogueEntry.status == CatalogueStatus.APPROVED.value,
        CatalogueEntry.valid_from <= at,
        or_(CatalogueEntry.valid_to.is_(None), CatalogueEntry.valid_to > at),
    )
    if entry_id is not None:
        query = query.where(CatalogueEntry.entry_id == entry_id)
    if topic_ids is not None:
        query = query.where(or_(CatalogueEntry.topic_id.is_(None), CatalogueEntry.topic_id.in_(topic_ids)))
    if scopes is not None:
        query = query.where(CatalogueEntry.market_scope.in_(scopes))
    if channel is not None:
        query = query.where(or_(CatalogueEntry.channel.is_(None), CatalogueEntry.channel == channel))
    if party_kind is not None:
        query = query.where(or_(CatalogueEntry.party_kind.is_(None), CatalogueEntry.party_kind == party_kind))
    return session.scalars(query.order_by(CatalogueEntry.position, CatalogueEntry.entry_id)).all()


def catalogue_versions(session: Session, entry_id: int) -> Sequence[CatalogueEntry]:
    return session.scalars(select(CatalogueEntry).where(CatalogueEntry.entry_id == entry_id)
                           .order_by(CatalogueEntry.version)).all()


def catalogue_drafts(session: Session) -> Sequence[CatalogueEntry]:
    return session.scalars(select(CatalogueEntry).where(CatalogueEntry.status == CatalogueStatus.DRAFT.value)
                           .order_by(CatalogueEntry.created_at, CatalogueEntry.id)).all()


def catalogue_latest_version(session: Session, entry_id: int) -> int:
    return int(session.scalar(select(func.max(CatalogueEntry.version))
                              .where(CatalogueEntry.entry_id == entry_id)) or 0)


def team_keys(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {team_id: key for team_id, key in session.execute(select(Team.id, Team.key).where(Team.id.in_(ids)))}
