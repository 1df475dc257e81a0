"""Business rules of the directory: markets, vendors, teams, queues, agents and their scope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import AGENT_ROLES, Role
from trustdesk.directory import repository
from trustdesk.directory.models import Agent, Market, Presence, Queue, Team, TeamMembership, Tier, Vendor
from trustdesk.directory.schemas import AgentIn, AgentUpdate, MarketIn, QueueIn, TeamIn, VendorIn

T = TypeVar("T")


def row_or_404(session: Session, model: type[T], object_id: int, name: str) -> T:
    """A row named in a URL path: missing is 404 (a row named in a body is 422, as ``team_by_id`` says)."""
    found = session.get(model, object_id)
    if found is None:
        raise NotFound(f"{name} {object_id} does not exist", field=f"{name}_id")
    return found


# ---------------------------------------------------------------- markets


def market_by_id(session: Session, market_id: int, *, field: str = "market_id") -> Market:
    market = session.get(Market, market_id)
    if market is None:
        raise NotFound(f"market {market_id} does not exist", field=field)
    return market


def market_by_code(session: Session, code: str, *, field: str = "market") -> Market:
    market = repository.market_by_code(session, code)
    if market is None or not market.is_active:
        raise Invalid(f"unknown market {code!r}", field=field)
    return market


def list_markets(session: Session, *, active_only: bool = False) -> Sequence[Market]:
    return repository.markets(session, active_only=active_only)


def _check_market(session: Session, data: MarketIn) -> None:
    if data.default_language not in data.languages:
        raise Invalid("the default language must be one of the market's languages", field="default_language")
    # The catalogue names a market or a region in one field; the two must never read the same.
    if data.region is not None and repository.market_by_code(session, data.region) is not None:
        raise Invalid(f"{data.region} is a market's code, so it cannot name a region", field="region")
    if repository.market_by_region(session, data.code.upper()) is not None:
        raise Invalid(f"{data.code.upper()} names a region of markets, so it cannot be a market's code", field="code")


def create_market(session: Session, data: MarketIn, *, now: datetime) -> Market:
    _check_market(session, data)
    if repository.market_by_code(session, data.code) is not None:
        raise Conflict(f"market {data.code.upper()} exists", field="code")
    market = Market(**{**data.model_dump(), "code": data.code.upper()}, created_at=now)
    session.add(market)
    session.flush()
    return market


def update_market(session: Session, market: Market, data: MarketIn) -> Market:
    _check_market(session, data)
    clash = repository.market_by_code(session, data.code)
    if clash is not None and clash.id != market.id:
        raise Conflict(f"market {data.code.upper()} exists", field="code")
    for key, value in data.model_dump().items():
        setattr(market, key, value)
    market.code = data.code.upper()
    return market


# ---------------------------------------------------------------- vendors and teams


def list_vendors(session: Session) -> Sequence[Vendor]:
    return repository.vendors(session)


def vendor_by_id(session: Session, vendor_id: int, *, field: str = "vendor_id") -> Vendor:
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise Invalid(f"vendor {vendor_id} does not exist", field=field)
    return vendor


def create_vendor(session: Session, data: VendorIn, *, now: datetime) -> Vendor:
    if session.scalar(select(Vendor.id).where(Vendor.code == data.code)) is not None:
        raise Conflict(f"vendor {data.code} exists", field="code")
    vendor = Vendor(code=data.code, name=data.name, created_at=now)
    session.add(vendor)
    session.flush()
    return vendor


def list_teams(session: Session) -> Sequence[Team]:
    return repository.teams(session)


def team_by_id(session: Session, team_id: int, *, field: str = "team_id") -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise Invalid(f"team {team_id} does not exist", field=field)
    return team


def team_by_key(session: Session, key: str) -> Team | None:
    return session.scalar(select(Team).where(Team.key == key))


def _check_team(session: Session, data: TeamIn) -> None:
    if data.vendor_id is not None:
        vendor_by_id(session, data.vendor_id)
        if data.tier is not Tier.T1:
            raise Invalid("only Tier 1 teams are staffed by a vendor", field="vendor_id")


def create_team(session: Session, data: TeamIn, *, now: datetime) -> Team:
    _check_team(session, data)
    if team_by_key(session, data.key) is not None:
        raise Conflict(f"team {data.key} exists", field="key")
    team = Team(key=data.key, name=data.name, tier=data.tier.value, vendor_id=data.vendor_id, created_at=now)
    session.add(team)
    session.flush()
    return team


def update_team(session: Session, team: Team, data: TeamIn) -> Team:
    _check_team(session, data)
    clash = team_by_key(session, data.key)
    if clash is not None and clash.id != team.id:
        raise Conflict(f"team {data.key} exists", field="key")
    team.key, team.name, team.tier, team.vendor_id = data.key, data.name, data.tier.value, data.vendor_id
    return team


# ---------------------------------------------------------------- queues


def queue_by_id(session: Session, queue_id: int, *, field: str = "queue_id") -> Queue:
    queue = session.get(Queue, queue_id)
    if queue is None:
        raise Invalid(f"queue {queue_id} does not exist", field=field)
    return queue


def queue_by_key(session: Session, key: str) -> Queue | None:
    return session.scalar(select(Queue).where(Queue.key == key))


def _check_queue(session: Session, data: QueueIn) -> None:
    team_by_id(session, data.team_id)
    if data.market_id is not None:
        market = session.get(Market, data.market_id)
        if market is None:
            raise Invalid(f"market {data.market_id} does not exist", field="market_id")
    from trustdesk.cases.models import Channel, PartyKind  # the case vocabulary, not its tables

    for channel in data.intake_channels:
        if channel not in set(Channel):
            raise Invalid(f"unknown channel {channel!r}", field="intake_channels")
    for kind in data.intake_party_kinds:
        if kind not in set(PartyKind):
            raise Invalid(f"unknown party kind {kind!r}", field="intake_party_kinds")


def create_queue(session: Session, data: QueueIn, *, now: datetime) -> Queue:
    _check_queue(session, data)
    if queue_by_key(session, data.key) is not None:
        raise Conflict(f"queue {data.key} exists", field="key")
    queue = Queue(**data.model_dump(), created_at=now)
    session.add(queue)
    session.flush()
    return queue


def update_queue(session: Session, queue: Queue, data: QueueIn) -> Queue:
    _check_queue(session, data)
    clash = queue_by_key(session, data.key)
    if clash is not None and clash.id != queue.id:
        raise Conflict(f"queue {data.key} exists", field="key")
    for key, value in data.model_dump().items():
        setattr(queue, key, value)
    return queue


def queues_visible_to(session: Session, actor: Actor) -> Sequence[tuple[Queue, Team]]:
    """Queues an agent may see: a vendor's agents see only their vendor's queues."""
    return repository.queues_with_teams(
        session, vendor_id=actor.vendor_id, restrict_to_vendor=actor.vendor_id is not None
    )


def queue_visible(session: Session, actor: Actor, queue_id: int) -> tuple[Queue, Team]:
    """The queue if ``actor`` may see it; otherwise NotFound (never reveal that it exists)."""
    queue = session.get(Queue, queue_id)
    team = session.get(Team, queue.team_id) if queue is not None else None
    if queue is None or team is None or (actor.vendor_id is not None and team.vendor_id != actor.vendor_id):
        raise NotFound(f"queue {queue_id} does not exist", field="queue_id")
    return queue, team


def intake_queue_for(session: Session, *, market_id: int, channel: str, party_kind: str) -> Queue | None:
    """The first active queue whose intake settings accept this market, channel and party."""
    for queue in repository.intake_candidates(session, market_id):
        if queue.intake_channels and channel not in queue.intake_channels:
            continue
        if queue.intake_party_kinds and party_kind not in queue.intake_party_kinds:
            continue
        if not queue.intake_channels and not queue.intake_party_kinds and not queue.is_triage:
            continue
        return queue
    return None


def triage_queue_for(session: Session, *, market_id: int) -> Queue | None:
    """The market's own active triage queue, else a triage queue serving every market."""
    triage = [q for q in repository.intake_candidates(session, market_id) if q.is_triage]
    triage.sort(key=lambda q: (q.market_id is None, q.intake_order, q.id))
    return triage[0] if triage else None


def queue_for_team(session: Session, *, team_id: int, market_id: int, channel: str, party_kind: str) -> Queue | None:
    """Where a case owned by ``team_id`` waits in ``market_id``: the team's active queue for the market
    (one serving every market if it has none), preferring one whose intake takes the channel and party."""
    queues = [q for q in repository.intake_candidates(session, market_id) if q.team_id == team_id and not q.is_triage]

    def rank(queue: Queue) -> tuple[bool, bool, int, int]:
        fits = ((not queue.intake_channels or channel in queue.intake_channels)
                and (not queue.intake_party_kinds or party_kind in queue.intake_party_kinds))
        return (queue.market_id is None, not fits, queue.intake_order, queue.id)

    return min(queues, key=rank) if queues else None


# ---------------------------------------------------------------- agents


def agent_for_user(session: Session, user_id: int) -> Agent | None:
    return repository.agent_by_user(session, user_id)


def agent_by_id(session: Session, agent_id: int, *, field: str = "agent_id") -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise Invalid(f"agent {agent_id} does not exist", field=field)
    return agent


def list_agents(session: Session) -> Sequence[tuple[Agent, User]]:
    return repository.agents_with_users(session)


def team_ids_of(session: Session, agent_ids: Sequence[int]) -> dict[int, list[int]]:
    return repository.team_ids_of_agents(session, agent_ids)


def _set_teams(session: Session, agent: Agent, team_ids: list[int]) -> None:
    wanted = set(team_ids)
    for team_id in wanted:
        team = team_by_id(session, team_id, field="team_ids")
        # A vendor's agents join only their vendor's teams; in-house agents may back up any team.
        if agent.vendor_id is not None and team.vendor_id != agent.vendor_id:
            raise Invalid(f"team {team.key} is not staffed by this agent's vendor", field="team_ids")
    for membership in repository.memberships(session, agent.id):
        if membership.team_id not in wanted:
            session.delete(membership)
        wanted.discard(membership.team_id)
    for team_id in sorted(wanted):
        session.add(TeamMembership(team_id=team_id, agent_id=agent.id))


def create_agent(session: Session, data: AgentIn, *, now: datetime) -> Agent:
    user = session.get(User, data.user_id)
    if user is None:
        raise Invalid(f"user {data.user_id} does not exist", field="user_id")
    if Role(user.role) not in AGENT_ROLES:
        raise Invalid(f"a {user.role} cannot be an agent", field="user_id")
    if agent_for_user(session, user.id) is not None:
        raise Conflict(f"user {user.id} is an agent already", field="user_id")
    if data.vendor_id is not None:
        vendor_by_id(session, data.vendor_id)
    agent = Agent(
        user_id=user.id, vendor_id=data.vendor_id, languages=list(data.languages), skills=list(data.skills),
        capacity=data.capacity, presence=Presence.OFFLINE.value, last_assigned_at=None, created_at=now,
    )
    session.add(agent)
    session.flush()
    _set_teams(session, agent, data.team_ids)
    session.flush()
    return agent


def update_agent(session: Session, agent: Agent, data: AgentUpdate) -> Agent:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    team_ids = changes.pop("team_ids", None)
    for key, value in changes.items():
        if value is None:
            raise Invalid(f"{key} cannot be null", field=key)
        setattr(agent, key, value.value if isinstance(value, Presence) else value)
    if team_ids is not None:
        _set_teams(session, agent, team_ids)
    session.flush()
    return agent


def set_presence(session: Session, agent: Agent, presence: Presence) -> Agent:
    agent.presence = presence.value
    return agent
