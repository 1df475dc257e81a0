"""Out-of-court disputes (DSA Art. 21): recorded against a decided appeal, closed once with the body's outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.appeals import AppealsWorld, decide, make_appeal, make_decision
from tests.factories.world import World
from trustdesk.appeals import disputes
from trustdesk.appeals.models import Appeal, AppealEvent, Dispute, DisputeOutcome, Outcome
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Invalid
from trustdesk.core.settings import Settings

API = "/api/v1"
BODY = "Appeals Centre Europe"


def decided(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings,
            external_id: str = "dec-1") -> Appeal:
    decision = make_decision(db, aw, now=clock.now(), external_id=external_id)
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    clock.advance(hours=3)
    decide(db, aw, appeal, Outcome.UPHELD, now=clock.now(), settings=settings)
    db.commit()
    clock.advance(days=2)
    return appeal


def events(db: Session, type_: str) -> list[AppealEvent]:
    db.flush()
    db.expire_all()
    return list(db.scalars(select(AppealEvent).where(AppealEvent.type == type_).order_by(AppealEvent.id)))


# ---------------------------------------------------------------- the service


def test_a_dispute_opens_on_a_decided_appeal_and_closes_once(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                             settings: Settings) -> None:
    appeal = decided(db, aw, clock, settings)
    admin = aw.actor("admin")
    opened_at = clock.now() - timedelta(days=1)
    dispute = disputes.record_dispute(db, appeal, body_name=f"  {BODY} ", opened_at=opened_at, actor=admin,
                                      now=clock.now())
    assert dispute.body_name == BODY and dispute.outcome == "pending" and dispute.closed_at is None
    assert dispute.recorded_by_user_id == admin.user_id
    [opened] = events(db, "appeal.dispute_opened")
    assert opened.appeal_id == appeal.id and opened.decision_id == appeal.decision_id
    assert opened.party_id == appeal.party_id and opened.data["dispute_id"] == dispute.id

    with pytest.raises(Conflict) as second:
        disputes.record_dispute(db, appeal, body_name="User Rights", opened_at=opened_at, actor=admin,
                                now=clock.now())
    assert second.value.field == "appeal"

    clock.advance(days=30)
    closed_at = clock.now() - timedelta(days=2)
    disputes.close_dispute(db, dispute, outcome=DisputeOutcome.DECISION_UPHELD, closed_at=closed_at, actor=admin,
                           now=clock.now())
    assert dispute.outcome == "decision_upheld" and dispute.closed_at == closed_at
    [closed] = events(db, "appeal.dispute_closed")
    assert closed.data["outcome"] == "decision_upheld" and closed.data["days_open"] == 29

    with pytest.raises(Conflict) as again:
        disputes.close_dispute(db, dispute, outcome=DisputeOutcome.SETTLED, closed_at=clock.now(), actor=admin,
                               now=clock.now())
    assert again.value.field == "dispute"
    assert dispute.outcome == "decision_upheld"
    assert len(events(db, "appeal.dispute_closed")) == 1

    # Closed, the appeal may go to another body.
    disputes.record_dispute(db, appeal, body_name="User Rights", opened_at=clock.now(), actor=admin, now=clock.now())
    assert db.scalar(select(func.count(Dispute.id)).where(Dispute.appeal_id == appeal.id)) == 2


def test_only_a_decided_appeal_goes_to_a_dispute(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                 settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    with pytest.raises(Conflict) as refused:
        disputes.record_dispute(db, appeal, body_name=BODY, opened_at=clock.now(), actor=aw.actor("admin"),
                                now=clock.now())
    assert refused.value.field == "appeal"
    assert db.scalar(select(func.count(Dispute.id))) == 0
    assert events(db, "appeal.dispute_opened") == []


@pytest.mark.parametrize(("shift", "body_name", "field"), [
    (timedelta(hours=1), BODY, "opened_at"),  # in the future
    (-timedelta(days=3), BODY, "opened_at"),  # before the appeal was decided
    (timedelta(0), "   ", "body_name"),
])
def test_a_dispute_needs_a_body_and_a_plausible_opening(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                        settings: Settings, shift: timedelta, body_name: str,
                                                        field: str) -> None:
    appeal = decided(db, aw, clock, settings)
    with pytest.raises(Invalid) as refused:
        disputes.record_dispute(db, appeal, body_name=body_name, opened_at=clock.now() + shift,
                                actor=aw.actor("admin"), now=clock.now())
    assert refused.value.field == field


@pytest.mark.parametrize(("outcome", "shift", "field"), [
    (DisputeOutcome.PENDING, timedelta(0), "outcome"),
    (DisputeOutcome.SETTLED, -timedelta(days=2), "closed_at"),  # before it opened
    (DisputeOutcome.SETTLED, timedelta(hours=1), "closed_at"),  # in the future
])
def test_closing_needs_an_outcome_and_a_plausible_date(db: Session, aw: AppealsWorld, clock: FrozenClock,
                                                       settings: Settings, outcome: DisputeOutcome,
                                                       shift: timedelta, field: str) -> None:
    appeal = decided(db, aw, clock, settings)
    dispute = disputes.record_dispute(db, appeal, body_name=BODY, opened_at=clock.now() - timedelta(days=1),
                                      actor=aw.actor("admin"), now=clock.now())
    with pytest.raises(Invalid) as refused:
        disputes.close_dispute(db, dispute, outcome=outcome, closed_at=clock.now() + shift, actor=aw.actor("admin"),
                               now=clock.now())
    assert refused.value.field == field
    assert dispute.outcome == "pending"


# ---------------------------------------------------------------- the API


def test_disputes_over_the_api(client: TestClient, db: Session, world: World, aw: AppealsWorld, clock: FrozenClock,
                               settings: Settings) -> None:
    appeal = decided(db, aw, clock, settings)
    url = f"{API}/appeals/{appeal.id}/disputes"
    body: dict[str, Any] = {"body_name": BODY, "opened_at": (clock.now() - timedelta(days=1)).isoformat()}

    assert_problem(client.post(url, headers=world.auth("reviewer"), json=body), 403)
    assert_problem(client.post(url, headers=world.auth("seller"), json=body), 403)
    assert_problem(client.post(url, headers=world.auth("admin"), json=body | {"opened_at": "2026-03-03T09:00:00"}),
                   422, "opened_at")
    assert_problem(client.post(url, headers=world.auth("admin"), json=body | {"body_name": ""}), 422, "body_name")
    assert_problem(client.post(f"{API}/appeals/999999/disputes", headers=world.auth("admin"), json=body),
                   404, "appeal_id")

    opened = client.post(url, headers=world.auth("lead"), json=body)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["appeal_id"] == appeal.id and dispute["outcome"] == "pending" and dispute["closed_at"] is None
    assert_problem(client.post(url, headers=world.auth("lead"), json=body), 409, "appeal")

    seller_view = client.get(f"{API}/appeals/{appeal.id}", headers=world.auth("seller")).json()
    assert [d["id"] for d in seller_view["disputes"]] == [dispute["id"]]

    outcome_url = f"{API}/appeals/disputes/{dispute['id']}/outcome"
    closing = {"outcome": "decision_reversed", "closed_at": clock.now().isoformat()}
    assert_problem(client.post(outcome_url, headers=world.auth("admin"), json=closing | {"outcome": "pending"}),
                   422, "outcome")
    assert_problem(client.post(outcome_url, headers=world.auth("admin"), json=closing | {"outcome": "won"}),
                   422, "outcome")
    assert_problem(client.post(outcome_url, headers=world.auth("admin"),
                               json=closing | {"closed_at": (clock.now() - timedelta(days=5)).isoformat()}),
                   422, "closed_at")
    assert_problem(client.post(outcome_url, headers=world.auth("qa"), json=closing), 403)
    closed = client.post(outcome_url, headers=world.auth("admin"), json=closing)
    assert closed.status_code == 200, closed.text
    assert closed.json()["outcome"] == "decision_reversed" and closed.json()["closed_at"]
    assert_problem(client.post(outcome_url, headers=world.auth("admin"), json=closing | {"outcome": "settled"}),
                   409, "dispute")
    assert_problem(client.post(f"{API}/appeals/disputes/999999/outcome", headers=world.auth("admin"), json=closing),
                   404, "dispute_id")

    db.expire_all()
    row = db.get(Dispute, dispute["id"])
    assert row is not None and row.outcome == "decision_reversed" and row.closed_at == clock.now()
    assert [e.type for e in events(db, "appeal.dispute_opened") + events(db, "appeal.dispute_closed")] == [
        "appeal.dispute_opened", "appeal.dispute_closed"]


def test_an_open_appeal_cannot_be_disputed_over_the_api(client: TestClient, db: Session, world: World,
                                                        aw: AppealsWorld, clock: FrozenClock,
                                                        settings: Settings) -> None:
    decision = make_decision(db, aw, now=clock.now())
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    db.commit()
    response = client.post(f"{API}/appeals/{appeal.id}/disputes", headers=world.auth("admin"),
                           json={"body_name": BODY, "opened_at": clock.now().isoformat()})
    assert_problem(response, 409, "appeal")
    assert db.scalar(select(func.count(Dispute.id))) == 0
