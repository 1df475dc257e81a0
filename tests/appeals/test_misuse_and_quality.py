"""DSA Art. 23: a warning, then a suspension from appealing, each a person's decision with reasons; and
the independent second review that measures appeal accuracy."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.appeals import AppealsWorld, decide, make_appeal, make_decision
from trustdesk.appeals import misuse, quality, service
from trustdesk.appeals.models import Appeal, AppealEvent, MisuseKind, Outcome, QaStatus
from trustdesk.cases.models import Party
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Forbidden, Invalid
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings

WARNING = "Three appeals in a month repeated the same claim without any evidence, after we had explained why."
SUSPENSION = "After the warning, three more appeals repeated the same claim without evidence."


def _unfounded(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings, count: int,
               prefix: str) -> list[Appeal]:
    appeals = []
    for index in range(count):
        decision = make_decision(db, aw, now=clock.now(), external_id=f"{prefix}-{index}")
        appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
        clock.advance(hours=1)
        appeals.append(decide(db, aw, appeal, Outcome.UPHELD, now=clock.now(), settings=settings,
                              manifestly_unfounded=True))
    return appeals


def test_a_suspension_from_appealing_comes_after_a_warning(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                            settings: Settings) -> None:
    lead = aw.actor("lead")
    _unfounded(db, aw, clock, settings, 3, "first")
    party = db.get(Party, db.scalars(select(Appeal.party_id)).first())
    assert party is not None
    state = misuse.status(db, party, now=clock.now())
    assert state.may_warn and not state.may_suspend
    with pytest.raises(Conflict) as early:
        misuse.suspend(db, party, reasons=SUSPENSION, days=30, actor=lead, now=clock.now())
    assert "after a warning" in early.value.detail
    with pytest.raises(Invalid) as terse:
        misuse.warn(db, party, reasons="spam", actor=lead, now=clock.now())
    assert terse.value.field == "reasons"
    with pytest.raises(Forbidden):
        misuse.warn(db, party, reasons=WARNING, actor=aw.reviewer, now=clock.now())
    warning = misuse.warn(db, party, reasons=WARNING, actor=lead, now=clock.now())
    assert warning.kind == MisuseKind.WARNING.value and len(warning.unfounded_appeal_ids) == 3
    # The appeals before the warning do not count again: three more are needed.
    clock.advance(days=1)
    _unfounded(db, aw, clock, settings, 2, "second")
    with pytest.raises(Conflict) as short:
        misuse.suspend(db, party, reasons=SUSPENSION, days=30, actor=lead, now=clock.now())
    assert "2 manifestly unfounded appeals since the warning" in short.value.detail
    _unfounded(db, aw, clock, settings, 1, "third")
    with pytest.raises(Invalid) as too_long:
        misuse.suspend(db, party, reasons=SUSPENSION, days=91, actor=lead, now=clock.now())
    assert too_long.value.field == "days"
    suspension = misuse.suspend(db, party, reasons=SUSPENSION, days=30, actor=lead, now=clock.now())
    assert suspension.ends_at == clock.now() + timedelta(days=30)
    kinds = [e.type for e in db.scalars(select(AppealEvent).where(AppealEvent.party_id == party.id,
                                                                  AppealEvent.type.like("party.%")))]
    assert kinds == ["party.appeals_warned", "party.appeals_suspended"]
    # While it runs, a new appeal is refused with its end and reasons; afterwards it is accepted.
    fresh = make_decision(db, aw, now=clock.now(), external_id="after")
    with pytest.raises(Forbidden) as refused:
        make_appeal(db, aw, fresh, now=clock.now(), settings=settings)
    assert refused.value.field == "decision"
    assert "Art. 23" in refused.value.detail and SUSPENSION in refused.value.detail
    clock.advance(days=30, minutes=1)
    assert make_appeal(db, aw, fresh, now=clock.now(), settings=settings).status == "open"


def test_a_sampled_appeal_gets_an_independent_second_review(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                            settings: Settings) -> None:
    aw.settings_row.qa_sample_percent = 100
    agreed_on = make_appeal(db, aw, make_decision(db, aw, now=clock.now(), external_id="qa-1"), now=clock.now(),
                            settings=settings)
    disputed = make_appeal(db, aw, make_decision(db, aw, now=clock.now(), external_id="qa-2"), now=clock.now(),
                           settings=settings)
    clock.advance(hours=4)
    decide(db, aw, agreed_on, Outcome.UPHELD, now=clock.now(), settings=settings)
    decide(db, aw, disputed, Outcome.UPHELD, now=clock.now(), settings=settings)
    first, second = (quality.repository.qa_review_of(db, a.id) for a in (agreed_on, disputed))
    assert first is not None and second is not None and first.status == QaStatus.PENDING.value
    # The decider does not review their own decision, even when they also do second reviews.
    both_hats = dataclasses.replace(aw.reviewer, permissions=aw.reviewer.permissions | {Perm.APPEALS_QA})
    with pytest.raises(Forbidden) as own:
        quality.submit(db, first, outcome=Outcome.UPHELD, notes="", actor=both_hats, now=clock.now())
    assert own.value.field == "reviewer"
    qa = aw.actor("qa")
    quality.submit(db, first, outcome=Outcome.UPHELD, notes="Evidence read the same way.", actor=qa,
                   now=clock.now())
    quality.submit(db, second, outcome=Outcome.OVERTURNED, notes="The invoices look genuine to me.", actor=qa,
                   now=clock.now())
    assert (first.status, second.status) == (QaStatus.AGREED.value, QaStatus.DISAGREED.value)
    with pytest.raises(Conflict):
        quality.submit(db, first, outcome=Outcome.UPHELD, notes="", actor=qa, now=clock.now())
    figures = quality.figures(db, since=clock.now() - timedelta(days=1), until=clock.now() + timedelta(seconds=1))
    assert (figures.second_reviewed, figures.agreed, figures.in_calibration) == (2, 1, 1)
    assert figures.accuracy == 0.5
    [chris] = figures.reviewers
    assert (chris.user_id, chris.decided, chris.second_reviewed, chris.agreed, chris.median_hours) == (
        aw.reviewer.user_id, 2, 2, 1, 4.0)
    with pytest.raises(Forbidden):
        quality.calibrate(db, second, outcome=Outcome.UPHELD, note="Policy 4.2 needs proof.", actor=qa,
                          now=clock.now())
    quality.calibrate(db, second, outcome=Outcome.UPHELD, note="Policy 4.2 needs the distributor's proof.",
                      actor=aw.actor("lead"), now=clock.now())
    assert second.status == QaStatus.CALIBRATED.value and second.calibrated_outcome == "upheld"
    after = quality.figures(db, since=clock.now() - timedelta(days=1), until=clock.now() + timedelta(seconds=1))
    assert (after.second_reviewed, after.agreed, after.in_calibration) == (2, 1, 0)


def test_the_sample_follows_the_configured_share(db: Session) -> None:
    assert not any(quality.in_sample(i, 0) for i in range(1, 500))
    assert all(quality.in_sample(i, 100) for i in range(1, 500))
    share = sum(quality.in_sample(i, 10) for i in range(1, 5001)) / 5000
    assert 0.08 < share < 0.12


def test_the_original_moderator_does_not_second_review(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                       settings: Settings) -> None:
    aw.moderator = aw.world.users["qa"]
    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    decide(db, aw, appeal, Outcome.UPHELD, now=clock.now(), settings=settings)
    review = quality.sample(db, appeal, actor=aw.actor("lead"), now=clock.now())
    with pytest.raises(Forbidden) as refused:
        quality.submit(db, review, outcome=Outcome.UPHELD, notes="", actor=aw.actor("qa"), now=clock.now())
    assert "original decision" in refused.value.detail
    assert service.measures_of(decision) == ["decision_visibility"]
