"""Helpers for tests that drive the JSON API: opening cases, reading problems, counting rows."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.factories.world import World
from trustdesk.cases.models import Case
from trustdesk.core.events import CaseEvent
from trustdesk.core.models_registry import metadata
from trustdesk.directory.models import Queue

PROBLEM_JSON = "application/problem+json"
# The rows a refused request must never leave behind.
CASE_TABLES = ("cases", "case_messages", "parties", "case_events", "outbox", "idempotency_keys",
               "case_attachments", "case_links")


def customer_case(client: TestClient, world: World, who: str = "buyer", **overrides: Any) -> dict[str, Any]:
    """A case opened by a signed-in customer through the API (201 asserted)."""
    body = {"channel": "web_form", "market": "US", "subject": "Where is my order?",
            "body": "My order 1234 has not arrived after two weeks."} | overrides
    response = client.post("/api/v1/cases", headers=world.auth(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def intake_case(client: TestClient, world: World, queue: Queue | None = None, who: str = "lead",
                external_id: str = "cust-1", **overrides: Any) -> dict[str, Any]:
    """A case opened on behalf of a party (lead: cases.intake), in ``queue`` when given."""
    body: dict[str, Any] = {
        "channel": "api", "market": "US", "subject": "Refund not received",
        "body": "The seller promised a refund ten days ago.", "language": "en",
        "party": {"kind": "buyer", "external_id": external_id, "display_name": "Casey Customer"},
    } | overrides
    if queue is not None:
        body["queue_id"] = queue.id
    response = client.post("/api/v1/cases", headers=world.auth(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_problem(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """``response`` is RFC 9457 problem+json with ``status`` and, when given, ``errors[0].field``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    if field is not None:
        assert problem.get("errors"), problem
        assert problem["errors"][0]["field"] == field, problem
    return problem


def row_counts(db: Session, tables: tuple[str, ...] = CASE_TABLES) -> dict[str, int]:
    return {name: int(db.scalar(select(func.count()).select_from(text(name))) or 0) for name in tables}


def all_row_counts(db: Session) -> dict[str, int]:
    return row_counts(db, tuple(sorted(metadata.tables)))


def events_of(db: Session, case_id: int) -> list[CaseEvent]:
    return list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def fresh_case(db: Session, case_id: int) -> Case:
    """The case as the database has it now (not as this session last saw it)."""
    db.expire_all()
    case = db.get(Case, case_id)
    assert case is not None
    return case
