"""Escalation ladders: a breach pages the oncall step by step; an acknowledgement stops it; an ack
timeout re-escalates; a duplicate or stale scheduler tick sends nothing twice; editing the ladder
does not change a running escalation. Everything through the API, the outbox and the scheduler tick,
with the injected clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem, events_of, intake_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.oncall import escalations, jobs
from trustdesk.oncall.models import Escalation, Page
from trustdesk.sla import jobs as sla_jobs

ALL = ("low", "normal", "high", "urgent")
POLICY = {"key": "standard", "name": "Standard", "is_default": True, "warn_fraction": 0.5, "targets": {
    p: {"first_reply": {"minutes": 60, "business": False}} for p in ALL}}


def _schedule(client: TestClient, world: World, clock: FrozenClock) -> None:
    body = {"key": "t2-oncall", "name": "T2 oncall", "team": "t2", "time_zone": "UTC", "layers": [{
        "name": "daily", "time_zone": "UTC", "starts_at": clock.now().isoformat(),
        "handoff": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
        "participants": [world.users["oncall_sme"].id, world.users["agent_t2"].id]}]}
    response = client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=body)
    assert response.status_code == 201, response.text


def _ladder(world: World, **overrides: Any) -> dict[str, Any]:
    return {"key": "breach", "name": "On breach", "triggers": ["breach", "manual"], "ack_timeout_minutes": 30,
            "steps": [{"type": "notify_oncall", "schedule": "t2-oncall"}, {"type": "wait", "minutes": 10},
                      {"type": "notify_users", "users": [world.users["lead"].id]}, {"type": "wait", "minutes": 10},
                      {"type": "repeat", "times": 1}]} | overrides


def _setup(client: TestClient, world: World, clock: FrozenClock, **ladder: Any) -> dict[str, Any]:
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    _schedule(client, world, clock)
    response = client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=_ladder(world, **ladder))
    assert response.status_code == 201, response.text
    return intake_case(client, world, queue=world.queue_a)


def _who(db: Session, case_id: int) -> list[int]:
    db.expire_all()
    return [p.user_id for p in db.scalars(select(Page).where(Page.case_id == case_id).order_by(Page.id))]


def _breach(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    clock.advance(minutes=61)
    sla_jobs.sweep(factory, clock)  # announces the breach; the outbox starts the ladder


def test_an_unacknowledged_breach_escalates_step_by_step(client: TestClient, world: World, db: Session,
                                                         factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    sme, lead = world.users["oncall_sme"].id, world.users["lead"].id
    _breach(factory, clock)
    assert _who(db, case["id"]) == [sme]  # the oncall of t2-oncall at that moment
    types = [e.type for e in events_of(db, case["id"])]
    assert "case.escalated" in types and types.count("case.paged") == 1
    assert jobs.tick(factory, clock) == 0  # the wait is not over
    clock.advance(minutes=10)
    assert jobs.tick(factory, clock) == 2  # wait done, the lead paged
    assert _who(db, case["id"]) == [sme, lead]
    clock.advance(minutes=10)
    jobs.tick(factory, clock)  # repeat: round 1 pages the oncall again
    assert _who(db, case["id"]) == [sme, lead, sme]
    clock.advance(minutes=10)
    jobs.tick(factory, clock)
    clock.advance(minutes=10)
    jobs.tick(factory, clock)  # the repeat is used up: the ladder is exhausted
    assert _who(db, case["id"]) == [sme, lead, sme, lead]
    db.expire_all()
    escalation = db.scalars(select(Escalation).where(Escalation.case_id == case["id"])).one()
    assert escalation.status == "exhausted"
    clock.advance(hours=5)
    assert jobs.tick(factory, clock) == 0 and len(_who(db, case["id"])) == 4


def test_acknowledging_stops_further_pages_and_the_ack_timeout_re_escalates(
        client: TestClient, world: World, db: Session, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    _breach(factory, clock)
    [escalation] = client.get(f"/api/v1/cases/{case['id']}/escalations", headers=world.auth("lead")).json()
    clock.advance(minutes=3)
    acked = client.post(f"/api/v1/escalations/{escalation['id']}/acknowledge", headers=world.auth("oncall_sme"))
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["ack_deadline_at"] == (clock.now() + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    ack_event = next(e for e in events_of(db, case["id"]) if e.type == "case.escalation_acknowledged")
    assert ack_event.data["seconds_to_ack"] == 180.0
    for _ in range(2):  # twenty minutes pass: the pending steps never run
        clock.advance(minutes=10)
        assert jobs.tick(factory, clock) == 0
    assert len(_who(db, case["id"])) == 1
    clock.advance(minutes=10)  # 30 minutes after the ack, the case is still open: re-escalate
    jobs.tick(factory, clock)
    assert _who(db, case["id"]) == [world.users["oncall_sme"].id] * 2
    assert "case.escalation_reescalated" in [e.type for e in events_of(db, case["id"])]


def test_a_solved_case_ends_its_escalation(client: TestClient, world: World, db: Session,
                                           factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    _breach(factory, clock)
    assert client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "solved"}).status_code == 200
    clock.advance(minutes=10)
    assert jobs.tick(factory, clock) == 0
    db.expire_all()
    assert db.scalars(select(Escalation.status).where(Escalation.case_id == case["id"])).one() == "resolved"
    assert len(_who(db, case["id"])) == 1


def test_a_duplicate_scheduler_tick_sends_nothing_twice(client: TestClient, world: World, db: Session,
                                                        factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    _breach(factory, clock)
    clock.advance(minutes=10)
    assert jobs.tick(factory, clock) == 2
    assert jobs.tick(factory, clock) == 0  # the same instant again
    assert len(_who(db, case["id"])) == 2
    # A stale worker that read the escalation before the other ran its step claims nothing.
    clock.advance(minutes=10)
    stale = factory()
    row = stale.get(Escalation, db.scalars(select(Escalation.id).where(Escalation.case_id == case["id"])).one())
    assert row is not None and row.step_index == 4  # the repeat is next
    stale.commit()  # its read is done; it keeps the row as it saw it (the tests share one connection)
    assert jobs.tick(factory, clock) > 0  # the other worker runs the repeat and pages
    paged = len(_who(db, case["id"]))
    assert (row.status, row.step_index, row.round) == ("active", 4, 0)  # what the stale worker still believes
    assert escalations.advance(stale, row, now=clock.now()) == 0
    stale.commit()
    stale.close()
    assert len(_who(db, case["id"])) == paged


def test_editing_the_ladder_mid_escalation_does_not_change_the_running_one(
        client: TestClient, world: World, db: Session, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    _breach(factory, clock)
    edited = _ladder(world, steps=[{"type": "notify_users", "users": [world.users["admin"].id]}])
    response = client.put("/api/v1/oncall/ladders/breach", headers=world.auth("lead"), json=edited)
    assert response.status_code == 200 and response.json()["version"] == 2
    clock.advance(minutes=10)
    jobs.tick(factory, clock)
    assert _who(db, case["id"]) == [world.users["oncall_sme"].id, world.users["lead"].id]  # the snapshot's steps
    [escalation] = client.get(f"/api/v1/cases/{case['id']}/escalations", headers=world.auth("lead")).json()
    assert escalation["ladder_version"] == 1 and len(escalation["steps"]) == 5


def test_an_agent_escalates_by_hand_with_a_reason(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    assert_problem(client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"),
                               json={"reason": ""}), 422, "reason")
    started = client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"),
                          json={"reason": "Seller threatens legal action"})
    assert started.status_code == 201, started.text
    assert started.json()["trigger"] == "manual" and started.json()["reason"] == "Seller threatens legal action"
    assert len(_who(db, case["id"])) == 1
    again = client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"),
                        json={"reason": "Still waiting"})
    assert_problem(again, 409, "case_id")
    # Another vendor's agent cannot see the case, a customer cannot escalate at all.
    assert client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1_b"),
                       json={"reason": "x"}).status_code == 404
    assert client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("buyer"),
                       json={"reason": "x"}).status_code == 403


def test_an_urgent_case_starts_the_urgent_ladder(client: TestClient, world: World, db: Session,
                                                 clock: FrozenClock) -> None:
    _setup(client, world, clock, key="urgent", triggers=["urgent"],
           steps=[{"type": "notify_oncall", "schedule": "t2-oncall"}])
    urgent = intake_case(client, world, queue=world.queue_a, external_id="cust-2", priority="urgent")
    assert _who(db, urgent["id"]) == [world.users["oncall_sme"].id]
    normal = intake_case(client, world, queue=world.queue_a, external_id="cust-3")
    assert _who(db, normal["id"]) == []
    raised = client.patch(f"/api/v1/cases/{normal['id']}", headers=world.auth("lead") | {"If-Match": "*"},
                          json={"priority": "urgent"})
    assert raised.status_code == 200, raised.text
    assert _who(db, normal["id"]) == [world.users["oncall_sme"].id]


def test_only_someone_paged_or_a_responder_acknowledges(client: TestClient, world: World,
                                                        factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    _breach(factory, clock)
    [escalation] = client.get(f"/api/v1/cases/{case['id']}/escalations", headers=world.auth("lead")).json()
    assert client.post(f"/api/v1/escalations/{escalation['id']}/acknowledge",
                       headers=world.auth("agent_t1")).status_code == 403
    assert client.post(f"/api/v1/escalations/{escalation['id']}/acknowledge",
                       headers=world.auth("buyer")).status_code == 403
    assert client.post(f"/api/v1/escalations/{escalation['id']}/acknowledge",
                       headers=world.auth("oncall_sme")).status_code == 200


@pytest.mark.parametrize("steps, field", [
    ([], "steps"),
    ([{"type": "wait", "minutes": 5}], "steps"),
    ([{"type": "notify_oncall", "schedule": "nope"}], "steps[0].schedule"),
    ([{"type": "notify_users", "users": [999999]}], "steps[0].users[0]"),
    ([{"type": "notify_users", "users": ["LEAD"]}, {"type": "wait", "minutes": 0}], "steps[1].minutes"),
    ([{"type": "repeat", "times": 2}], "steps[0].type"),
    ([{"type": "teleport"}], "steps[0].type"),
    ([{"type": "notify_users", "users": ["LEAD"], "extra": 1}], "steps[0].extra"),
])
def test_a_bad_ladder_is_refused_naming_the_step(client: TestClient, world: World, clock: FrozenClock,
                                                 steps: list[dict[str, Any]], field: str) -> None:
    _schedule(client, world, clock)
    steps = [dict(step, users=[world.users["lead"].id]) if step.get("users") == ["LEAD"] else step
             for step in steps]  # the lead's id is known once the world is built
    body = _ladder(world, steps=steps)
    response = client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=body)
    assert_problem(response, 422, field if steps else None)
    assert client.post("/api/v1/oncall/ladders", headers=world.auth("agent_t2"),
                       json=_ladder(world)).status_code == 403
