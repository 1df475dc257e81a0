"""The deflection funnel with the clock: attempts, answers, clicks, helped, handed off, and the honest
outcome of each conversation — pending until the window passes, resolved only when the same person
opened no case within it, unknown when nobody was signed in. The page, the API and the CLI agree."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.conftest import START
from tests.factories.api import assert_problem, customer_case
from tests.factories.cases import make_party
from tests.factories.directory import make_market
from tests.factories.identity import make_user
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk import cli
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.permissions import Role
from trustdesk.demo.kb import ensure_kb
from trustdesk.knowledge import funnel
from trustdesk.knowledge.models import BotConversation, BotTurn

TRACK = "How can I track my order?"


def _api_conversation(client: TestClient, world: World, who: str | None, text: str, *, market: str = "US",
                      locale: str = "en", helped: bool = False, hand_off: bool = False) -> dict[str, Any]:
    headers = world.auth(who) if who else {}
    started = client.post("/api/v1/bot/conversations", json={"market": market, "locale": locale}, headers=headers)
    assert started.status_code == 201, started.text
    conversation, token = started.json()["id"], {"X-Bot-Token": started.json()["token"]}
    reply = client.post(f"/api/v1/bot/conversations/{conversation}/messages", headers=token, json={"text": text})
    assert reply.status_code == 200, reply.text
    if helped:
        assert client.post(f"/api/v1/bot/conversations/{conversation}/helped", headers=token).status_code == 200
    if hand_off:
        handed = client.post(f"/api/v1/bot/conversations/{conversation}/handoff", headers=token | headers)
        assert handed.status_code == 201, handed.text
    return reply.json()  # type: ignore[no-any-return]


def _assistant_with_a_click(client: TestClient, db: Session) -> None:
    """The buyer asks the help-center assistant, opens the offered article through its link, says it helped."""
    token = sign_in(client, "buyer")
    answered = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en", "text": TRACK})
    assert answered.status_code == 200 and "Did this solve it?" in answered.text
    link = re.search(r'href="(/help/articles/track-your-order/via-assistant\?[^"]+)"', answered.text)
    assert link, "the answer links through the assistant"
    opened = client.get(link.group(1).replace("&amp;", "&"), follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/help/articles/track-your-order?market=US&lang=en"
    client.get(link.group(1).replace("&amp;", "&"))  # opened twice: one click
    not_offered = client.get("/help/articles/request-a-refund/via-assistant?market=US", follow_redirects=False)
    assert not_offered.status_code == 303  # still goes to the article, records nothing
    clicks = db.scalars(select(BotTurn).where(BotTurn.kind == funnel.CLICK)).all()
    assert [(c.article_key, c.role) for c in clicks] == [("track-your-order", "customer")]
    again = client.get("/help/assistant").text
    assert "opened the article" not in again and "Did this solve it?" in again  # the transcript is unchanged
    assert client.post("/help/assistant/helped", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    client.cookies.clear()


def _scenario(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    assert _api_conversation(client, world, "buyer2", "How do I request a refund?",
                             helped=True)["kind"] == "answer"
    assert _api_conversation(client, world, None, "¿Cómo sigo el envío de mi pedido?", market="ES",
                             locale="es")["kind"] == "answer"  # nobody signed in
    assert _api_conversation(client, world, "seller", "Can my hamster sell knitted hats on Bramble?",
                             hand_off=True)["kind"] == "no_answer"
    assert _api_conversation(client, world, "creator", TRACK)["kind"] == "answer"
    started = client.post("/api/v1/bot/conversations", json={"market": "US"})  # asks nothing: no attempt
    assert started.status_code == 201
    _assistant_with_a_click(client, db)


def _figures(db: Session, clock: FrozenClock, by: str = "topic") -> dict[str | None, dict[str, Any]]:
    report = funnel.report(db, since=START, until=START + timedelta(days=1), now=clock.now(), days=7, by=by)
    return {row["key"]: row for row in [r.as_dict() for r in report.rows]} | {"TOTAL": report.total.as_dict()}


def _counts(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[name] for name in funnel.COUNTS)


def test_pending_turns_resolved_only_after_a_quiet_window(client: TestClient, world: World, db: Session,
                                                         clock: FrozenClock) -> None:
    _scenario(client, world, db, clock)
    clock.advance(days=3)
    early = _figures(db, clock)
    # attempts, answers, clicks, helped, handed_off, resolved, contacted, pending, unknown
    assert _counts(early["order.track_order"]) == (3, 3, 1, 1, 0, 0, 0, 2, 1)
    assert _counts(early["refund.get_refund"]) == (1, 1, 0, 1, 0, 0, 0, 1, 0)
    assert _counts(early[None]) == (1, 0, 0, 0, 1, 0, 0, 0, 0)  # nothing offered, so no topic: handed off
    assert _counts(early["TOTAL"]) == (5, 4, 1, 2, 1, 0, 0, 3, 1)
    assert early["TOTAL"]["deflection_rate"] == 0.0  # nothing is resolved while the window runs

    clock.advance(days=2)
    customer_case(client, world, who="buyer2")  # on another channel, inside the window: not deflected
    clock.advance(days=2, seconds=1)  # seven days after the conversations
    late = _figures(db, clock)
    assert _counts(late["order.track_order"]) == (3, 3, 1, 1, 0, 2, 0, 0, 1)
    assert _counts(late["refund.get_refund"]) == (1, 1, 0, 1, 0, 0, 1, 0, 0)
    assert _counts(late["TOTAL"]) == (5, 4, 1, 2, 1, 2, 1, 0, 1)
    assert late["TOTAL"]["deflection_rate"] == 0.4  # resolved / attempts: the unknown one stays in
    assert late["TOTAL"]["answer_rate"] == 0.8 and late["TOTAL"]["handoff_rate"] == 0.2

    customer_case(client, world, who="buyer")  # after the window: the conversation stays resolved
    assert _counts(_figures(db, clock)["TOTAL"]) == _counts(late["TOTAL"])


def test_grouped_by_market_and_language_on_the_page_and_the_api(client: TestClient, world: World, db: Session,
                                                                clock: FrozenClock) -> None:
    _scenario(client, world, db, clock)
    clock.advance(days=8)
    markets = _figures(db, clock, "market")
    assert (markets["US"]["attempts"], markets["ES"]["attempts"]) == (4, 1)
    assert (markets["ES"]["unknown"], markets["US"]["resolved"], markets["US"]["handed_off"]) == (1, 3, 1)
    languages = _figures(db, clock, "language")
    assert (languages["en"]["attempts"], languages["es"]["attempts"], languages["es"]["answers"]) == (4, 1, 1)
    assert _counts(markets["TOTAL"]) == _counts(languages["TOTAL"]) == _counts(_figures(db, clock)["TOTAL"])
    outside = funnel.report(db, since=START + timedelta(days=1), until=START + timedelta(days=2), now=clock.now(),
                            days=7)
    assert outside.rows == [] and outside.total.attempts == 0 and outside.total.deflection_rate is None

    day = START.date().isoformat()
    api = client.get("/api/v1/kb/deflection", headers=world.auth("agent_t2"), params={
        "since": START.replace(hour=0).isoformat(), "until": (START + timedelta(days=1)).isoformat(),
        "by": "market"})
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["window_days"] == 7 and body["by"] == "market"
    assert [(r["key"], r["attempts"], r["resolved"]) for r in body["rows"]] == [("US", 4, 3), ("ES", 1, 0)]
    assert body["total"]["deflection_rate"] == 0.6 and body["total"]["unknown"] == 1
    assert_problem(client.get("/api/v1/kb/deflection", headers=world.auth("lead"), params={"by": "party"}), 422,
                   "by")
    assert_problem(client.get("/api/v1/kb/deflection", headers=world.auth("lead"), params={
        "since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"}), 422, "until")
    assert_problem(client.get("/api/v1/kb/deflection", headers=world.auth("agent_t1")), 403)
    assert_problem(client.get("/api/v1/kb/deflection"), 401)

    sign_in(client, "agent_t2")
    page = client.get("/console/kb/deflection", params={"from": day, "to": day, "by": "language"})
    assert page.status_code == 200
    assert "English" in page.text and "Spanish" in page.text and "60%" in page.text
    total = re.search(r"<tfoot>(.*?)</tfoot>", page.text, re.S)
    assert total and re.findall(r'<td class="num">(\d+)', total.group(1)) == ["5", "4", "1", "2", "1", "3", "0", "0",
                                                                               "1"]
    assert "cannot be known, so they never count as resolved" in page.text
    by_topic = client.get("/console/kb/deflection", params={"from": day, "to": day}).text
    assert "order.track_order" in by_topic and "No article offered" in by_topic
    empty = client.get("/console/kb/deflection", params={"from": "2025-01-01", "to": "2025-01-31"})
    assert empty.status_code == 200 and "No conversations in this period" in empty.text
    bad = client.get("/console/kb/deflection", params={"from": "yesterday", "to": day})
    assert bad.status_code == 422 and 'id="f-from-error"' in bad.text
    backwards = client.get("/console/kb/deflection", params={"from": day, "to": "2026-02-01"})
    assert backwards.status_code == 422 and 'id="f-to-error"' in backwards.text
    assert client.get("/console/kb/deflection", params={"by": "party"}).status_code == 422
    default = client.get("/console/kb/deflection")  # the last 28 days: the conversations are in
    assert default.status_code == 200 and 'value="2026-02-11"' in default.text and "Deflection rate" in default.text


def _conversation(session: Session, *, user_id: int | None, started_at: datetime, market: str = "US",
                  answered: bool = True) -> None:
    row = BotConversation(token_hash=f"{user_id}-{started_at.isoformat()}", channel="help_center", market=market,
                          locale="en", user_id=user_id, party_id=None, status="answered" if answered else "open",
                          article_key="track-your-order" if answered else None,
                          topic="order.track_order" if answered else None, case_id=None, started_at=started_at,
                          updated_at=started_at, helped_at=None, handed_off_at=None)
    session.add(row)
    session.flush()
    session.add(BotTurn(conversation_id=row.id, role="customer", kind="question", text=TRACK, article_key=None,
                        confidence=None, at=started_at))
    if answered:
        session.add(BotTurn(conversation_id=row.id, role="bot", kind="answer", text="Open Orders.",
                            article_key="track-your-order", confidence=0.9, at=started_at))


def test_the_cli_prints_the_funnel(database: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    now = datetime.now(UTC)
    engine = make_engine(database)
    with transaction(make_session_factory(engine)) as session:
        us = make_market(session, now=now - timedelta(days=60))
        quiet = make_user(session, Role.BUYER, now=now, email="quiet@example.test")
        recent = make_user(session, Role.BUYER, now=now, email="recent@example.test")
        make_party(session, us, now=now, user=quiet)
        _conversation(session, user_id=quiet.id, started_at=now - timedelta(days=10))  # resolved
        _conversation(session, user_id=recent.id, started_at=now - timedelta(days=2))  # pending
        _conversation(session, user_id=None, started_at=now - timedelta(days=3), answered=False)  # unknown
        _conversation(session, user_id=quiet.id, started_at=now - timedelta(days=40))  # outside --days 30
    engine.dispose()

    result = runner.invoke(cli.app, ["kb", "deflection", "--days", "30", "--by", "market", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    [row] = figures["rows"]
    assert row["key"] == "US" and (row["attempts"], row["answers"], row["resolved"], row["pending"],
                                   row["unknown"]) == (3, 2, 1, 1, 1)
    assert figures["total"]["deflection_rate"] == round(1 / 3, 6) and figures["window_days"] == 7
    text = runner.invoke(cli.app, ["kb", "deflection", "--days", "30"])
    assert text.exit_code == 0 and "order.track_order" in text.output and "(no topic)" in text.output
    assert re.search(r"^total\s+3\s+2\s+0\s+0\s+0\s+1\s+0\s+1\s+1\s+33\.3%$", text.output, re.M), text.output
    refused = runner.invoke(cli.app, ["kb", "deflection", "--by", "party"])
    assert refused.exit_code == 2 and "topic, market, language" in refused.output

