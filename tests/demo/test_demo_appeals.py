"""The demo's appeals: markets set up (Spain, the US and the UK open, Indonesia half set up with its
gaps), and an appeals history that agrees with the appeal cases, valid statements of reasons,
confirmed reversals, an Art. 23 suspension, and a decision the seller login can still appeal."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.appeals import markets, repository, service, sor
from trustdesk.appeals.models import (
    Appeal,
    AppealEvent,
    AppealStatus,
    DecisionStatus,
    DetectionSource,
    Dispute,
    EnforcementDecision,
    EnforcementPolicy,
    MarketAppealSettings,
    MisuseKind,
    MisuseMeasure,
    Outcome,
    QaReview,
    Reversal,
    ReversalStatus,
    ReviewerQualification,
    SourceKind,
)
from trustdesk.cases.models import Case, Channel, Party, Status
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Forbidden
from trustdesk.core.identity import User
from trustdesk.core.outbox import OutboxMessage
from trustdesk.core.settings import Settings
from trustdesk.demo.appeals import SELLER_LOGIN_PARTY
from trustdesk.demo.build import DemoSummary, build_demo
from trustdesk.directory.models import Agent, Market, Queue

DATA = Path(__file__).resolve().parent / "data"
CASES = 400
ID_GAPS = [
    ("out_of_court", "no out-of-court settlement text in id"),
    ("templates", "no upheld letter in id"),
    ("templates", "no overturned letter in id"),
    ("templates", "no partially overturned letter in id"),
    ("reviewers", "nobody in an appeals team who speaks id is qualified for Misleading listings (misleading-listing)"),
    ("reviewers", "nobody in an appeals team who speaks id is qualified for Review manipulation "
                  "(review-manipulation)"),
]


@pytest.fixture
def demo(factory: sessionmaker[Session], clock: FrozenClock) -> DemoSummary:
    return build_demo(factory, clock, seed=7, case_count=CASES, data_dir=DATA, progress=None)


def _appeal_cases(db: Session) -> list[Case]:
    """Appeal-form cases of the markets that take appeals (Indonesia's predate its launch)."""
    indonesia = db.scalars(select(Market.id).where(Market.code == "ID")).one()
    return [c for c in db.scalars(select(Case).where(Case.channel == Channel.APPEAL_FORM.value).order_by(Case.id))
            if c.custom_fields.get("decision_reference") and c.market_id != indonesia]


def _every_appeal_case_has_its_decision_and_appeal(demo: DemoSummary, db: Session, clock: FrozenClock) -> None:
    cases = _appeal_cases(db)
    assert len(cases) >= 10
    appeals = {a.case_id: a for a in db.scalars(select(Appeal))}
    assert set(appeals) == {c.id for c in cases}  # exactly one appeal per appeal case, and none without one
    markets_by_id = {m.id: m.code for m in db.scalars(select(Market))}
    sources = {s.id: s for s in db.scalars(select(DetectionSource))}
    for case in cases:
        appeal = appeals[case.id]
        decision = db.get(EnforcementDecision, appeal.decision_id)
        assert decision is not None
        assert decision.external_id == case.custom_fields["decision_reference"]
        assert decision.party_id == case.party_id == appeal.party_id
        assert service.APPEAL_TOPICS[decision.item_kind] == case.topic
        assert timedelta(days=1) <= case.created_at - decision.notified_at <= timedelta(days=21)
        assert appeal.filed_at == case.created_at
        code = markets_by_id[decision.market_id]
        assert decision.statement["territorial_scope"] == [code]
        assert sor.validate_statement(decision.statement | {"puid": decision.puid}, for_tdb=code == "ES") == []
        if sources[decision.source_id].kind == SourceKind.HUMAN.value:
            assert decision.decided_by_email
        if case.status in (Status.SOLVED.value, Status.CLOSED.value):
            assert appeal.status == AppealStatus.DECIDED.value
            assert appeal.decided_at == case.solved_at
            overturned = "appeal-overturned" in case.tags
            assert (appeal.outcome != Outcome.UPHELD.value) == overturned
            assert appeal.decider_kind == "human" and appeal.decider_user_id is not None
            assignee = db.get(Agent, case.assignee_id) if case.assignee_id else None
            assert assignee is not None and appeal.decider_user_id == assignee.user_id
            assert repository.is_qualified(db, appeal.decider_user_id, appeal.policy_id)
            assert appeal.decision_letter and appeal.decision_reasons
            assert len(appeal.decision_reasons) >= service.MIN_REASONS_CHARS
            if overturned:
                assert decision.false_positive_at == appeal.decided_at
                assert decision.status in (DecisionStatus.REVERSED.value, DecisionStatus.PARTIALLY_REVERSED.value)
                reversal = repository.reversal_of(db, appeal.id)
                assert reversal is not None and reversal.status == ReversalStatus.CONFIRMED.value
                assert reversal.confirmed_at is not None and reversal.confirmed_at >= reversal.requested_at
            else:
                assert decision.status == DecisionStatus.IN_FORCE.value and decision.false_positive_at is None
        else:
            assert appeal.status == AppealStatus.OPEN.value and appeal.outcome is None
    # Every decision has its statement valid and was recorded; the history queues no webhook.
    decisions = db.scalars(select(EnforcementDecision)).all()
    assert len(decisions) >= 3 * len(cases)
    assert all(sor.validate_statement(d.statement | {"puid": d.puid}, for_tdb=markets_by_id[d.market_id] == "ES")
               == [] for d in decisions)
    recorded = db.scalar(select(func.count(AppealEvent.id)).where(AppealEvent.type == "decision.recorded"))
    assert recorded == len(decisions)
    events = {t: n for t, n in db.execute(select(AppealEvent.type, func.count(AppealEvent.id))
                                          .group_by(AppealEvent.type))}
    decided = sum(1 for a in appeals.values() if a.status == AppealStatus.DECIDED.value)
    reversed_ = db.scalar(select(func.count(Reversal.id)))
    assert events["appeal.filed"] == len(cases) and events["appeal.decided"] == decided
    assert events["appeal.reversal_requested"] == events["appeal.reversal_confirmed"] == reversed_
    assert events["decision.false_positive"] == reversed_
    assert db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.topic == "webhooks.deliver")) == 0
    assert db.scalar(select(func.count(QaReview.id))) >= 3
    assert {s.kind for s in sources.values()} == {k.value for k in SourceKind}
    assert all(p.owner_user_id is not None for p in db.scalars(select(EnforcementPolicy)))


def _markets_are_set_up_and_the_logins_have_appeals_to_work(demo: DemoSummary, db: Session,
                                                               clock: FrozenClock, settings: Settings) -> None:
    now = clock.now()
    by_code = {m.code: m for m in db.scalars(select(Market))}
    rows = {s.market_id: s for s in db.scalars(select(MarketAppealSettings))}
    es = rows[by_code["ES"].id]
    assert es.is_open and es.dsa_applies and es.window_months == 6 and es.human_review_required
    assert es.languages == ["es", "en"] and es.qa_sample_percent == 10
    assert "Appeals Centre Europe" in es.out_of_court["es"] and "Appeals Centre Europe" in es.out_of_court["en"]
    assert rows[by_code["US"].id].is_open and rows[by_code["GB"].id].is_open
    assert not rows[by_code["ID"].id].is_open
    for code in ("ES", "US", "GB"):
        assert markets.check(db, by_code[code], settings=settings, now=now).gaps == []
    gaps = markets.check(db, by_code["ID"], settings=settings, now=now).gaps
    assert [(g.area, g.what) for g in gaps] == ID_GAPS

    # Chris Taylor may decide everything, Ayu Setiawan only some policies.
    users = {u.email.split("@")[0]: u for u in db.scalars(select(User).where(User.email.like("%@demo.trustdesk.dev")))}
    policies = db.scalar(select(func.count(EnforcementPolicy.id)))
    qualified = {u: db.scalar(select(func.count(ReviewerQualification.id))
                              .where(ReviewerQualification.user_id == users[u].id))
                 for u in ("reviewer", "ayu.setiawan", "lead")}
    assert qualified["reviewer"] == qualified["lead"] == policies > qualified["ayu.setiawan"] > 0

    # The seller login has a fresh decision it can appeal from the help center.
    seller = db.scalar(select(Party).where(Party.external_id == SELLER_LOGIN_PARTY))
    assert seller is not None
    appealed = set(db.scalars(select(Appeal.decision_id)))
    fresh = [d for d in db.scalars(select(EnforcementDecision).where(EnforcementDecision.party_id == seller.id))
             if d.id not in appealed and now - d.notified_at < timedelta(days=7)]
    assert fresh
    assert service.check_may_appeal(db, fresh[0], now=now).is_open

    # Open appeals wait in the Appeals queue for the reviewer.
    appeals_queue = db.scalar(select(Queue).where(Queue.key == "appeals"))
    assert appeals_queue is not None
    open_cases = db.scalars(select(Case).join(Appeal, Appeal.case_id == Case.id)
                            .where(Appeal.status == AppealStatus.OPEN.value)).all()
    assert open_cases and all(c.queue_id == appeals_queue.id for c in open_cases)

    # Art. 23: a warning, then a suspension still running; the party's next appeal is refused.
    measures = db.scalars(select(MisuseMeasure).order_by(MisuseMeasure.starts_at)).all()
    assert [m.kind for m in measures] == [MisuseKind.WARNING.value, MisuseKind.SUSPENSION.value]
    suspension = measures[1]
    assert suspension.ends_at is not None and suspension.starts_at < now < suspension.ends_at
    unfounded = db.scalars(select(Appeal).where(Appeal.party_id == suspension.party_id,
                                                Appeal.manifestly_unfounded.is_(True))).all()
    assert {a.reference for a in unfounded} == {*measures[0].unfounded_appeal_ids, *suspension.unfounded_appeal_ids}
    assert all(a.outcome == Outcome.UPHELD.value for a in unfounded)
    during = db.scalars(select(EnforcementDecision).where(EnforcementDecision.party_id == suspension.party_id,
                                                          EnforcementDecision.notified_at > suspension.starts_at)).all()
    assert during and not set(d.id for d in during) & appealed
    with pytest.raises(Forbidden):
        service.check_may_appeal(db, during[0], now=now)
    for dispute in db.scalars(select(Dispute)):
        appeal = db.get(Appeal, dispute.appeal_id)
        assert appeal is not None and appeal.market_id == by_code["ES"].id


def _a_second_build_changes_nothing_in_appeals(demo: DemoSummary, factory: sessionmaker[Session],
                                                   clock: FrozenClock, db: Session) -> None:
    tables = (EnforcementDecision, Appeal, AppealEvent, Reversal, QaReview, Dispute, MisuseMeasure,
              ReviewerQualification, MarketAppealSettings)

    def counts() -> list[int]:
        return [int(db.scalar(select(func.count()).select_from(table)) or 0) for table in tables]

    before = counts()
    assert demo.appeals is not None and demo.appeals.appeals == before[1]
    assert "Appeals:" in demo.describe()
    again = build_demo(factory, clock, seed=7, case_count=CASES, data_dir=DATA, progress=None)
    assert not again.changed
    db.expire_all()
    assert counts() == before


def test_the_demo_holds_a_true_appeals_history(demo: DemoSummary, db: Session, clock: FrozenClock,
                                              settings: Settings, factory: sessionmaker[Session]) -> None:
    """One build (each takes seconds) checked three ways, the rebuild last."""
    _every_appeal_case_has_its_decision_and_appeal(demo, db, clock)
    _markets_are_set_up_and_the_logins_have_appeals_to_work(demo, db, clock, settings)
    _a_second_build_changes_nothing_in_appeals(demo, factory, clock, db)
