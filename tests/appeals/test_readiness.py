"""A market takes appeals only when every piece is there: the readiness check names each missing one."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.appeals import LETTERS, OUT_OF_COURT, AppealsWorld, make_appeals_world
from tests.factories.world import World
from trustdesk.appeals import letters, markets, repository
from trustdesk.appeals.markets import Gap
from trustdesk.appeals.models import Outcome, ReviewerQualification
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Invalid
from trustdesk.core.events import SYSTEM
from trustdesk.core.settings import Settings
from trustdesk.core.webhooks import WebhookEndpoint

NO_EN_TEXT = Gap("out_of_court", "no out-of-court settlement text in en", "write the out-of-court text for en")
NO_EN_PARTIAL = Gap("templates", "no partially overturned letter in en",
                    "add the partially_overturned decision letter in en")
NO_REVIEWER = [Gap("reviewers", f"nobody in an appeals team who speaks {lang} is qualified for Counterfeit goods "
                                "(counterfeit)", f"qualify a reviewer for counterfeit who speaks {lang}")
               for lang in ("es", "en")]
NO_RECEIVER = Gap("reversals", "no webhook endpoint receives enforcement.reversal_requested: an overturn could not "
                               "reach the enforcement system",
                  "add a webhook endpoint for enforcement.reversal_requested")


@pytest.fixture
def unopened(db: Session, world: World, clock: FrozenClock, settings: Settings) -> AppealsWorld:
    built = make_appeals_world(db, world, now=clock.now(), settings=settings, open_market=False)
    db.commit()
    return built


def _break_everything(db: Session, aw: AppealsWorld) -> None:
    template = repository.template_for(db, Outcome.PARTIALLY_OVERTURNED.value, "en")
    assert template is not None
    db.delete(template)
    qualification = db.scalar(select(ReviewerQualification).where(
        ReviewerQualification.user_id == aw.reviewer.user_id, ReviewerQualification.policy_id == aw.policy.id))
    assert qualification is not None
    db.delete(qualification)
    aw.settings_row.out_of_court = {"es": OUT_OF_COURT}
    endpoint = db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == "enforcement"))
    assert endpoint is not None
    endpoint.is_active = False
    db.flush()


def test_a_complete_market_is_ready(db: Session, unopened: AppealsWorld, clock: FrozenClock,
                                    settings: Settings) -> None:
    readiness = markets.check(db, unopened.market, settings=settings, now=clock.now())
    assert readiness.gaps == [] and readiness.ready
    assert not unopened.settings_row.is_open


def test_every_missing_piece_is_a_gap_and_opening_is_refused(db: Session, unopened: AppealsWorld,
                                                             clock: FrozenClock, settings: Settings) -> None:
    aw = unopened
    _break_everything(db, aw)
    readiness = markets.check(db, aw.market, settings=settings, now=clock.now())
    assert list(readiness.gaps) == [NO_EN_TEXT, NO_EN_PARTIAL, *NO_REVIEWER, NO_RECEIVER]
    assert not readiness.ready
    with pytest.raises(Conflict) as refused:
        markets.open_market(db, aw.market, actor=SYSTEM, settings=settings, now=clock.now())
    assert refused.value.status == 409 and refused.value.field == "market"
    assert refused.value.detail == ("ES is not ready for appeals: 5 gaps, first: no out-of-court settlement text "
                                    "in en")
    assert refused.value.extra["gaps"] == [{"area": g.area, "what": g.what, "fix": g.fix}
                                           for g in (NO_EN_TEXT, NO_EN_PARTIAL, *NO_REVIEWER, NO_RECEIVER)]
    assert not aw.settings_row.is_open

    # Fixed one by one, through the services where there is one.
    letters.save_template(db, outcome=Outcome.PARTIALLY_OVERTURNED, locale="en",
                          body=LETTERS[Outcome.PARTIALLY_OVERTURNED], user_id=aw.world.users["lead"].id,
                          now=clock.now())
    markets.configure(db, aw.market, languages=["es", "en"], window_months=6, dsa_applies=True,
                      human_review_required=True, qa_sample_percent=0,
                      out_of_court={"es": OUT_OF_COURT, "en": OUT_OF_COURT}, actor=SYSTEM, now=clock.now())
    assert list(markets.check(db, aw.market, settings=settings, now=clock.now()).gaps) == [*NO_REVIEWER,
                                                                                           NO_RECEIVER]
    db.add(ReviewerQualification(user_id=aw.reviewer.user_id, policy_id=aw.policy.id, granted_at=clock.now()))
    endpoint = db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.key == "enforcement"))
    assert endpoint is not None
    endpoint.is_active = True
    db.flush()
    assert markets.check(db, aw.market, settings=settings, now=clock.now()).ready
    opened = markets.open_market(db, aw.market, actor=SYSTEM, settings=settings, now=clock.now())
    assert opened.is_open and opened.opened_at == clock.now()


def test_a_market_without_settings(db: Session, unopened: AppealsWorld, clock: FrozenClock,
                                   settings: Settings) -> None:
    us = unopened.world.us
    readiness = markets.check(db, us, settings=settings, now=clock.now())
    assert list(readiness.gaps) == [Gap("settings", "US has no appeals settings",
                                        "trustdesk market configure US (or the console's Markets page)")]
    with pytest.raises(Conflict) as refused:
        markets.open_market(db, us, actor=SYSTEM, settings=settings, now=clock.now())
    assert refused.value.status == 409 and len(refused.value.extra["gaps"]) == 1


def test_configure_refuses_what_the_dsa_forbids(db: Session, unopened: AppealsWorld, clock: FrozenClock) -> None:
    aw = unopened
    def configure(*, window_months: int, human_review_required: bool) -> None:
        markets.configure(db, aw.market, languages=["es", "en"], window_months=window_months, dsa_applies=True,
                          human_review_required=human_review_required, qa_sample_percent=10,
                          out_of_court={"es": OUT_OF_COURT}, actor=SYSTEM, now=clock.now())

    with pytest.raises(Invalid) as short:
        configure(window_months=5, human_review_required=True)
    assert short.value.status == 422 and short.value.field == "window_months"
    with pytest.raises(Invalid) as automated:
        configure(window_months=6, human_review_required=False)
    assert automated.value.status == 422 and automated.value.field == "human_review_required"
    # Outside the DSA both are the market's choice.
    us = markets.configure(db, aw.world.us, languages=list(aw.world.us.languages), window_months=5,
                           dsa_applies=False, human_review_required=False, qa_sample_percent=10, out_of_court={},
                           actor=SYSTEM, now=clock.now())
    assert (us.window_months, us.human_review_required, us.is_open) == (5, False, False)
