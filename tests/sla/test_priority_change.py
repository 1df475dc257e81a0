"""A case's priority changes: its SLA policy is matched again and the case gets the new terms. Running
clocks count on the new targets from their original start; clocks already met keep their verdict; the
replay (``trustdesk sla replay``) still gives the live answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.conftest import START
from tests.factories.api import events_of, intake_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.sla import timers
from trustdesk.sla.models import CaseSla, SlaTimer

ALL = ("low", "normal", "high", "urgent")


def _targets(first: int, resolution: int) -> dict[str, Any]:
    return {"first_reply": {"minutes": first, "business": False},
            "resolution": {"minutes": resolution, "business": False}}


STANDARD = {"key": "standard", "name": "Standard", "is_default": True, "warn_fraction": 0.5,
            "targets": {p: _targets(240, 2880) for p in ALL}}
URGENT = {"key": "urgent", "name": "Urgent", "position": 10, "conditions": {"priorities": ["urgent"]},
          "targets": {"urgent": _targets(30, 480)}}


def _policies(client: TestClient, world: World) -> None:
    for body in (STANDARD, URGENT):
        response = client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=body)
        assert response.status_code == 201, response.text


def _set_priority(client: TestClient, world: World, case_id: int, priority: str) -> None:
    etag = client.get(f"/api/v1/cases/{case_id}", headers=world.auth("lead")).headers["etag"]
    response = client.patch(f"/api/v1/cases/{case_id}", headers=world.auth("lead") | {"If-Match": etag},
                            json={"priority": priority})
    assert response.status_code == 200, response.text


def _timers(db: Session, case_id: int) -> dict[str, SlaTimer]:
    db.expire_all()
    return {t.metric: t for t in db.scalars(select(SlaTimer).where(SlaTimer.case_id == case_id))}


def _clocks(client: TestClient, world: World, case_id: int) -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/v1/cases/{case_id}/sla", headers=world.auth("lead"))
    assert response.status_code == 200, response.text
    return {c["metric"]: c for c in response.json()["clocks"]}


def test_a_new_priority_gets_its_policy_and_the_due_times_count_from_the_start(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _policies(client, world)
    case = intake_case(client, world)
    assert _timers(db, case["id"])["first_reply"].due_at == START + timedelta(hours=4)
    clock.advance(minutes=10)
    _set_priority(client, world, case["id"], "urgent")

    db.expire_all()
    snapshot = db.scalar(select(CaseSla).where(CaseSla.case_id == case["id"]))
    assert snapshot is not None
    assert (snapshot.policy_key, snapshot.policy_version, snapshot.priority) == ("urgent", 1, "urgent")
    assert snapshot.terms["targets"]["first_reply"]["minutes"] == 30
    applied = [e for e in events_of(db, case["id"]) if e.type == "sla.applied"]
    assert len(applied) == 2 and applied[-1].occurred_at == START + timedelta(minutes=10)
    assert applied[-1].data | {"targets": None} == {
        "policy": "urgent", "version": 1, "priority": "urgent", "calendar": None, "targets": None,
        "reason": "priority_changed", "previous_policy": "standard", "previous_version": 1,
        "previous_priority": "normal"}
    # From the clocks' original start (09:00), not from the change (09:10).
    found = _timers(db, case["id"])
    assert found["first_reply"].due_at == START + timedelta(minutes=30)
    assert found["first_reply"].warn_at == START + timedelta(minutes=22, seconds=30)  # its own warning, at 0.75
    assert found["resolution"].due_at == START + timedelta(hours=8)
    assert _clocks(client, world, case["id"])["first_reply"]["budget_minutes"] == 30

    # Back to normal: the standard terms again, the urgent ones kept as earlier terms.
    clock.advance(minutes=5)
    _set_priority(client, world, case["id"], "normal")
    assert _timers(db, case["id"])["first_reply"].due_at == START + timedelta(hours=4)
    db.expire_all()
    snapshot = db.scalar(select(CaseSla).where(CaseSla.case_id == case["id"]))
    assert snapshot is not None and [t["policy"] for t in snapshot.terms["earlier"]] == ["standard", "urgent"]


def test_a_target_met_before_the_change_keeps_its_verdict(client: TestClient, world: World, db: Session,
                                                          clock: FrozenClock) -> None:
    _policies(client, world)
    case = intake_case(client, world)
    clock.advance(minutes=45)
    client.post(f"/api/v1/cases/{case['id']}/messages", headers=world.auth("lead"), json={"body": "On it."})
    clock.advance(minutes=5)
    _set_priority(client, world, case["id"], "urgent")  # 30 minutes would have been missed
    clocks = _clocks(client, world, case["id"])
    assert clocks["first_reply"]["outcome"] == "fulfilled" and clocks["first_reply"]["breached_at"] is None
    assert clocks["first_reply"]["budget_minutes"] == 240  # judged on the terms it was met under
    assert clocks["resolution"]["budget_minutes"] == 480
    assert datetime.fromisoformat(clocks["resolution"]["due_at"]) == START + timedelta(hours=8)


def test_a_solved_case_keeps_its_terms(client: TestClient, world: World, db: Session) -> None:
    _policies(client, world)
    case = intake_case(client, world)
    assert client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "solved"}).status_code == 200
    _set_priority(client, world, case["id"], "urgent")
    assert [e.type for e in events_of(db, case["id"])].count("sla.applied") == 1


def test_a_lower_priority_moves_an_announced_breach_and_it_is_announced_again_when_due(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _policies(client, world)
    case = intake_case(client, world, priority="urgent")
    clock.advance(minutes=31)
    assert timers.sweep(db, now=clock.now()) == (1, 1)  # urgent first reply: warned and breached
    db.commit()
    _set_priority(client, world, case["id"], "normal")  # four hours from 09:00: not breached any more
    timer = _timers(db, case["id"])["first_reply"]
    assert timer.due_at == START + timedelta(hours=4) and timer.breach_sent_at is None
    assert timers.sweep(db, now=clock.now()) == (0, 0)
    clock.advance(hours=4)
    assert timers.sweep(db, now=clock.now()) == (1, 1)
    db.commit()
    assert [e.data["metric"] for e in events_of(db, case["id"]) if e.type == "sla.breached"] == [
        "first_reply", "first_reply"]


def test_the_timeline_tells_the_reapplied_policy(client: TestClient, world: World, clock: FrozenClock) -> None:
    from tests.web.test_pages_auth import sign_in

    _policies(client, world)
    case = intake_case(client, world)
    _set_priority(client, world, case["id"], "urgent")
    sign_in(client, "lead")
    page = client.get(f"/console/cases/{case['id']}").text
    assert ("SLA policy urgent v1 applied (urgent, 24x7) after the priority changed from normal (was standard v1)"
            in page)
    assert "urgent v1 · urgent · 24x7" in page  # the Service levels panel shows the terms the case has now


def test_the_replay_equals_the_live_clocks_after_a_priority_change(database: str) -> None:
    from tests.factories.cases import make_case, make_party
    from tests.factories.directory import make_market, make_queue, make_team
    from trustdesk import cli
    from trustdesk.cases import service as cases
    from trustdesk.core.db import make_engine, make_session_factory, transaction
    from trustdesk.core.events import SYSTEM
    from trustdesk.sla import policies
    from trustdesk.sla.schemas import PolicyIn

    runner = CliRunner()
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    factory = make_session_factory(make_engine(database))
    with transaction(factory) as session:
        policies.create_policy(session, PolicyIn.model_validate(STANDARD), now=START)
        policies.create_policy(session, PolicyIn.model_validate(URGENT), now=START)
        market = make_market(session, now=START)
        queue = make_queue(session, now=START, key="q1", team=make_team(session, now=START, key="t1"), market=market)
        case = make_case(session, market=market, party=make_party(session, market, now=START), queue=queue,
                         now=START)
        reference, case_id = case.reference, case.id
    with transaction(factory) as session:
        case = cases.case_by_id(session, case_id)
        cases.update_case(session, case, {"priority": "urgent"}, actor=SYSTEM, now=START + timedelta(minutes=10))
    at = START + timedelta(minutes=20)
    replayed = runner.invoke(cli.app, ["sla", "replay", str(reference), "--at", at.isoformat(), "--json"])
    assert replayed.exit_code == 0, replayed.output
    rows = {r["metric"]: r for r in json.loads(replayed.output)}
    with transaction(factory) as session:
        snapshot = policies.snapshot_of(session, case_id)
        assert snapshot is not None
        live = {c.metric.value: c for c in policies.case_clocks(session, snapshot, now=at)}
        watched = {t.metric: t.due_at for t in session.scalars(select(SlaTimer).where(SlaTimer.case_id == case_id))}
    assert {m: r["due_at"] for m, r in rows.items()} == {m: c.due_at.isoformat() for m, c in live.items()
                                                         if c.due_at is not None}
    assert {m: r["due_at"] for m, r in rows.items()} == {m: d.isoformat() for m, d in watched.items() if d}
    assert rows["first_reply"]["due_at"] == (START + timedelta(minutes=30)).isoformat()
