"""Guided flows: the YAML is checked when loaded (errors name the file, the step and the field), the
step machine asks, validates, looks up and answers or hands off, and the bot runs the demo's "where is
my order?" over the in-app API and the help-center page with a real HTTP lookup server."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.receiver import Receiver
from tests.factories.world import World
from tests.web.test_pages_auth import csrf_from, sign_in
from trustdesk.cases.models import Case, Message
from trustdesk.core import webhooks
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings
from trustdesk.demo.kb import ensure_kb
from trustdesk.knowledge import flows
from trustdesk.knowledge.models import BotConversation, KbArticle

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOOKUPS = {"orders": "http://127.0.0.1:9/hook"}
DEMO = flows.DEMO_FLOWS / "where-is-my-order.yaml"


def _demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    return data


def _step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["steps"] if s["id"] == step_id)
    return found


def _parse(data: dict[str, Any], lookups: dict[str, str] | None = None, secret: str = SECRET) -> flows.Flow:
    return flows.parse_flow(data, file="orders.yaml", lookups=LOOKUPS if lookups is None else lookups, secret=secret)


def _invalid(data: dict[str, Any], **kwargs: Any) -> flows.FlowInvalid:
    with pytest.raises(flows.FlowInvalid) as caught:
        _parse(data, **kwargs)
    return caught.value


# ---------------------------------------------------------------- checking the YAML


def test_the_demo_flow_loads_in_english_and_spanish() -> None:
    flow = flows.load_text(DEMO.read_text(encoding="utf-8"), file=DEMO.name, lookups=LOOKUPS, secret=SECRET)
    assert flow.key == "where-is-my-order" and flow.locales == ("en", "es")
    assert flow.title_in("es-MX") == "¿Dónde está mi pedido?" and flow.title_in("id") == "Where is my order?"
    assert "track-your-order" in flow.trigger.articles and "track_order" in flow.trigger.intents
    assert [type(s).__name__ for s in flow.steps[:3]] == ["Ask", "Lookup", "Answer"]


def test_an_unknown_step_type_names_the_file_and_the_step() -> None:
    data = _demo()
    data["steps"][2]["type"] = "reply"
    error = _invalid(data)
    assert error.file == "orders.yaml" and error.where == "steps[2].type" and error.step == "#3"
    assert "unknown step type 'reply'" in error.detail and error.detail.startswith("orders.yaml, step #3")


def test_a_missing_locale_text_names_the_field() -> None:
    data = _demo()
    del _step(data, "on_the_way")["text"]["es"]
    error = _invalid(data)
    assert error.where == "steps[3].text.es" and error.step == "'on_the_way'"
    assert "the 'es' text is missing" in error.detail


def test_an_unknown_variable_in_an_answer_is_refused_at_load() -> None:
    data = _demo()
    _step(data, "delivered")["text"]["en"] = "Order {{ order_number }} was left with {{ neighbour }}."
    error = _invalid(data)
    assert error.where == "steps[2].text.en" and "unknown variable 'neighbour'" in error.detail
    assert "order_number" in error.detail and "carrier" in error.detail  # what it could have used


def test_a_lookup_that_is_not_configured_is_refused() -> None:
    error = _invalid(_demo(), lookups={"payments": "https://pay.example/lookup"})
    assert error.where == "steps[1].lookup" and error.step == "'find_order'"
    assert "lookup 'orders' is not configured (configured: payments)" in error.detail
    assert "TRUSTDESK_BOT_LOOKUPS" in error.detail
    unsigned = _invalid(_demo(), secret="")
    assert "TRUSTDESK_BOT_LOOKUP_SECRET" in unsigned.detail


@pytest.mark.parametrize(("change", "where", "words"), [
    (lambda d: d["steps"][0].update(pattern="BR-(["), "steps[0].pattern", "not a valid regular expression"),
    (lambda d: d["steps"][0].pop("retry"), "steps[0].retry", "needs a retry text"),
    (lambda d: d["steps"][0].update(max_attempts=0), "steps[0].max_attempts", "from 1 to 10"),
    (lambda d: d["steps"][0].update(wait=3), "steps[0].wait", "does not take 'wait'"),
    (lambda d: d["steps"][1].update(on_error="nowhere"), "steps[1].on_error", "no step has the id 'nowhere'"),
    (lambda d: d["steps"][1].update(send=["email"]), "steps[1].send[0]", "no ask step fills the slot 'email'"),
    (lambda d: d["steps"][2].update(when={"colour": "red"}), "steps[2].when.colour", "unknown variable 'colour'"),
    (lambda d: d["steps"][3]["text"].update(en="{% if carrier %}unclosed"), "steps[3].text.en", "cannot be read"),
    (lambda d: d["steps"][3]["text"].update(fr="Bonjour"), "steps[3].text.fr", "not one of the flow's locales"),
    (lambda d: d["steps"].append({"id": "ask_order", "type": "answer", "text": {"en": "x", "es": "y"}}),
     "steps[11].id", "two steps have the id"),
    (lambda d: d["steps"].append({"id": "extra", "type": "ask", "slot": "x", "prompt": {"en": "x", "es": "y"}}),
     "steps[11]", "the last step is an answer or a handoff"),
    (lambda d: d.update(trigger={}), "trigger", "at least one article, intent or phrase"),
    (lambda d: d.update(colour="red"), "flow", "unknown field 'colour'"),
])
def test_each_mistake_is_named_precisely(change: Callable[[dict[str, Any]], Any], where: str, words: str) -> None:
    data = copy.deepcopy(_demo())
    change(data)
    error = _invalid(data)
    assert error.where == where, error.detail
    assert words in error.detail


def test_a_folder_keeps_the_good_flows_and_reports_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a-orders.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b-same-key.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "c-broken.yaml").write_text("key: [unclosed", encoding="utf-8")
    loaded = flows.load_folder(tmp_path, lookups=LOOKUPS, secret=SECRET)
    assert [f.key for f in loaded.flows] == ["where-is-my-order"]
    assert [(p.file, p.where) for p in loaded.problems] == [("b-same-key.yaml", "key"), ("c-broken.yaml", "flow")]
    assert "not valid YAML" in loaded.problems[1].detail
    lines = flows.check_folder(tmp_path, lookups=LOOKUPS, secret=SECRET)
    assert lines[0].startswith("ok    a-orders.yaml") and lines[2].startswith("error c-broken.yaml")
    [missing] = flows.load_folder(tmp_path / "nope", lookups=LOOKUPS, secret=SECRET).problems
    assert missing.where == "folder" and "no such folder" in missing.detail


def test_lookups_are_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTDESK_BOT_LOOKUPS", '{"orders": "https://shop.example/lookups/orders"}')
    monkeypatch.setenv("TRUSTDESK_BOT_LOOKUP_SECRET", SECRET)
    configured = Settings(_env_file=None)
    assert configured.bot_lookups == {"orders": "https://shop.example/lookups/orders"}
    assert flows.flows_folder(configured) == flows.DEMO_FLOWS
    assert [f.key for f in flows.catalogue(configured).flows] == ["where-is-my-order"]


def test_triggers_match_whole_phrases_in_the_conversations_language() -> None:
    catalogue = flows.Catalogue(flows=(_parse(_demo()),))
    assert catalogue.by_phrase("Hi! Where's my order??", "en") is not None
    assert catalogue.by_phrase("¿Donde esta mi pedido? Lo pedí el lunes", "es-ES") is not None  # accents optional
    assert catalogue.by_phrase("¿Dónde está mi pedido?", "en") is None  # Spanish phrases for Spanish
    assert catalogue.by_phrase("somewhere is my orderly queue", "en") is None
    assert catalogue.for_article("track-your-order", None) is not None
    assert catalogue.for_article("some-other-article", "track_order") is not None
    assert catalogue.for_article("request-a-refund", "get_refund") is None


# ---------------------------------------------------------------- the step machine (an injected lookup)


class FakeOrders:
    """A lookup function answering from a dict of orders, recording what it was asked."""

    def __init__(self, orders: dict[str, dict[str, Any]] | None = None, failure: str | None = None) -> None:
        self.orders = orders or {}
        self.failure = failure
        self.asked: list[flows.LookupRequest] = []

    def __call__(self, request: flows.LookupRequest) -> flows.LookupResult:
        self.asked.append(request)
        if self.failure:
            return flows.LookupResult(outcome="error", detail=self.failure)
        found = self.orders.get(request.slots["order_number"])
        return flows.LookupResult(outcome="found", data=found) if found else flows.LookupResult(outcome="not_found")


# Who asks: a signed-in buyer with a party in the market.
BUYER = flows.Customer(user_id=1, party_external_id="user-1", party_kind="buyer")
SHIPPED = {"status": "shipped", "carrier": "Correos Express", "estimated_delivery": "2026-03-05",
           "tracking_url": "https://track.example/ZX1"}


def test_the_machine_asks_looks_up_and_answers() -> None:
    flow = _parse(_demo())
    orders = FakeOrders({"BR-123456789": SHIPPED})
    progress, said = flows.begin(flow, locale="en-GB", market="US", lookup=orders, customer=BUYER)
    assert said.kind == "prompt" and "order number" in said.text and progress.step == "ask_order"
    said = flows.reply(flow, progress, "  br-123456789 ", lookup=orders, customer=BUYER)
    assert said.kind == "answer" and progress.outcome == "answered" and not progress.active
    assert said.text == ("Order BR-123456789 is on its way with Correos Express. The estimated delivery date is "
                         "2026-03-05. You can follow it at https://track.example/ZX1")
    [asked] = orders.asked
    assert asked.slots == {"order_number": "BR-123456789"} and (asked.market, asked.locale) == ("US", "en")
    assert progress.lookups == [{"step": "find_order", "lookup": "orders", "outcome": "found", "detail": None}]
    assert progress.variables["carrier"] == "Correos Express"


def test_branches_on_the_lookups_fields_and_skips_optional_ones() -> None:
    flow = _parse(_demo())
    orders = FakeOrders({"BR000000001": {"status": "delivered"}, "BR-000000002": {"status": "lost_in_space"}})
    progress, _ = flows.begin(flow, locale="es", market="ES", lookup=orders, customer=BUYER)
    said = flows.reply(flow, progress, "BR000000001", lookup=orders, customer=BUYER)
    assert said.text.startswith("El pedido BR000000001 se entregó.")  # no carrier: the clause is left out
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    said = flows.reply(flow, progress, "BR-000000002", lookup=orders, customer=BUYER)
    assert said.kind == "handoff" and said.reason == "unusual_order_status" == progress.outcome


def test_a_wrong_answer_is_asked_again_then_handed_off() -> None:
    flow = _parse(_demo())
    orders = FakeOrders()
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    for _ in range(2):
        said = flows.reply(flow, progress, "my order from Tuesday", lookup=orders, customer=BUYER)
        assert said.kind == "prompt" and said.text.startswith("That doesn't look like an order number")
    said = flows.reply(flow, progress, "12345", lookup=orders, customer=BUYER)
    assert said.kind == "handoff" and said.reason == "invalid_order_number" and not orders.asked


def test_not_found_asks_again_once_then_hands_off() -> None:
    flow = _parse(_demo())
    orders = FakeOrders()
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    said = flows.reply(flow, progress, "BR-111111111", lookup=orders, customer=BUYER)
    assert said.kind == "prompt" and said.text.startswith("I couldn't find order BR-111111111")
    assert progress.step == "ask_again"
    said = flows.reply(flow, progress, "BR-222222222", lookup=orders, customer=BUYER)
    assert said.kind == "handoff" and said.reason == "order_not_found"
    assert said.text == "I still can't find order BR-222222222. I'll pass you to a person who can look into it."
    assert [r.slots["order_number"] for r in orders.asked] == ["BR-111111111", "BR-222222222"]


def test_a_lookup_error_or_a_missing_field_takes_the_error_branch() -> None:
    flow = _parse(_demo())
    for orders in (FakeOrders(failure="timeout"), FakeOrders({"BR-123456789": {"carrier": "DHL"}})):
        progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
        said = flows.reply(flow, progress, "BR-123456789", lookup=orders, customer=BUYER)
        assert said.kind == "handoff" and said.reason == "lookup_failed"
        assert progress.lookups[-1]["outcome"] == "error"
    assert progress.lookups[-1]["detail"] == "the response has no status"

    def broken(request: flows.LookupRequest) -> flows.LookupResult:
        raise RuntimeError("the adapter broke")

    progress, _ = flows.begin(flow, locale="en", market="US", lookup=broken, customer=BUYER)
    assert flows.reply(flow, progress, "BR-123456789", lookup=broken, customer=BUYER).reason == "lookup_failed"


def test_built_in_hand_offs_when_a_flow_names_no_step() -> None:
    data = _demo()
    del _step(data, "ask_order")["on_exhausted"]
    del _step(data, "find_order")["on_error"]
    flow = _parse(data)
    orders = FakeOrders(failure="HTTP 503")
    progress, _ = flows.begin(flow, locale="es", market="ES", lookup=orders, customer=BUYER)
    said = flows.reply(flow, progress, "BR-123456789", lookup=orders, customer=BUYER)
    assert said.reason == "lookup_failed" and said.text.startswith("Lo siento, ahora mismo no hemos podido")
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    for _ in range(3):
        said = flows.reply(flow, progress, "nope", lookup=orders, customer=BUYER)
    assert said.reason == "too_many_attempts" and progress.outcome == "too_many_attempts"


def test_the_sandbox_keeps_templates_to_text() -> None:
    data = _demo()
    _step(data, "delivered")["text"]["en"] = "{{ order_number.__class__.__mro__ }}"
    flow = _parse(data)
    orders = FakeOrders({"BR-123456789": {"status": "delivered"}})
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    said = flows.reply(flow, progress, "BR-123456789", lookup=orders, customer=BUYER)
    assert said.kind == "handoff" and said.reason == "flow_failed"  # refused by the sandbox: a person takes over


def test_progress_survives_a_round_trip_through_json() -> None:
    flow = _parse(_demo())
    orders = FakeOrders()
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    flows.reply(flow, progress, "BR-111111111", lookup=orders, customer=BUYER)
    again = flows.Progress.from_json(progress.as_json())
    assert again == progress and again.branches == {"find_order.not_found": 1}


def test_the_lookup_body_is_a_standard_webhooks_envelope_naming_who_asks() -> None:
    request = flows.LookupRequest(name="orders", flow="where-is-my-order", step="find_order", conversation_id=7,
                                  market="ES", locale="es", slots={"order_number": "BR-123456789"},
                                  customer=flows.Customer(user_id=12, party_external_id="C-778", party_kind="buyer"))
    body = flows.lookup_body(request, now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert yaml.safe_load(body) == {"type": "bot.lookup", "timestamp": "2026-03-02T09:00:00+00:00", "data": {
        "lookup": "orders", "flow": "where-is-my-order", "step": "find_order", "conversation_id": 7,
        "market": "ES", "locale": "es", "slots": {"order_number": "BR-123456789"},
        "customer": {"user_id": 12, "party": {"external_id": "C-778", "kind": "buyer"}}}}
    no_party = flows.LookupRequest(name="orders", flow="f", step="s", conversation_id=None, market="US",
                                   locale="en", slots={}, customer=flows.Customer(user_id=3))
    assert json.loads(flows.lookup_body(no_party, now=datetime(2026, 3, 2, tzinfo=UTC)))["data"]["customer"] == {
        "user_id": 3, "party": None}
    assert webhooks.SECRET_PREFIX and flows.secret_problem(SECRET) is None
    assert "base64" in (flows.secret_problem("whsec_***") or "")


def test_a_flow_with_a_lookup_requires_sign_in_unless_it_says_otherwise() -> None:
    assert _parse(_demo()).requires_sign_in  # the default for a flow that looks something up
    public = _demo() | {"requires_sign_in": False}
    assert not _parse(public).requires_sign_in
    no_lookup = {"key": "opening-hours", "title": {"en": "Opening hours"}, "locales": ["en"],
                 "trigger": {"phrases": {"en": ["opening hours"]}},
                 "steps": [{"id": "hours", "type": "answer", "text": {"en": "We answer around the clock."}}]}
    assert not _parse(no_lookup).requires_sign_in
    error = _invalid(_demo() | {"requires_sign_in": "yes"})
    assert error.where == "requires_sign_in" and "true or false" in error.detail


def test_an_anonymous_customer_never_reaches_the_lookup() -> None:
    flow = _parse(_demo())
    orders = FakeOrders({"BR-123456789": SHIPPED})
    for locale, start in (("en", "I can look that up once you're signed in"), ("es", "Puedo consultarlo cuando")):
        progress, _ = flows.begin(flow, locale=locale, market="US", lookup=orders)
        said = flows.reply(flow, progress, "BR-123456789", lookup=orders)  # no customer
        assert said.kind == "handoff" and said.reason == "sign_in_required" == progress.outcome
        assert said.text.startswith(start)
    assert orders.asked == []
    progress, _ = flows.begin(flow, locale="en", market="US", lookup=orders, customer=BUYER)
    assert flows.reply(flow, progress, "BR-123456789", lookup=orders, customer=BUYER).kind == "answer"
    assert [r.customer for r in orders.asked] == [BUYER]  # the order service is told who asks


def _chain(lookups: int) -> flows.Flow:
    """A flow that looks the order up ``lookups`` times in a row after one answer."""
    steps: list[dict[str, Any]] = [{"id": "ask_order", "type": "ask", "slot": "order_number",
                                    "prompt": {"en": "Your order number?"}}]
    steps += [{"id": f"look_{i}", "type": "lookup", "lookup": "orders", "map": {f"status_{i}": "status"}}
              for i in range(lookups)]
    steps.append({"id": "done", "type": "answer", "text": {"en": "Done."}})
    return _parse({"key": "chain", "title": {"en": "Chain"}, "locales": ["en"],
                   "trigger": {"phrases": {"en": ["chain"]}}, "steps": steps})


def test_at_most_two_lookups_run_for_one_message() -> None:
    orders = FakeOrders({"BR-1": {"status": "shipped"}})
    two = _chain(2)
    progress, _ = flows.begin(two, locale="en", market="US", lookup=orders, customer=BUYER)
    assert flows.reply(two, progress, "BR-1", lookup=orders, customer=BUYER).kind == "answer"
    assert len(orders.asked) == 2 and progress.calls == 2
    three = _chain(3)
    orders.asked.clear()
    progress, _ = flows.begin(three, locale="en", market="US", lookup=orders, customer=BUYER)
    said = flows.reply(three, progress, "BR-1", lookup=orders, customer=BUYER)
    assert said.kind == "handoff" and said.reason == "too_many_lookups" == progress.outcome
    assert said.text.startswith("I've looked up as much as I can")
    assert len(orders.asked) == 2  # the third is never called


def test_at_most_five_lookups_run_in_one_conversation() -> None:
    flow = _parse(_demo())
    orders = FakeOrders({"BR-123456789": SHIPPED})
    progress, _ = flows.begin(flow, locale="es", market="ES", lookup=orders, customer=BUYER,
                              calls=flows.MAX_LOOKUPS_PER_CONVERSATION)  # the conversation's earlier flows used them
    said = flows.reply(flow, progress, "BR-123456789", lookup=orders, customer=BUYER)
    assert said.kind == "handoff" and said.reason == "too_many_lookups" and orders.asked == []
    assert said.text.startswith("Ya he consultado todo lo que puedo")
    again = flows.Progress.from_json(progress.as_json())
    assert again.calls == flows.MAX_LOOKUPS_PER_CONVERSATION


def test_the_lookups_of_one_message_share_a_time_budget(receiver: Receiver) -> None:
    settings = Settings(_env_file=None, bot_lookups={"orders": receiver.url}, bot_lookup_secret=SECRET,
                        bot_lookup_timeout_seconds=3)
    ticks = [100.0]
    lookup = flows.http_lookup(settings, now=datetime.now(UTC), budget_seconds=5, timer=lambda: ticks[0])
    request = flows.LookupRequest(name="orders", flow="f", step="s", conversation_id=None, market="US",
                                  locale="en", slots={"order_number": "BR-1"}, customer=BUYER)
    receiver.reply(200, json.dumps({"status": "shipped"}))
    assert lookup(request).outcome == "found"  # at 100 s: the budget runs until 105 s
    ticks[0] = 104.0
    receiver.reply(200, json.dumps({"status": "shipped"}))
    assert lookup(request).outcome == "found"
    ticks[0] = 105.0
    spent = lookup(request)
    assert (spent.outcome, spent.detail) == ("error", "time budget spent")
    assert len(receiver.requests) == 2  # the third call never left

    late = flows.http_lookup(settings, now=datetime.now(UTC), budget_seconds=5,
                             timer=iter([0.0, 0.0, 9.0, 9.0, 9.0]).__next__)
    receiver.reply(200, json.dumps({"status": "shipped"}))
    answer = late(request)  # the answer arrived after the budget: not used
    assert (answer.outcome, answer.detail) == ("error", "timeout")


# ---------------------------------------------------------------- the bot, over HTTP, with a real lookup server


@pytest.fixture
def settings(tmp_path: Path, receiver: Receiver) -> Settings:
    """The app's settings with the demo flows' "orders" lookup served by the test's HTTP receiver."""
    return Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="test-secret-key-" + "x" * 32,
                    bot_lookups={"orders": receiver.url}, bot_lookup_secret=SECRET, bot_lookup_timeout_seconds=0.3)


def _start(client: TestClient, world: World, market: str = "US", locale: str = "en") -> tuple[str, dict[str, str]]:
    response = client.post("/api/v1/bot/conversations", headers=world.auth("buyer"),
                           json={"market": market, "locale": locale, "channel": "in_app_chat"})
    assert response.status_code == 201, response.text
    body = response.json()
    return f"/api/v1/bot/conversations/{body['id']}", {"X-Bot-Token": body["token"]}


def _say(client: TestClient, url: str, token: dict[str, str], text: str) -> dict[str, Any]:
    response = client.post(f"{url}/messages", headers=token, json={"text": text})
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def _hand_off(client: TestClient, world: World, db: Session, url: str, token: dict[str, str]) -> tuple[Case, str]:
    """Hand the conversation off as the signed-in buyer; the case and the bot's message on it."""
    handed = client.post(f"{url}/handoff", headers=token | world.auth("buyer"))
    assert handed.status_code == 201, handed.text
    case = db.get(Case, handed.json()["case_id"])
    assert case is not None
    bot_messages = db.scalars(select(Message.body).where(Message.case_id == case.id, Message.author_type == "bot")
                              .order_by(Message.id)).all()
    return case, "\n".join(bot_messages)


def test_where_is_my_order_over_the_in_app_api_with_a_signed_lookup(
        client: TestClient, world: World, db: Session, clock: FrozenClock, receiver: Receiver) -> None:
    clock.set(datetime.now(UTC))  # the reference verifier checks the timestamp against the real time
    ensure_kb(db, now=clock.now())
    db.commit()
    url, token = _start(client, world)
    asked = _say(client, url, token, "How can I track my order?")  # the track-your-order article starts the flow
    assert asked["kind"] == "flow_prompt" and asked["flow"] == "where-is-my-order"
    assert "What is your order number?" in asked["text"] and asked["ask"] is None
    receiver.reply(200, json.dumps({"order_number": "BR-123456789", **SHIPPED}))
    answered = _say(client, url, token, "br-123456789")
    assert answered["kind"] == "answer" and answered["ask"] == "Did this solve it?"
    assert answered["text"].startswith("Order BR-123456789 is on its way with Correos Express.")
    assert answered["article_key"] == "track-your-order" and answered["title"] == "Where is my order?"

    [call] = receiver.requests
    assert call.headers["user-agent"] == "TrustDesk-Lookups/1"
    # The lookup server verifies the call with the reference library and the secret it was given.
    verified = standardwebhooks.Webhook(SECRET).verify(call.body, call.headers)
    conversation_id = int(url.rsplit("/", 1)[1])
    buyer = world.users["buyer"].id
    assert verified["type"] == "bot.lookup" and verified["data"] == {
        "lookup": "orders", "flow": "where-is-my-order", "step": "find_order", "conversation_id": conversation_id,
        "market": "US", "locale": "en", "slots": {"order_number": "BR-123456789"},
        "customer": {"user_id": buyer, "party": {"external_id": f"user-{buyer}", "kind": "buyer"}}}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(webhooks.new_secret()).verify(call.body, call.headers)

    turns = client.get(f"{url}/turns", headers=token).json()
    assert [(t["role"], t["kind"]) for t in turns] == [
        ("customer", "question"), ("bot", "flow_prompt"), ("customer", "flow_reply"), ("bot", "answer")]
    assert client.post(f"{url}/helped", headers=token).json()["status"] == "helped"
    row = db.get(BotConversation, conversation_id)
    assert row is not None
    db.refresh(row)
    article_topic = db.scalar(select(KbArticle.topic).where(KbArticle.key == "track-your-order"))
    assert (row.flow_key, row.flow_step, row.article_key) == ("where-is-my-order", None, "track-your-order")
    assert row.topic == article_topic and article_topic  # the funnel groups it under the article's topic
    assert row.flow_state is not None and row.flow_state["outcome"] == "answered"
    assert row.flow_state["variables"]["eta"] == "2026-03-05"


def test_an_invalid_order_number_is_asked_again_then_handed_off(
        client: TestClient, world: World, db: Session, receiver: Receiver) -> None:
    url, token = _start(client, world)
    assert _say(client, url, token, "Hi, where is my order?")["kind"] == "flow_prompt"
    for attempt in ("the blue one", "12345"):
        retried = _say(client, url, token, attempt)
        assert retried["kind"] == "flow_prompt"
        assert retried["text"].startswith("That doesn't look like an order number.")
    gave_up = _say(client, url, token, "I don't know it")
    assert gave_up["kind"] == "flow_handoff" and "pass you to a person" in gave_up["text"]
    assert receiver.requests == []  # nothing worth looking up
    case, note = _hand_off(client, world, db, url, token)
    assert case.custom_fields["bot_flow"] == "where-is-my-order"
    assert case.custom_fields["bot_flow_outcome"] == "invalid_order_number"
    assert "What the assistant collected in “Where is my order?”:" in note
    assert "Outcome: invalid_order_number" in note


def test_an_order_not_found_is_asked_once_more_then_handed_off_with_what_was_tried(
        client: TestClient, world: World, db: Session, receiver: Receiver) -> None:
    url, token = _start(client, world)
    _say(client, url, token, "where's my order")
    receiver.answer(404, 404)
    again = _say(client, url, token, "BR-111111111")
    assert again["kind"] == "flow_prompt" and again["text"].startswith("I couldn't find order BR-111111111.")
    handed = _say(client, url, token, "BR-222222222")
    assert handed["kind"] == "flow_handoff" and handed["text"].startswith("I still can't find order BR-222222222.")
    assert [json.loads(r.body)["data"]["slots"]["order_number"] for r in receiver.requests] == [
        "BR-111111111", "BR-222222222"]
    case, note = _hand_off(client, world, db, url, token)
    assert case.custom_fields["bot_flow_outcome"] == "order_not_found"
    assert case.custom_fields["flow_order_number"] == "BR-222222222"
    assert case.custom_fields["bot_flow_lookup"] == "not_found"
    assert "- order_number: BR-222222222" in note and note.count("Lookup orders: not found") == 2


@pytest.mark.parametrize("failure", ["timeout", "HTTP 500", "not JSON"])
def test_a_failing_lookup_hands_off_with_we_could_not_look_that_up(
        client: TestClient, world: World, db: Session, receiver: Receiver, failure: str) -> None:
    if failure == "timeout":
        receiver.stalled = True  # answers only after the test: the call gives up after 0.3 s
    elif failure == "HTTP 500":
        receiver.answer(500)
    else:
        receiver.reply(200, "<html>Order service</html>")
    url, token = _start(client, world)
    _say(client, url, token, "Where is my order?")
    failed = _say(client, url, token, "BR-123456789")
    assert failed["kind"] == "flow_handoff"
    assert failed["text"] == ("Sorry, we could not look up your order right now. I'll pass you to a person who "
                              "can check it for you.")
    case, note = _hand_off(client, world, db, url, token)
    assert case.custom_fields["bot_flow_outcome"] == "lookup_failed"
    assert case.custom_fields["bot_flow_lookup"] == "error"
    assert case.custom_fields["flow_order_number"] == "BR-123456789"
    assert f"Lookup orders: we could not look that up ({failure})" in note
    assert case.subject == "Where is my order?"


def test_a_person_asked_for_in_the_middle_of_a_flow_gets_the_flow_so_far(
        client: TestClient, world: World, db: Session) -> None:
    url, token = _start(client, world)
    _say(client, url, token, "where is my order")
    case, note = _hand_off(client, world, db, url, token)
    assert case.custom_fields["bot_flow_outcome"] == "asked_for_person" and "flow_order_number" not in \
        case.custom_fields
    assert "Outcome: asked_for_person" in note
    response = client.post(f"{url}/messages", headers=token, json={"text": "BR-123456789"})
    assert response.status_code == 409  # the conversation is the case's now


def test_a_spanish_conversation_runs_the_flow_in_spanish(
        client: TestClient, world: World, db: Session, receiver: Receiver) -> None:
    url, token = _start(client, world, market="ES", locale="es")
    asked = _say(client, url, token, "Hola, ¿dónde está mi pedido?")
    assert asked["kind"] == "flow_prompt" and asked["text"].startswith("Puedo consultarlo. ¿Cuál es tu número")
    assert _say(client, url, token, "mi pedido")["text"].startswith("Eso no parece un número de pedido.")
    receiver.reply(200, json.dumps({"status": "processing"}))
    answered = _say(client, url, token, "BR-987654321")
    assert answered["kind"] == "answer" and answered["ask"] == "¿Te ha resuelto la duda?"
    assert answered["text"].startswith("El pedido BR-987654321 aún no se ha enviado")
    buyer = world.users["buyer"].id
    assert json.loads(receiver.requests[0].body)["data"] | {"conversation_id": None} == {
        "lookup": "orders", "flow": "where-is-my-order", "step": "find_order", "conversation_id": None,
        "market": "ES", "locale": "es", "slots": {"order_number": "BR-987654321"},
        "customer": {"user_id": buyer, "party": {"external_id": f"user-{buyer}", "kind": "buyer"}}}
    _case, note = _hand_off(client, world, db, url, token)  # "no, it didn't solve it"
    assert "Lo que el asistente recogió en «¿Dónde está mi pedido?»:" in note and "- status: processing" in note
    assert "El pedido BR-987654321 aún no se ha enviado" in note  # what the bot said, as for an article


def test_the_help_center_assistant_runs_the_flow_once_signed_in(client: TestClient, world: World, db: Session,
                                                                receiver: Receiver) -> None:
    page = client.get("/help/assistant?market=US&lang=en")
    token = csrf_from(page.text)
    anonymous = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                     "text": "Where is my order?"})
    assert anonymous.status_code == 200 and "I can look that up once you&#39;re signed in" in anonymous.text
    assert "What is your order number?" not in anonymous.text and 'href="/login?next=/help/assistant"' in anonymous.text
    token = sign_in(client, "buyer")  # the same conversation (its cookie) goes on, now the buyer's
    asked = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                 "text": "Where is my order?"})
    assert asked.status_code == 200 and "What is your order number?" in asked.text
    assert '<label for="bot-text">Your answer</label>' in asked.text and "Talk to a person" in asked.text
    retried = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                   "text": "<b>no idea</b>"})
    assert "That doesn&#39;t look like an order number." in retried.text
    assert "&lt;b&gt;no idea&lt;/b&gt;" in retried.text  # what the customer typed stays text
    receiver.reply(200, json.dumps({"status": "delivered", "carrier": "UPS"}))
    answered = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                    "text": "BR-123456789"})
    assert "Order BR-123456789 was delivered by UPS." in answered.text and "Did this solve it?" in answered.text
    assert "Your question" not in answered.text and "Ask another question" in answered.text
    receiver.answer(503)
    client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                         "text": "And where is my order from May?"})
    failed = client.post("/help/assistant", data={"csrf_token": token, "market": "US", "lang": "en",
                                                  "text": "BR-000000002"})
    assert "we could not look up your order right now" in failed.text and "Talk to a person" in failed.text
    assert {json.loads(r.body)["data"]["customer"]["user_id"] for r in receiver.requests} == {world.users["buyer"].id}
    opened = client.post("/help/assistant/handoff", data={"csrf_token": client.cookies["td_csrf"]},
                         follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/help/cases/ID-")
    case_page = client.get(opened.headers["location"]).text
    assert "Lookup orders: we could not look that up (HTTP 503)" in case_page


def test_an_anonymous_conversation_is_told_to_sign_in_and_nothing_is_looked_up(
        client: TestClient, world: World, db: Session, receiver: Receiver) -> None:
    for market, locale, question, words in (
            ("US", "en", "Where is my order?", "I can look that up once you're signed in"),
            ("ES", "es", "¿Dónde está mi pedido?", "Puedo consultarlo cuando hayas iniciado sesión")):
        started = client.post("/api/v1/bot/conversations", json={"market": market, "locale": locale,
                                                                  "channel": "in_app_chat"})
        assert started.status_code == 201, started.text
        url, token = f"/api/v1/bot/conversations/{started.json()['id']}", {"X-Bot-Token": started.json()["token"]}
        refused = _say(client, url, token, question)
        assert refused["kind"] == "flow_sign_in" and refused["text"].startswith(words)
        assert refused["flow"] == "where-is-my-order"
        again = _say(client, url, token, "BR-123456789")  # not an answer to anything: a new question
        assert again["kind"] == "no_answer"
        turns = client.get(f"{url}/turns", headers=token).json()
        assert [t["kind"] for t in turns] == ["question", "flow_sign_in", "question", "no_answer"]
        row = db.get(BotConversation, started.json()["id"])
        assert row is not None and row.flow_state is None and row.user_id is None
    assert receiver.requests == []


def test_an_anonymous_question_the_article_answers_gets_the_article_and_how_to_have_it_looked_up(
        client: TestClient, world: World, db: Session, clock: FrozenClock, receiver: Receiver) -> None:
    ensure_kb(db, now=clock.now())
    db.commit()
    started = client.post("/api/v1/bot/conversations", json={"market": "US", "locale": "en"}).json()
    url, token = f"/api/v1/bot/conversations/{started['id']}", {"X-Bot-Token": started["token"]}
    answered = _say(client, url, token, "How can I track my order?")
    assert answered["kind"] == "answer" and answered["article_key"] == "track-your-order"
    assert answered["ask"] == "Did this solve it?" and answered["flow"] is None
    assert answered["text"].endswith("I can look that up once you're signed in, so that only you see your details. "
                                     "Please sign in and ask me again.")
    assert receiver.requests == []


def test_a_conversation_gets_five_lookups_then_a_person(
        client: TestClient, world: World, db: Session, receiver: Receiver) -> None:
    url, token = _start(client, world)
    receiver.answer(*[404] * 10)
    for first, second in (("BR-111111111", "BR-222222222"), ("BR-333333333", "BR-444444444")):
        assert _say(client, url, token, "where is my order")["kind"] == "flow_prompt"
        assert _say(client, url, token, first)["kind"] == "flow_prompt"  # not found: asked again
        assert _say(client, url, token, second)["kind"] == "flow_handoff"  # not found twice: a person
    assert _say(client, url, token, "where is my order")["kind"] == "flow_prompt"
    assert _say(client, url, token, "BR-555555555")["kind"] == "flow_prompt"  # the fifth lookup
    limited = _say(client, url, token, "BR-666666666")
    assert limited["kind"] == "flow_handoff" and limited["text"].startswith("I've looked up as much as I can")
    assert len(receiver.requests) == flows.MAX_LOOKUPS_PER_CONVERSATION == 5
    case, note = _hand_off(client, world, db, url, token)
    assert case.custom_fields["bot_flow_outcome"] == "too_many_lookups" and "Outcome: too_many_lookups" in note
