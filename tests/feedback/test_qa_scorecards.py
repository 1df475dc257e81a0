"""QA scorecards and the QA score: the maths (weights, auto-fail -> 0), validation naming
``criteria.<i>.<field>``, and versions (a review keeps the version it was scored on)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.qa import CRITERIA, answers, make_scorecard, solved_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Invalid
from trustdesk.feedback import qa
from trustdesk.feedback.models import QaScorecard

# ---------------------------------------------------------------- the QA score


def test_the_score_is_the_weights_met_over_all_weights() -> None:
    criteria = qa.validate_criteria(CRITERIA)  # weights 10, 20, 30, 40 and an auto-fail one
    assert qa.total_weight(criteria) == 100

    assert qa.qa_score(criteria, qa.validate_answers(criteria, answers())) == (100.0, False)
    assert qa.qa_score(criteria, qa.validate_answers(criteria, answers("expectations"))) == (60.0, False)
    assert qa.qa_score(criteria, qa.validate_answers(criteria, answers("greeting", "tone"))) == (60.0, False)
    nothing = answers("greeting", "understood", "tone", "expectations")
    assert qa.qa_score(criteria, qa.validate_answers(criteria, nothing)) == (0.0, False)


def test_an_unmet_auto_fail_criterion_sets_the_score_to_zero() -> None:
    criteria = qa.validate_criteria(CRITERIA)

    assert qa.qa_score(criteria, qa.validate_answers(criteria, answers("resolution"))) == (0.0, True)
    assert qa.qa_score(criteria, qa.validate_answers(criteria, answers("resolution", "tone"))) == (0.0, True)


def test_weights_need_not_add_up_to_a_hundred() -> None:
    criteria = qa.validate_criteria([{"key": "a", "label": "A", "weight": 1},
                                     {"key": "b", "label": "B", "weight": 2},
                                     {"key": "c", "label": "C", "weight": 0.5}])
    score, failed = qa.qa_score(criteria, qa.validate_answers(criteria, answers("b", keys=["a", "b", "c"])))

    assert score == pytest.approx(100 * 1.5 / 3.5) and not failed
    assert criteria[2]["weight"] == 0.5 and criteria[0]["weight"] == 1  # stored as given


# ---------------------------------------------------------------- validation


def _invalid(criteria: Any) -> str | None:
    with pytest.raises(Invalid) as refused:
        qa.validate_criteria(criteria)
    return refused.value.field


def _good(**changes: Any) -> list[dict[str, Any]]:
    rows = [dict(c) for c in CRITERIA]
    for index_field, value in changes.items():
        index, name = index_field.removeprefix("c").split("_", 1)
        rows[int(index)][name] = value
    return rows


@pytest.mark.parametrize(("criteria", "field"), [
    ([], "criteria"),
    ("greeting", "criteria"),
    ([{"key": f"c{i}", "label": "L", "weight": 1} for i in range(31)], "criteria"),
    (["greeting"], "criteria.0"),
    (_good(c1_key="greeting"), "criteria.1.key"),
    (_good(c0_key="Greeting!"), "criteria.0.key"),
    (_good(c0_key=""), "criteria.0.key"),
    (_good(c3_label="  "), "criteria.3.label"),
    (_good(c3_label=7), "criteria.3.label"),
    (_good(c1_weight=101), "criteria.1.weight"),
    (_good(c1_weight=-1), "criteria.1.weight"),
    (_good(c1_weight="20"), "criteria.1.weight"),
    (_good(c1_weight=True), "criteria.1.weight"),
    (_good(c1_weight=float("nan")), "criteria.1.weight"),
    (_good(c2_weight=5), "criteria.2.weight"),  # an auto-fail criterion carries no weight
    (_good(c2_auto_fail="yes"), "criteria.2.auto_fail"),
    (_good(c4_colour="red"), "criteria.4.colour"),
    (_good(c4_guidance="x" * 2001), "criteria.4.guidance"),
    ([{"key": "a", "label": "A", "weight": 0}, {"key": "b", "label": "B", "auto_fail": True}], "criteria"),
    ([{"key": "a", "label": "A"}], "criteria.0.weight"),
])
def test_bad_criteria_are_refused_naming_the_field(criteria: Any, field: str) -> None:
    assert _invalid(criteria) == field


def test_answers_must_cover_every_criterion() -> None:
    criteria = qa.validate_criteria(CRITERIA)
    partial = answers()
    del partial["tone"]
    for bad, field in ((partial, "answers.tone"), (answers() | {"speed": {"met": True}}, "answers.speed"),
                       (answers() | {"tone": {"met": "yes"}}, "answers.tone.met"),
                       (answers() | {"tone": True}, "answers.tone"),
                       (answers() | {"tone": {"met": True, "mood": 1}}, "answers.tone.mood"),
                       (answers() | {"tone": {"met": True, "comment": "x" * 2001}}, "answers.tone.comment"),
                       ([], "answers")):
        with pytest.raises(Invalid) as refused:
            qa.validate_answers(criteria, bad)
        assert refused.value.field == field, bad


def test_the_api_names_the_bad_criterion(client: TestClient, world: World) -> None:
    body = {"key": "buyer-support", "name": "Buyer support", "criteria": _good(c2_weight=150)}

    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("lead"), json=body),
                   422, "criteria.2.weight")
    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("lead"),
                               json=body | {"criteria": CRITERIA, "pass_mark": 120}), 422, "pass_mark")
    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("lead"),
                               json=body | {"criteria": CRITERIA, "key": "Buyer Support"}), 422, "key")
    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("lead"),
                               json=body | {"criteria": CRITERIA, "name": " "}), 422, "name")


# ---------------------------------------------------------------- versions


def test_a_new_version_is_used_from_then_on_and_old_reviews_keep_theirs(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    created = client.post("/api/v1/qa/scorecards", headers=world.auth("lead"),
                          json={"key": "buyer-support", "name": "Buyer support", "criteria": CRITERIA})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["criteria"][2] == {
        "key": "resolution", "label": "Correct resolution per policy", "weight": 0, "auto_fail": True,
        "guidance": ""}
    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("lead"),
                               json={"key": "buyer-support", "name": "Again", "criteria": CRITERIA}), 409, "key")
    first, second = (solved_case(db, world, now=clock.now() - timedelta(days=1)) for _ in range(2))
    db.commit()
    old = client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json={
        "case_id": first.id, "scorecard_key": "buyer-support", "answers": answers("expectations")})
    assert old.status_code == 201, old.text
    assert (old.json()["score"], old.json()["scorecard_version"], old.json()["passed"]) == (60.0, 1, False)

    clock.advance(timedelta(hours=1))
    fewer = [c for c in CRITERIA if c["key"] != "expectations"]
    revised = client.post("/api/v1/qa/scorecards/buyer-support/versions", headers=world.auth("lead"),
                          json={"name": "Buyer support (2027)", "criteria": fewer, "pass_mark": 70})
    assert revised.status_code == 201, revised.text
    assert revised.json()["version"] == 2 and revised.json()["active"]
    new = client.post("/api/v1/qa/evaluations", headers=world.auth("qa"), json={
        "case_id": second.id, "scorecard_key": "buyer-support", "answers": answers(keys=[c["key"] for c in fewer])})

    assert new.status_code == 201, new.text
    assert (new.json()["scorecard_version"], new.json()["score"]) == (2, 100.0)
    kept = client.get(f"/api/v1/qa/evaluations/{old.json()['id']}", headers=world.auth("qa")).json()
    assert (kept["scorecard_version"], kept["score"], kept["answers"]["expectations"]["met"]) == (1, 60.0, False)
    versions = client.get("/api/v1/qa/scorecards/buyer-support/versions", headers=world.auth("qa")).json()
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    assert client.get("/api/v1/qa/scorecards/buyer-support", headers=world.auth("qa")).json()["version"] == 2
    assert client.get("/api/v1/qa/scorecards/buyer-support?version=1",
                      headers=world.auth("qa")).json()["name"] == "Buyer support"
    assert db.scalar(select(func.count(QaScorecard.id)).where(QaScorecard.active.is_(True))) == 1


def test_a_revision_is_validated_like_a_new_scorecard(client: TestClient, world: World, db: Session,
                                                      clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    db.commit()

    assert_problem(client.post("/api/v1/qa/scorecards/buyer-support/versions", headers=world.auth("lead"),
                               json={"name": "B", "criteria": _good(c0_key="understood")}), 422, "criteria.1.key")
    assert_problem(client.post("/api/v1/qa/scorecards/nope/versions", headers=world.auth("lead"),
                               json={"name": "B", "criteria": CRITERIA}), 404, "scorecard_key")
    assert [c.version for c in qa.versions_of(db, "buyer-support")] == [1]


def test_only_qa_admins_write_scorecards(client: TestClient, world: World) -> None:
    body = {"key": "buyer-support", "name": "Buyer support", "criteria": CRITERIA}

    assert client.post("/api/v1/qa/scorecards", json=body).status_code == 401
    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("qa"), json=body), 403)
    assert_problem(client.post("/api/v1/qa/scorecards", headers=world.auth("agent_t2"), json=body), 403)
    assert_problem(client.get("/api/v1/qa/scorecards", headers=world.auth("agent_t1")), 403)
    assert client.get("/api/v1/qa/scorecards").status_code == 401
    assert client.get("/api/v1/qa/scorecards", headers=world.auth("qa")).json() == []
