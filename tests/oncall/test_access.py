"""Who may do what in oncall: only in-house staff carry a pager, own a crisis or swap shifts; a
vendor's agents see no other vendor's escalations and no crises; a manual escalation starts only a
ladder meant for it; the ack timeout pages the acknowledger's level again."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem, intake_case
from tests.factories.world import World
from tests.oncall.test_escalations import POLICY, _breach, _ladder, _schedule, _who
from trustdesk.core.clock import FrozenClock
from trustdesk.oncall import jobs
from trustdesk.oncall.models import Escalation


def _setup(client: TestClient, world: World, clock: FrozenClock, **ladder: Any) -> dict[str, Any]:
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    _schedule(client, world, clock)
    assert client.post("/api/v1/oncall/ladders", headers=world.auth("lead"),
                       json=_ladder(world, **ladder)).status_code == 201
    return intake_case(client, world, queue=world.queue_a)


def test_customers_and_vendor_staff_never_carry_a_pager(client: TestClient, world: World,
                                                        clock: FrozenClock) -> None:
    _schedule(client, world, clock)
    for who in ("buyer", "agent_t1", "seller_staff"):
        user_id = world.users[who].id
        assert_problem(client.post("/api/v1/oncall/schedules/t2-oncall/overrides", headers=world.auth("lead"),
                                   json={"starts_at": clock.now().isoformat(), "ends_at": "2026-03-03T09:00:00Z",
                                         "user_id": user_id}), 422, "user_id[0]")
        ladder = _ladder(world, key=f"to-{who.replace('_', '-')}", steps=[{"type": "notify_users",
                                                                         "users": [user_id]}])
        assert_problem(client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=ladder), 422,
                       "steps[0].users[0]")
    case = intake_case(client, world, queue=world.queue_t2)
    assert_problem(client.post(f"/api/v1/cases/{case['id']}/crisis", headers=world.auth("lead"),
                               json={"title": "x", "severity": "sev2", "owner_id": world.users["buyer"].id}),
                   422, "owner_id")


def test_a_swap_is_the_givers_and_only_between_people_on_the_rota(client: TestClient, world: World,
                                                                 clock: FrozenClock) -> None:
    _schedule(client, world, clock)
    sme, t2, lead = (world.users[k].id for k in ("oncall_sme", "agent_t2", "lead"))
    body = {"starts_at": "2026-03-03T00:00:00Z", "ends_at": "2026-03-04T00:00:00Z"}
    # The taker cannot take someone's shifts on their own say-so; nobody off the rota takes them.
    assert client.post("/api/v1/oncall/schedules/t2-oncall/swaps", headers=world.auth("agent_t2"),
                       json=body | {"giver_id": sme, "taker_id": t2}).status_code == 403
    assert_problem(client.post("/api/v1/oncall/schedules/t2-oncall/swaps", headers=world.auth("oncall_sme"),
                               json=body | {"giver_id": sme, "taker_id": lead}), 422, "taker_id")
    assert client.post("/api/v1/oncall/schedules/t2-oncall/swaps", headers=world.auth("agent_t1"),
                       json=body | {"giver_id": sme, "taker_id": t2}).status_code == 403
    assert client.post("/api/v1/oncall/schedules/t2-oncall/swaps", headers=world.auth("oncall_sme"),
                       json=body | {"giver_id": sme, "taker_id": t2}).status_code == 201


def test_another_vendors_agent_sees_no_escalation_and_nobody_outside_sees_crises(
        client: TestClient, world: World, db: Session, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    _breach(factory, clock)
    escalation_id = db.scalars(select(Escalation.id)).one()
    for verb in ("acknowledge", "resolve"):
        response = client.post(f"/api/v1/escalations/{escalation_id}/{verb}", headers=world.auth("agent_t1_b"),
                               json={})
        assert response.status_code in (403, 404), (verb, response.status_code)
    declared = client.post(f"/api/v1/cases/{case['id']}/crisis", headers=world.auth("lead"),
                           json={"title": "Outage", "severity": "sev1"})
    assert declared.status_code == 201
    crisis_id = declared.json()["id"]
    for who in ("agent_t1", "agent_t1_b"):
        assert client.get("/api/v1/crises", headers=world.auth(who)).status_code == 403
        assert client.get(f"/api/v1/crises/{crisis_id}", headers=world.auth(who)).status_code == 403
    assert client.get(f"/api/v1/crises/{crisis_id}", headers=world.auth("qa")).status_code == 200


def test_a_manual_escalation_starts_only_a_ladder_meant_for_it(client: TestClient, world: World,
                                                              clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    crisis_only = _ladder(world, key="crisis-only", triggers=["crisis"])
    assert client.post("/api/v1/oncall/ladders", headers=world.auth("lead"), json=crisis_only).status_code == 201
    assert_problem(client.post(f"/api/v1/cases/{case['id']}/escalate", headers=world.auth("agent_t1"),
                               json={"reason": "x", "ladder": "crisis-only"}), 422, "ladder")


def test_the_ack_timeout_pages_the_acknowledgers_level_again(client: TestClient, world: World, db: Session,
                                                             factory: sessionmaker[Session],
                                                             clock: FrozenClock) -> None:
    case = _setup(client, world, clock)
    sme, lead = world.users["oncall_sme"].id, world.users["lead"].id
    _breach(factory, clock)
    clock.advance(minutes=10)
    jobs.tick(factory, clock)  # the lead is paged too
    assert _who(db, case["id"]) == [sme, lead]
    escalation_id = db.scalars(select(Escalation.id)).one()
    assert client.post(f"/api/v1/escalations/{escalation_id}/acknowledge",
                       headers=world.auth("oncall_sme")).status_code == 200
    clock.advance(minutes=30)
    jobs.tick(factory, clock)  # the timeout: the SME's step runs again, not the lead's
    assert _who(db, case["id"]) == [sme, lead, sme]
