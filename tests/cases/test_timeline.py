"""The timeline: the full audit trail of a case, in order, with who did it; and events never change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem, customer_case
from tests.factories.world import World
from trustdesk.cases.service import close_solved_cases
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import transaction
from trustdesk.core.events import CaseEvent


def test_the_timeline_is_the_whole_story_in_order(client: TestClient, world: World, clock: FrozenClock,
                                                  factory: sessionmaker[Session]) -> None:
    agent, buyer = world.auth("agent_t1"), world.auth("buyer")
    moments = [clock.now()]
    created = customer_case(client, world)
    url = f"/api/v1/cases/{created['id']}"

    def later() -> None:
        moments.append(clock.advance(minutes=10))

    later()
    assert client.post(f"{url}/notes", headers=agent, json={"body": "Looks like a carrier issue."}).status_code == 201
    later()
    etag = client.get(url, headers=agent).headers["etag"]
    assert client.patch(url, headers=agent | {"If-Match": etag}, json={"priority": "high"}).status_code == 200
    later()
    assert client.post(f"{url}/messages", headers=agent,
                       json={"body": "Can you confirm the address?", "status": "pending"}).status_code == 201
    later()
    assert client.post(f"{url}/messages", headers=buyer, json={"body": "Yes, 1 Main St."}).status_code == 201
    later()
    assert client.post(f"{url}/attachments", headers=agent, json=[
        {"filename": "label.pdf", "content_type": "application/pdf", "size_bytes": 5000}]).status_code == 201
    later()
    assert client.post(f"{url}/status", headers=agent, json={"status": "solved"}).status_code == 200
    moments.append(clock.advance(days=8))
    with transaction(factory) as session:
        assert close_solved_cases(session, now=clock.now(), reopen_window=timedelta(days=7)) == 1

    response = client.get(f"{url}/events", headers=agent)

    assert response.status_code == 200, response.text
    events = response.json()
    buyer_id, agent_id = world.users["buyer"].id, world.users["agent_t1"].id
    assert [(e["type"], e["actor_type"], e["actor_id"]) for e in events] == [
        ("case.created", "customer", buyer_id),
        ("case.routed", "customer", buyer_id),
        ("case.message_added", "customer", buyer_id),
        ("case.assigned", "system", None),
        ("case.status_changed", "system", None),
        ("case.message_added", "agent", agent_id),
        ("case.updated", "agent", agent_id),
        ("case.message_added", "agent", agent_id),
        ("case.status_changed", "agent", agent_id),
        ("case.message_added", "customer", buyer_id),
        ("case.status_changed", "customer", buyer_id),
        ("case.attachments_added", "agent", agent_id),
        ("case.status_changed", "agent", agent_id),
        ("case.status_changed", "system", None),
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stamps = [e["occurred_at"] for e in events]
    expected = [moments[0]] * 5 + [moments[1], moments[2], moments[3], moments[3], moments[4], moments[4],
                                   moments[5], moments[6], moments[7]]
    assert stamps == [m.isoformat().replace("+00:00", "Z") for m in expected]
    statuses = [(e["data"]["from"], e["data"]["to"]) for e in events if e["type"] == "case.status_changed"]
    assert statuses == [("new", "open"), ("open", "pending"), ("pending", "open"), ("open", "solved"),
                        ("solved", "closed")]
    visibilities = [e["data"]["visibility"] for e in events if e["type"] == "case.message_added"]
    assert visibilities == ["public", "internal", "public", "public"]


def test_the_timeline_is_agents_only_and_scoped(client: TestClient, world: World) -> None:
    created = customer_case(client, world)
    url = f"/api/v1/cases/{created['id']}/events"
    assert client.get(url, headers=world.auth("qa")).status_code == 200  # read-only QA may audit
    assert_problem(client.get(url, headers=world.auth("buyer")), 403)
    assert_problem(client.get(url, headers=world.auth("agent_t1_b")), 404, "case_id")
    assert_problem(client.get(url), 401)


@pytest.fixture
def event_id(client: TestClient, world: World) -> int:
    created = customer_case(client, world)
    events = client.get(f"/api/v1/cases/{created['id']}/events", headers=world.auth("agent_t1")).json()
    return int(events[0]["id"])


def test_an_event_cannot_be_changed_through_the_orm(connection: Connection, event_id: int) -> None:
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        row = session.get(CaseEvent, event_id)
        assert row is not None
        row.type = "case.tampered"
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
    finally:
        session.rollback()
        session.close()
    assert _type_of(connection, event_id) == "case.created"


def test_an_event_cannot_be_deleted_through_the_orm(connection: Connection, event_id: int) -> None:
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        row = session.get(CaseEvent, event_id)
        session.delete(row)
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
    finally:
        session.rollback()
        session.close()
    assert _type_of(connection, event_id) == "case.created"


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_bulk_orm_statements_are_refused_by_the_database(connection: Connection, event_id: int,
                                                         statement: str) -> None:
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    query = (update(CaseEvent).where(CaseEvent.id == event_id).values(type="case.tampered")
             if statement == "update" else delete(CaseEvent).where(CaseEvent.id == event_id))
    try:
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(query)
    finally:
        session.rollback()
        session.close()
    assert _type_of(connection, event_id) == "case.created"


def _type_of(connection: Connection, event_id: int) -> str | None:
    return connection.scalar(select(CaseEvent.type).where(CaseEvent.id == event_id))
