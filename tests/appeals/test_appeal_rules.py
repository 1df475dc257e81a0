"""The rules of filing and deciding an appeal: the window from the notification, one open appeal per
decision, who may decide, human review where the law asks for it, and the reasoned decision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.appeals import (
    OUT_OF_COURT,
    REASONS,
    AppealsWorld,
    decide,
    make_appeal,
    make_decision,
)
from trustdesk.appeals import markets, service
from trustdesk.appeals.models import AppealEvent, AppealStatus, DecisionStatus, Outcome
from trustdesk.cases.models import Case, Message, Status
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Forbidden, Invalid
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import actor_for
from trustdesk.core.notifications import Notification
from trustdesk.core.settings import Settings


def test_an_appeal_six_months_minus_a_day_after_the_notification_is_accepted_though_the_decision_is_older(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    notified = clock.now() - timedelta(days=1)
    decision = make_decision(db, aw, now=clock.now(), decided_at=clock.now() - timedelta(days=120),
                             notified_at=notified)
    clock.set(notified + relativedelta(months=6) - timedelta(days=1))
    assert clock.now() - decision.decided_at > timedelta(days=6 * 31)  # older than six months by its own date
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    assert appeal.status == AppealStatus.OPEN.value
    assert appeal.deadline_at == notified + relativedelta(months=6)
    case = db.get(Case, appeal.case_id)
    assert case is not None and case.channel == "appeal_form" and case.queue_id == aw.queue.id
    assert case.custom_fields["decision_reference"] == decision.external_id
    assert case.custom_fields["policy"] == "counterfeit"


def test_an_appeal_after_the_window_is_refused(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                               settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    clock.set(decision.notified_at + relativedelta(months=6) + timedelta(minutes=1))
    with pytest.raises(Conflict) as refused:
        make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    assert refused.value.field == "decision" and "window closed" in refused.value.detail
    assert db.scalar(select(AppealEvent.id).where(AppealEvent.type == "appeal.filed")) is None


def test_a_window_under_six_months_is_refused_where_the_dsa_applies(db: Session, aw: AppealsWorld,
                                                                    clock: FrozenClock) -> None:
    with pytest.raises(Invalid) as refused:
        markets.configure(db, aw.market, languages=["es"], window_months=5, dsa_applies=True,
                          human_review_required=True, qa_sample_percent=10, out_of_court={"es": OUT_OF_COURT},
                          actor=SYSTEM, now=clock.now())
    assert refused.value.field == "window_months"
    with pytest.raises(Invalid) as automated:
        markets.configure(db, aw.market, languages=["es"], window_months=6, dsa_applies=True,
                          human_review_required=False, qa_sample_percent=10, out_of_court={"es": OUT_OF_COURT},
                          actor=SYSTEM, now=clock.now())
    assert automated.value.field == "human_review_required"
    # Outside the DSA a market may choose a shorter window.
    row = markets.configure(db, aw.world.us, languages=["en"], window_months=3, dsa_applies=False,
                            human_review_required=False, qa_sample_percent=0, out_of_court={}, actor=SYSTEM,
                            now=clock.now())
    assert row.window_months == 3


def test_a_second_open_appeal_on_the_same_decision_is_refused(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                              settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    with pytest.raises(Conflict) as refused:
        make_appeal(db, aw, decision, now=clock.now() + timedelta(hours=1), settings=settings)
    assert refused.value.field == "decision" and "open appeal" in refused.value.detail


def test_a_decided_appeal_is_not_appealed_again_but_a_withdrawn_one_may_be_filed_anew(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    first = make_decision(db, aw, now=clock.now(), external_id="dec-withdrawn")
    withdrawn = make_appeal(db, aw, first, now=clock.now(), settings=settings)
    service.withdraw_appeal(db, withdrawn, actor=aw.seller, now=clock.now())
    withdrawn_case = db.get(Case, withdrawn.case_id)
    assert withdrawn_case is not None and withdrawn_case.status == Status.SOLVED.value  # off the queue
    again = make_appeal(db, aw, first, now=clock.now() + timedelta(hours=1), settings=settings)
    assert again.id != withdrawn.id
    second = make_decision(db, aw, now=clock.now(), external_id="dec-decided")
    appeal = make_appeal(db, aw, second, now=clock.now(), settings=settings)
    decide(db, aw, appeal, Outcome.UPHELD, now=clock.now() + timedelta(hours=2), settings=settings)
    with pytest.raises(Conflict) as refused:
        make_appeal(db, aw, second, now=clock.now() + timedelta(hours=3), settings=settings)
    assert "out-of-court" in refused.value.detail


def test_the_database_refuses_two_open_appeals_even_past_the_service(db: Session, aw: AppealsWorld,
                                                                     clock: FrozenClock, settings: Settings) -> None:
    from sqlalchemy.exc import IntegrityError

    from tests.factories.cases import make_case
    from trustdesk.appeals.models import Appeal
    from trustdesk.cases.models import Party

    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    party = db.get(Party, appeal.party_id)
    assert party is not None
    other_case = make_case(db, market=aw.market, party=party, now=clock.now())
    db.commit()
    twin = Appeal(decision_id=decision.id, case_id=other_case.id,
                  party_id=appeal.party_id, market_id=appeal.market_id, policy_id=appeal.policy_id,
                  reason=appeal.reason, status="open", filed_at=clock.now(), deadline_at=appeal.deadline_at,
                  lifted_measures=[], created_at=clock.now(), updated_at=clock.now())
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(twin)
        db.flush()


def test_appeals_wait_until_the_market_opens(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                             settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    markets.close_market(db, aw.market, actor=SYSTEM, now=clock.now())
    with pytest.raises(Conflict) as refused:
        make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    assert refused.value.field == "market"


def test_the_original_decider_cannot_review(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                            settings: Settings) -> None:
    aw.moderator = aw.world.users["reviewer"]  # the reviewer took this decision as a moderator
    decision = make_decision(db, aw, now=clock.now())
    assert decision.decided_by_user_id == aw.reviewer.user_id
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    with pytest.raises(Forbidden) as refused:
        decide(db, aw, appeal, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    assert refused.value.field == "reviewer" and "original decision" in refused.value.detail
    assert appeal.status == AppealStatus.OPEN.value
    # Known only by e-mail (the moderator has no TrustDesk account yet): still recognised.
    decision.decided_by_user_id = None
    with pytest.raises(Forbidden):
        service.check_may_decide(db, appeal, aw.reviewer)
    # Someone else qualified decides it.
    lead = aw.actor("lead")
    decide(db, aw, appeal, Outcome.UPHELD, now=clock.now(), settings=settings, reviewer=lead)
    assert appeal.decider_user_id == lead.user_id


def test_only_a_reviewer_qualified_for_the_policy_decides(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                          settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    t2 = aw.actor("agent_t2")  # may read cases, has no appeals.decide
    with pytest.raises(Forbidden):
        service.check_may_decide(db, appeal, t2)
    other = actor_for(aw.world.users["admin"])
    from trustdesk.appeals.models import ReviewerQualification

    db.execute(ReviewerQualification.__table__.delete().where(
        ReviewerQualification.user_id == other.user_id))
    with pytest.raises(Forbidden) as refused:
        service.check_may_decide(db, appeal, other)
    assert "not qualified" in refused.value.detail and "Counterfeit goods" in refused.value.detail


def test_automation_alone_may_not_decide_where_human_review_is_required(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    verdict = service.Verdict(outcome=Outcome.UPHELD, reasons=REASONS, decider_kind=service.DECIDER_AUTOMATION)
    with pytest.raises(Conflict) as refused:
        service.decide_appeal(db, appeal, verdict, actor=aw.reviewer, settings=settings, now=clock.now())
    assert refused.value.field == "decider_kind" and "Art. 20(6)" in refused.value.detail
    assert appeal.status == AppealStatus.OPEN.value
    # Where the market does not require it, automation may decide, and the record says so.
    aw.settings_row.human_review_required = False
    aw.settings_row.dsa_applies = False
    service.decide_appeal(db, appeal, verdict, actor=aw.reviewer, settings=settings, now=clock.now())
    assert appeal.decider_kind == "automation"
    event = db.scalars(select(AppealEvent).where(AppealEvent.type == "appeal.decided")).one()
    assert event.data["decider_kind"] == "automation"


def test_an_overturn_sends_a_reasoned_decision_with_out_of_court_information(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now(), source=aw.model)
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    clock.advance(hours=26)
    decide(db, aw, appeal, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    case = db.get(Case, appeal.case_id)
    assert case is not None and case.status == Status.SOLVED.value
    letter = db.scalars(select(Message).where(Message.case_id == case.id, Message.author_type == "agent")).one()
    assert letter.visibility == "public"
    assert REASONS in letter.body and OUT_OF_COURT in letter.body and appeal.reference in letter.body
    assert letter.body.startswith("Your appeal")  # the Spanish-speaking case fell back to the es letter
    assert appeal.decision_letter == letter.body
    assert decision.status == DecisionStatus.REVERSED.value and decision.false_positive_at == clock.now()
    kinds = [e.type for e in db.scalars(select(AppealEvent).where(AppealEvent.decision_id == decision.id)
                                        .order_by(AppealEvent.id))]
    assert kinds == ["decision.recorded", "appeal.filed", "appeal.decided", "appeal.reversal_requested",
                     "decision.false_positive"]
    decided = db.scalars(select(AppealEvent).where(AppealEvent.type == "appeal.decided")).one()
    assert decided.data["hours_to_decide"] == 26.0
    # The model's owner hears that it was wrong.
    owner = aw.world.users["oncall_sme"].id
    told = db.scalars(select(Notification).where(Notification.user_id == owner)).one()
    assert told.kind == "appeals.false_positive" and decision.external_id in told.body


def test_a_partial_overturn_names_some_measures_not_all(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                        settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now(), decision_monetary="DECISION_MONETARY_SUSPENSION")
    assert service.measures_of(decision) == ["decision_visibility", "decision_monetary"]
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    for lifted, field in (((), "lifted_measures"), (("decision_account",), "lifted_measures"),
                          (("decision_visibility", "decision_monetary"), "lifted_measures")):
        with pytest.raises(Invalid) as refused:
            decide(db, aw, appeal, Outcome.PARTIALLY_OVERTURNED, now=clock.now(), settings=settings, lifted=lifted)
        assert refused.value.field == field
    decide(db, aw, appeal, Outcome.PARTIALLY_OVERTURNED, now=clock.now(), settings=settings,
           lifted=("decision_monetary",))
    assert appeal.lifted_measures == ["decision_monetary"]
    assert decision.status == DecisionStatus.PARTIALLY_REVERSED.value
    assert "the restriction of payments" in (appeal.decision_letter or "")


def test_reasons_are_owed_and_manifestly_unfounded_goes_with_upheld_only(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    with pytest.raises(Invalid) as short:
        service.decide_appeal(db, appeal, service.Verdict(outcome=Outcome.UPHELD, reasons="No."),
                              actor=aw.reviewer, settings=settings, now=clock.now())
    assert short.value.field == "reasons"
    with pytest.raises(Invalid) as unfounded:
        decide(db, aw, appeal, Outcome.OVERTURNED, now=clock.now(), settings=settings, manifestly_unfounded=True)
    assert unfounded.value.field == "manifestly_unfounded"
    assert appeal.status == AppealStatus.OPEN.value


def test_a_decision_with_a_bad_statement_of_reasons_is_refused_naming_the_field(
        db: Session, aw: AppealsWorld, clock: FrozenClock) -> None:
    with pytest.raises(Invalid) as refused:
        make_decision(db, aw, now=clock.now(), decision_visibility=[])
    assert refused.value.field == "statement.decision_visibility"
    with pytest.raises(Invalid) as automated:
        make_decision(db, aw, now=clock.now(), external_id="dec-auto", source=aw.model, automated_detection="No")
    assert automated.value.field == "statement.automated_detection"
    with pytest.raises(Invalid) as by_people:
        make_decision(db, aw, now=clock.now(), external_id="dec-people", automated_detection="Yes")
    assert by_people.value.field == "statement.automated_detection"
    with pytest.raises(Invalid) as early:
        make_decision(db, aw, now=clock.now(), external_id="dec-early", notified_at=clock.now() - timedelta(days=3),
                      decided_at=clock.now() - timedelta(days=1))
    assert early.value.field == "notified_at"


def test_a_vendors_staff_never_decide_and_appeals_come_in_the_markets_languages(
        db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    import dataclasses

    from trustdesk.appeals.models import AppealReason
    from trustdesk.core.permissions import Perm

    decision = make_decision(db, aw, now=clock.now())
    with pytest.raises(Invalid) as language:
        service.file_appeal(db, service.NewAppeal(decision=decision, reason=AppealReason.OTHER,
                                                  statement="Saya keberatan.", language="id"),
                            actor=aw.seller, settings=settings, now=clock.now())
    assert language.value.field == "language"
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    vendor_reviewer = dataclasses.replace(aw.reviewer, vendor_id=aw.world.vendor_a.id,
                                          permissions=aw.reviewer.permissions | {Perm.APPEALS_DECIDE})
    with pytest.raises(Forbidden) as vendor:
        service.check_may_decide(db, appeal, vendor_reviewer)
    assert vendor.value.field == "reviewer"
