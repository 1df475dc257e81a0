"""Weekly QA sampling over the case facts: ceil(percent x n) per agent (at least the minimum), picked by a
fixed draw (the same cases on every run), plus every low-CSAT and escalated case; the hourly job samples
the week that ended."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem
from tests.factories.qa import make_scorecard, sampling_rule, solved_case
from tests.factories.world import World
from trustdesk.cases.models import Case
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.feedback import qa, qa_jobs
from trustdesk.feedback.models import QaSample

WEEK = date(2026, 3, 2)  # the Monday of the test clock's week
AFTER = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # the next Monday: the week has ended


def _solve_many(db: Session, world: World, clock: FrozenClock, n: int, agent: str = "agent_t1",
                **kwargs: object) -> list[Case]:
    return [solved_case(db, world, now=clock.now() + timedelta(hours=i % 90, minutes=i), agent=agent,
                        **kwargs) for i in range(n)]  # type: ignore[arg-type]


def _samples(db: Session) -> dict[int, str]:
    return {s.case_id: s.reason for s in db.scalars(select(QaSample))}


@pytest.mark.parametrize(("percent", "solved", "minimum", "picked"), [
    (5, 30, 1, 2),  # 1.5 -> 2
    (10, 30, 1, 3),
    (10, 31, 1, 4),  # 3.1 -> 4
    (5, 4, 1, 1),  # at least the minimum
    (5, 4, 3, 3),
    (5, 2, 3, 2),  # never more than they solved
    (0, 10, 0, 0),
    (0.7, 1000, 0, 7),  # decimal maths: 0.7 % of 1000 is 7, not 8
    (100, 9, 1, 9),
    (50, 0, 1, 0),  # nobody is sampled for a week without solves
])
def test_the_random_share_per_agent(percent: float, solved: int, minimum: int, picked: int) -> None:
    assert qa.random_quota(percent, solved, minimum) == picked


def test_each_agent_gets_their_share_and_every_low_csat_and_escalated_case(
        db: Session, world: World, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    sampling_rule(db, world, now=clock.now(), team=world.t1_a, percent=10)
    sampling_rule(db, world, now=clock.now(), team=world.t1_b, percent=5, minimum=1)
    sampling_rule(db, world, now=clock.now(), team=world.t2, percent=0, minimum=0)
    plain = _solve_many(db, world, clock, 20)
    low = [solved_case(db, world, now=clock.now() + timedelta(hours=3), csat=score) for score in (1, 2)]
    fine = solved_case(db, world, now=clock.now() + timedelta(hours=4), csat=3)
    other_agent = _solve_many(db, world, clock, 3, agent="agent_t1_b")
    escalated = solved_case(db, world, now=clock.now() + timedelta(hours=5), agent="agent_t2", escalate=True)
    last_week = solved_case(db, world, now=clock.now() - timedelta(days=1))
    next_week = solved_case(db, world, now=AFTER - timedelta(hours=2))

    result = qa.sample_week(db, WEEK, now=AFTER)

    got = _samples(db)
    # agent_t1 solved 23 that week: ceil(10 % x 23) = 3 at random, besides the two low ratings.
    assert (result.random, result.low_csat, result.escalated) == (3 + 1, 2, 1)
    assert {c.id for c in low} <= got.keys() and {got[c.id] for c in low} == {"low_csat"}
    assert got[escalated.id] == "escalated"  # T2's rule samples no share, but every escalation
    random_t1 = {cid for cid, reason in got.items() if reason == "random" and cid in {c.id for c in [*plain, fine]}}
    assert len(random_t1) == 3
    assert len([c for c in other_agent if c.id in got]) == 1  # ceil(5 % x 3) = 1
    assert last_week.id not in got and next_week.id not in got
    sample = db.scalar(select(QaSample).where(QaSample.case_id == escalated.id))
    assert sample is not None and (sample.week, sample.agent_id, sample.status, sample.scorecard_key) == (
        WEEK, world.agents["agent_t2"].id, "open", "buyer-support")


def test_the_draw_is_the_same_on_every_run(db: Session, world: World, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    sampling_rule(db, world, now=clock.now(), team=world.t1_a, percent=20)
    cases = _solve_many(db, world, clock, 15)

    first = qa.sample_week(db, WEEK, now=AFTER)
    picked = _samples(db)
    again = qa.sample_week(db, WEEK, now=AFTER + timedelta(hours=1))

    assert first.random == 3 and again.total == 0 and _samples(db) == picked
    # The picks are the lowest places in the week's fixed order of these cases, whoever runs it.
    expected = sorted(cases, key=lambda c: (qa.pick_order(c.id, WEEK), c.id))[:3]
    assert set(picked) == {c.id for c in expected}
    db.execute(delete(QaSample))
    qa.sample_week(db, WEEK, now=AFTER)
    assert _samples(db) == picked
    db.execute(delete(QaSample))
    qa.sample_week(db, WEEK, now=AFTER, seed=11)
    assert len(_samples(db)) == 3  # another seed: another draw of the same size


def test_late_facts_add_only_what_is_missing(db: Session, world: World, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    sampling_rule(db, world, now=clock.now(), team=world.t1_a, percent=10)
    _solve_many(db, world, clock, 10)
    assert qa.sample_week(db, WEEK, now=AFTER).random == 1
    _solve_many(db, world, clock, 2)  # folded after the first run: 12 solved -> 2 at random
    bad = solved_case(db, world, now=clock.now() + timedelta(hours=8), csat=1)

    second = qa.sample_week(db, WEEK, now=AFTER + timedelta(hours=1))

    assert (second.random, second.low_csat) == (1, 1)
    assert _samples(db)[bad.id] == "low_csat"
    assert len([r for r in _samples(db).values() if r == "random"]) == 2


def test_switched_off_rules_and_the_default_rule(db: Session, world: World, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    sampling_rule(db, world, now=clock.now(), team=None, percent=0, minimum=0, low_csat=False, escalated=True)
    low = solved_case(db, world, now=clock.now(), csat=1)
    escalated = solved_case(db, world, now=clock.now(), agent="agent_t2", escalate=True)

    qa.sample_week(db, WEEK, now=AFTER)

    assert _samples(db) == {escalated.id: "escalated"}  # the default rule covers teams without their own
    assert low.id not in _samples(db)


def test_bad_weeks_and_rules_are_refused(db: Session, world: World, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    for week, now in ((WEEK + timedelta(days=1), AFTER), (WEEK, AFTER - timedelta(days=2))):
        with pytest.raises(Invalid) as refused:
            qa.sample_week(db, week, now=now)
        assert refused.value.field == "week"
    for kwargs, field in (({"percent": 101}, "percent_per_agent"), ({"minimum": -1}, "min_per_agent"),
                          ({"scorecard_key": "nope"}, "scorecard_key")):
        with pytest.raises((Invalid, NotFound)) as bad:
            sampling_rule(db, world, now=clock.now(), team=world.t1_a, **kwargs)  # type: ignore[arg-type]
        assert bad.value.field == field
    assert qa.sample_week(db, WEEK, now=AFTER).total == 0  # no rule: nothing sampled


def test_the_hourly_job_samples_the_week_that_ended(factory: sessionmaker[Session], db: Session, world: World,
                                                    clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    sampling_rule(db, world, now=clock.now(), team=world.t1_a, percent=10)
    _solve_many(db, world, clock, 10)
    db.commit()

    sunday = FrozenClock(datetime(2026, 3, 8, 23, 0, tzinfo=UTC))
    assert qa_jobs.sample_last_week(factory, sunday) == 0  # the week has not ended: it samples the one before
    monday = FrozenClock(datetime(2026, 3, 9, 0, 30, tzinfo=UTC))
    assert qa_jobs.sample_last_week(factory, monday) == 1
    monday.advance(timedelta(hours=1))
    assert qa_jobs.sample_last_week(factory, monday) == 0
    db.expire_all()
    assert [s.week for s in db.scalars(select(QaSample))] == [WEEK]


def test_sampling_over_the_api(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    make_scorecard(db, world, now=clock.now())
    db.commit()
    rule = client.put("/api/v1/qa/sampling-rules", headers=world.auth("lead"), json={
        "team_id": world.t1_a.id, "scorecard_key": "buyer-support", "percent_per_agent": 50})
    assert rule.status_code == 200, rule.text
    cases = _solve_many(db, world, clock, 4)
    db.commit()
    clock.set(AFTER)

    ran = client.post("/api/v1/qa/samples/run", headers=world.auth("lead"), json={"week": "2026-03-02"})

    assert ran.status_code == 200, ran.text
    assert ran.json() == {"week": "2026-03-02", "random": 2, "low_csat": 0, "escalated": 0, "total": 2}
    listed = client.get("/api/v1/qa/samples?status=open", headers=world.auth("qa")).json()["items"]
    assert len(listed) == 2 and {s["case_id"] for s in listed} <= {c.id for c in cases}
    assert client.get("/api/v1/qa/sampling-rules", headers=world.auth("qa")).json()[0]["percent_per_agent"] == 50
    assert_problem(client.post("/api/v1/qa/samples/run", headers=world.auth("lead"), json={"week": "2026-03-03"}),
                   422, "week")
    assert_problem(client.put("/api/v1/qa/sampling-rules", headers=world.auth("lead"), json={
        "team_id": 999_999, "scorecard_key": "buyer-support"}), 422, "team_id")
    assert_problem(client.post("/api/v1/qa/samples/run", headers=world.auth("qa"), json={"week": "2026-03-02"}), 403)
    assert_problem(client.put("/api/v1/qa/sampling-rules", headers=world.auth("qa"), json={
        "team_id": None, "scorecard_key": "buyer-support"}), 403)
    assert client.post("/api/v1/qa/samples/run", json={"week": "2026-03-02"}).status_code == 401
    assert_problem(client.get("/api/v1/qa/samples", headers=world.auth("agent_t1")), 403)
    assert client.get("/api/v1/qa/samples").status_code == 401
