"""The demo's quality reviews (``demo.qa``): scorecards and sampling rules, six weeks of weekly samples, reviews
scored by the scorecard's rules, a closed and an open calibration session, coaching notes waiting for the demo's
Tier 1 login, and the QA pages showing them. A small demo on SQLite only: the build is the slow part, and the
QA rules run on both databases in tests/feedback/test_qa_*.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.demo.test_demo import DATA
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import CaseEvent
from trustdesk.core.identity import User
from trustdesk.demo import qa as demo_qa
from trustdesk.demo.build import build_demo
from trustdesk.demo.catalog import DEMO_PASSWORD, email_of
from trustdesk.directory.models import Agent, Team, Tier
from trustdesk.feedback import qa
from trustdesk.feedback.models import (
    CoachingNote,
    QaCalibration,
    QaEvaluation,
    QaSample,
    QaSamplingRule,
    QaScorecard,
)

CASES = 400
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _build(factory: sessionmaker[Session], clock: FrozenClock) -> Any:
    return build_demo(factory, clock, seed=7, case_count=CASES, data_dir=DATA, progress=None)


def _expected_score(criteria: list[dict[str, Any]], answers: dict[str, Any]) -> float:
    """GLOSSARY's QA score, written out: any auto-fail not met is 0, else the met share of the weights."""
    if any(c["auto_fail"] and not answers[c["key"]]["met"] for c in criteria):
        return 0.0
    weights = sum(c["weight"] for c in criteria if not c["auto_fail"])
    met = sum(c["weight"] for c in criteria if not c["auto_fail"] and answers[c["key"]]["met"])
    return float(100.0 * met / weights)


def _counts(db: Session) -> dict[str, int]:
    return {model.__name__: int(db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (QaScorecard, QaSamplingRule, QaSample, QaEvaluation, QaCalibration, CoachingNote)} | {
        "qa_events": int(db.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.type.like("qa.%"))) or 0),
        "reviewed": int(db.scalar(select(func.count(QaSample.id)).where(QaSample.status == "reviewed")) or 0)}


def _user(db: Session, local: str) -> User:
    user = db.scalar(select(User).where(User.email == email_of(local)))
    assert user is not None
    return user


def test_the_demo_has_six_weeks_of_quality_reviews(factory: sessionmaker[Session], db: Session,
                                                   clock: FrozenClock) -> None:
    summary = _build(factory, clock)
    now = clock.now()

    # Scorecards: the Tier 1 one revised once (reviews keep their version), auto-fails carry no weight.
    cards = list(db.scalars(select(QaScorecard).order_by(QaScorecard.key, QaScorecard.version)))
    assert [(c.key, c.version, c.active) for c in cards] == [
        (demo_qa.T1_KEY, 1, False), (demo_qa.T1_KEY, 2, True), (demo_qa.T2_KEY, 1, True)]
    for card in cards:
        assert qa.total_weight(card.criteria) == 100
        gates = [c for c in card.criteria if c["auto_fail"]]
        assert len(gates) == 2 and all(c["weight"] == 0 for c in gates)
    by_id = {c.id: c for c in cards}
    v2 = next(c for c in cards if c.key == demo_qa.T1_KEY and c.version == 2)

    # A rule for every Tier 1 and Tier 2 team, on its tier's scorecard; none for the other teams.
    tiers = dict(db.execute(select(Team.id, Team.tier)).all())
    rules = {r.team_id: r for r in db.scalars(select(QaSamplingRule))}
    assert set(rules) == {tid for tid, tier in tiers.items() if tier in (Tier.T1.value, Tier.T2.value)}
    for team_id, rule in rules.items():
        assert team_id is not None
        assert rule.scorecard_key == (demo_qa.T1_KEY if tiers[team_id] == Tier.T1.value else demo_qa.T2_KEY)
        assert rule.include_low_csat and rule.include_escalated

    # Samples: the six full weeks before the build, random picks and forced ones, most of them reviewed.
    samples = list(db.scalars(select(QaSample)))
    this_week = qa.week_of(now)
    assert {s.week for s in samples} == {this_week - timedelta(days=7 * k) for k in range(1, 7)}
    reasons = {s.reason for s in samples}
    assert qa.SampleReason.RANDOM.value in reasons and reasons - {qa.SampleReason.RANDOM.value}
    open_samples = [s for s in samples if s.status == qa.SampleStatus.OPEN.value]
    assert 0 < len(open_samples) < len(samples) / 2

    # Reviews: each one's score is what its scorecard version computes; auto-fails are 0; an event each.
    reviews = list(db.scalars(select(QaEvaluation).where(QaEvaluation.calibration_id.is_(None))))
    assert len(reviews) == len(samples) - len(open_samples)
    sample_of = {s.id: s for s in samples}
    events = {e.data["evaluation_id"]: e for e in db.scalars(select(CaseEvent).where(CaseEvent.type == "qa.evaluated"))}
    reviewers = {_user(db, "qa").id, _user(db, "lead").id}
    for review in reviews:
        card = by_id[review.scorecard_id]
        assert set(review.answers) == {c["key"] for c in card.criteria}
        assert review.score == pytest.approx(_expected_score(card.criteria, review.answers))
        assert review.auto_failed == any(c["auto_fail"] and not review.answers[c["key"]]["met"]
                                         for c in card.criteria)
        assert review.reviewer_user_id in reviewers
        assert review.sample_id is not None
        sample = sample_of[review.sample_id]
        assert (sample.status, sample.case_id, sample.agent_id) == ("reviewed", review.case_id, review.agent_id)
        assert sample.created_at < review.submitted_at < now
        # The version in use when it was submitted.
        assert card.key == sample.scorecard_key
        assert (card.version == 2) == (card.key == demo_qa.T1_KEY and review.submitted_at >= v2.created_at)
        event = events[review.id]
        assert (event.case_id, event.actor_id, event.occurred_at) == (review.case_id, review.reviewer_user_id,
                                                                      review.submitted_at)
        assert event.data["score"] == round(review.score, 4) and event.data["auto_failed"] == review.auto_failed
    failed = [r for r in reviews if r.auto_failed]
    assert failed and all(r.score == 0 for r in failed) and len(failed) < len(reviews) / 10
    assert {r.reviewer_user_id for r in reviews} == reviewers

    # Agents' QA scores differ.
    scores = qa.agent_scores(db, since=now - timedelta(days=7 * 7), until=now)
    means = {round(s.mean_score or 0, 1) for s in scores}
    assert len(scores) >= 10 and len(means) >= 5 and max(means) - min(means) >= 20

    # Calibration: one closed, its agreement the pairwise figure of its two blind scores; one open.
    closed, open_ = (list(db.scalars(select(QaCalibration).where(QaCalibration.status == status)))
                     for status in ("closed", "open"))
    assert len(closed) == 1 and len(open_) == 1
    scored = qa.calibration_scores(db, closed[0].id)
    assert len(scored) == 2 and {e.reviewer_user_id for e in scored} == reviewers
    agreement = qa.calibration_agreement(by_id[closed[0].scorecard_id].criteria, [e.answers for e in scored])
    assert closed[0].agreement == pytest.approx(agreement.overall)
    assert 0 < agreement.overall < 1 and agreement.disagreements
    assert len(qa.calibration_scores(db, open_[0].id)) < len(qa.reviewer_ids(open_[0]))

    # Coaching: notes to a few agents; the demo's t1.us login has some waiting, and some are acknowledged.
    notes = list(db.scalars(select(CoachingNote)))
    jordan = db.scalar(select(Agent.id).where(Agent.user_id == _user(db, "t1.us").id))
    assert jordan is not None
    assert len({n.agent_id for n in notes}) >= 4
    assert qa.unacknowledged_notes(db, jordan) >= 1
    assert any(n.acknowledged_at is not None for n in notes if n.agent_id == jordan)
    for note in notes:
        assert note.created_at < now
        if note.evaluation_id is not None:
            about = db.get(QaEvaluation, note.evaluation_id)
            assert about is not None and about.agent_id == note.agent_id and about.submitted_at <= note.created_at

    # A second build finds it all and writes nothing.
    before = _counts(db)
    clock.advance(timedelta(hours=5))
    again = _build(factory, clock)
    db.expire_all()
    assert summary.changed and not again.changed
    assert _counts(db) == before


def _sign_in(client: TestClient, local: str) -> None:
    client.cookies.clear()
    client.get("/login")
    response = client.post("/login", data={"email": email_of(local), "password": DEMO_PASSWORD,
                                           "csrf_token": client.cookies.get("td_csrf")}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]


def test_the_qa_pages_show_the_demo_history(factory: sessionmaker[Session], client: TestClient,
                                            clock: FrozenClock) -> None:
    _build(factory, clock)

    _sign_in(client, "qa")
    queue = client.get("/console/qa")
    assert queue.status_code == 200
    assert "Nothing is waiting for review" not in queue.text and "open sample" in queue.text
    agents = client.get("/console/qa/agents")
    assert agents.status_code == 200
    assert "No review in this period" not in agents.text and "Jordan Blake" in agents.text
    calibrations = client.get("/console/qa/calibrations")
    assert calibrations.status_code == 200 and "Monthly calibration" in calibrations.text
    assert client.get("/console/qa/scorecards").status_code == 403  # QA reviews; the lead sets scorecards up

    _sign_in(client, "lead")
    scorecards = client.get("/console/qa/scorecards")
    assert scorecards.status_code == 200
    assert "Tier 1 conversation" in scorecards.text and "Tier 2 escalation" in scorecards.text

    _sign_in(client, "t1.us")
    coaching = client.get("/console/me/coaching")
    assert coaching.status_code == 200
    assert "to acknowledge" in coaching.text
    assert "No coaching note yet" not in coaching.text and "No review of your cases yet" not in coaching.text
    assert client.get("/console/qa").status_code == 403  # a vendor's agent reads only their own reviews
