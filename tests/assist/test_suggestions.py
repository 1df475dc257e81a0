"""Suggested replies: the best three from similar resolved cases with good CSAT, matching articles and
templates, each made this case's and with its reason; what was shown and used is recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.assist.template_helpers import create_template
from tests.factories.api import assert_problem
from tests.factories.assist import resolved_case
from tests.factories.cases import make_case, make_party
from tests.factories.world import World
from trustdesk.assist.models import SuggestionSet
from trustdesk.assist.suggestions import Context, impersonal, name_map
from trustdesk.cases.models import Case
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings
from trustdesk.demo.kb import ensure_kb


def _history(db: Session, world: World, clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    resolved_case(db, world, clock.now(), name="Maria Lopez", order="BR-123456789", score=5,
              question="My parcel has not arrived after two weeks, where is my order?")
    resolved_case(db, world, clock.now(), name="Sam Okafor", order="BR-987654321", score=4,
              question="where is my order? the tracking has not moved")
    resolved_case(db, world, clock.now(), name="Ana Ruiz", order="BR-555666777", score=2,
              question="My parcel has not arrived, where is my order???",
              reply="Hi {first}, sorry, we cannot see order {order}. {agent}")
    db.commit()
    clock.advance(timedelta(hours=1))


def _new_case(db: Session, world: World, clock: FrozenClock, *, order: str | None = "BR-111222333",
              question: str = "Hello, my order still has not arrived. Where is my parcel?", **extra: Any) -> Case:
    party = make_party(db, world.us, now=clock.now(), external_id="new-customer")
    party.display_name = "Jordan Reyes"
    case = make_case(db, market=world.us, party=party, now=clock.now(), queue=world.queue_a, body=question,
                     custom_fields={"order_id": order} if order else {}, **extra)
    db.commit()
    return case


def test_a_reply_written_for_another_case_is_made_this_cases() -> None:
    context = Context(language="en", customer_name="Jordan Reyes", agent_name="Kim Tan",
                      fields={"order_id": "BR-111222333"})
    text, missing = impersonal(
        "Hi Maria, order BR-123456789 (and br-000111222) ships today, Mrs. Lopez. Call +34 600 123 456 or "
        "maria@mail.test. Ref 4471-X, tracking 1Z999AA10123456784, card ending 4242. Best, Alex Park",
        names=name_map("Maria Lopez", "Jordan Reyes") | name_map("Alex Park", "Kim Tan"),
        values={"BR-123456789": "order_id", "4471-X": "ticket"}, context=context)
    assert text == ("Hi Jordan, order BR-111222333 (and BR-111222333) ships today, Mrs. Reyes. Call [[phone]] or "
                    "[[email]]. Ref [[ticket]], tracking [[number]], card ending [[number]]. Best, Kim Tan")
    assert missing == ("ticket", "email", "phone", "number")
    # A name is put in as it is, whatever characters it holds.
    odd = Context(language="en", customer_name=r"Jo\d \1", agent_name="Kim Tan", fields={})
    assert impersonal("Hi Maria,", names=name_map("Maria Lopez", odd.customer_name), values={},
                      context=odd)[0] == r"Hi Jo\d,"
    # Without an order id of its own the case gets a placeholder, never the other customer's number.
    bare = Context(language="en", customer_name="Jordan Reyes", agent_name="Kim Tan", fields={})
    assert impersonal("Order BR-123456789 ships.", names={}, values={"BR-123456789": "order_id"},
                      context=bare) == ("Order [[order_id]] ships.", ("order_id",))


def test_three_suggestions_with_their_reasons_none_from_a_badly_rated_case(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _history(db, world, clock)
    case = _new_case(db, world, clock)
    response = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1"))
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["suggestions"]
    assert [s["rank"] for s in items] == [1, 2, 3]
    assert {s["source"] for s in items} == {"case", "article"}
    from_cases = [s for s in items if s["source"] == "case"]
    # The two well-rated cases solved with the same reply are one suggestion; the badly rated one is none.
    assert len(from_cases) == 1
    reply = from_cases[0]
    assert "Hi Jordan" in reply["text"] and "BR-111222333" in reply["text"] and "[[email]]" in reply["text"]
    for leaked in ("Maria", "Sam", "BR-123456789", "BR-987654321", "agent.desk@", "sorry, we cannot see"):
        assert leaked not in reply["text"]
    assert reply["text"].endswith("Agent_T1")  # signed by the agent who reads it
    assert "rated 5/5" in reply["why"] and "the same reply solved 2 similar cases, mean rating 4.5/5" in reply["why"]
    assert reply["missing"] == ["email"]
    article = next(s for s in items if s["source"] == "article")
    assert article["ref"] == "track-your-order" and "/help/articles/track-your-order?lang=en" in article["text"]
    assert "confidence" in article["why"]
    # What was shown is recorded, for the acceptance rate.
    shown = db.scalars(select(SuggestionSet).where(SuggestionSet.case_id == case.id)).all()
    assert [s.id for s in shown] == [body["set_id"]] and shown[0].team_id == case.team_id


def test_a_spanish_case_gets_spanish_help(client: TestClient, world: World, db: Session,
                                          clock: FrozenClock) -> None:
    _history(db, world, clock)
    party = make_party(db, world.es, now=clock.now(), external_id="es-customer")
    case = make_case(db, market=world.es, party=party, now=clock.now(), queue=world.queue_b, language="es",
                     subject="¿Dónde está mi pedido?", body="Mi pedido no ha llegado todavía, ¿dónde está?")
    db.commit()
    items = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1_b")).json()["suggestions"]
    assert items and all(s["source"] == "article" and s["locale"] == "es" for s in items)
    assert "centro de ayuda" in items[0]["text"]


def test_reloading_shows_the_same_set_until_the_case_changes_and_using_one_is_counted(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _history(db, world, clock)
    case = _new_case(db, world, clock)
    first = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1")).json()
    clock.advance(timedelta(minutes=5))
    assert client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1")).json()["set_id"] \
        == first["set_id"]
    used = client.post(f"/api/v1/cases/{case.id}/suggestions/{first['set_id']}/use", headers=world.auth("agent_t1"),
                       json={"rank": 2})
    assert used.status_code == 200 and used.json() == first["suggestions"][1]
    assert_problem(client.post(f"/api/v1/cases/{case.id}/suggestions/{first['set_id']}/use",
                               headers=world.auth("agent_t1"), json={"rank": 7}), 422, "rank")
    assert_problem(client.post(f"/api/v1/cases/{case.id}/suggestions/{first['set_id'] + 999}/use",
                               headers=world.auth("agent_t1"), json={"rank": 1}), 404, "set_id")
    assert_problem(client.post(f"/api/v1/cases/{case.id}/suggestions/{first['set_id']}/use",
                               headers=world.auth("lead"), json={"rank": 1}), 404, "set_id")  # not shown to them
    sent = client.post(f"/api/v1/cases/{case.id}/messages", headers=world.auth("agent_t1"),
                       json={"body": used.json()["text"], "visibility": "public"})
    assert sent.status_code == 201
    again = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1")).json()
    assert again["set_id"] != first["set_id"]  # the case changed: suggestions are made afresh
    acceptance = client.get("/api/v1/assist/acceptance?days=7", headers=world.auth("lead"))
    assert acceptance.status_code == 200
    row = next(r for r in acceptance.json() if r["team_id"] == case.team_id)
    assert (row["shown"], row["used"], row["rate"], row["by_source"]) == (
        2, 1, 0.5, {first["suggestions"][1]["source"]: 1})
    assert_problem(client.get("/api/v1/assist/acceptance", headers=world.auth("agent_t1")), 403)


def test_who_may_see_suggestions(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _history(db, world, clock)
    case = _new_case(db, world, clock)
    assert_problem(client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("buyer")), 403)
    assert_problem(client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1_b")),
                   404, "case_id")  # vendor B never sees vendor A's cases
    assert_problem(client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("qa")), 403)
    anonymous = client.get(f"/console/cases/{case.id}/suggestions", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_case_page_panel_and_using_a_suggestion(client: TestClient, world: World, db: Session,
                                                     clock: FrozenClock) -> None:
    _history(db, world, clock)
    case = _new_case(db, world, clock)
    headers = world.auth("agent_t1")
    panel = client.get(f"/console/cases/{case.id}/suggestions", headers=headers | {"HX-Request": "true"})
    assert panel.status_code == 200
    assert panel.text.count("<button type=\"submit\" class=\"btn btn-small\">Use this reply") == 3
    assert "<html" not in panel.text
    set_id = db.scalar(select(SuggestionSet.id).where(SuggestionSet.case_id == case.id))
    token = client.get(f"/console/cases/{case.id}", headers=headers).text.split('name="csrf_token" value="')[1]
    token = token.split('"')[0]
    filled = client.post(f"/console/cases/{case.id}/suggestions/{set_id}/use", headers=headers | {"HX-Request": "true"},
                         data={"rank": "1", "csrf_token": token})
    assert filled.status_code == 200 and filled.text.startswith('<textarea id="reply-body" name="body"')
    # Without JavaScript: a page with the text in a reply form.
    page = client.post(f"/console/cases/{case.id}/suggestions/{set_id}/use", headers=headers,
                       data={"rank": "2", "csrf_token": token})
    assert page.status_code == 200 and f'action="/console/cases/{case.id}/reply"' in page.text
    row = db.scalar(select(SuggestionSet).where(SuggestionSet.id == set_id).execution_options(populate_existing=True))
    assert row is not None and row.used_rank == 2


def test_no_history_no_articles_says_so(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case = _new_case(db, world, clock, question="Bonjour", subject="Bonjour")
    panel = client.get(f"/console/cases/{case.id}/suggestions", headers=world.auth("agent_t1") | {"HX-Request": "1"})
    assert panel.status_code == 200 and "No suggestion fits this case yet" in panel.text


@pytest.fixture
def model_server() -> Iterator[dict[str, Any]]:
    """An OpenAI-compatible chat endpoint on localhost that answers with a fixed draft (or a status)."""
    state: dict[str, Any] = {"requests": [], "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            state["requests"].append({"path": self.path, "body": body,
                                      "authorization": self.headers.get("authorization")})
            answer = json.dumps({"choices": [{"message": {"role": "assistant",
                                                          "content": "Hi Jordan, your parcel arrives soon."}}]})
            self.send_response(state["status"])
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_model_drafts_from_the_sources(client: TestClient, world: World, db: Session,
                                                    clock: FrozenClock, settings: Settings,
                                                    model_server: dict[str, Any]) -> None:
    _history(db, world, clock)
    settings.llm_base_url, settings.llm_model, settings.llm_api_key = model_server["url"], "tiny", "sk-test"
    case = _new_case(db, world, clock)
    items = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1")).json()["suggestions"]
    assert [s["source"] for s in items][-1] == "draft" and len(items) == 4
    assert items[-1]["text"] == "Hi Jordan, your parcel arrives soon."
    sent = model_server["requests"][0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "tiny"
    assert sent["authorization"] == "Bearer sk-test"
    prompt = sent["body"]["messages"][1]["content"]
    assert items[0]["text"] in prompt and "Maria" not in prompt  # only the impersonal sources go out
    # A failing provider costs the draft, never the suggestions.
    model_server["status"] = 500
    clock.advance(timedelta(hours=1))
    items = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1")).json()["suggestions"]
    assert len(items) == 3 and "draft" not in {s["source"] for s in items}


def test_a_fitting_template_of_the_team_is_suggested_and_rides_in_the_reply_form(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _history(db, world, clock)
    create_template(client, world, key="parcel-late", name="Parcel late", team_id=world.t1_a.id,
                    bodies={"en": "Hi {{ customer_first_name }}, your parcel for order {{ order_id }} is late; "
                                  "the carrier delivers it within two days. {{ agent_name }}"},
                    actions={"add_tags": ["late-parcel"]})
    create_template(client, world, key="password", name="Password reset", team_id=world.t1_a.id,
                    bodies={"en": "Reset your password from the login page, {{ customer_first_name }}."}, actions={})
    case = _new_case(db, world, clock)
    headers = world.auth("agent_t1")
    body = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=headers).json()
    by_source = {s["source"]: s for s in body["suggestions"]}
    assert set(by_source) == {"case", "article", "template"}  # the best of each source first
    template = by_source["template"]
    assert template["ref"] == "parcel-late" and "order BR-111222333 is late" in template["text"]
    assert "Hi Jordan" in template["text"] and "used 0 times" in template["why"]
    token = client.get(f"/console/cases/{case.id}", headers=headers).text.split('name="csrf_token" value="')[1]
    filled = client.post(f"/console/cases/{case.id}/suggestions/{body['set_id']}/use",
                         headers=headers | {"HX-Request": "true"},
                         data={"rank": str(template["rank"]), "csrf_token": token.split('"')[0]})
    assert filled.status_code == 200
    assert 'name="template_id"' in filled.text and "Parcel late" in filled.text  # its use counts on send


def test_a_vendor_agent_is_never_shown_replies_from_cases_outside_their_vendor(
        client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    secret = "Hi {first}, in-house note: order {order} goes to 12 Baker Street, gate code 7731. {agent}"
    resolved_case(db, world, clock.now(), name="Maria Lopez", order="BR-123456789", score=5, reply=secret,
                  question="My parcel has not arrived after two weeks, where is my order?", queue=world.queue_t2)
    db.commit()
    clock.advance(timedelta(hours=1))
    case = _new_case(db, world, clock)
    vendor = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("agent_t1")).json()
    assert not [s for s in vendor["suggestions"] if s["source"] == "case"]  # t2 is in-house, not vendor A's
    in_house = client.get(f"/api/v1/cases/{case.id}/suggestions", headers=world.auth("lead")).json()
    [reply] = [s for s in in_house["suggestions"] if s["source"] == "case"]
    assert "Baker Street" in reply["text"] and "7731" not in reply["text"]  # digits of another case: masked
