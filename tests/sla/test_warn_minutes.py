"""A warning a number of minutes before due, counted on the clock's own time (business minutes for a
business target), instead of at a fraction of the target."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.api import assert_problem, events_of, intake_case
from tests.factories.world import World
from tests.sla.test_clocks import SPLIT, at, created, reply
from trustdesk.core.clock import FrozenClock
from trustdesk.sla import timers
from trustdesk.sla.clocks import Clock, Metric, Period, Target, Terms, run, run_periods
from trustdesk.sla.models import CaseSla, SlaTimer

ALL = ("low", "normal", "high", "urgent")


def _first(terms: Terms, start: datetime) -> Clock:
    return next(c for c in run(terms, SPLIT, [created(start)], now=start) if c.metric is Metric.FIRST_REPLY)


def test_minutes_before_due_count_business_minutes_and_win_over_the_fraction() -> None:
    # Monday 23 March, 13:00 in Madrid: two business hours run 13:00-14:00 and 15:00-16:00.
    fraction = Terms(targets={Metric.FIRST_REPLY: Target(120)}, warn_fraction=0.75)
    minutes = Terms(targets={Metric.FIRST_REPLY: Target(120)}, warn_fraction=0.75, warn_minutes_before=20)
    across_lunch = Terms(targets={Metric.FIRST_REPLY: Target(120)}, warn_minutes_before=70)
    assert _first(fraction, at(23, 13)).warn_at == at(23, 15, 30)
    assert _first(minutes, at(23, 13)).warn_at == at(23, 15, 40)
    assert _first(minutes, at(23, 13)).due_at == at(23, 16)
    # 70 business minutes before 16:00 is 13:50 (the lunch hour does not count), not 14:50.
    assert _first(across_lunch, at(23, 13)).warn_at == at(23, 13, 50)


def test_minutes_as_long_as_the_target_warn_at_the_start() -> None:
    terms = Terms(targets={Metric.FIRST_REPLY: Target(60)}, warn_minutes_before=60)
    assert _first(terms, at(23, 10)).warn_at == at(23, 10)
    longer = Terms(targets={Metric.FIRST_REPLY: Target(60)}, warn_minutes_before=600)
    # Opened on a Saturday: the clock's time starts when the office opens on Monday.
    assert _first(longer, at(28, 10)).warn_at == at(30, 9)


def test_periods_judge_a_stopped_clock_on_its_own_terms_and_a_running_one_on_the_latest() -> None:
    before = Terms(targets={Metric.FIRST_REPLY: Target(60), Metric.RESOLUTION: Target(600)})
    after = Terms(targets={Metric.FIRST_REPLY: Target(30), Metric.RESOLUTION: Target(120)})
    history = [created(at(23, 10)), reply(at(23, 10, 45))]
    found = {c.metric: c for c in run_periods([Period(None, before, SPLIT), Period(at(23, 11), after, SPLIT)],
                                              history, now=at(23, 11))}
    assert found[Metric.FIRST_REPLY].budget == timedelta(minutes=60) and found[Metric.FIRST_REPLY].breached_at is None
    assert found[Metric.RESOLUTION].due_at == at(23, 12)  # two business hours from 10:00
    # A clock that stopped at the very instant of the change was judged before it.
    same_instant = run_periods([Period(None, before, SPLIT), Period(at(23, 10, 45), after, SPLIT)], history,
                               now=at(23, 11))
    assert next(c for c in same_instant if c.metric is Metric.FIRST_REPLY).breached_at is None


def test_a_policy_warns_minutes_before_due(client: TestClient, world: World, db: Session,
                                          clock: FrozenClock) -> None:
    policy = {"key": "standard", "name": "Standard", "is_default": True, "warn_minutes_before": 15,
              "targets": {p: {"first_reply": {"minutes": 60, "business": False}} for p in ALL}}
    assert_problem(client.post("/api/v1/sla/policies", headers=world.auth("admin"),
                               json=policy | {"warn_minutes_before": 0}), 422, "warn_minutes_before")
    created_policy = client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=policy)
    assert created_policy.status_code == 201 and created_policy.json()["warn_minutes_before"] == 15
    case = intake_case(client, world)
    snapshot = db.scalar(select(CaseSla).where(CaseSla.case_id == case["id"]))
    assert snapshot is not None and snapshot.terms["warn_minutes_before"] == 15
    timer = db.scalar(select(SlaTimer).where(SlaTimer.case_id == case["id"], SlaTimer.metric == "first_reply"))
    assert timer is not None and timer.warn_at == START + timedelta(minutes=45)
    clock.advance(minutes=44)
    assert timers.sweep(db, now=clock.now()) == (0, 0)
    clock.advance(minutes=1)
    assert timers.sweep(db, now=clock.now()) == (1, 0)
    db.commit()
    assert [e.type for e in events_of(db, case["id"])].count("sla.warned") == 1
    # Back to a fraction: the policy's new version warns at 75% again (for new cases).
    changed = client.put("/api/v1/sla/policies/standard", headers=world.auth("admin"),
                         json=policy | {"warn_minutes_before": None})
    assert changed.status_code == 200 and changed.json()["warn_minutes_before"] is None
