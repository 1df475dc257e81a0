"""Shared steps of the CSAT survey tests: a solved case, a survey run, the link the customer got."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import customer_case
from tests.factories.world import World
from trustdesk.cases.models import Message
from trustdesk.core.clock import FrozenClock
from trustdesk.feedback import surveys
from trustdesk.feedback.models import CsatSurvey

BASE_URL = "https://help.example.test"
LINK = re.compile(r"https://help\.example\.test/survey/(cs_[A-Za-z0-9_-]+)")


def solved_case(client: TestClient, world: World, *, channel: str = "in_app_chat", who: str = "buyer",
                **overrides: Any) -> int:
    """A case a customer opened on ``channel``, solved by an agent's reply now."""
    case_id = int(customer_case(client, world, who, channel=channel, **overrides)["id"])
    solve(client, world, case_id)
    return case_id


def solve(client: TestClient, world: World, case_id: int) -> None:
    reply = client.post(f"/api/v1/cases/{case_id}/messages", headers=world.auth("lead"),
                        json={"body": "Your parcel arrives tomorrow.", "visibility": "public", "status": "solved"})
    assert reply.status_code == 201, reply.text


def reopen(client: TestClient, world: World, case_id: int, who: str = "buyer") -> None:
    reply = client.post(f"/api/v1/cases/{case_id}/messages", headers=world.auth(who),
                        json={"body": "It did not arrive after all."})
    assert reply.status_code == 201, reply.text


def configure(client: TestClient, world: World, channel: str, **changes: Any) -> dict[str, Any]:
    body = {"enabled": True, "delay_minutes": 60, "response_window_hours": 168, "scale": "five_point"} | changes
    response = client.put(f"/api/v1/feedback/survey-settings/{channel}", headers=world.auth("lead"), json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def run(db: Session, clock: FrozenClock) -> tuple[int, int, int]:
    """One pass of the survey job's steps, committed: (planned, sent, expired)."""
    now = clock.now()
    planned = surveys.schedule_due(db, now=now)
    sent = surveys.send_due(db, now=now, base_url=BASE_URL)
    expired = surveys.expire(db, now=now)
    db.commit()
    return planned, sent, expired


def survey_of(db: Session, case_id: int) -> CsatSurvey:
    db.expire_all()
    survey = db.scalar(select(CsatSurvey).where(CsatSurvey.case_id == case_id))
    assert survey is not None
    return survey


def link_tokens(db: Session, case_id: int) -> list[str]:
    """The survey tokens posted on the case's public thread, oldest first."""
    bodies = db.scalars(select(Message.body).where(Message.case_id == case_id, Message.author_type == "system",
                                                   Message.visibility == "public").order_by(Message.id))
    return [m.group(1) for body in bodies for m in LINK.finditer(body)]


def token_of(db: Session, case_id: int) -> str:
    tokens = link_tokens(db, case_id)
    assert len(tokens) == 1, tokens
    return tokens[0]
