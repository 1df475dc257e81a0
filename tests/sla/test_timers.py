"""SLA timers follow the case at each commit, and the sweep announces each warning and breach once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import events_of, intake_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.sla import timers
from trustdesk.sla.models import SlaTimer

ALL = ("low", "normal", "high", "urgent")
POLICY = {"key": "standard", "name": "Standard", "is_default": True, "warn_fraction": 0.5, "targets": {
    p: {"first_reply": {"minutes": 60, "business": False}, "resolution": {"minutes": 600, "business": False}}
    for p in ALL}}


def _timers(db: Session, case_id: int) -> dict[str, SlaTimer]:
    db.expire_all()
    return {t.metric: t for t in db.scalars(select(SlaTimer).where(SlaTimer.case_id == case_id))}


def _setup(client: TestClient, world: World) -> dict[str, Any]:
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    return intake_case(client, world)


def test_timers_follow_replies_pauses_and_solving(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    case = _setup(client, world)
    start = clock.now()
    found = _timers(db, case["id"])
    assert set(found) == {"first_reply", "resolution"}
    assert found["first_reply"].due_at == start.replace(hour=start.hour + 1)
    assert found["first_reply"].warn_at == start.replace(minute=30)
    clock.advance(minutes=10)
    replied = client.post(f"/api/v1/cases/{case['id']}/messages", headers=world.auth("lead"),
                          json={"body": "Could you send the order number?", "status": "pending"})
    assert replied.status_code == 201, replied.text
    found = _timers(db, case["id"])
    assert set(found) == {"resolution"}  # first reply met: gone from the sweep's list
    assert found["resolution"].due_at is None  # waiting on the customer: paused
    assert client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "solved"}).status_code == 200
    assert _timers(db, case["id"]) == {}


def test_the_sweep_announces_each_warning_and_breach_once(client: TestClient, world: World, db: Session,
                                                          clock: FrozenClock) -> None:
    case = _setup(client, world)
    clock.advance(minutes=31)
    assert timers.sweep(db, now=clock.now()) == (1, 0)  # first reply: half its hour is gone
    assert timers.sweep(db, now=clock.now()) == (0, 0)  # a second tick announces nothing again
    clock.advance(minutes=30)
    assert timers.sweep(db, now=clock.now()) == (0, 1)
    assert timers.sweep(db, now=clock.now()) == (0, 0)
    db.commit()
    kinds = [e.type for e in events_of(db, case["id"]) if e.type.startswith("sla.")]
    assert kinds == ["sla.applied", "sla.warned", "sla.breached"]
    breached = next(e for e in events_of(db, case["id"]) if e.type == "sla.breached")
    assert breached.data["metric"] == "first_reply"
    # The announcement itself changes no clock: the timer stays, marked as announced.
    timer = _timers(db, case["id"])["first_reply"]
    assert timer.breach_sent_at is not None and timer.warning_sent_at is not None
