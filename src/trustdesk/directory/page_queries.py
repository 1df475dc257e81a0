"""Small read-only lookups the console pages need (names for ids, choices for forms).

They batch by id so a page costs a fixed number of queries however long its lists are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.identity import User
from trustdesk.core.permissions import AGENT_ROLES
from trustdesk.directory.models import Agent, Market, Queue, Team, TeamMembership


def agent_names(session: Session, agent_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in agent_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(Agent.id, User.display_name).join(User, User.id == Agent.user_id)
                           .where(Agent.id.in_(ids)))
    return {agent_id: name for agent_id, name in rows}


def user_names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}


def agents_of_team(session: Session, team_id: int) -> Sequence[tuple[Agent, User]]:
    query = (select(Agent, User).join(User, User.id == Agent.user_id)
             .join(TeamMembership, TeamMembership.agent_id == Agent.id)
             .where(TeamMembership.team_id == team_id, User.is_active.is_(True))
             .order_by(User.display_name))
    return [(a, u) for a, u in session.execute(query)]


def queue_names(session: Session, queue_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in queue_ids if i is not None}
    if not ids:
        return {}
    return {qid: name for qid, name in session.execute(select(Queue.id, Queue.name).where(Queue.id.in_(ids)))}


def reroute_targets(session: Session, *, vendor_id: int | None, market_id: int,
                    exclude_queue_id: int | None) -> Sequence[tuple[Queue, Team]]:
    """Active queues a case of ``market_id`` may move to, as offered to an agent of ``vendor_id``:
    in-house teams' queues and, for a vendor's agent, their own vendor's (never another vendor's)."""
    query = (select(Queue, Team).join(Team, Team.id == Queue.team_id)
             .where(Queue.is_active.is_(True), (Queue.market_id == market_id) | Queue.market_id.is_(None))
             .order_by(Team.name, Queue.name))
    if vendor_id is not None:
        query = query.where((Team.vendor_id == vendor_id) | Team.vendor_id.is_(None))
    if exclude_queue_id is not None:
        query = query.where(Queue.id != exclude_queue_id)
    return [(q, t) for q, t in session.execute(query)]


def users_who_may_become_agents(session: Session) -> Sequence[User]:
    """Active users with an agent role and no agent record yet."""
    query = (select(User).where(User.role.in_([r.value for r in AGENT_ROLES]), User.is_active.is_(True),
                                User.id.not_in(select(Agent.user_id)))
             .order_by(User.display_name))
    return session.scalars(query).all()


def market_names(session: Session) -> dict[int, str]:
    return {mid: f"{name} ({code})" for mid, code, name in session.execute(select(Market.id, Market.code, Market.name))}
