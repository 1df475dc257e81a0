"""The DSA Art. 15/24 figures on a week built by hand; every number below was counted by hand.

The period is Tue 3 March 00:00 UTC to Tue 10 March 00:00 UTC. One party (the seller) appeals:

  A0 filed 2 Mar 10:00 (before)  decided 3 Mar 12:00 upheld, manifestly unfounded        26 h
  A1 filed 3 Mar 10:00           decided 4 Mar 16:30 overturned (reversal confirmed)     30.5 h
  A2 filed 3 Mar 12:00 (model)   decided 5 Mar 12:00 overturned (not confirmed)          48 h
  A3 filed 4 Mar 09:00 (payout)  decided 4 Mar 21:00 partially overturned                12 h
  A4 filed 4 Mar 10:00           withdrawn 4 Mar 11:00
  A5 filed 5 Mar 09:00 (illegal) decided 10 Mar 09:00 upheld (after the period)
  A6 filed 5 Mar 10:00 (account) decided 5 Mar 14:00 upheld by automation                4 h
  A7 filed 6 Mar 10:00           decided 6 Mar 15:00 upheld, manifestly unfounded        5 h

Warned 6 Mar 09:00 (after A0), suspended 7 Mar 09:00 (after A7). Disputes: on A0 opened 4 Mar,
closed 8 Mar (decision upheld); on A1 opened 6 Mar, pending; on A2 opened 11 Mar (after).
Median of 4, 5, 12, 26, 30.5, 48 hours = (12 + 26) / 2 = 19 h = 0.79 days.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tests.factories.appeals import REASONS, AppealsWorld, decide, make_appeal, make_decision
from trustdesk.appeals import misuse, repository, reversals, service, transparency
from trustdesk.appeals.models import (
    Appeal,
    AppealReason,
    Dispute,
    DisputeOutcome,
    EnforcementDecision,
    ItemKind,
    Outcome,
)
from trustdesk.cases.models import Party
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import SYSTEM
from trustdesk.core.settings import Settings

SINCE = datetime(2026, 3, 3, tzinfo=UTC)
UNTIL = datetime(2026, 3, 10, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def build_week(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    aw.settings_row.misuse_threshold = 1
    now = clock.now()
    d = [make_decision(db, aw, now=now, external_id=f"dec-{i}") for i in (0, 1, 4, 7)]
    dec0, dec1, dec4, dec7 = d
    dec2 = make_decision(db, aw, now=now, external_id="dec-2", source=aw.model, item_kind=ItemKind.CONTENT,
                         automated_decision="AUTOMATED_DECISION_PARTIALLY")
    dec3 = make_decision(db, aw, now=now, external_id="dec-3", item_kind=ItemKind.PAYOUT,
                         category="STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
                         decision_monetary="DECISION_MONETARY_SUSPENSION")
    dec5 = make_decision(db, aw, now=now, external_id="dec-5", decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
                         illegal_content_legal_ground="Trade Mark Directive (EU) 2015/2436, Art. 10",
                         illegal_content_explanation="The listing uses a registered mark without consent.",
                         incompatible_content_ground=None, incompatible_content_explanation=None)
    dec6 = make_decision(db, aw, now=now, external_id="dec-6", item_kind=ItemKind.ACCOUNT)

    def file(decision: EnforcementDecision, day: int, hour: int,
             reason: AppealReason = AppealReason.NOT_A_VIOLATION) -> Appeal:
        clock.set(at(day, hour))
        return make_appeal(db, aw, decision, now=clock.now(), settings=settings, reason=reason)

    a0 = file(dec0, 2, 10)
    a1 = file(dec1, 3, 10)
    a2 = file(dec2, 3, 12, AppealReason.WRONG_ITEM)
    decide(db, aw, a0, Outcome.UPHELD, now=clock.now(), settings=settings, manifestly_unfounded=True)
    a3 = file(dec3, 4, 9, AppealReason.DISPROPORTIONATE)
    a4 = file(dec4, 4, 10, AppealReason.ALREADY_FIXED)
    clock.set(at(4, 11))
    service.withdraw_appeal(db, a4, actor=aw.seller, now=clock.now())
    clock.set(at(4, 16, 30))
    decide(db, aw, a1, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    clock.set(at(4, 21))
    decide(db, aw, a3, Outcome.PARTIALLY_OVERTURNED, now=clock.now(), settings=settings,
           lifted=("decision_monetary",))
    a5 = file(dec5, 5, 9, AppealReason.OTHER)
    reversal = repository.reversal_of(db, a1.id)
    assert reversal is not None
    reversals.confirm(db, reversal.webhook_id, reference="ENF-1", actor=SYSTEM, now=clock.now())
    a6 = file(dec6, 5, 10)
    clock.set(at(5, 12))
    decide(db, aw, a2, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    clock.set(at(5, 14))
    aw.settings_row.human_review_required = False  # only to record one decision by automation
    service.decide_appeal(db, a6, service.Verdict(outcome=Outcome.UPHELD, reasons=REASONS,
                                                  decider_kind=service.DECIDER_AUTOMATION),
                          actor=aw.reviewer, settings=settings, now=clock.now())
    aw.settings_row.human_review_required = True
    party = db.get(Party, dec0.party_id)
    assert party is not None
    clock.set(at(6, 9))
    misuse.warn(db, party, reasons="Repeated appeals against a correct counterfeit removal.",
                actor=aw.actor("admin"), now=clock.now())
    a7 = file(dec7, 6, 10)
    clock.set(at(6, 15))
    decide(db, aw, a7, Outcome.UPHELD, now=clock.now(), settings=settings, manifestly_unfounded=True)
    clock.set(at(7, 9))
    misuse.suspend(db, party, reasons="Kept filing unfounded appeals after the warning.", days=30,
                   actor=aw.actor("admin"), now=clock.now())
    clock.set(at(10, 9))
    decide(db, aw, a5, Outcome.UPHELD, now=clock.now(), settings=settings)
    db.add_all([
        Dispute(appeal_id=a0.id, body_name="Appeals Centre Europe", opened_at=at(4, 8),
                outcome=DisputeOutcome.DECISION_UPHELD.value, closed_at=at(8, 12)),
        Dispute(appeal_id=a1.id, body_name="Appeals Centre Europe", opened_at=at(6, 8),
                outcome=DisputeOutcome.PENDING.value, closed_at=None),
        Dispute(appeal_id=a2.id, body_name="Appeals Centre Europe", opened_at=at(11, 8),
                outcome=DisputeOutcome.PENDING.value, closed_at=None),
    ])
    db.flush()


EXPECTED_CSV = """\
section,dimension,value,count
complaints,received,,7
complaints,decision_ground,DECISION_GROUND_INCOMPATIBLE_CONTENT,6
complaints,decision_ground,DECISION_GROUND_ILLEGAL_CONTENT,1
complaints,category,STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS,6
complaints,category,STATEMENT_CATEGORY_SCAMS_AND_FRAUD,1
complaints,item_kind,listing,4
complaints,item_kind,account,1
complaints,item_kind,content,1
complaints,item_kind,payout,1
complaints,policy,counterfeit,7
complaints,reason,not_a_violation,3
complaints,reason,already_fixed,1
complaints,reason,disproportionate,1
complaints,reason,other,1
complaints,reason,wrong_item,1
complaints,automated_decision,not_automated,6
complaints,automated_decision,automated,1
complaints,withdrawn,,1
decisions,total,,6
decisions,outcome,upheld,3
decisions,outcome,overturned,2
decisions,outcome,partially_overturned,1
decisions,decider,human,5
decisions,decider,automation,1
decisions,median_hours,,19.0
decisions,median_days,,0.79
reversals,total,,3
reversals,confirmed,,1
out_of_court,opened,,2
out_of_court,closed,decision_upheld,1
out_of_court,closed,decision_reversed,0
out_of_court,closed,settled,0
out_of_court,closed,discontinued,0
out_of_court,pending_at_end,,1
misuse,warnings,,1
misuse,suspensions,,1
"""


def test_the_weeks_figures(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    build_week(db, aw, clock, settings)
    r = transparency.report(db, since=SINCE, until=UNTIL)
    assert r.complaints_received == 7
    assert r.received_by["reason"] == {"not_a_violation": 3, "already_fixed": 1, "disproportionate": 1,
                                       "other": 1, "wrong_item": 1}
    assert r.received_by["item_kind"] == {"listing": 4, "account": 1, "content": 1, "payout": 1}
    assert r.received_by["automated_decision"] == {"not_automated": 6, "automated": 1}
    assert r.received_by["policy"] == {"counterfeit": 7}
    assert r.received_by["decision_ground"] == {"DECISION_GROUND_INCOMPATIBLE_CONTENT": 6,
                                                "DECISION_GROUND_ILLEGAL_CONTENT": 1}
    assert r.withdrawn == 1
    assert r.decided == 6
    assert r.decided_by_outcome == {"upheld": 3, "overturned": 2, "partially_overturned": 1}
    assert r.decided_by_decider == {"human": 5, "automation": 1}
    assert r.median_decision_hours == 19.0
    assert r.median_decision_days == 0.79
    assert (r.reversals, r.reversals_confirmed) == (3, 1)
    assert (r.disputes.opened, r.disputes.closed_total, r.disputes.pending_at_end) == (2, 1, 1)
    assert r.disputes.closed["decision_upheld"] == 1
    assert (r.misuse.warnings, r.misuse.suspensions) == (1, 1)
    assert transparency.to_csv(r) == EXPECTED_CSV
    shaped = transparency.to_json(r)
    assert shaped["decisions"] == {"total": 6, "by_outcome": {"upheld": 3, "overturned": 2, "partially_overturned": 1},
                                   "by_decider": {"human": 5, "automation": 1}, "median_hours": 19.0,
                                   "median_days": 0.79}
    assert shaped["complaints"]["received"] == 7 and shaped["complaints"]["withdrawn"] == 1
    assert shaped["out_of_court"] == {"opened": 2, "closed": {"decision_upheld": 1, "decision_reversed": 0,
                                                              "settled": 0, "discontinued": 0}, "pending_at_end": 1}
    assert shaped["period"] == {"since": "2026-03-03T00:00:00+00:00", "until": "2026-03-10T00:00:00+00:00"}


def test_the_day_before_and_the_next_week(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                          settings: Settings) -> None:
    build_week(db, aw, clock, settings)
    before = transparency.report(db, since=datetime(2026, 3, 2, tzinfo=UTC), until=SINCE)
    assert (before.complaints_received, before.decided, before.median_decision_hours) == (1, 0, None)
    assert before.disputes.opened == 0 and before.misuse.warnings == 0
    after = transparency.report(db, since=UNTIL, until=datetime(2026, 3, 17, tzinfo=UTC))
    # A5 decided 10 Mar 09:00 after 5 days (120 h); the dispute on A2 opened 11 Mar; two still pending.
    assert (after.complaints_received, after.decided, after.median_decision_hours) == (0, 1, 120.0)
    assert after.median_decision_days == 5.0
    assert (after.disputes.opened, after.disputes.pending_at_end, after.reversals) == (1, 2, 0)
    csv_rows = transparency.to_csv(after).splitlines()
    assert "decisions,median_hours,,120.0" in csv_rows and csv_rows.count("section,dimension,value,count") == 1


def test_a_market_filter_counts_only_that_market(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                 settings: Settings) -> None:
    build_week(db, aw, clock, settings)
    us = transparency.report(db, since=SINCE, until=UNTIL, market_codes=["US"])
    assert (us.complaints_received, us.decided, us.withdrawn, us.reversals) == (0, 0, 0, 0)
    assert us.median_decision_hours is None and us.disputes.opened == 0 and us.misuse.suspensions == 0
    assert "decisions,median_hours,," in transparency.to_csv(us).splitlines()
    es = transparency.report(db, since=SINCE, until=UNTIL, market_codes=["es"])
    assert (es.complaints_received, es.decided, es.markets) == (7, 6, ("es",))


def test_an_unknown_market_is_refused(db: Session, aw: AppealsWorld) -> None:
    import pytest

    from trustdesk.core.errors import Invalid

    with pytest.raises(Invalid) as refused:
        transparency.report(db, since=SINCE, until=UNTIL, market_codes=["XX"])
    assert refused.value.field == "market"
