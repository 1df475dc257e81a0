"""The answering bot over the demo's knowledge base: a confident answer quotes the article and asks
whether it solved it; "no" hands the conversation to a person as the case's first messages."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, events_of
from tests.factories.world import World
from trustdesk.cases.models import Message
from trustdesk.core.clock import FrozenClock
from trustdesk.demo.kb import ensure_kb


def _start(client: TestClient, world: World | None = None, who: str | None = None, **body: Any) -> tuple[int, str]:
    headers = world.auth(who) if world and who else {}
    response = client.post("/api/v1/bot/conversations", json={"market": "US", "locale": "en"} | body,
                           headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["token"]


def test_a_confident_answer_quotes_the_article_and_helped_ends_it(client: TestClient, world: World, db: Session,
                                                                 clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    conversation, token = _start(client)
    reply = client.post(f"/api/v1/bot/conversations/{conversation}/messages", headers={"X-Bot-Token": token},
                        json={"text": "How can I track my order?"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["kind"] == "answer" and body["article_key"] == "track-your-order"
    assert body["url"] == "/help/articles/track-your-order?market=US&lang=en" and body["ask"] == "Did this solve it?"
    assert body["text"] and "\n" not in body["text"]  # the answering paragraph, not the whole article
    assert client.post(f"/api/v1/bot/conversations/{conversation}/helped",
                       headers={"X-Bot-Token": token}).json()["status"] == "helped"
    assert client.post(f"/api/v1/bot/conversations/{conversation}/messages", headers={"X-Bot-Token": "bot_wrong"},
                       json={"text": "hi"}).status_code == 404


def test_not_helped_hands_off_with_the_transcript(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    conversation, token = _start(client, world, "buyer")
    answered = client.post(f"/api/v1/bot/conversations/{conversation}/messages", headers={"X-Bot-Token": token},
                           json={"text": "How do I request a refund?"}).json()
    assert answered["kind"] == "answer" and answered["article_key"] == "request-a-refund"
    assert client.post(f"/api/v1/bot/conversations/{conversation}/handoff",
                       headers={"X-Bot-Token": token}).status_code == 401  # a person signs in to open a case
    handed = client.post(f"/api/v1/bot/conversations/{conversation}/handoff",
                         headers={"X-Bot-Token": token} | world.auth("buyer"))
    assert handed.status_code == 201, handed.text
    case_id = handed.json()["case_id"]
    messages = db.scalars(select(Message).where(Message.case_id == case_id).order_by(Message.id)).all()
    assert [m.author_type for m in messages] == ["customer", "bot"]
    assert messages[0].body == "How do I request a refund?"
    assert answered["text"] in messages[1].body and "/help/articles/request-a-refund" in messages[1].body
    case = client.get(f"/api/v1/cases/{case_id}", headers=world.auth("lead")).json()
    assert "from-bot" in case["tags"] and case["custom_fields"]["bot_conversation_id"] == conversation
    assert "case.routed" in [e.type for e in events_of(db, case_id)]
    assert_problem(client.post(f"/api/v1/bot/conversations/{conversation}/messages",
                               headers={"X-Bot-Token": token}, json={"text": "hello?"}), 409, "status")
    # Someone else cannot take the conversation over.
    other, other_token = _start(client, world, "buyer")
    client.post(f"/api/v1/bot/conversations/{other}/messages", headers={"X-Bot-Token": other_token},
                json={"text": "refund please"})
    assert client.post(f"/api/v1/bot/conversations/{other}/handoff",
                       headers={"X-Bot-Token": other_token} | world.auth("buyer2")).status_code == 403


def test_an_uncovered_question_offers_a_person(client: TestClient, world: World, db: Session,
                                               clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    conversation, token = _start(client)
    reply = client.post(f"/api/v1/bot/conversations/{conversation}/messages", headers={"X-Bot-Token": token},
                        json={"text": "Can my hamster become a Bramble seller of knitted hats?"}).json()
    assert reply["kind"] == "no_answer" and reply["article_key"] is None
    assert "pass you to a person" in reply["text"]
    assert_problem(client.post(f"/api/v1/bot/conversations/{conversation}/messages",
                               headers={"X-Bot-Token": token}, json={"text": ""}), 422, "text")


def test_a_hand_off_after_a_solved_question_opens_the_case_on_the_open_one(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    conversation, token = _start(client, world, "buyer")
    headers = {"X-Bot-Token": token}
    url = f"/api/v1/bot/conversations/{conversation}"
    assert client.post(f"{url}/messages", headers=headers, json={"text": "How can I track my order?"}).json()[
        "kind"] == "answer"
    assert client.post(f"{url}/helped", headers=headers).status_code == 200
    unknown = "The handbag I received is a counterfeit, a fake designer copy. I want to report the shop."
    assert client.post(f"{url}/messages", headers=headers, json={"text": unknown}).json()["kind"] == "no_answer"
    handed = client.post(f"{url}/handoff", headers=headers | world.auth("buyer"))
    assert handed.status_code == 201, handed.text
    messages = db.scalars(select(Message).where(Message.case_id == handed.json()["case_id"]).order_by(Message.id)).all()
    assert messages[0].body == unknown  # the solved question is not the case's
    context = messages[1].body
    assert "found no article" in context and "“How can I track my order?”" in context
    assert "didn't solve it" not in context and "Before you were connected" not in context
