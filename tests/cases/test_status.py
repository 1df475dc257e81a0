"""The status machine: every transition, replies that reopen, and the sweep that closes solved cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem, customer_case, events_of, fresh_case, row_counts
from tests.factories.cases import make_case, make_party
from tests.factories.world import World
from trustdesk.cases.models import Status
from trustdesk.cases.service import change_status, close_solved_cases
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import transaction
from trustdesk.core.events import SYSTEM
from trustdesk.core.settings import Settings

# The rule, written out independently of the service's own table.
ALLOWED = {
    "new": {"open", "pending", "on_hold", "solved", "closed"},
    "open": {"pending", "on_hold", "solved"},
    "pending": {"open", "on_hold", "solved"},
    "on_hold": {"open", "pending", "solved"},
    "solved": {"open", "closed"},
    "closed": set(),
}
TIMESTAMP = {"open": "opened_at", "pending": "pending_at", "on_hold": "on_hold_at", "solved": "solved_at",
             "closed": "closed_at"}
PAIRS = [(a.value, b.value) for a in Status for b in Status]


def test_the_table_covers_every_status() -> None:
    assert set(ALLOWED) == {s.value for s in Status}
    assert len(PAIRS) == 36


def _case_in(db: Session, world: World, clock: FrozenClock, status: str) -> int:
    """A T2 case (no auto-assignment) driven into ``status`` through the service."""
    party = make_party(db, world.us, now=clock.now(), user=world.users["buyer"])
    case = make_case(db, market=world.us, party=party, queue=world.queue_t2, now=clock.now())
    if status != "new":
        change_status(db, case, Status(status), actor=SYSTEM, now=clock.now())
    db.commit()
    assert case.status == status
    return case.id


def _state(db: Session, case_id: int) -> tuple[Any, ...]:
    case = fresh_case(db, case_id)
    return case.status, case.version, case.updated_at, len(events_of(db, case_id))


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition(client: TestClient, world: World, db: Session, clock: FrozenClock, current: str,
                    target: str) -> None:
    case_id = _case_in(db, world, clock, current)
    clock.advance(minutes=5)
    before = _state(db, case_id)
    counts = row_counts(db)

    response = client.post(f"/api/v1/cases/{case_id}/status", headers=world.auth("agent_t2"),
                           json={"status": target, "reason": "checked with the carrier"})

    if target in ALLOWED[current]:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
        case = fresh_case(db, case_id)
        assert case.status == target
        assert getattr(case, TIMESTAMP[target]) == clock.now()
        assert case.updated_at == clock.now()
        event = events_of(db, case_id)[-1]
        assert (event.type, event.actor_type, event.actor_id) == ("case.status_changed", "agent",
                                                                  world.users["agent_t2"].id)
        assert event.data["from"] == current and event.data["to"] == target
        assert event.data["reason"] == "checked with the carrier"
        assert event.data.get("reopened", False) is (current == "solved" and target == "open")
    else:
        problem = assert_problem(response, 409, "status")
        assert current in problem["detail"] and target in problem["detail"], problem["detail"]
        if current != target:
            assert "cannot become" in problem["detail"]
            allowed = ", ".join(sorted(ALLOWED[current])) or "none (final)"
            assert problem["detail"].endswith(f"allowed: {allowed}"), problem["detail"]
        assert _state(db, case_id) == before
        assert row_counts(db) == counts


def test_unknown_status_is_invalid(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = _case_in(db, world, clock, "open")
    assert_problem(client.post(f"/api/v1/cases/{case_id}/status", headers=world.auth("agent_t2"),
                               json={"status": "archived"}), 422, "status")
    assert fresh_case(db, case_id).status == "open"


# ---------------------------------------------------------------- replies move the status


def _reply(client: TestClient, world: World, case_id: int, who: str, **body: Any) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/messages", headers=world.auth(who),
                       json={"body": "Any news about this?"} | body)


@pytest.mark.parametrize(("start", "reopened"), [("pending", False), ("solved", True)])
def test_customer_reply_reopens_pending_and_solved(client: TestClient, world: World, db: Session,
                                                   clock: FrozenClock, start: str, reopened: bool) -> None:
    case_id = _case_in(db, world, clock, start)
    clock.advance(hours=2)
    response = _reply(client, world, case_id, "buyer")
    assert response.status_code == 201, response.text
    case = fresh_case(db, case_id)
    assert case.status == "open" and case.last_customer_message_at == clock.now()
    events = events_of(db, case_id)
    assert [e.type for e in events[-2:]] == ["case.message_added", "case.status_changed"]
    change = events[-1]
    assert change.actor_type == "customer"
    assert change.data["from"] == start and change.data["to"] == "open"
    assert change.data["reason"] == "customer_reply"
    assert change.data.get("reopened", False) is reopened


@pytest.mark.parametrize("start", ["new", "open", "on_hold"])
def test_customer_reply_leaves_other_statuses_alone(client: TestClient, world: World, db: Session,
                                                    clock: FrozenClock, start: str) -> None:
    case_id = _case_in(db, world, clock, start)
    assert _reply(client, world, case_id, "buyer").status_code == 201
    assert fresh_case(db, case_id).status == start
    assert events_of(db, case_id)[-1].type == "case.message_added"


def test_closed_case_refuses_replies(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case_id = _case_in(db, world, clock, "closed")
    before, counts = _state(db, case_id), row_counts(db)
    problem = assert_problem(_reply(client, world, case_id, "buyer"), 409)
    assert "closed" in problem["detail"]
    assert_problem(_reply(client, world, case_id, "agent_t2"), 409)
    assert _state(db, case_id) == before
    assert row_counts(db) == counts


def test_agent_reply_can_set_pending_in_one_step(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)  # auto-assigned to agent_t1: open
    response = _reply(client, world, created["id"], "agent_t1", body="Could you send a photo of the label?",
                      status="pending")
    assert response.status_code == 201, response.text
    assert response.json()["author_type"] == "agent"
    case = fresh_case(db, created["id"])
    assert case.status == "pending" and case.first_agent_reply_at is not None
    tail = events_of(db, created["id"])[-2:]
    assert [e.type for e in tail] == ["case.message_added", "case.status_changed"]
    assert tail[1].data == {"from": "open", "to": "pending", "reason": "agent_reply"}


def test_agent_reply_to_a_new_case_opens_it_first(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    case_id = _case_in(db, world, clock, "new")
    assert _reply(client, world, case_id, "agent_t2", status="solved").status_code == 201
    changes = [(e.data["from"], e.data["to"]) for e in events_of(db, case_id) if e.type == "case.status_changed"]
    assert changes == [("new", "open"), ("open", "solved")]


def test_agent_reply_with_a_refused_status_writes_nothing(client: TestClient, world: World, db: Session,
                                                          clock: FrozenClock) -> None:
    case_id = _case_in(db, world, clock, "open")
    before, counts = _state(db, case_id), row_counts(db)
    assert_problem(_reply(client, world, case_id, "agent_t2", status="closed"), 409, "status")
    assert _state(db, case_id) == before
    assert row_counts(db) == counts


def test_customers_cannot_set_a_status_with_their_reply(client: TestClient, world: World, db: Session,
                                                        clock: FrozenClock) -> None:
    case_id = _case_in(db, world, clock, "pending")
    counts = row_counts(db)
    assert_problem(_reply(client, world, case_id, "buyer", status="solved"), 422, "visibility")
    assert_problem(client.post(f"/api/v1/cases/{case_id}/status", headers=world.auth("buyer"),
                               json={"status": "solved"}), 403)
    assert fresh_case(db, case_id).status == "pending"
    assert row_counts(db) == counts


# ---------------------------------------------------------------- the close sweep


def _sweep(factory: sessionmaker[Session], clock: FrozenClock, settings: Settings) -> int:
    with transaction(factory) as session:
        return close_solved_cases(session, now=clock.now(),
                                  reopen_window=timedelta(days=settings.reopen_window_days))


def test_sweep_closes_solved_cases_after_the_reopen_window(client: TestClient, world: World, db: Session,
                                                           factory: sessionmaker[Session], clock: FrozenClock,
                                                           settings: Settings) -> None:
    solved_early = _case_in(db, world, clock, "solved")
    clock.advance(days=1)
    solved_later = _case_in(db, world, clock, "solved")
    still_open = _case_in(db, world, clock, "open")
    reopened = _case_in(db, world, clock, "solved")
    assert _reply(client, world, reopened, "buyer").status_code == 201

    clock.advance(days=settings.reopen_window_days - 1, seconds=-1)  # early case: window minus one second
    assert _sweep(factory, clock, settings) == 0
    assert fresh_case(db, solved_early).status == "solved"

    clock.advance(seconds=1)  # the early case's window has elapsed; the later one's has not
    assert _sweep(factory, clock, settings) == 1
    closed = fresh_case(db, solved_early)
    assert closed.status == "closed" and closed.closed_at == clock.now()
    event = events_of(db, solved_early)[-1]
    assert (event.type, event.actor_type, event.actor_id) == ("case.status_changed", "system", None)
    assert event.data == {"from": "solved", "to": "closed", "reason": "reopen_window_elapsed"}
    assert fresh_case(db, solved_later).status == "solved"

    clock.advance(days=1)
    assert _sweep(factory, clock, settings) == 1
    assert _sweep(factory, clock, settings) == 0  # safe to run twice
    assert fresh_case(db, solved_later).status == "closed"
    assert fresh_case(db, still_open).status == "open"
    assert fresh_case(db, reopened).status == "open"
    # Once closed, a customer must open a new case.
    assert_problem(_reply(client, world, solved_early, "buyer"), 409)
