"""SLA policies through the API: a default first, ordered conditions, terms snapshotted onto cases
(editing a policy changes new cases only), and the case's clocks folded from its events."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, events_of, intake_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock

ALL = ("low", "normal", "high", "urgent")


def _targets(first: int, resolution: int, business: bool = False) -> dict[str, Any]:
    return {p: {"first_reply": {"minutes": first, "business": business},
                "resolution": {"minutes": resolution, "business": business}} for p in ALL}


DEFAULT = {"key": "standard", "name": "Standard", "is_default": True, "targets": _targets(240, 2880)}
VIP = {"key": "t2-urgent", "name": "Tier 2 urgent", "position": 10, "targets": {"urgent": {
    "first_reply": {"minutes": 30, "business": False}}},
    "conditions": {"tiers": ["t2"], "priorities": ["urgent"]}}


def _policy(client: TestClient, world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _sla(client: TestClient, world: World, case_id: int, who: str = "lead") -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}/sla", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_first_matching_policy_applies_and_clocks_follow_the_events(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _policy(client, world, DEFAULT)
    _policy(client, world, VIP)
    urgent = intake_case(client, world, queue=world.queue_t2, priority="urgent")
    normal = intake_case(client, world, external_id="cust-2")
    assert _sla(client, world, urgent["id"])["policy_key"] == "t2-urgent"
    assert _sla(client, world, normal["id"])["policy_key"] == "standard"
    applied = next(e for e in events_of(db, urgent["id"]) if e.type == "sla.applied")
    assert applied.data["policy"] == "t2-urgent" and applied.data["version"] == 1

    clock.advance(minutes=45)  # no reply yet: the 30-minute first reply is breached at 30 minutes
    first = next(c for c in _sla(client, world, urgent["id"])["clocks"] if c["metric"] == "first_reply")
    assert first["outcome"] == "running" and first["breached_at"] == first["due_at"]
    reply = client.post(f"/api/v1/cases/{normal['id']}/messages", headers=world.auth("lead"),
                        json={"body": "Looking into it now."})
    assert reply.status_code == 201, reply.text
    clocks = {c["metric"]: c for c in _sla(client, world, normal["id"])["clocks"]}
    assert clocks["first_reply"]["outcome"] == "fulfilled" and clocks["first_reply"]["used_minutes"] == 45
    assert clocks["first_reply"]["breached_at"] is None
    assert clocks["resolution"]["outcome"] == "running"


def test_editing_a_policy_changes_new_cases_only(client: TestClient, world: World) -> None:
    _policy(client, world, DEFAULT)
    before = intake_case(client, world)
    changed = client.put("/api/v1/sla/policies/standard", headers=world.auth("admin"),
                         json=DEFAULT | {"targets": _targets(60, 1440)})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    after = intake_case(client, world, external_id="cust-2")
    old, new = _sla(client, world, before["id"]), _sla(client, world, after["id"])
    assert (old["policy_version"], new["policy_version"]) == (1, 2)
    budgets = [next(c["budget_minutes"] for c in s["clocks"] if c["metric"] == "first_reply") for s in (old, new)]
    assert budgets == [240, 60]


@pytest.mark.parametrize(("body", "field"), [
    (DEFAULT | {"targets": {"normal": {"first_reply": {"minutes": 60}}}}, "targets.low"),
    (DEFAULT | {"targets": _targets(60, 60) | {"asap": {}}}, "targets.asap"),
    (DEFAULT | {"targets": {p: {"first_response": {"minutes": 5}} for p in ALL}}, "targets.low.first_response"),
    (DEFAULT | {"calendar_key": "nope"}, "calendar_key"),
    (DEFAULT | {"pause_on": ["weather"]}, "pause_on[0]"),
    (DEFAULT | {"warn_fraction": 1.5}, "warn_fraction"),
])
def test_bad_policies_name_the_field(client: TestClient, world: World, body: dict[str, Any], field: str) -> None:
    assert_problem(client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=body), 422, field)


def test_a_default_comes_first_stays_active_and_can_be_handed_over(client: TestClient, world: World) -> None:
    assert_problem(client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=VIP), 422, "is_default")
    assert_problem(client.post("/api/v1/sla/policies", headers=world.auth("admin"),
                               json=DEFAULT | {"is_active": False}), 422, "is_active")
    _policy(client, world, DEFAULT)
    assert_problem(client.put("/api/v1/sla/policies/standard", headers=world.auth("admin"),
                              json=DEFAULT | {"is_default": False}), 409, "is_default")
    # A new default takes over from the old one.
    _policy(client, world, DEFAULT | {"key": "other"})
    listed = {p["key"]: p["is_default"] for p in client.get("/api/v1/sla/policies", headers=world.auth("qa")).json()}
    assert listed == {"standard": False, "other": True}
    assert_problem(client.post("/api/v1/sla/policies", headers=world.auth("lead"), json=VIP), 403)
    assert client.get("/api/v1/sla/policies", headers=world.auth("agent_t1")).status_code == 200


def test_a_policy_without_targets_for_the_priority_falls_through_to_the_default(client: TestClient,
                                                                              world: World) -> None:
    _policy(client, world, DEFAULT)
    _policy(client, world, VIP)  # urgent only
    high = intake_case(client, world, queue=world.queue_t2, priority="high")
    assert _sla(client, world, high["id"])["policy_key"] == "standard"


def test_a_case_opened_before_any_policy_has_no_sla(client: TestClient, world: World) -> None:
    created = intake_case(client, world)
    assert_problem(client.get(f"/api/v1/cases/{created['id']}/sla", headers=world.auth("lead")), 404, "case_id")


def test_waiting_on_another_team_runs_the_internal_clock(client: TestClient, world: World,
                                                         clock: FrozenClock) -> None:
    targets = _targets(240, 2880)
    for priority in ALL:
        targets[priority]["internal"] = {"minutes": 60, "business": False}
    _policy(client, world, DEFAULT | {"targets": targets})
    case = intake_case(client, world)
    held = client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "on_hold", "waiting_on": "internal", "reason": "asked Finance Ops"})
    assert held.status_code == 200, held.text
    clock.advance(minutes=90)
    clocks = {c["metric"]: c for c in _sla(client, world, case["id"])["clocks"]}
    assert clocks["internal"]["outcome"] == "running" and clocks["internal"]["breached_at"] is not None
    assert clocks["resolution"]["outcome"] == "running"  # the customer still waits: not paused
    assert_problem(client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                               json={"status": "pending", "waiting_on": "seller"}), 422, "waiting_on")
