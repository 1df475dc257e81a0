"""Appeals are cases: the routing engine puts them in the appeal queue that owns their policy, market and
language, and the SLA policy for appeals keeps their clock."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.appeals import AppealsWorld, make_appeal, make_decision
from tests.factories.directory import make_queue, make_team
from trustdesk.appeals import markets
from trustdesk.cases.models import Case, Channel, PartyKind
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import CaseEvent
from trustdesk.core.settings import Settings
from trustdesk.directory.models import Tier
from trustdesk.routing import service as routing

RULES = [{
    "id": "counterfeit-appeals-es", "name": "Spanish counterfeit appeals go to the IP specialists",
    "when": [{"field": "channel", "op": "eq", "value": "appeal_form"},
             {"field": "custom_fields.policy", "op": "eq", "value": "counterfeit"},
             {"field": "language", "op": "eq", "value": "es"}],
    "then": {"team": "appeals-ip"}, "stop": True,
}]


def test_a_rule_routes_appeals_by_policy_and_language(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                      settings: Settings) -> None:
    ip = make_team(db, now=clock.now(), key="appeals-ip", tier=Tier.APPEALS, name="Appeals: IP specialists")
    ip_queue = make_queue(db, now=clock.now(), key="appeals-ip-es", team=ip, market=aw.market,
                          intake_channels=[Channel.APPEAL_FORM.value],
                          intake_party_kinds=[PartyKind.SELLER.value], auto_assign=False)
    draft = routing.save_draft(db, RULES, author=aw.actor("lead"), now=clock.now())
    routing.publish(db, draft, publisher=aw.actor("admin"), now=clock.now())
    appeal = make_appeal(db, aw, make_decision(db, aw, now=clock.now()), now=clock.now(), settings=settings)
    case = db.get(Case, appeal.case_id)
    assert case is not None and case.queue_id == ip_queue.id and case.topic == "appeal.listing_removed"
    routed = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.type == "case.routed")).one()
    assert "counterfeit-appeals-es" in str(routed.data)
    applied = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.type == "sla.applied")).one()
    assert applied.data["policy"] == "appeals"
    assert applied.data["targets"]["resolution"]["minutes"] == 7 * 1440
    # The market stays ready: the rule sends counterfeit appeals to an appeals team.
    assert markets.check(db, aw.market, settings=settings, now=clock.now()).ready


def test_readiness_notices_a_rule_that_sends_appeals_out_of_the_appeals_tier(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    rules = [{**RULES[0], "when": RULES[0]["when"][:1], "then": {"team": "t2"}}]
    draft = routing.save_draft(db, rules, author=aw.actor("lead"), now=clock.now())
    routing.publish(db, draft, publisher=aw.actor("admin"), now=clock.now())
    readiness = markets.check(db, aw.market, settings=settings, now=clock.now())
    assert [gap.area for gap in readiness.gaps] == ["routing"] * 8  # 4 kinds of decision x es, en
    assert "in es land in queue t2-orders (t2 team), not an appeals queue" in readiness.gaps[0].what


def test_an_sla_per_market_and_policy_through_the_priority_a_rule_gives(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    """Counterfeit appeals in ES are decided within 2 days, others within the appeals policy's 7."""
    from trustdesk.sla import policies as sla_policies
    from trustdesk.sla.schemas import PolicyIn

    sla_policies.create_policy(db, PolicyIn(
        key="appeals-es-urgent-policies", name="ES appeals, policies with a 2-day promise", position=10,
        conditions={"markets": ["ES"], "channels": ["appeal_form"], "priorities": ["high"]},
        targets={"high": {"resolution": {"minutes": 2 * 1440, "business": False}}},
    ), now=clock.now())
    rules = [{"id": "counterfeit-appeals-fast", "name": "Counterfeit appeals are decided first",
              "when": [{"field": "channel", "op": "eq", "value": "appeal_form"},
                       {"field": "custom_fields.policy", "op": "eq", "value": "counterfeit"}],
              "then": {"priority": "high"}}]
    draft = routing.save_draft(db, rules, author=aw.actor("lead"), now=clock.now())
    routing.publish(db, draft, publisher=aw.actor("admin"), now=clock.now())
    appeal = make_appeal(db, aw, make_decision(db, aw, now=clock.now()), now=clock.now(), settings=settings)
    case = db.get(Case, appeal.case_id)
    assert case is not None and case.priority == "high" and case.queue_id == aw.queue.id
    applied = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.type == "sla.applied")).one()
    assert applied.data["policy"] == "appeals-es-urgent-policies"
    assert applied.data["targets"]["resolution"]["minutes"] == 2 * 1440


def test_readiness_refuses_appeals_landing_with_a_vendors_team(db: Session, aw: AppealsWorld,
                                                               clock: FrozenClock, settings: Settings) -> None:
    aw.team.vendor_id = aw.world.vendor_a.id
    db.flush()
    readiness = markets.check(db, aw.market, settings=settings, now=clock.now())
    assert {gap.area for gap in readiness.gaps} == {"routing"}
    assert "of a vendor's team" in readiness.gaps[0].what
