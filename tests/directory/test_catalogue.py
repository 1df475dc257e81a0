"""Topics and the service catalogue through the API: import, four eyes, most specific wins, time travel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.directory import make_market, make_team
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.directory.models import CatalogueEntry, Tier, Topic

TOPICS_CSV = """key,en,es,description
orders.delivery.late,Late delivery,Entrega tardía,
orders,Orders,Pedidos,Everything about orders
orders.delivery,Delivery,Entrega,
payments,Payments,Pagos,
"""


@pytest.fixture
def topics(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/topics/import?format=csv", headers=world.auth("lead") | {
        "Content-Type": "text/plain"}, content=TOPICS_CSV)
    assert response.status_code == 200, response.text


def _propose(client: TestClient, world: World, who: str = "lead", entry_id: int | None = None,
             **body: Any) -> dict[str, Any]:
    url = "/api/v1/catalogue" if entry_id is None else f"/api/v1/catalogue/{entry_id}/versions"
    response = client.post(url, headers=world.auth(who), json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _approve(client: TestClient, world: World, version_id: int, who: str = "admin") -> dict[str, Any]:
    response = client.post(f"/api/v1/catalogue/versions/{version_id}/approve", headers=world.auth(who), json={})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _entry(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    return _approve(client, world, _propose(client, world, **body)["id"])


def _who(client: TestClient, world: World, **query: str) -> dict[str, Any]:
    response = client.get("/api/v1/catalogue/who", headers=world.auth("qa"), params=query)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _owner(client: TestClient, world: World, **query: str) -> str | None:
    entry = _who(client, world, **query)["entry"]
    return entry["team_key"] if entry else None


# ---------------------------------------------------------------- topics


def test_import_puts_parents_first_and_is_idempotent(client: TestClient, world: World, db: Session,
                                                     topics: None) -> None:
    listed = client.get("/api/v1/topics", headers=world.auth("qa")).json()
    assert [(t["key"], t["parent_key"], t["depth"]) for t in listed] == [
        ("orders", None, 1), ("orders.delivery", "orders", 2), ("orders.delivery.late", "orders.delivery", 3),
        ("payments", None, 1)]
    assert listed[2]["names"] == {"en": "Late delivery", "es": "Entrega tardía"}
    again = client.post("/api/v1/topics/import?format=csv", headers=world.auth("lead") | {
        "Content-Type": "text/plain"}, content=TOPICS_CSV.replace("Pagos", "Pagos y cobros"))
    assert again.json() == {"created": [], "updated": ["payments"], "unchanged": 3}


def test_import_from_a_yaml_tree(client: TestClient, world: World, db: Session) -> None:
    tree = """
- key: sellers
  names: {en: Sellers, id: Penjual}
  children:
    - key: payouts
      names: {en: Payouts}
      children:
        - key: held
          names: {en: Payout held, es: Pago retenido}
"""
    response = client.post("/api/v1/topics/import?format=yaml", headers=world.auth("lead") | {
        "Content-Type": "text/plain"}, content=tree)
    assert response.json()["created"] == ["sellers", "sellers.payouts", "sellers.payouts.held"]
    held = db.scalar(select(Topic).where(Topic.key == "sellers.payouts.held"))
    assert held is not None and held.depth == 3 and held.names["es"] == "Pago retenido"


@pytest.mark.parametrize(("content", "field"), [
    ("key,en\norders.delivery,Delivery\n", "rows[0].key"),  # its parent is neither here nor stored
    ("key,es\norders,Pedidos\n", "rows[0].names"),  # English is the fallback, so it is required
    ("key,en\nOrders!,Orders\n", "rows[0].key"),
    ("key,en\norders,Orders\norders,Orders again\n", "rows[1].key"),
    ("name,en\norders,Orders\n", "key"),
])
def test_bad_topic_files_name_the_row_and_write_nothing(client: TestClient, world: World, db: Session,
                                                         content: str, field: str) -> None:
    response = client.post("/api/v1/topics/import?format=csv", headers=world.auth("lead") | {
        "Content-Type": "text/plain"}, content=content)
    assert_problem(response, 422, field)
    assert db.scalar(select(func.count(Topic.id))) == 0


# ---------------------------------------------------------------- four eyes


def test_a_proposal_is_a_draft_until_someone_else_approves_it(client: TestClient, world: World, db: Session,
                                                             topics: None) -> None:
    draft = _propose(client, world, topic="orders", team_id=world.t2.id)
    assert (draft["status"], draft["version"], draft["entry_id"], draft["tier"]) == (
        "draft", 1, draft["id"], "t2")
    assert _owner(client, world, market="US", topic="orders") is None  # drafts answer nothing
    drafts = client.get("/api/v1/catalogue/drafts", headers=world.auth("qa")).json()
    assert [d["id"] for d in drafts] == [draft["id"]]

    refused = client.post(f"/api/v1/catalogue/versions/{draft['id']}/approve", headers=world.auth("lead"), json={})
    assert_problem(refused, 403)
    approved = _approve(client, world, draft["id"], who="admin")
    assert approved["status"] == "approved" and approved["approver_user_id"] == world.users["admin"].id
    assert _owner(client, world, market="US", topic="orders") == "t2"
    again = client.post(f"/api/v1/catalogue/versions/{draft['id']}/approve", headers=world.auth("lead"), json={})
    assert_problem(again, 409, "status")


def test_rejecting_needs_a_reason_and_leaves_the_catalogue_as_it_was(client: TestClient, world: World,
                                                                    topics: None) -> None:
    draft = _propose(client, world, topic="orders", team_id=world.t2.id)
    url = f"/api/v1/catalogue/versions/{draft['id']}/reject"
    assert_problem(client.post(url, headers=world.auth("admin"), json={}), 422, "note")
    rejected = client.post(url, headers=world.auth("admin"), json={"note": "orders belong to tier 1"}).json()
    assert (rejected["status"], rejected["note"]) == ("rejected", "orders belong to tier 1")
    assert _owner(client, world, market="US", topic="orders") is None


@pytest.mark.parametrize(("body", "field"), [
    ({"team_id": 999999}, "team_id"),
    ({"topic": "nope"}, "topic"),
    ({"market_scope": "XX"}, "market_scope"),
    ({"channel": "fax"}, "channel"),
    ({"party_kind": "alien"}, "party_kind"),
    ({"contact_user_id": 999999}, "contact_user_id"),
    ({"valid_from": "2020-01-01T00:00:00Z"}, "valid_from"),
    ({"valid_from": "2031-01-01T00:00:00"}, "valid_from"),  # no offset: which zone is meant is unknown
    ({"colour": "red"}, "colour"),
])
def test_bad_proposals_name_the_field_and_write_nothing(client: TestClient, world: World, db: Session,
                                                        body: dict[str, Any], field: str) -> None:
    response = client.post("/api/v1/catalogue", headers=world.auth("lead"), json={"team_id": world.t2.id} | body)
    assert_problem(response, 422, field)
    assert db.scalar(select(func.count(CatalogueEntry.id))) == 0


def test_vendor_agents_and_customers_cannot_read_the_catalogue(client: TestClient, world: World) -> None:
    for who in ("agent_t1", "buyer"):
        assert_problem(client.get("/api/v1/catalogue/who?market=US", headers=world.auth(who)), 403)


# ---------------------------------------------------------------- most specific wins


def test_the_most_specific_entry_wins_then_order(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                                 topics: None) -> None:
    make_market(db, now=clock.now(), code="DE", name="Germany", time_zone="Europe/Berlin", languages=["de", "en"],
                default_language="de", currency="EUR", region="EU")
    world.es.region = "EU"
    teams = {key: make_team(db, now=clock.now(), key=key, tier=Tier.T2) for key in (
        "fallback", "orders-any", "orders-eu", "orders-es", "late-any", "late-chat", "late-chat-seller",
        "payments-a", "payments-b")}
    db.commit()
    _entry(client, world, team_id=teams["fallback"].id)
    _entry(client, world, topic="orders", team_id=teams["orders-any"].id)
    _entry(client, world, topic="orders", market_scope="EU", team_id=teams["orders-eu"].id)
    _entry(client, world, topic="orders", market_scope="es", team_id=teams["orders-es"].id)
    _entry(client, world, topic="orders.delivery.late", team_id=teams["late-any"].id)
    _entry(client, world, topic="orders.delivery.late", channel="in_app_chat", team_id=teams["late-chat"].id)
    _entry(client, world, topic="orders.delivery.late", channel="in_app_chat", party_kind="seller",
           team_id=teams["late-chat-seller"].id)
    _entry(client, world, topic="payments", team_id=teams["payments-b"].id, position=20)
    _entry(client, world, topic="payments", team_id=teams["payments-a"].id, position=10)

    assert _owner(client, world, market="US") == "fallback"
    assert _owner(client, world, market="US", topic="orders") == "orders-any"
    assert _owner(client, world, market="DE", topic="orders") == "orders-eu"  # the region beats *
    assert _owner(client, world, market="ES", topic="orders") == "orders-es"  # the market beats its region
    # A deeper topic beats a narrower market: topic first.
    assert _owner(client, world, market="ES", topic="orders.delivery.late") == "late-any"
    # A sub-topic with no entry of its own inherits its nearest ancestor's.
    assert _owner(client, world, market="ES", topic="orders.delivery") == "orders-es"
    assert _owner(client, world, market="US", topic="orders.delivery.late", channel="in_app_chat") == "late-chat"
    assert _owner(client, world, market="US", topic="orders.delivery.late", channel="in_app_chat",
                  party_kind="seller") == "late-chat-seller"
    assert _owner(client, world, market="US", topic="orders.delivery.late", channel="web_form",
                  party_kind="seller") == "late-any"
    assert _owner(client, world, market="US", topic="payments") == "payments-a"  # same specificity: order

    answer = _who(client, world, market="ES", topic="orders")
    assert answer["specificity"] == [1, 2, 0, 0]
    assert [c["team_key"] for c in answer["considered"]] == ["orders-es", "orders-eu", "orders-any", "fallback"]
    assert "more specific than entry" in answer["explanation"]
    payments = _who(client, world, market="US", topic="payments")
    assert "earlier in order (10 < 20)" in payments["explanation"]


def test_nothing_matching_means_triage(client: TestClient, world: World, topics: None) -> None:
    _entry(client, world, topic="orders", market_scope="ES", team_id=world.t2.id)
    answer = _who(client, world, market="US", topic="orders")
    assert answer["entry"] is None and answer["considered"] == []
    assert "triage" in answer["explanation"]


@pytest.mark.parametrize(("query", "field"), [
    ({"market": "XX"}, "market"), ({"market": "US", "topic": "nope"}, "topic"),
    ({"market": "US", "topic": "Bad Key"}, "topic"), ({}, "market"),
    ({"market": "US", "at": "2026-01-01T00:00:00"}, "at"),
])
def test_bad_questions_name_the_field(client: TestClient, world: World, topics: None, query: dict[str, str],
                                      field: str) -> None:
    assert_problem(client.get("/api/v1/catalogue/who", headers=world.auth("qa"), params=query), 422, field)


# ---------------------------------------------------------------- versions and time travel


def test_who_owned_it_then(client: TestClient, world: World, clock: FrozenClock, db: Session,
                           topics: None) -> None:
    team_b = make_team(db, now=clock.now(), key="orders-b", tier=Tier.T2)
    db.commit()
    t0 = clock.now()
    first = _entry(client, world, topic="orders", team_id=world.t1_a.id)
    clock.advance(timedelta(hours=1))
    t1 = clock.now() + timedelta(days=2)
    second = _propose(client, world, entry_id=first["entry_id"], topic="orders", team_id=team_b.id,
                      valid_from=t1.isoformat())
    assert second["version"] == 2
    _approve(client, world, second["id"])
    clock.advance(timedelta(hours=1))

    def owner_at(when: datetime) -> str | None:
        return _owner(client, world, market="US", topic="orders", at=when.isoformat())

    assert owner_at(t0 - timedelta(days=1)) is None  # before the catalogue said anything
    assert owner_at(t0 + timedelta(minutes=30)) == "t1-a"
    assert owner_at(t1 - timedelta(seconds=1)) == "t1-a"
    assert owner_at(t1) == "orders-b"
    assert _owner(client, world, market="US", topic="orders") == "t1-a"  # now: still the first version

    versions = client.get(f"/api/v1/catalogue/{first['entry_id']}/versions", headers=world.auth("qa")).json()
    assert [(v["version"], v["valid_to"] is not None) for v in versions] == [(1, True), (2, False)]

    clock.advance(timedelta(days=3))
    t2 = clock.now()
    retired = client.post(f"/api/v1/catalogue/{first['entry_id']}/retire", headers=world.auth("admin"), json={})
    assert retired.status_code == 200, retired.text
    assert owner_at(t2 + timedelta(seconds=1)) is None
    assert owner_at(t1 + timedelta(hours=1)) == "orders-b"  # the past is unchanged
    assert owner_at(t0 + timedelta(minutes=30)) == "t1-a"


def test_a_version_cannot_be_scheduled_before_one_already_scheduled(client: TestClient, world: World,
                                                                    clock: FrozenClock, topics: None) -> None:
    first = _entry(client, world, topic="orders", team_id=world.t1_a.id)
    later = clock.now() + timedelta(days=10)
    _approve(client, world, _propose(client, world, entry_id=first["entry_id"], topic="orders",
                                     team_id=world.t2.id, valid_from=later.isoformat())["id"])
    earlier = _propose(client, world, entry_id=first["entry_id"], topic="orders", team_id=world.t1_b.id,
                       valid_from=(later - timedelta(days=5)).isoformat())
    refused = client.post(f"/api/v1/catalogue/versions/{earlier['id']}/approve", headers=world.auth("admin"),
                          json={})
    assert_problem(refused, 409, "valid_from")


def test_reviews_fall_due_and_are_recorded(client: TestClient, world: World, clock: FrozenClock, db: Session,
                                           topics: None) -> None:
    from trustdesk.directory import catalogue

    entry = _entry(client, world, topic="orders", team_id=world.t2.id, review_interval_days=30,
                   owner_user_id=world.users["lead"].id)
    assert catalogue.overdue_reviews(db, now=clock.now()) == []
    clock.advance(timedelta(days=31))
    db.expire_all()
    assert [v.entry_id for v in catalogue.overdue_reviews(db, now=clock.now())] == [entry["entry_id"]]
    reviewed = client.post(f"/api/v1/catalogue/{entry['entry_id']}/review", headers=world.auth("lead"))
    assert reviewed.status_code == 200, reviewed.text
    db.expire_all()
    assert catalogue.overdue_reviews(db, now=clock.now()) == []
    assert reviewed.json()["review_due_at"].startswith((clock.now() + timedelta(days=30)).date().isoformat())
