"""Honest deflection with the clock: resolved only after 7 days without a case from the same person."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import customer_case
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.demo.kb import ensure_kb
from trustdesk.knowledge import funnel


def _helped(client: TestClient, world: World, who: str | None) -> int:
    headers = world.auth(who) if who else {}
    started = client.post("/api/v1/bot/conversations", json={"market": "US"}, headers=headers).json()
    token = {"X-Bot-Token": started["token"]}
    reply = client.post(f"/api/v1/bot/conversations/{started['id']}/messages", headers=token,
                        json={"text": "How can I track my order?"}).json()
    assert reply["kind"] == "answer"
    assert client.post(f"/api/v1/bot/conversations/{started['id']}/helped", headers=token).status_code == 200
    return int(started["id"])


def test_resolved_only_after_seven_quiet_days(client: TestClient, world: World, db: Session,
                                             clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    start = clock.now()
    _helped(client, world, "buyer")  # stays quiet
    _helped(client, world, "buyer2")  # comes back with a case on day 5
    _helped(client, world, None)  # nobody signed in: cannot be followed

    def figures() -> dict[str, object]:
        report = funnel.report(db, since=start, until=start + timedelta(days=1), now=clock.now(), days=7,
                               by="market")
        [row] = report.rows
        assert row.key == "US" and report.total.as_dict() | {"key": "US"} == row.as_dict()
        return row.as_dict()

    clock.advance(days=3)
    early = figures()
    assert (early["attempts"], early["answers"], early["helped"], early["resolved"], early["pending"],
            early["unknown"], early["deflection_rate"]) == (3, 3, 3, 0, 2, 1, 0.0)  # nothing resolved yet
    clock.advance(days=2)
    customer_case(client, world, who="buyer2")  # on another channel, within the window: not deflected
    clock.advance(days=2, seconds=1)  # seven days after the conversations
    row = figures()
    assert (row["helped"], row["resolved"], row["contacted"], row["pending"], row["unknown"]) == (3, 1, 1, 0, 1)
    assert row["deflection_rate"] == round(1 / 3, 6)  # resolved / attempts: the unknown one never counts
