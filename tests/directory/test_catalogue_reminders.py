"""Overdue catalogue reviews remind the entry's owner once per due date (the job is safe to run twice)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.routing import catalogue_entry, import_topics
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.directory import catalogue


def _inbox(client: TestClient, world: World, who: str) -> list[dict[str, object]]:
    return [n for n in client.get("/api/v1/notifications", headers=world.auth(who)).json()
            if n["kind"] == "catalogue.review_due"]


def test_overdue_reviews_remind_the_owner_once_per_due_date(client: TestClient, world: World, db: Session,
                                                            clock: FrozenClock) -> None:
    import_topics(client, world)
    owned = catalogue_entry(client, world, topic="orders", team_id=world.t2.id, review_interval_days=30,
                            owner_user_id=world.users["agent_t2"].id)
    ownerless = catalogue_entry(client, world, topic="payments", team_id=world.t2.id, review_interval_days=60)
    clock.advance(days=31)
    assert catalogue.remind_overdue_reviews(db, now=clock.now()) == 1
    assert catalogue.remind_overdue_reviews(db, now=clock.now() + timedelta(hours=1)) == 0  # once per due date
    db.commit()
    reminders = _inbox(client, world, "agent_t2")
    assert [n["title"] for n in reminders] == [
        f"Review catalogue entry {owned['entry_id']}: it was due {(clock.now() - timedelta(days=1)):%Y-%m-%d}"]
    clock.advance(days=30)  # the ownerless entry falls due: the catalogue's approvers hear of it
    assert catalogue.remind_overdue_reviews(db, now=clock.now()) == 1
    db.commit()
    assert [str(n["title"]).split(":")[0] for n in _inbox(client, world, "lead")] == [
        f"Review catalogue entry {ownerless['entry_id']}"]
    # Reviewed: no reminder until it falls due again.
    assert client.post(f"/api/v1/catalogue/{owned['entry_id']}/review", headers=world.auth("lead")).status_code == 200
    assert catalogue.remind_overdue_reviews(db, now=clock.now()) == 0
