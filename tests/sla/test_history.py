"""SLA history on the case's timeline: each clock paused, resumed and met is recorded once, dated when it
happened, and a second refresh records nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.api import events_of, intake_case
from tests.factories.world import World
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Status
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import SYSTEM
from trustdesk.sla import timers
from trustdesk.sla.models import SlaTimer

ALL = ("low", "normal", "high", "urgent")
POLICY = {"key": "standard", "name": "Standard", "is_default": True, "pause_on": ["customer", "seller"],
          "targets": {p: {"first_reply": {"minutes": 60, "business": False},
                          "resolution": {"minutes": 600, "business": False}} for p in ALL}}


def _sla_events(db: Session, case_id: int) -> list[tuple[str, dict[str, Any], Any]]:
    db.expire_all()
    return [(e.type, e.data, e.occurred_at) for e in events_of(db, case_id)
            if e.type in ("sla.paused", "sla.resumed", "sla.fulfilled")]


def _post(client: TestClient, world: World, path: str, body: dict[str, Any]) -> None:
    response = client.post(path, headers=world.auth("lead"), json=body)
    assert response.status_code in (200, 201), response.text


def _setup(client: TestClient, world: World) -> dict[str, Any]:
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    return intake_case(client, world)


def test_paused_resumed_and_met_are_recorded_once_each(client: TestClient, world: World, db: Session,
                                                       clock: FrozenClock) -> None:
    case = _setup(client, world)
    path = f"/api/v1/cases/{case['id']}"
    clock.advance(minutes=10)
    _post(client, world, f"{path}/messages", {"body": "Which order is it?", "status": "pending"})
    assert _sla_events(db, case["id"]) == [
        ("sla.fulfilled", {"metric": "first_reply", "seq": 0, "in_time": True, "used_minutes": 10.0,
                           "target_minutes": 60, "business": False}, START + timedelta(minutes=10)),
        ("sla.paused", {"metric": "resolution", "seq": 0, "waiting_on": "customer"}, START + timedelta(minutes=10)),
    ]
    clock.advance(minutes=30)
    _post(client, world, f"{path}/status", {"status": "open"})
    clock.advance(minutes=5)
    _post(client, world, f"{path}/status", {"status": "on_hold", "waiting_on": "seller"})
    clock.advance(minutes=5)
    _post(client, world, f"{path}/status", {"status": "open"})
    clock.advance(minutes=5)
    _post(client, world, f"{path}/status", {"status": "solved"})
    told = [(kind, data.get("metric"), data.get("waiting_on"), at - START) for kind, data, at in
            _sla_events(db, case["id"])[2:]]
    assert told == [
        ("sla.resumed", "resolution", None, timedelta(minutes=40)),
        ("sla.paused", "resolution", "seller", timedelta(minutes=45)),
        ("sla.resumed", "resolution", None, timedelta(minutes=50)),
        ("sla.fulfilled", "resolution", None, timedelta(minutes=55)),
    ]
    assert _sla_events(db, case["id"])[-1][1]["used_minutes"] == 20.0  # 10 + 5 + 5 running: pauses do not count

    count = len(_sla_events(db, case["id"]))
    timers.refresh(db, case["id"])
    timers.refresh(db, case["id"])
    db.commit()
    assert len(_sla_events(db, case["id"])) == count  # nothing changed since: nothing to tell


def test_a_late_reply_is_told_as_met_late_and_a_reopened_clock_as_resumed(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    from tests.web.test_pages_auth import sign_in

    case = _setup(client, world)
    path = f"/api/v1/cases/{case['id']}"
    clock.advance(minutes=75)
    _post(client, world, f"{path}/messages", {"body": "Sorry for the wait.", "status": "solved"})
    clock.advance(minutes=10)
    _post(client, world, f"{path}/status", {"status": "open"})  # reopened
    events = _sla_events(db, case["id"])
    assert [(kind, data["metric"], data.get("in_time"), data.get("reopened")) for kind, data, _at in events] == [
        ("sla.fulfilled", "first_reply", False, None),
        ("sla.fulfilled", "resolution", True, None),
        ("sla.resumed", "resolution", None, True),
    ]
    sign_in(client, "lead")
    page = client.get(f"/console/cases/{case['id']}").text
    assert "SLA met late: first reply after 75 min of 60 min" in page
    assert "SLA met in time: resolution after 75 min of 600 min" not in page  # 600 min reads in hours
    assert "SLA met in time: resolution after 75 min of 10 h" in page
    assert "SLA clock resumed: resolution (the case was reopened)" in page


def test_the_timeline_tells_a_pause_and_whom_it_waits_on(client: TestClient, world: World,
                                                         clock: FrozenClock) -> None:
    from tests.web.test_pages_auth import sign_in

    case = _setup(client, world)
    clock.advance(minutes=10)
    _post(client, world, f"/api/v1/cases/{case['id']}/status", {"status": "on_hold", "waiting_on": "seller"})
    clock.advance(minutes=10)
    _post(client, world, f"/api/v1/cases/{case['id']}/status", {"status": "open"})
    sign_in(client, "lead")
    page = client.get(f"/console/cases/{case['id']}").text
    assert "SLA clock paused: first reply (waiting on the seller)" in page
    assert "SLA clock paused: resolution (waiting on the seller)" in page
    assert "SLA clock resumed: first reply" in page


def test_a_bulk_refresh_records_no_history_unless_asked(client: TestClient, world: World, db: Session,
                                                        clock: FrozenClock) -> None:
    case = _setup(client, world)
    row = db.get(Case, case["id"])
    assert row is not None
    db.info[timers.DEFER] = True  # as the demo loader does: the refresh waits for the end of the load
    clock.advance(minutes=10)
    cases.change_status(db, row, Status.PENDING, actor=SYSTEM, now=clock.now())
    db.commit()
    assert {t.state for t in db.scalars(select(SlaTimer).where(SlaTimer.case_id == case["id"]))} == {"running"}
    db.info.pop(timers.DEFER)
    assert timers.refresh_open(db) >= 1
    db.commit()
    assert _sla_events(db, case["id"]) == []  # the load's history speaks for itself
    assert {t.state for t in db.scalars(select(SlaTimer).where(SlaTimer.case_id == case["id"]))} == {"paused"}

    clock.advance(minutes=10)
    cases.change_status(db, row, Status.OPEN, actor=SYSTEM, now=clock.now())
    db.info[timers.DEFER] = True
    db.commit()
    db.info.pop(timers.DEFER)
    timers.refresh_open(db, record_transitions=True)
    db.commit()
    assert [(kind, data["metric"]) for kind, data, _at in _sla_events(db, case["id"])] == [
        ("sla.resumed", "first_reply"), ("sla.resumed", "resolution")]


def test_a_case_closed_while_its_clocks_run_gets_the_last_word(client: TestClient, world: World, db: Session,
                                                               clock: FrozenClock) -> None:
    case = _setup(client, world)
    row = db.get(Case, case["id"])
    assert row is not None
    clock.advance(minutes=20)
    # Solved and closed in one go, as a merge does: no refresh saw the solved case.
    cases.change_status(db, row, Status.SOLVED, actor=SYSTEM, now=clock.now())
    cases.change_status(db, row, Status.CLOSED, actor=SYSTEM, now=clock.now())
    db.commit()
    assert [(kind, data["metric"]) for kind, data, _at in _sla_events(db, case["id"])] == [
        ("sla.fulfilled", "resolution")]  # the first reply was not needed: cancelled, told by the status
    assert db.scalars(select(SlaTimer).where(SlaTimer.case_id == case["id"])).all() == []
