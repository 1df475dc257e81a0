"""JSON routes of the directory: markets, vendors, teams, queues, agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Forbidden
from trustdesk.core.identity import Actor, User, user_by_id
from trustdesk.core.permissions import Perm
from trustdesk.directory import service, views
from trustdesk.directory.models import Agent, Market, Queue, Team
from trustdesk.directory.schemas import (
    AgentIn,
    AgentOut,
    AgentUpdate,
    MarketIn,
    MarketOut,
    PresenceIn,
    QueueCount,
    QueueIn,
    QueueOut,
    TeamIn,
    TeamOut,
    VendorIn,
    VendorOut,
)
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(tags=["directory"])
Reader = Annotated[Actor, Depends(Requires(Perm.DIRECTORY_READ))]
Admin = Annotated[Actor, Depends(Requires(Perm.DIRECTORY_ADMIN))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/markets", response_model=list[MarketOut])
def list_markets(session: SessionDep, actor: Reader) -> list[MarketOut]:
    return [MarketOut.model_validate(m) for m in service.list_markets(session)]


@router.post("/markets", response_model=MarketOut, status_code=201)
def create_market(body: MarketIn, session: SessionDep, clock: ClockDep, actor: Admin) -> MarketOut:
    return MarketOut.model_validate(service.create_market(session, body, now=clock.now()))


@router.put("/markets/{market_id}", response_model=MarketOut)
def update_market(market_id: RowId, body: MarketIn, session: SessionDep, actor: Admin) -> MarketOut:
    market = service.row_or_404(session, Market, market_id, "market")
    return MarketOut.model_validate(service.update_market(session, market, body))


@router.get("/vendors", response_model=list[VendorOut])
def list_vendors(session: SessionDep, actor: Reader) -> list[VendorOut]:
    vendors = service.list_vendors(session)
    if actor.vendor_id is not None:
        vendors = [v for v in vendors if v.id == actor.vendor_id]
    return [VendorOut.model_validate(v) for v in vendors]


@router.post("/vendors", response_model=VendorOut, status_code=201)
def create_vendor(body: VendorIn, session: SessionDep, clock: ClockDep, actor: Admin) -> VendorOut:
    return VendorOut.model_validate(service.create_vendor(session, body, now=clock.now()))


@router.get("/teams", response_model=list[TeamOut])
def list_teams(session: SessionDep, actor: Reader) -> list[TeamOut]:
    teams = service.list_teams(session)
    if actor.vendor_id is not None:
        # Like vendors and agents: one vendor never learns of another's teams.
        teams = [t for t in teams if t.vendor_id in (None, actor.vendor_id)]
    return [TeamOut.model_validate(t) for t in teams]


@router.post("/teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, session: SessionDep, clock: ClockDep, actor: Admin) -> TeamOut:
    return TeamOut.model_validate(service.create_team(session, body, now=clock.now()))


@router.put("/teams/{team_id}", response_model=TeamOut)
def update_team(team_id: RowId, body: TeamIn, session: SessionDep, actor: Admin) -> TeamOut:
    team = service.row_or_404(session, Team, team_id, "team")
    return TeamOut.model_validate(service.update_team(session, team, body))


@router.get("/queues", response_model=list[QueueCount], summary="Queues I may see, with live counts")
def list_queues(session: SessionDep, actor: Annotated[Actor, Depends(Requires(Perm.QUEUE_READ))]) -> list[QueueCount]:
    return views.queue_counts(session, service.queues_visible_to(session, actor))


@router.post("/queues", response_model=QueueOut, status_code=201)
def create_queue(body: QueueIn, session: SessionDep, clock: ClockDep, actor: Admin) -> QueueOut:
    return QueueOut.model_validate(service.create_queue(session, body, now=clock.now()))


@router.put("/queues/{queue_id}", response_model=QueueOut)
def update_queue(queue_id: RowId, body: QueueIn, session: SessionDep, actor: Admin) -> QueueOut:
    queue = service.row_or_404(session, Queue, queue_id, "queue")
    return QueueOut.model_validate(service.update_queue(session, queue, body))


@router.get("/agents", response_model=list[AgentOut])
def list_agents(session: SessionDep, actor: Reader) -> list[AgentOut]:
    rows = service.list_agents(session)
    if actor.vendor_id is not None:
        rows = [(a, u) for a, u in rows if a.vendor_id == actor.vendor_id]
    return views.agent_outs(session, rows)


@router.post("/agents", response_model=AgentOut, status_code=201)
def create_agent(body: AgentIn, session: SessionDep, clock: ClockDep, actor: Admin) -> AgentOut:
    agent = service.create_agent(session, body, now=clock.now())
    return views.agent_outs(session, [(agent, _user(session, agent))])[0]


@router.patch("/agents/{agent_id}", response_model=AgentOut)
def update_agent(agent_id: RowId, body: AgentUpdate, session: SessionDep, actor: Admin) -> AgentOut:
    agent = service.update_agent(session, service.row_or_404(session, Agent, agent_id, "agent"), body)
    return views.agent_outs(session, [(agent, _user(session, agent))])[0]


@router.put("/me/presence", response_model=AgentOut, summary="Go online, away or offline")
def set_my_presence(body: PresenceIn, session: SessionDep,
                    actor: Annotated[Actor, Depends(Requires(Perm.AGENT_PRESENCE))]) -> AgentOut:
    if actor.agent_id is None:
        raise Forbidden("only agents have a presence")
    agent = service.set_presence(session, service.row_or_404(session, Agent, actor.agent_id, "agent"), body.presence)
    return views.agent_outs(session, [(agent, _user(session, agent))])[0]


def _user(session: SessionDep, agent: Agent) -> User:
    return user_by_id(session, agent.user_id)
