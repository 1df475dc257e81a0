"""Typed builders for markets, vendors, teams, queues and agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.core.identity import User
from trustdesk.directory import service
from trustdesk.directory.models import Agent, Market, Presence, Queue, Team, Tier, Vendor
from trustdesk.directory.schemas import AgentIn, MarketIn, QueueIn, TeamIn, VendorIn


def make_market(session: Session, *, now: datetime, **overrides: Any) -> Market:
    data = {"code": "US", "name": "United States", "time_zone": "America/Los_Angeles", "languages": ["en"],
            "default_language": "en", "currency": "USD"} | overrides
    return service.create_market(session, MarketIn(**data), now=now)


def make_vendor(session: Session, *, now: datetime, code: str = "acme", name: str = "Acme BPO") -> Vendor:
    return service.create_vendor(session, VendorIn(code=code, name=name), now=now)


def make_team(session: Session, *, now: datetime, key: str, tier: Tier = Tier.T1, vendor: Vendor | None = None,
              name: str | None = None) -> Team:
    return service.create_team(session, TeamIn(key=key, name=name or key, tier=tier,
                                               vendor_id=vendor.id if vendor else None), now=now)


def make_queue(session: Session, *, now: datetime, key: str, team: Team, market: Market | None = None,
               **overrides: Any) -> Queue:
    data = {"key": key, "name": key, "team_id": team.id, "market_id": market.id if market else None} | overrides
    return service.create_queue(session, QueueIn(**data), now=now)


def make_agent(session: Session, user: User, *, now: datetime, teams: list[Team], languages: list[str] | None = None,
               vendor: Vendor | None = None, capacity: int = 5, online: bool = True) -> Agent:
    agent = service.create_agent(session, AgentIn(
        user_id=user.id, vendor_id=vendor.id if vendor else None, languages=languages or ["en"],
        capacity=capacity, team_ids=[t.id for t in teams],
    ), now=now)
    if online:
        service.set_presence(session, agent, Presence.ONLINE)
    session.flush()
    return agent
