"""The misroute report's hand-computed history (see tests/routing/test_report.py), written through the
services so it seeds a test database and a live server's alike.

Eight US cases over eight days, all routed by the catalogue (orders -> T1 vendor A, payments -> T2);
five misrouted, 62.5%; the top cause is the orders entry and giving orders in the US to t2 fixes 4, breaks 3.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tests.factories.cases import make_party
from tests.factories.routing import TOPICS_CSV
from tests.factories.world import World
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Channel, RerouteReason
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import Actor, actor_for
from trustdesk.core.permissions import Role
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory.schemas import CatalogueEntryIn

H = timedelta(hours=1)


def _entry(db: Session, world: World, now: datetime, **fields: Any) -> dict[str, Any]:
    """An approved entry (proposed by the lead, approved by the admin), in force from ``now``."""
    draft = catalogue.propose(db, CatalogueEntryIn(**fields), author=actor_for(world.users["lead"]), now=now)
    approved = catalogue.approve(db, draft, approver=actor_for(world.users["admin"]), now=now)
    return {"id": approved.id, "entry_id": approved.entry_id, "version": approved.version}


def seed_misroute_history(db: Session, world: World, *, now: datetime) -> dict[str, Any]:
    """The eight cases, the last opened two days before ``now``; committed. Returns their references
    (``refs["C1"]``...) and the two catalogue entries."""
    long_ago = now - timedelta(days=30)  # the entries were in force long before the cases came
    catalogue.import_topics(db, catalogue.parse_topics(TOPICS_CSV, format="csv"), now=long_ago)
    orders = _entry(db, world, long_ago, topic="orders", market_scope="US", team_id=world.t1_a.id, tier="t1")
    payments = _entry(db, world, long_ago, topic="payments", market_scope="US", team_id=world.t2.id, tier="t2")
    lead = Actor(user_id=world.users["lead"].id, role=Role.LEAD, display_name="Lead", agent_id=world.agents["lead"].id)
    settings = Settings(database_url="sqlite://", secret_key="x" * 40)
    party = make_party(db, world.us, now=long_ago, external_id="report")
    start = now - timedelta(days=9)
    refs: dict[str, str] = {}

    def open_(name: str, day: int, topic: str) -> Case:
        case = cases.open_case(db, cases.NewCase(channel=Channel.API, market=world.us, party=party, subject=name,
                                                 body=f"{name} body", language="en", topic=topic),
                               actor=SYSTEM, settings=settings, now=start + timedelta(days=day)).case
        refs[name] = case.reference
        return case

    def reroute(case: Case, hours: float, queue: Any, reason: RerouteReason) -> None:
        cases.reroute_case(db, case, to_queue=queue, reason=reason, actor=lead, settings=settings,
                           now=case.created_at + hours * H)

    def assign(case: Case, hours: float) -> None:
        cases.assign_case(db, case, world.agents["agent_t1"], actor=SYSTEM, now=case.created_at + hours * H)

    assign(open_("C1", 0, "orders.delivery.late"), 1)
    assign(open_("C2", 1, "orders.delivery.late"), 3)
    c3 = open_("C3", 2, "orders.delivery.late")
    assign(c3, 1)
    reroute(c3, 5, world.queue_t2, RerouteReason.NEEDS_SPECIALIST)
    c4 = open_("C4", 3, "orders.delivery.late")
    reroute(c4, 4, world.queue_t2, RerouteReason.WRONG_TIER)
    reroute(c4, 6, world.queue_a, RerouteReason.WRONG_TIER)
    c5 = open_("C5", 4, "payments.double_charge")
    cases.update_case(db, c5, {"topic": "orders.delivery.late"}, actor=lead, now=c5.created_at + 2 * H)
    reroute(open_("C6", 5, "orders.delivery.late"), 8, world.queue_t2, RerouteReason.NEEDS_SPECIALIST)
    reroute(open_("C7", 6, "orders.delivery.late"), 2, world.queue_t2, RerouteReason.WRONG_TOPIC)
    reroute(open_("C8", 7, "orders.delivery.late"), 3, world.queue_t2, RerouteReason.WRONG_TIER)
    db.commit()
    return {"refs": refs, "orders": orders, "payments": payments}
