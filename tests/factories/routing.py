"""Builders for routing tests: a topic tree, catalogue entries and a closed-case history to learn from."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.cases import make_party
from tests.factories.world import World
from trustdesk.cases import service as cases
from trustdesk.cases.models import Channel, PartyKind, Status
from trustdesk.core.events import SYSTEM
from trustdesk.core.settings import Settings
from trustdesk.directory.models import Queue

TOPICS_CSV = """key,en
orders,Orders
orders.delivery,Delivery
orders.delivery.late,Late delivery
payments,Payments
payments.double_charge,Double charge
account,Account
account.login,Login problems
"""

# Distinct vocabularies, so a small TF-IDF model is sure of these and unsure of anything else.
HISTORY: dict[str, tuple[str, ...]] = {
    "orders.delivery.late": (
        "My parcel is late, the delivery was due {n} days ago", "Package still not delivered after {n} days",
        "Courier delayed my shipment again, tracking stuck for {n} days", "Late delivery of order {n}, parcel missing",
        "Where is my parcel? The shipment is {n} days late"),
    "payments.double_charge": (
        "My card was charged twice for order {n}", "Double charge on my credit card, {n} dollars taken twice",
        "I was billed two times, please refund the duplicate payment of {n}",
        "Charged twice by card for the same purchase {n}", "The payment went through twice, {n} on my card statement"),
    "account.login": (
        "I cannot log in to my account, password reset email never arrives ({n})",
        "Login fails with wrong password although I reset it {n} times", "Locked out of my account after {n} tries",
        "Two-factor code does not arrive so I cannot sign in ({n})", "Reset password link expired, cannot login {n}"),
}


def import_topics(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/topics/import?format=csv", headers=world.auth("lead") | {
        "Content-Type": "text/plain"}, content=TOPICS_CSV)
    assert response.status_code == 200, response.text


def catalogue_entry(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    """An approved entry (proposed by the lead, approved by the admin), in force from ``valid_from``."""
    response = client.post("/api/v1/catalogue", headers=world.auth("lead"), json=body)
    assert response.status_code == 201, response.text
    approved = client.post(f"/api/v1/catalogue/versions/{response.json()['id']}/approve",
                           headers=world.auth("admin"), json={})
    assert approved.status_code == 200, approved.text
    return approved.json()  # type: ignore[no-any-return]


def seed_history(db: Session, world: World, *, queue: Queue, now: datetime, per_topic: int = 15) -> int:
    """Closed cases with final topics, a day apart per round, ending before ``now``."""
    party = make_party(db, world.us, now=now - timedelta(days=60), kind=PartyKind.BUYER, external_id="history")
    settings = Settings(database_url="sqlite://", secret_key="x" * 40)
    written = 0
    for round_ in range(per_topic):
        for topic, templates in HISTORY.items():
            at = now - timedelta(days=per_topic - round_, minutes=written)
            text = templates[round_ % len(templates)].format(n=round_ + 2)
            case = cases.open_case(db, cases.NewCase(
                channel=Channel.WEB_FORM, market=world.us, party=party, subject=text.split(",")[0], body=text,
                language="en", queue=queue, topic=topic), actor=SYSTEM, settings=settings, now=at).case
            cases.change_status(db, case, Status.SOLVED, actor=SYSTEM, now=at + timedelta(hours=1))
            written += 1
    db.commit()
    return written


def train(client: TestClient, world: World, *, activate: bool = True) -> dict[str, Any]:
    response = client.post("/api/v1/routing/models", headers=world.auth("lead"),
                           json={"embeddings": False, "activate": activate})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
