"""Reviewing a solved case: every criterion answered, one review per reviewer per case, never one's own
case, the sample marked reviewed, a ``qa.evaluated`` event; and the agent QA score of a period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, events_of
from tests.factories.directory import make_agent
from tests.factories.identity import make_token, make_user
from tests.factories.qa import actor_of, answers, make_scorecard, sampling_rule, solved_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.permissions import Role
from trustdesk.feedback import qa
from trustdesk.feedback.models import QaSample

WEEK = date(2026, 3, 2)
AFTER = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def _sampled_case(db: Session, world: World, clock: FrozenClock, **kwargs: object) -> int:
    make_scorecard(db, world, now=clock.now())
    sampling_rule(db, world, now=clock.now(), team=world.t1_a, percent=100)
    case = solved_case(db, world, now=clock.now(), **kwargs)  # type: ignore[arg-type]
    qa.sample_week(db, WEEK, now=AFTER)
    db.commit()
    clock.set(AFTER + timedelta(hours=1))
    return case.id


def test_a_reviewer_scores_a_sampled_case(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = _sampled_case(db, world, clock)

    created = client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json={
        "case_id": case_id, "answers": answers("tone") | {"greeting": {"met": True, "comment": "Warm\x07 opening"}},
        "comment": "Good, but curt."})

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["score"], body["auto_failed"], body["passed"], body["scorecard_key"], body["scorecard_version"]) == (
        70.0, False, False, "buyer-support", 1)
    assert body["agent_id"] == world.agents["agent_t1"].id and body["reviewer_user_id"] == world.users["qa"].id
    assert body["answers"]["greeting"] == {"met": True, "comment": "Warm opening"}
    db.expire_all()
    sample = qa.sample_of(db, case_id)
    assert sample is not None and sample.status == "reviewed" and body["sample_id"] == sample.id
    [event] = [e for e in events_of(db, case_id) if e.type == "qa.evaluated"]
    assert event.actor_id == world.users["qa"].id
    assert event.data == {"evaluation_id": body["id"], "scorecard_key": "buyer-support", "scorecard_version": 1,
                          "score": 70.0, "auto_failed": False, "agent_id": world.agents["agent_t1"].id,
                          "sample_reason": "random"}
    assert client.get("/api/v1/qa/samples?status=open", headers=world.auth("qa")).json()["items"] == []
    listed = client.get(f"/api/v1/qa/evaluations?case_id={case_id}", headers=world.auth("lead")).json()["items"]
    assert [e["id"] for e in listed] == [body["id"]]


def test_an_auto_fail_scores_zero(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = _sampled_case(db, world, clock)

    created = client.post("/api/v1/qa/evaluations", headers=world.auth("lead"), json={
        "case_id": case_id, "answers": answers("resolution")})

    assert created.status_code == 201 and (created.json()["score"], created.json()["auto_failed"]) == (0.0, True)


def test_one_review_per_reviewer_per_case(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = _sampled_case(db, world, clock)
    body = {"case_id": case_id, "answers": answers()}
    assert client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json=body).status_code == 201

    assert_problem(client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json=body), 409, "case_id")
    assert client.post("/api/v1/qa/evaluations", headers=world.auth("lead"), json=body).status_code == 201


def test_nobody_reviews_their_own_case(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    own = solved_case(db, world, now=clock.now(), agent="qa", escalate=True)  # the QA user works T2 cases too
    db.commit()

    refused = client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json={
        "case_id": own.id, "scorecard_key": "buyer-support", "answers": answers()})

    assert_problem(refused, 403, "case_id")
    assert not [e for e in events_of(db, own.id) if e.type == "qa.evaluated"]
    assert client.post("/api/v1/qa/evaluations", headers=world.auth("lead"), json={
        "case_id": own.id, "scorecard_key": "buyer-support", "answers": answers()}).status_code == 201


def test_bad_reviews_are_refused_naming_the_field(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    case_id = _sampled_case(db, world, clock)
    partial = answers()
    del partial["expectations"]
    for body, status, field in (
            ({"case_id": case_id, "answers": partial}, 422, "answers.expectations"),
            ({"case_id": case_id, "answers": answers() | {"tone": {"met": None}}}, 422, "answers.tone.met"),
            ({"case_id": case_id, "answers": answers() | {"speed": {"met": True}}}, 422, "answers.speed"),
            ({"case_id": case_id, "answers": answers(), "comment": "x" * 4001}, 422, "comment"),
            ({"case_id": case_id, "answers": answers(), "scorecard_key": "nope"}, 404, "scorecard_key"),
            ({"case_id": 999_999, "answers": answers()}, 404, "case_id"),
            ({"case_id": case_id, "answers": answers(), "stars": 5}, 422, "stars")):
        assert_problem(client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json=body), status, field)
    open_case = solved_case(db, world, now=clock.now())
    not_sampled = solved_case(db, world, now=clock.now())
    from trustdesk.cases import service as cases
    from trustdesk.cases.models import Status
    from trustdesk.core.events import SYSTEM
    cases.change_status(db, open_case, Status.OPEN, actor=SYSTEM, now=clock.now())
    db.commit()
    assert_problem(client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json={
        "case_id": open_case.id, "scorecard_key": "buyer-support", "answers": answers()}), 409, "case_id")
    assert_problem(client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json={
        "case_id": not_sampled.id, "answers": answers()}), 422, "scorecard_key")
    assert qa.list_evaluations(db) == []
    sample = qa.sample_of(db, case_id)
    assert sample is not None and sample.status == "open"


def test_reviews_are_for_in_house_qa_staff(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = _sampled_case(db, world, clock)
    vendor_lead = make_user(db, Role.LEAD, now=clock.now(), email="vendor.lead@example.test", name="Vendor Lead")
    make_agent(db, vendor_lead, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    token = make_token(db, vendor_lead, now=clock.now())
    db.commit()
    body = {"case_id": case_id, "answers": answers()}

    assert client.post("/api/v1/qa/evaluations", json=body).status_code == 401
    for who in ("agent_t1", "agent_t2", "reviewer", "buyer"):
        assert_problem(client.post("/api/v1/qa/evaluations", headers=world.auth(who), json=body), 403)
    assert_problem(client.post("/api/v1/qa/evaluations", headers={"Authorization": f"Bearer {token}"}, json=body),
                   403)
    assert_problem(client.get("/api/v1/qa/evaluations", headers=world.auth("agent_t1")), 403)
    assert client.get("/api/v1/qa/evaluations").status_code == 401
    assert db.get(QaSample, qa.sample_of(db, case_id).id).status == "open"  # type: ignore[union-attr]


def test_the_agent_qa_score_of_a_period(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now(), pass_mark=70)
    cases = [solved_case(db, world, now=clock.now()) for _ in range(4)]
    other = solved_case(db, world, now=clock.now(), agent="agent_t1_b")
    card = qa.active_scorecard(db, "buyer-support")
    qa_actor, lead = actor_of(world, "qa"), actor_of(world, "lead")
    t0 = clock.now() + timedelta(days=1)
    # agent_t1: 100, 60 (below 70), 0 (auto-fail), and one outside the period; calibration scores never count.
    for case, not_met, at in ((cases[0], (), t0), (cases[1], ("expectations",), t0),
                              (cases[2], ("resolution",), t0 + timedelta(days=2)),
                              (cases[3], (), t0 + timedelta(days=40))):
        qa.evaluate(db, case, reviewer=qa_actor, scorecard=card, answers=answers(*not_met), now=at)
    qa.evaluate(db, other, reviewer=qa_actor, scorecard=card, answers=answers("greeting"), now=t0)
    calibration = qa.open_calibration(db, cases[0], scorecard_key="buyer-support",
                                      reviewer_user_ids=[world.users["lead"].id, world.users["admin"].id],
                                      actor=lead, now=t0)
    qa.submit_calibration(db, calibration, reviewer=lead, answers=answers("tone", "understood"), now=t0)

    scores = {s.agent_id: s for s in qa.agent_scores(db, since=t0 - timedelta(days=1), until=t0 + timedelta(days=28))}

    mine = scores[world.agents["agent_t1"].id]
    assert (mine.evaluations, mine.mean_score, mine.passed, mine.pass_rate, mine.auto_fails) == (
        3, (100 + 60 + 0) / 3, 1, 1 / 3, 1)
    theirs = scores[world.agents["agent_t1_b"].id]
    assert (theirs.evaluations, theirs.mean_score, theirs.passed) == (1, 90.0, 1)
    db.commit()
    clock.set(t0 + timedelta(days=3))
    listed = client.get("/api/v1/qa/agent-scores", headers=world.auth("lead")).json()
    row = next(r for r in listed["items"] if r["agent_id"] == world.agents["agent_t1"].id)
    assert (row["evaluations"], row["passed"], row["auto_fails"], row["name"]) == (3, 1, 1, "agent_t1".title())
    assert row["mean_score"] == (100 + 60 + 0) / 3
    assert_problem(client.get("/api/v1/qa/agent-scores", headers=world.auth("agent_t1")), 403)
    assert client.get("/api/v1/qa/agent-scores").status_code == 401
    assert_problem(client.get("/api/v1/qa/agent-scores?since=2026-03-02T00:00:00", headers=world.auth("lead")), 422,
                   "since")
