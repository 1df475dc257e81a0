"""Intake: opening cases from every channel, parties, language, references, events and idempotency."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import (
    CASE_TABLES,
    assert_problem,
    customer_case,
    events_of,
    fresh_case,
    intake_case,
    row_counts,
)
from tests.factories.cases import make_case, make_party
from tests.factories.directory import make_queue, make_team
from tests.factories.world import World
from trustdesk.cases.models import Channel, Party, PartyKind, RequestType
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Invalid
from trustdesk.directory.models import Tier

SPANISH = ("Hola, compré unas zapatillas hace dos semanas y todavía no han llegado. "
           "¿Podrían decirme dónde está mi pedido? Gracias.")
ENGLISH = "Hello, I bought a pair of trainers two weeks ago and they still have not arrived. Where is my order?"


def _customer_body(**overrides: Any) -> dict[str, Any]:
    return {"channel": "web_form", "market": "US", "subject": "Where is my order?",
            "body": "My order 1234 has not arrived after two weeks."} | overrides


# ---------------------------------------------------------------- channels and parties


@pytest.mark.parametrize("channel", ["web_form", "in_app_chat", "api", "email"])
def test_every_channel_lands_in_the_queue_that_takes_it(client: TestClient, world: World, db: Session,
                                                        clock: FrozenClock, channel: str) -> None:
    created = customer_case(client, world, channel=channel)

    assert created["channel"] == channel
    case = fresh_case(db, created["id"])
    expected_queue = world.queue_a
    assert (case.queue_id, case.team_id, case.channel) == (expected_queue.id, expected_queue.team_id, channel)
    routed = [e for e in events_of(db, case.id) if e.type == "case.routed"]
    assert [e.data["queue_id"] for e in routed] == [expected_queue.id]
    assert routed[0].data["source"] == "intake_default"
    assert created["messages"][0]["body"] == "My order 1234 has not arrived after two weeks."


def test_the_appeal_form_lands_in_the_queue_that_takes_it(world: World, db: Session, clock: FrozenClock) -> None:
    appeals = make_queue(db, now=clock.now(), key="us-appeals", market=world.us,
                         team=make_team(db, now=clock.now(), key="appeals", tier=Tier.APPEALS),
                         intake_channels=["appeal_form"], auto_assign=False)
    party = make_party(db, world.us, now=clock.now(), user=world.users["seller"], kind=PartyKind.SELLER)
    case = make_case(db, market=world.us, party=party, now=clock.now(), channel=Channel.APPEAL_FORM)
    assert (case.queue_id, case.team_id) == (appeals.id, appeals.team_id)
    routed = [e for e in events_of(db, case.id) if e.type == "case.routed"]
    assert routed[0].data["source"] == "intake_default"


def test_a_channel_no_queue_takes_is_refused_naming_the_market(world: World, db: Session,
                                                               clock: FrozenClock) -> None:
    party = make_party(db, world.us, now=clock.now(), user=world.users["seller"], kind=PartyKind.SELLER)
    with pytest.raises(Invalid) as refused:
        make_case(db, market=world.us, party=party, now=clock.now(), channel=Channel.APPEAL_FORM)
    assert refused.value.field == "market" and "appeal_form" in refused.value.detail


def test_appeals_are_not_opened_as_plain_cases(client: TestClient, world: World, db: Session) -> None:
    """The appeal's rules (window, one open appeal, Art. 23) hold only through /api/v1/appeals."""
    before = row_counts(db)
    for who in ("seller", "lead"):
        body = _customer_body(channel="appeal_form", custom_fields={"decision_reference": "dec-1"})
        if who == "lead":
            body["party"] = {"kind": "seller", "external_id": "s1", "display_name": "S"}
        problem = assert_problem(client.post("/api/v1/cases", headers=world.auth(who), json=body), 422, "channel")
        assert "/api/v1/appeals" in problem["detail"]
    assert row_counts(db) == before


def test_internal_form_is_not_a_case_channel(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/cases", headers=world.auth("lead"), json=_customer_body(
        channel="internal_form", party={"kind": "buyer", "external_id": "x1", "display_name": "X"}))
    assert_problem(response, 422, "channel")


def test_customer_cases_belong_to_their_own_party(client: TestClient, world: World, db: Session) -> None:
    first = customer_case(client, world)
    second = customer_case(client, world, channel="in_app_chat", subject="Second question")
    seller_case = customer_case(client, world, who="seller")

    buyer = world.users["buyer"]
    cases = [fresh_case(db, c["id"]) for c in (first, second, seller_case)]
    assert cases[0].party_id == cases[1].party_id != cases[2].party_id
    party = db.get(Party, cases[0].party_id)
    assert party is not None
    assert (party.user_id, party.kind, party.market_id, party.display_name) == (buyer.id, "buyer", world.us.id,
                                                                                 buyer.display_name)
    seller_party = db.get(Party, cases[2].party_id)
    assert seller_party is not None and (seller_party.user_id, seller_party.kind) == (world.users["seller"].id,
                                                                                     "seller")
    # A customer sees their case, never its routing.
    for hidden in ("party", "team_id", "queue_id", "assignee_id", "priority", "tags", "custom_fields"):
        assert hidden not in first


@pytest.mark.parametrize(("extra", "field"), [
    ({"party": {"kind": "buyer", "external_id": "someone-else", "display_name": "Someone"}}, "party"),
    ({"queue_id": 1}, "queue_id"),
    ({"topic": "refunds"}, "queue_id"),
])
def test_customers_cannot_choose_party_or_routing(client: TestClient, world: World, db: Session,
                                                  extra: dict[str, Any], field: str) -> None:
    before = row_counts(db)
    response = client.post("/api/v1/cases", headers=world.auth("buyer"), json=_customer_body(**extra))
    assert_problem(response, 422, field)
    assert row_counts(db) == before


def test_customer_priority_is_ignored(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world, priority="urgent")
    assert fresh_case(db, created["id"]).priority == "normal"


def test_intake_on_behalf_of_a_party_upserts_it(client: TestClient, world: World, db: Session) -> None:
    first = intake_case(client, world, external_id="shop-77", party={
        "kind": "seller", "external_id": "shop-77", "display_name": "Old Name", "email": "old@shop.test"})
    second = intake_case(client, world, party={
        "kind": "seller", "external_id": "shop-77", "display_name": "New Name", "locale": "en-US"})

    assert first["party"]["id"] == second["party"]["id"]
    assert second["party"] == {"id": first["party"]["id"], "kind": "seller", "external_id": "shop-77",
                               "display_name": "New Name"}
    parties = db.scalars(select(Party).where(Party.external_id == "shop-77")).all()
    assert len(parties) == 1
    db.refresh(parties[0])
    assert (parties[0].display_name, parties[0].email, parties[0].locale, parties[0].user_id) == (
        "New Name", "old@shop.test", "en-US", None)
    created = events_of(db, second["id"])[0]
    assert (created.type, created.actor_type, created.actor_id) == ("case.created", "agent", world.users["lead"].id)
    # The same external id in another market or of another kind is another party.
    other = intake_case(client, world, party={"kind": "buyer", "external_id": "shop-77", "display_name": "B"})
    assert other["party"]["id"] != first["party"]["id"]


def test_intake_needs_the_party(client: TestClient, world: World, db: Session) -> None:
    before = row_counts(db)
    response = client.post("/api/v1/cases", headers=world.auth("lead"), json=_customer_body(channel="api"))
    assert_problem(response, 422, "party")
    assert row_counts(db) == before


def test_intake_into_an_explicit_queue_is_routed_explicitly(client: TestClient, world: World, db: Session) -> None:
    created = intake_case(client, world, queue=world.queue_t2, priority="high", tags=["VIP", "vip", " refund "],
                          topic="refunds", custom_fields={"order_id": "A-1", "amount": 12.5})
    assert (created["queue_id"], created["team_id"], created["priority"]) == (world.queue_t2.id, world.t2.id, "high")
    assert created["tags"] == ["vip", "refund"]
    assert created["custom_fields"] == {"order_id": "A-1", "amount": 12.5}
    routed = next(e for e in events_of(db, created["id"]) if e.type == "case.routed")
    assert {k: routed.data[k] for k in ("source", "queue_id", "team_id", "topic", "topic_source", "rules")} == {
        "source": "explicit", "queue_id": world.queue_t2.id, "team_id": world.t2.id, "topic": "refunds",
        "topic_source": "given", "rules": []}


@pytest.mark.parametrize("who", ["agent_t1", "agent_t2", "reviewer", "qa", "oncall_sme"])
def test_agents_without_intake_permission_are_refused(client: TestClient, world: World, db: Session,
                                                      who: str) -> None:
    before = row_counts(db)
    response = client.post("/api/v1/cases", headers=world.auth(who), json=_customer_body(
        channel="api", party={"kind": "buyer", "external_id": "x", "display_name": "X"}))
    assert_problem(response, 403)
    assert row_counts(db) == before


# ---------------------------------------------------------------- language, reference, events


def test_spanish_text_in_spain_is_detected_as_spanish(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world, market="ES", subject="Pedido no recibido", body=SPANISH)
    assert created["language"] == "es"
    data = events_of(db, created["id"])[0].data
    assert data["language"] == "es" and data["language_detected"] is True and data["language_confidence"] > 0.6


def test_english_text_in_spain_is_detected_as_english(client: TestClient, world: World) -> None:
    created = customer_case(client, world, market="ES", subject="Order not received", body=ENGLISH)
    assert created["language"] == "en"


def test_explicit_language_wins_over_detection(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world, market="ES", subject="Pedido no recibido", body=SPANISH, language="en")
    assert created["language"] == "en"
    data = events_of(db, created["id"])[0].data
    assert data["language_detected"] is False and data["language_confidence"] is None


def test_too_little_text_falls_back_to_the_market_language(client: TestClient, world: World) -> None:
    assert customer_case(client, world, market="ES", subject="Hi", body="ok")["language"] == "es"
    assert customer_case(client, world, market="US", subject="Hola", body="¿y?")["language"] == "en"


def test_reference_is_id_year_and_six_digits(client: TestClient, world: World, clock: FrozenClock) -> None:
    first = customer_case(client, world)
    assert re.fullmatch(r"ID-2026-\d{6}", first["reference"])
    assert first["reference"] == f"ID-2026-{first['id']:06d}"
    clock.advance(timedelta(days=365))
    later = customer_case(client, world)
    assert later["reference"] == f"ID-2027-{later['id']:06d}"


def test_intake_writes_created_routed_and_message_events(client: TestClient, world: World, db: Session) -> None:
    created = customer_case(client, world)
    events = events_of(db, created["id"])
    assert [(e.type, e.actor_type) for e in events[:3]] == [
        ("case.created", "customer"), ("case.routed", "customer"), ("case.message_added", "customer")]
    assert all(e.actor_id == world.users["buyer"].id for e in events[:3])
    assert events[0].data["reference"] == created["reference"]
    assert events[0].data["channel"] == "web_form" and events[0].data["market"] == "US"
    assert events[2].data["message_id"] == created["messages"][0]["id"]
    assert events[2].data["visibility"] == "public" and events[2].data["author_type"] == "customer"
    # The queue auto-assigns: the system took it right after commit.
    assert [(e.type, e.actor_type) for e in events[3:]] == [("case.assigned", "system"),
                                                            ("case.status_changed", "system")]


def test_the_created_case_is_the_case_as_read_back(client: TestClient, world: World) -> None:
    """The 201 body is built from what intake just wrote; it must equal a later read, field for field."""
    attachment = {"filename": "receipt.png", "content_type": "image/png", "size_bytes": 2048}
    created = client.post("/api/v1/cases", headers=world.auth("lead"), json={
        "channel": "api", "market": "US", "subject": "Refund not received", "queue_id": world.queue_t2.id,
        "body": "The seller promised a refund ten days ago.", "language": "en", "attachments": [attachment],
        "party": {"kind": "buyer", "external_id": "cust-9", "display_name": "Casey Customer"}})
    assert created.status_code == 201, created.text
    read = client.get(created.headers["location"], headers=world.auth("lead"))
    assert created.json() == read.json()
    assert created.headers["etag"] == read.headers["etag"]
    assert [a["filename"] for a in created.json()["attachments"]] == ["receipt.png"]

    mine = customer_case(client, world)
    assert mine["messages"] == client.get(f"/api/v1/cases/{mine['id']}", headers=world.auth("buyer")).json()["messages"]


# ---------------------------------------------------------------- idempotency


def test_same_idempotency_key_twice_opens_one_case(client: TestClient, world: World, db: Session) -> None:
    headers = world.auth("buyer") | {"Idempotency-Key": "order-1234-attempt"}
    before = row_counts(db)
    first = client.post("/api/v1/cases", headers=headers, json=_customer_body())
    second = client.post("/api/v1/cases", headers=headers, json=_customer_body())

    assert first.status_code == second.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert second.headers["location"] == first.headers["location"] == f"/api/v1/cases/{first.json()['id']}"
    after = row_counts(db)
    assert after["cases"] == before["cases"] + 1
    assert after["case_messages"] == before["case_messages"] + 1
    assert after["idempotency_keys"] == before["idempotency_keys"] + 1


def test_same_key_with_another_body_is_refused(client: TestClient, world: World, db: Session) -> None:
    headers = world.auth("buyer") | {"Idempotency-Key": "k-1"}
    assert client.post("/api/v1/cases", headers=headers, json=_customer_body()).status_code == 201
    before = row_counts(db)
    response = client.post("/api/v1/cases", headers=headers, json=_customer_body(subject="Something else"))
    assert_problem(response, 422, "Idempotency-Key")
    assert row_counts(db) == before


def test_different_users_reuse_a_key_independently(client: TestClient, world: World, db: Session) -> None:
    before = row_counts(db)
    one = client.post("/api/v1/cases", headers=world.auth("buyer") | {"Idempotency-Key": "shared"},
                      json=_customer_body())
    two = client.post("/api/v1/cases", headers=world.auth("buyer2") | {"Idempotency-Key": "shared"},
                      json=_customer_body())
    assert one.status_code == two.status_code == 201
    assert "idempotent-replayed" not in two.headers
    assert one.json()["id"] != two.json()["id"]
    assert row_counts(db)["cases"] == before["cases"] + 2


def test_a_failed_request_does_not_burn_its_key(client: TestClient, world: World, db: Session) -> None:
    headers = world.auth("buyer") | {"Idempotency-Key": "retry-me"}
    before = row_counts(db)
    assert_problem(client.post("/api/v1/cases", headers=headers, json=_customer_body(market="ZZ")), 422, "market")
    assert row_counts(db) == before
    created = client.post("/api/v1/cases", headers=headers, json=_customer_body())
    assert created.status_code == 201 and "idempotent-replayed" not in created.headers


@pytest.mark.parametrize("key", ["   ", "x" * 201])
def test_malformed_idempotency_keys_are_refused(client: TestClient, world: World, db: Session, key: str) -> None:
    before = row_counts(db)
    response = client.post("/api/v1/cases", headers=world.auth("buyer") | {"Idempotency-Key": key},
                           json=_customer_body())
    assert_problem(response, 422, "Idempotency-Key")
    assert row_counts(db) == before


def test_intake_honours_idempotency_too(client: TestClient, world: World, db: Session) -> None:
    body = _customer_body(channel="api", party={"kind": "buyer", "external_id": "c-9", "display_name": "C"})
    headers = world.auth("lead") | {"Idempotency-Key": "webhook-delivery-9"}
    first = client.post("/api/v1/cases", headers=headers, json=body)
    second = client.post("/api/v1/cases", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content and second.headers["idempotent-replayed"] == "true"
    assert len(db.scalars(select(Party).where(Party.external_id == "c-9")).all()) == 1


def _refund_request_type(db: Session, world: World, clock: FrozenClock) -> RequestType:
    request_type = RequestType(key="refund-approval", name="Refund approval", description="",
                               queue_id=world.queue_internal.id, is_active=True, created_at=clock.now(),
                               fields=[{"key": "amount", "label": "Amount", "type": "number", "required": True}])
    db.add(request_type)
    db.commit()
    return request_type


def test_internal_requests_honour_idempotency(client: TestClient, world: World, db: Session,
                                              clock: FrozenClock) -> None:
    _refund_request_type(db, world, clock)
    body = {"request_type": "refund-approval", "market": "US", "subject": "Approve refund for order 77",
            "body": "The buyer was charged twice.", "fields": {"amount": "49.90"}}
    headers = world.auth("internal_requester") | {"Idempotency-Key": "req-77"}
    before = row_counts(db)
    first = client.post("/api/v1/internal-requests", headers=headers, json=body)
    second = client.post("/api/v1/internal-requests", headers=headers, json=body)
    assert first.status_code == second.status_code == 201, first.text
    assert second.content == first.content and second.headers["idempotent-replayed"] == "true"
    assert row_counts(db)["cases"] == before["cases"] + 1
    case = fresh_case(db, first.json()["id"])
    assert (case.channel, case.queue_id, case.custom_fields) == ("internal_form", world.queue_internal.id,
                                                                 {"amount": 49.9})

    changed = client.post("/api/v1/internal-requests", headers=headers, json=body | {"fields": {"amount": "1"}})
    assert_problem(changed, 422, "Idempotency-Key")
    assert row_counts(db)["cases"] == before["cases"] + 1


def test_every_case_table_is_counted(db: Session, world: World) -> None:
    # Guards the "nothing half-written" helpers: a renamed table would make them count nothing.
    assert set(CASE_TABLES) <= set(row_counts(db))

