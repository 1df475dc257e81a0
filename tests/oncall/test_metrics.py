"""SLA compliance and oncall figures on a seeded history, against hand-computed numbers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.factories.api import intake_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock

ALL = ("low", "normal", "high", "urgent")
POLICY = {"key": "standard", "name": "Standard", "is_default": True, "targets": {
    p: {"first_reply": {"minutes": 60, "business": False}} for p in ALL}}


def _reply(client: TestClient, world: World, case_id: int) -> None:
    response = client.post(f"/api/v1/cases/{case_id}/messages", headers=world.auth("lead"), json={"body": "On it."})
    assert response.status_code == 201, response.text


def test_sla_compliance_counts_targets_that_came_due(client: TestClient, world: World, clock: FrozenClock) -> None:
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    start = clock.now()
    met = intake_case(client, world, queue=world.queue_a, external_id="a")
    late = intake_case(client, world, queue=world.queue_a, external_id="b")
    intake_case(client, world, queue=world.queue_t2, external_id="c")  # never answered
    clock.advance(minutes=30)
    _reply(client, world, met["id"])  # met on time at +30
    clock.advance(minutes=60)
    _reply(client, world, late["id"])  # breached at +60, answered at +90
    clock.advance(minutes=1)
    intake_case(client, world, queue=world.queue_a, external_id="d")  # due at +151: after the period
    until = start + timedelta(minutes=120)
    clock.set(until)  # the silent case breached at +60 with nobody noticing
    params = {"since": start.isoformat(), "until": until.isoformat()}
    rows = client.get("/api/v1/sla/compliance", headers=world.auth("lead"), params=params).json()
    assert rows == [{"key": "first_reply", "metric": "first_reply", "met": 1, "breached": 2, "came_due": 3,
                     "compliance": round(1 / 3, 6)}]
    by_queue = client.get("/api/v1/sla/compliance", headers=world.auth("lead"), params=params | {"by": "queue"})
    assert [(r["key"], r["met"], r["breached"]) for r in by_queue.json()] == [("t2-orders", 0, 1),
                                                                             ("us-buyers", 1, 1)]
    # A period before any of it: nothing came due.
    earlier = {"since": (start - timedelta(days=1)).isoformat(), "until": start.isoformat()}
    assert client.get("/api/v1/sla/compliance", headers=world.auth("lead"), params=earlier).json() == []
    assert client.get("/api/v1/sla/compliance", headers=world.auth("lead"),
                      params=params | {"by": "colour"}).status_code == 422
    assert client.get("/api/v1/sla/compliance", headers=world.auth("buyer"), params=params).status_code == 403


def test_escalation_rate_time_to_ack_and_oncall_load(client: TestClient, world: World, clock: FrozenClock) -> None:
    schedule = {"key": "t2-oncall", "name": "T2 oncall", "team": "t2", "layers": [{
        "name": "all week", "time_zone": "UTC", "starts_at": clock.now().isoformat(), "handoff": "FREQ=WEEKLY",
        "participants": [world.users["oncall_sme"].id]}]}
    assert client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=schedule).status_code == 201
    ladder = {"key": "by-hand", "name": "By hand", "triggers": ["manual"],
              "steps": [{"type": "notify_oncall", "schedule": "t2-oncall"}]}
    assert client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=ladder).status_code == 201
    start = clock.now()
    t1 = [intake_case(client, world, queue=world.queue_a, external_id=f"c{i}") for i in range(4)]
    intake_case(client, world, queue=world.queue_t2, external_id="t2")  # not handled by Tier 1
    moved = client.post(f"/api/v1/cases/{t1[0]['id']}/reroute", headers=world.auth("lead"),
                        json={"queue_id": world.queue_t2.id, "reason": "needs_specialist"})
    assert moved.status_code == 200, moved.text
    seconds = []
    for case, wait in ((t1[1], 120), (t1[2], 600)):
        escalated = client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"),
                                json={"reason": "help"})
        assert escalated.status_code == 201
        clock.advance(seconds=wait)
        assert client.post(f"/api/v1/escalations/{escalated.json()['id']}/acknowledge",
                           headers=world.auth("oncall_sme")).status_code == 200
        seconds.append(wait)
    clock.advance(days=7)  # a page the next ISO week
    escalated = client.post(f"/api/v1/cases/{t1[3]['id']}/escalate", headers=world.auth("agent_t1"),
                            json={"reason": "again"})
    assert escalated.status_code == 201
    figures = client.get("/api/v1/oncall/metrics", headers=world.auth("lead"),
                         params={"since": start.isoformat(),
                                 "until": (clock.now() + timedelta(minutes=1)).isoformat()}).json()
    counts = (figures["t1_cases"], figures["escalated_from_t1"], figures["t1_to_t2"], figures["to_oncall"])
    assert counts == (4, 4, 1, 3)
    assert figures["escalation_rate"] == 1.0 and figures["to_oncall_rate"] == 0.75
    assert figures["escalations"] == 3 and figures["escalations_by_trigger"] == {"manual": 3}
    assert figures["acknowledged"] == 2
    assert figures["time_to_ack_median_seconds"] == 120.0 and figures["time_to_ack_p90_seconds"] == 600.0
    sme = world.users["oncall_sme"]
    assert figures["pages_per_person_week"] == [
        {"user_id": sme.id, "person": sme.display_name, "week": "2026-W10", "pages": 2},
        {"user_id": sme.id, "person": sme.display_name, "week": "2026-W11", "pages": 1}]


def test_compliance_judges_a_met_target_by_the_terms_it_was_met_under(client: TestClient, world: World,
                                                                      clock: FrozenClock) -> None:
    policy = POLICY | {"targets": POLICY["targets"] | {"urgent": {"first_reply": {"minutes": 30, "business": False}}}}
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=policy).status_code == 201
    start = clock.now()
    case = intake_case(client, world, queue=world.queue_a)
    clock.advance(minutes=45)
    _reply(client, world, case["id"])  # met: 45 of 60 minutes
    raised = client.patch(f"/api/v1/cases/{case['id']}", headers=world.auth("lead") | {"If-Match": "*"},
                          json={"priority": "urgent"})
    assert raised.status_code == 200, raised.text
    params = {"since": start.isoformat(), "until": (start + timedelta(hours=2)).isoformat()}
    rows = client.get("/api/v1/sla/compliance", headers=world.auth("lead"), params=params).json()
    assert [(r["metric"], r["met"], r["breached"]) for r in rows] == [("first_reply", 1, 0)]


def test_a_breach_before_a_priority_change_still_counts(client: TestClient, world: World,
                                                        clock: FrozenClock) -> None:
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    start = clock.now()
    case = intake_case(client, world, queue=world.queue_a)
    clock.advance(minutes=90)  # breached at +60
    _reply(client, world, case["id"])
    period = {"since": start.isoformat(), "until": (start + timedelta(hours=2)).isoformat()}
    clock.advance(hours=3)  # after the period, the priority changes: the period's figures stay
    assert client.patch(f"/api/v1/cases/{case['id']}", headers=world.auth("lead") | {"If-Match": "*"},
                        json={"priority": "high"}).status_code == 200
    rows = client.get("/api/v1/sla/compliance", headers=world.auth("lead"), params=period).json()
    assert [(r["metric"], r["met"], r["breached"]) for r in rows] == [("first_reply", 0, 1)]
