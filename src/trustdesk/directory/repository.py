"""Queries of the directory."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.identity import User
from trustdesk.directory.models import Agent, Market, Queue, Team, TeamMembership, Vendor


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
    query = (
        select(Queue)
        .where(Queue.is_active.is_(True), (Queue.market_id == market_id) | Queue.market_id.is_(None))
        .order_by(Queue.intake_order, Queue.id)
    )
    return session.scalars(query).all()


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
