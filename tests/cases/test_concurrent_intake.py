"""A client that retries before its first request has answered still gets exactly one case.

Real threads send the same request with the same ``Idempotency-Key`` at the same moment, through
the ASGI app, against a database where transactions really commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from tests.conftest import START
from tests.factories.concurrency import race
from tests.factories.world import build_world
from trustdesk.app import create_app
from trustdesk.cases.models import Case, Message
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_session_factory, transaction
from trustdesk.core.events import CaseEvent
from trustdesk.core.settings import Settings

THREADS = 6


def test_simultaneous_retries_open_one_case(committed_engine: Engine, tmp_path: Path) -> None:
    factory = make_session_factory(committed_engine)
    with transaction(factory) as session:
        world = build_world(session, now=START)
    app = create_app(Settings(data_dir=tmp_path, secret_key="k" * 40), clock=FrozenClock(START), factory=factory,
                     jobs="off")
    body = {"channel": "api", "market": "US", "subject": "Refund not received", "language": "en",
            "body": "The seller promised a refund ten days ago.",
            "party": {"kind": "buyer", "external_id": "retry-1", "display_name": "Casey Customer"}}
    headers = world.auth("lead") | {"Idempotency-Key": "order-4711-refund"}
    answers: list[Any] = []

    def send() -> None:
        with TestClient(app) as client:
            answers.append(client.post("/api/v1/cases", headers=headers, json=body))

    race([send] * THREADS)

    assert [r.status_code for r in answers] == [201] * THREADS, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert sum(1 for r in answers if r.headers.get("Idempotent-Replayed") != "true") == 1
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        assert session.scalar(select(func.count()).select_from(Message)) == 1
        assert session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.type == "case.created")) == 1
