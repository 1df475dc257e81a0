"""A small, complete marketplace for tests: every role, two vendors, T1 and T2."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from tests.factories.directory import make_agent, make_market, make_queue, make_team, make_vendor
from tests.factories.identity import make_token, make_user
from trustdesk.cases.models import Channel, PartyKind
from trustdesk.core.identity import User
from trustdesk.core.permissions import Role
from trustdesk.directory.models import Agent, Market, Queue, Team, Tier, Vendor


@dataclass
class World:
    us: Market
    es: Market
    vendor_a: Vendor
    vendor_b: Vendor
    t1_a: Team
    t1_b: Team
    t2: Team
    internal: Team
    queue_a: Queue  # US buyers, vendor A
    queue_b: Queue  # ES buyers, vendor B
    queue_t2: Queue
    queue_internal: Queue
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def build_world(session: Session, *, now: datetime) -> World:
    us = make_market(session, now=now)
    es = make_market(session, now=now, code="ES", name="Spain", time_zone="Europe/Madrid", languages=["es", "en"],
                     default_language="es", currency="EUR")
    vendor_a = make_vendor(session, now=now, code="vendor-a", name="Vendor A")
    vendor_b = make_vendor(session, now=now, code="vendor-b", name="Vendor B")
    t1_a = make_team(session, now=now, key="t1-a", vendor=vendor_a, name="T1 Vendor A")
    t1_b = make_team(session, now=now, key="t1-b", vendor=vendor_b, name="T1 Vendor B")
    t2 = make_team(session, now=now, key="t2", tier=Tier.T2, name="T2 Orders")
    internal = make_team(session, now=now, key="finance-ops", tier=Tier.INTERNAL, name="Finance Ops")
    channels = [Channel.WEB_FORM.value, Channel.IN_APP_CHAT.value, Channel.API.value, Channel.EMAIL.value]
    queue_a = make_queue(session, now=now, key="us-buyers", team=t1_a, market=us, intake_channels=channels,
                         intake_party_kinds=[PartyKind.BUYER.value, PartyKind.SELLER.value, PartyKind.CREATOR.value])
    queue_b = make_queue(session, now=now, key="es-buyers", team=t1_b, market=es, intake_channels=channels,
                         intake_party_kinds=[PartyKind.BUYER.value, PartyKind.SELLER.value, PartyKind.CREATOR.value])
    queue_t2 = make_queue(session, now=now, key="t2-orders", team=t2, auto_assign=False)
    queue_internal = make_queue(session, now=now, key="finance-requests", team=internal,
                                intake_channels=[Channel.INTERNAL_FORM.value])
    world = World(us=us, es=es, vendor_a=vendor_a, vendor_b=vendor_b, t1_a=t1_a, t1_b=t1_b, t2=t2,
                  internal=internal, queue_a=queue_a, queue_b=queue_b, queue_t2=queue_t2,
                  queue_internal=queue_internal)
    for role in Role:
        user = make_user(session, role, now=now, email=f"{role.value}@example.test", name=role.value.title())
        world.users[role.value] = user
        world.tokens[role.value] = make_token(session, user, now=now)
    # A second T1 agent at vendor B and a second buyer, for isolation tests.
    for extra, role in (("agent_t1_b", Role.AGENT_T1), ("buyer2", Role.BUYER)):
        user = make_user(session, role, now=now, email=f"{extra}@example.test", name=extra)
        world.users[extra] = user
        world.tokens[extra] = make_token(session, user, now=now)
    world.agents["agent_t1"] = make_agent(session, world.users["agent_t1"], now=now, teams=[t1_a], vendor=vendor_a)
    world.agents["agent_t1_b"] = make_agent(session, world.users["agent_t1_b"], now=now, teams=[t1_b],
                                            vendor=vendor_b, languages=["es", "en"])
    world.agents["agent_t2"] = make_agent(session, world.users["agent_t2"], now=now, teams=[t2, t1_a],
                                          languages=["en", "es"], online=False)
    world.agents["lead"] = make_agent(session, world.users["lead"], now=now, teams=[t1_a, t1_b, t2], online=False)
    world.agents["admin"] = make_agent(session, world.users["admin"], now=now, teams=[t2], online=False)
    for role in ("oncall_sme", "reviewer", "qa"):
        world.agents[role] = make_agent(session, world.users[role], now=now, teams=[t2], online=False)
    session.flush()
    return world
