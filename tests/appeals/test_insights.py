"""Appeal volume next to the decisions behind it, and the worst (policy, source) pairs; counted by hand.

Period: 3 March 00:00 to 10 March 00:00 UTC. Policies: counterfeit (owner Lead) and off-platform
(owner Admin); sources: the counterfeit model (owner Oncall_Sme) and the moderators (no owner).

  X0 counterfeit/model   listing ES  recorded 2 Mar (before)  P0 not_a_violation  overturned
  X1 counterfeit/model   listing ES  recorded 3 Mar           P1 not_a_violation  overturned
  X2 counterfeit/model   listing ES                           P2 wrong_item       partially overturned
  X3 counterfeit/model   content ES                           P3 not_a_violation  upheld
  X4 counterfeit/human   listing ES                           P4 disproportionate overturned
  X5 counterfeit/human   listing ES                           -
  X6 off-platform/human  account ES                           P6 other            upheld
  X7 off-platform/human  account ES                           P7 not_a_violation  still open
  X8 counterfeit/model   listing US                           -
  X9 off-platform/model  listing US                           -
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tests.factories.appeals import AppealsWorld, decide, make_appeal, make_decision
from trustdesk.appeals import insights, service
from trustdesk.appeals.insights import VolumeRow
from trustdesk.appeals.models import (
    Appeal,
    AppealReason,
    DetectionSource,
    EnforcementDecision,
    EnforcementPolicy,
    ItemKind,
    Outcome,
    ReviewerQualification,
)
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings

SINCE = datetime(2026, 3, 3, tzinfo=UTC)
UNTIL = datetime(2026, 3, 10, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def build(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> dict[str, Appeal]:
    admin, reviewer = aw.world.users["admin"], aw.world.users["reviewer"]
    other = service.upsert_policy(db, key="off-platform", name="Off-platform payment", owner_email=admin.email,
                                  now=clock.now())
    db.add(ReviewerQualification(user_id=reviewer.id, policy_id=other.id, granted_at=clock.now()))

    def record(name: str, when: datetime, *, policy: EnforcementPolicy | None = None,
               source: DetectionSource | None = None, item_kind: ItemKind = ItemKind.LISTING, us: bool = False,
               **statement: Any) -> EnforcementDecision:
        clock.set(when)
        decision = make_decision(db, aw, now=when, external_id=name, source=source, item_kind=item_kind,
                                 **statement)
        if policy is not None:  # the factory decides under aw.policy; moved by hand to the other policy
            decision.policy_id = policy.id
        if us:  # ... and in ES; a US decision only needs counting, never appealing
            decision.market_id = aw.world.us.id
        db.flush()
        return decision

    x0 = record("X0", at(2, 10), source=aw.model)
    x1 = record("X1", at(3, 9), source=aw.model)
    x2 = record("X2", at(3, 9), source=aw.model, decision_monetary="DECISION_MONETARY_SUSPENSION")
    x3 = record("X3", at(3, 9), source=aw.model, item_kind=ItemKind.CONTENT)
    x4 = record("X4", at(3, 9))
    record("X5", at(3, 9))
    x6 = record("X6", at(3, 9), policy=other, item_kind=ItemKind.ACCOUNT)
    x7 = record("X7", at(3, 9), policy=other, item_kind=ItemKind.ACCOUNT)
    record("X8", at(3, 9), source=aw.model, us=True)
    record("X9", at(3, 9), policy=other, source=aw.model, us=True)
    clock.set(at(3, 10))
    filed = {}
    for name, decision, reason in (("P0", x0, AppealReason.NOT_A_VIOLATION), ("P1", x1, AppealReason.NOT_A_VIOLATION),
                                   ("P2", x2, AppealReason.WRONG_ITEM), ("P3", x3, AppealReason.NOT_A_VIOLATION),
                                   ("P4", x4, AppealReason.DISPROPORTIONATE), ("P6", x6, AppealReason.OTHER),
                                   ("P7", x7, AppealReason.NOT_A_VIOLATION)):
        filed[name] = make_appeal(db, aw, decision, now=clock.now(), settings=settings, reason=reason)
    for hour, (name, outcome) in enumerate((("P0", Outcome.OVERTURNED), ("P1", Outcome.OVERTURNED),
                                            ("P2", Outcome.PARTIALLY_OVERTURNED), ("P3", Outcome.UPHELD),
                                            ("P4", Outcome.OVERTURNED), ("P6", Outcome.UPHELD)), start=10):
        clock.set(at(4, hour))
        decide(db, aw, filed[name], outcome, now=clock.now(), settings=settings,
               lifted=("decision_monetary",) if outcome is Outcome.PARTIALLY_OVERTURNED else ())
    return filed


def test_volume_per_dimension(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    build(db, aw, clock, settings)
    r = insights.volume(db, since=SINCE, until=UNTIL)
    assert r.by["policy"] == (VolumeRow("counterfeit", 6, 5, 5, 4), VolumeRow("off-platform", 3, 2, 1, 0))
    assert [(row.appeal_rate, row.overturn_rate) for row in r.by["policy"]] == [(0.8333, 0.8), (0.6667, 0.0)]
    assert r.by["source"] == (VolumeRow("counterfeit-model", 5, 4, 4, 3),
                              VolumeRow("brand-protection-team", 4, 3, 2, 1))
    assert [(row.appeal_rate, row.overturn_rate) for row in r.by["source"]] == [(0.8, 0.75), (0.75, 0.5)]
    assert r.by["market"] == (VolumeRow("ES", 7, 7, 6, 4), VolumeRow("US", 2, 0, 0, 0))
    assert [(row.appeal_rate, row.overturn_rate) for row in r.by["market"]] == [(1.0, 0.6667), (0.0, None)]
    assert r.by["reason"] == (VolumeRow("not_a_violation", None, 4, 3, 2), VolumeRow("disproportionate", None, 1, 1, 1),
                              VolumeRow("other", None, 1, 1, 0), VolumeRow("wrong_item", None, 1, 1, 1))
    assert [row.appeal_rate for row in r.by["reason"]] == [None, None, None, None]
    assert r.by["item_kind"] == (VolumeRow("listing", 6, 4, 4, 4), VolumeRow("account", 2, 2, 1, 0),
                                 VolumeRow("content", 1, 1, 1, 0))
    assert r.total == VolumeRow("total", 9, 7, 6, 4)
    assert (r.total.appeal_rate, r.total.overturn_rate) == (0.7778, 0.6667)
    lines = insights.to_csv(r).splitlines()
    assert lines[0] == "dimension,key,decisions,appeals,appeal_rate,decided,overturned,overturn_rate"
    assert lines[1] == "policy,counterfeit,6,5,0.8333,5,4,0.8"
    assert "market,US,2,0,0.0,0,0," in lines and "reason,other,,1,,1,0,0.0" in lines
    assert lines[-1] == "total,,9,7,0.7778,6,4,0.6667" and len(lines) == 1 + 2 + 2 + 2 + 4 + 3 + 1
    es = insights.volume(db, since=SINCE, until=UNTIL, market_codes=["ES"])
    assert es.total == VolumeRow("total", 7, 7, 6, 4) and [row.key for row in es.by["market"]] == ["ES"]


def test_worst_offenders_and_their_owners(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                          settings: Settings) -> None:
    filed = build(db, aw, clock, settings)
    r = insights.volume(db, since=SINCE, until=UNTIL)
    first, second = r.worst_offenders
    assert (first.policy, first.source, first.decisions, first.appeals, first.decided, first.overturned) == (
        "counterfeit", "counterfeit-model", 4, 4, 4, 3)
    assert first.overturn_rate == 0.75 and (first.policy_owner, first.source_owner) == ("Lead", "Oncall_Sme")
    assert first.examples == (filed["P0"].reference, filed["P1"].reference, filed["P2"].reference)
    assert (second.policy, second.source, second.decisions, second.appeals, second.decided, second.overturned) == (
        "counterfeit", "brand-protection-team", 2, 1, 1, 1)
    assert second.overturn_rate == 1.0 and (second.policy_owner, second.source_owner) == ("Lead", None)
    assert second.examples == (filed["P4"].reference,)
    lines = insights.offenders_to_csv(r).splitlines()
    assert lines == [
        "rank,policy,source,policy_owner,source_owner,decisions,appeals,decided,overturned,overturn_rate,examples",
        f"1,counterfeit,counterfeit-model,Lead,Oncall_Sme,4,4,4,3,0.75,{' '.join(first.examples)}",
        f"2,counterfeit,brand-protection-team,Lead,,2,1,1,1,1.0,{filed['P4'].reference}",
    ]


def test_policy_owner_report(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    filed = build(db, aw, clock, settings)
    lead, sme, admin = insights.policy_owner_report(db, since=SINCE, until=UNTIL)
    assert (lead.owner, lead.overturned, sme.owner, sme.overturned, admin.owner, admin.overturned) == (
        "Lead", 4, "Oncall_Sme", 3, "Admin", 0)
    assert lead.policies == (VolumeRow("counterfeit", 6, 5, 5, 4),) and lead.sources == ()
    assert [(p.policy, p.source) for p in lead.pairs] == [("counterfeit", "counterfeit-model"),
                                                         ("counterfeit", "brand-protection-team")]
    assert lead.look_first is not None and lead.look_first.source == "counterfeit-model"
    assert lead.advice == (f"look first at counterfeit / counterfeit-model: 3 of 4 decided appeals overturned "
                           f"(75.0%), e.g. {filed['P0'].reference}, {filed['P1'].reference}, {filed['P2'].reference}")
    assert sme.policies == () and sme.sources == (VolumeRow("counterfeit-model", 5, 4, 4, 3),)
    assert [(p.policy, p.overturned) for p in sme.pairs] == [("counterfeit", 3), ("off-platform", 0)]
    assert admin.policies == (VolumeRow("off-platform", 3, 2, 1, 0),) and admin.look_first is None
    assert admin.advice == "no appeal overturned a decision of yours in the period"
    lines = insights.owners_to_csv([admin]).splitlines()
    assert lines == ["owner,owner_email,kind,key,decisions,appeals,decided,overturned,overturn_rate",
                     "Admin,admin@example.test,policy,off-platform,3,2,1,0,0.0",
                     "Admin,admin@example.test,pair,off-platform/brand-protection-team,2,2,1,0,0.0",
                     "Admin,admin@example.test,pair,off-platform/counterfeit-model,1,0,0,0,"]
