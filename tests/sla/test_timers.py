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
    assert found["first_reply"].due_at is None  # met: nothing for the sweep to watch
    assert found["resolution"].due_at is None  # waiting on the customer: paused
    assert client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "solved"}).status_code == 200
    assert {m: t.due_at for m, t in _timers(db, case["id"]).items()} == {"first_reply": None, "resolution": None}


def test_a_reopened_case_is_not_announced_as_breached_twice(client: TestClient, world: World, db: Session,
                                                            clock: FrozenClock) -> None:
    case = _setup(client, world)
    clock.advance(minutes=61)
    assert timers.sweep(db, now=clock.now()) == (1, 1)  # first reply: warned and breached
    db.commit()
    client.post(f"/api/v1/cases/{case['id']}/messages", headers=world.auth("lead"), json={"body": "Sorry!"})
    assert client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "solved"}).status_code == 200
    clock.advance(minutes=600)  # the resolution budget (10 h) runs out only if it reopens
    buyer_reply = client.post(f"/api/v1/cases/{case['id']}/messages", headers=world.auth("lead"),
                              json={"body": "reopening on the customer's behalf", "status": "open"})
    assert buyer_reply.status_code == 201, buyer_reply.text
    warned, breached = timers.sweep(db, now=clock.now())
    db.commit()
    breaches = [e.data["metric"] for e in events_of(db, case["id"]) if e.type == "sla.breached"]
    assert breaches == ["first_reply"] and breached == 0 and warned == 0


def test_a_holiday_added_later_moves_the_running_due_times(client: TestClient, world: World, db: Session,
                                                           clock: FrozenClock) -> None:
    calendar = {"key": "us-office", "name": "US office", "time_zone": "America/New_York",
                "weekly": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}
    assert client.post("/api/v1/calendars", headers=world.auth("admin"), json=calendar).status_code == 201
    policy = POLICY | {"calendar_key": "us-office", "targets": {
        p: {"first_reply": {"minutes": 480}} for p in ALL}}
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=policy).status_code == 201
    case = intake_case(client, world)  # Monday 2 March 2026, 09:00 UTC = 04:00 in New York
    before = _timers(db, case["id"])["first_reply"].due_at
    assert before is not None and before.isoformat() == "2026-03-02T22:00:00+00:00"  # 17:00 New York
    closed = client.put("/api/v1/calendars/us-office/holidays/2026-03-02", headers=world.auth("admin"),
                        json={"day": "2026-03-02", "name": "Office closed"})
    assert closed.status_code == 200, closed.text
    after = _timers(db, case["id"])["first_reply"].due_at
    assert after is not None and after.isoformat() == "2026-03-03T22:00:00+00:00"


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


def test_queue_rows_and_the_case_page_show_the_clocks(client: TestClient, world: World, db: Session,
                                                      clock: FrozenClock) -> None:
    from tests.web.test_pages_auth import sign_in

    case = _setup(client, world)
    sign_in(client, "lead")
    clock.advance(minutes=20)
    queue = client.get(f"/console/queues/{world.queue_a.id}").text
    assert "Next due" in queue and "in 40m" in queue and "first reply" in queue
    page = client.get(f"/console/cases/{case['id']}").text
    assert "Service levels" in page and "standard v1" in page and "in 40m" in page
    clock.advance(minutes=60)
    assert "overdue 20m" in client.get(f"/console/queues/{world.queue_a.id}").text


def test_the_timeline_tells_sla_events_in_words(client: TestClient, world: World, db: Session,
                                                clock: FrozenClock) -> None:
    from tests.web.test_pages_auth import sign_in

    case = _setup(client, world)
    clock.advance(minutes=61)
    timers.sweep(db, now=clock.now())
    db.commit()
    sign_in(client, "lead")
    page = client.get(f"/console/cases/{case['id']}").text
    assert "SLA policy standard v1 applied (normal, 24x7)" in page
    assert "SLA warning: first reply" in page and "SLA breached: first reply, due 2026-03-02 10:00 UTC" in page


def test_a_paused_clock_shows_the_minutes_it_has_left(client: TestClient, world: World, clock: FrozenClock) -> None:
    from tests.web.test_pages_auth import sign_in

    case = _setup(client, world)
    clock.advance(minutes=10)
    client.post(f"/api/v1/cases/{case['id']}/messages", headers=world.auth("lead"),
                json={"body": "Which order is it?", "status": "pending"})
    sign_in(client, "lead")
    page = client.get(f"/console/cases/{case['id']}").text
    assert "paused (590 min left)" in page  # resolution: 600 minutes, 10 used before waiting on the customer
