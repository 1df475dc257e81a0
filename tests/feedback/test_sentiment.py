"""Sentiment of customer messages: scored once each in the case's language, the case marked for the insight
facts, flagged by the active rules (tag, priority raised upward only, once per rule per case, open cases of
the rule's market and topic only), the rules API and page with their refusals, and the case's trend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.api import assert_problem, events_of, fresh_case
from tests.factories.cases import SETTINGS, make_case, make_party
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Priority, Status
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Invalid
from trustdesk.core.events import SYSTEM, StaleCase
from trustdesk.core.identity import actor_for
from trustdesk.directory.models import Market
from trustdesk.feedback import sentiment, sentiment_job
from trustdesk.feedback.models import MessageSentiment, SentimentRule
from trustdesk.insights import facts
from trustdesk.insights.models import CaseFact

ANGRY_EN = "This is unacceptable, the worst service ever. I am furious!"
ANGRY_ES = "Esto es inaceptable, pésimo servicio, es una estafa."
HAPPY_ES = "Muchas gracias, todo perfecto."
HTML = {"accept": "text/html"}


def _case(db: Session, world: World, clock: FrozenClock, body: str, *, market: Market | None = None,
          language: str = "en", topic: str | None = None, priority: Priority = Priority.NORMAL,
          party: str = "p-1") -> Case:
    market = market or world.us
    queue = world.queue_a if market is world.us else world.queue_b
    who = make_party(db, market, now=clock.now(), external_id=party)
    return make_case(db, market=market, party=who, now=clock.now(), queue=queue, body=body, language=language,
                     topic=topic, priority=priority)


def _customer_says(db: Session, world: World, case: Case, body: str, clock: FrozenClock) -> None:
    clock.advance(timedelta(minutes=5))
    cases.add_customer_message(db, case, body=body, actor=actor_for(world.users["buyer"]), settings=SETTINGS,
                               now=clock.now())


def _rule(db: Session, clock: FrozenClock, **overrides: Any) -> SentimentRule:
    values: dict[str, Any] = {"name": "Angry customer", "threshold": -0.5, "tag": "angry",
                              "raise_priority_to": "high"} | overrides
    return sentiment.create_rule(db, **values, now=clock.now())


def _flags(db: Session, case_id: int) -> list[dict[str, Any]]:
    return [e.data for e in events_of(db, case_id) if e.type == sentiment.FLAGGED]


# ---------------------------------------------------------------- scoring


def test_each_customer_message_is_scored_once_in_its_case_s_language(db: Session, world: World,
                                                                     clock: FrozenClock) -> None:
    angry = _case(db, world, clock, ANGRY_EN)
    cases.add_bot_message(db, angry, body="This is unacceptable, I am sorry!", now=clock.now())  # not the customer
    cases.add_system_message(db, angry, body="Terrible.", now=clock.now())
    happy = _case(db, world, clock, HAPPY_ES, market=world.es, language="es-ES", party="p-2")
    unscorable = _case(db, world, clock, "Péssimo atendimento, estou furioso!", language="pt-BR", party="p-3")
    db.execute(delete(StaleCase))

    first = sentiment.score_new_messages(db, now=clock.now())
    assert (first.scored, first.cases, first.flagged) == (2, 2, 0)
    rows = {r.case_id: r for r in db.scalars(select(MessageSentiment))}
    assert set(rows) == {angry.id, happy.id}  # Portuguese has no scorer: nothing pretends to have measured it
    assert (rows[angry.id].label, rows[angry.id].language, rows[angry.id].model) == (
        "negative", "en", "vader-3.3.2+td-1")
    assert rows[angry.id].score < -0.6 and rows[angry.id].scored_at == clock.now()
    assert (rows[happy.id].label, rows[happy.id].language, rows[happy.id].model) == (
        "positive", "es", "td-lexicon-es-1")
    assert set(db.scalars(select(StaleCase.case_id))) == {angry.id, happy.id}
    assert unscorable.id not in rows

    again = sentiment.score_new_messages(db, now=clock.now())
    assert again == sentiment.ScoreRun(0, 0, 0)
    assert db.scalar(select(func.count()).select_from(MessageSentiment)) == 2

    # The insight facts fold the scores: first, last and lowest of the case.
    _customer_says(db, world, angry, "Thanks, that is great now.", clock)
    assert sentiment.score_new_messages(db, now=clock.now()).scored == 1
    facts.refresh_stale(db, now=clock.now())
    fact = db.get(CaseFact, angry.id)
    assert fact is not None and fact.sentiment_first is not None and fact.sentiment_last is not None
    assert fact.sentiment_first < -0.6 < 0.4 < fact.sentiment_last
    assert fact.sentiment_min == fact.sentiment_first


def test_a_run_scores_at_most_its_limit_oldest_first(db: Session, world: World, clock: FrozenClock) -> None:
    made = [_case(db, world, clock, f"Great, thanks {n}!", party=f"p-{n}") for n in range(3)]
    assert sentiment.score_new_messages(db, now=clock.now(), limit=2).scored == 2
    assert set(db.scalars(select(MessageSentiment.case_id))) == {made[0].id, made[1].id}
    assert sentiment.score_all(db, now=clock.now(), batch=1).scored == 1


def test_the_periodic_job_scores_and_commits(factory: sessionmaker[Session], db: Session, world: World,
                                             clock: FrozenClock) -> None:
    case = _case(db, world, clock, ANGRY_EN)
    db.commit()
    assert (30.0, sentiment_job.score_messages) in sentiment_job.PERIODIC
    assert sentiment_job.score_messages(factory, clock) == 1
    assert sentiment_job.score_messages(factory, clock) == 0
    db.expire_all()
    assert db.scalar(select(MessageSentiment.case_id)) == case.id


# ---------------------------------------------------------------- rules


def test_a_rule_tags_raises_and_records_the_flag_once(db: Session, world: World, clock: FrozenClock) -> None:
    rule = _rule(db, clock)
    case = _case(db, world, clock, ANGRY_EN)
    run = sentiment.score_new_messages(db, now=clock.now())
    assert run.flagged == 1
    case = fresh_case(db, case.id)
    assert "angry" in case.tags and case.priority == "high"
    updated = [e for e in events_of(db, case.id) if e.type == "case.updated"][-1]
    assert updated.actor_type == "rule" and updated.data["changes"]["priority"] == {"from": "normal", "to": "high"}
    message_id = db.scalar(select(MessageSentiment.message_id).where(MessageSentiment.case_id == case.id))
    (flag,) = _flags(db, case.id)
    assert flag | {"score": None} == {"rule_id": rule.id, "rule": "Angry customer", "message_id": message_id,
                                      "score": None, "threshold": -0.5, "tag": "angry", "tagged": True,
                                      "priority": {"from": "normal", "to": "high"}}
    assert flag["score"] <= -0.5
    flagged_event = next(e for e in events_of(db, case.id) if e.type == sentiment.FLAGGED)
    assert flagged_event.actor_type == "rule"

    # Angrier still, and the agent took the tag off: the rule has had its say on this case.
    cases.update_case(db, case, {"tags": []}, actor=SYSTEM, now=clock.now())
    _customer_says(db, world, case, "Still nothing. Worst, most useless support ever, a total scam!", clock)
    assert sentiment.score_new_messages(db, now=clock.now()) == sentiment.ScoreRun(1, 1, 0)
    assert len(_flags(db, case.id)) == 1 and fresh_case(db, case.id).tags == []
    # A second rule is a rule of its own: it may flag the case too.
    _rule(db, clock, name="Second", tag="escalate-now", raise_priority_to=None)
    _customer_says(db, world, case, "This is a disgrace, I am furious!", clock)
    assert sentiment.score_new_messages(db, now=clock.now()).flagged == 1
    assert [f["rule"] for f in _flags(db, case.id)] == ["Angry customer", "Second"]
    assert fresh_case(db, case.id).tags == ["escalate-now"]


def test_rules_fire_only_at_their_threshold_market_and_topic_on_open_cases(db: Session, world: World,
                                                                           clock: FrozenClock) -> None:
    _rule(db, clock, market="ES", topic_prefix="refund")
    us_refund = _case(db, world, clock, ANGRY_ES, language="es", topic="refund.get_refund", party="a")
    es_refund = _case(db, world, clock, ANGRY_ES, market=world.es, language="es", topic="refund.get_refund",
                      party="b")
    es_refund_root = _case(db, world, clock, ANGRY_ES, market=world.es, language="es", topic="refund", party="c")
    es_refunds = _case(db, world, clock, ANGRY_ES, market=world.es, language="es", topic="refunds", party="d")
    es_order = _case(db, world, clock, ANGRY_ES, market=world.es, language="es", topic="order.track", party="e")
    es_mild = _case(db, world, clock, "El pedido llegó tarde.", market=world.es, language="es",
                    topic="refund.get_refund", party="f")
    es_solved = _case(db, world, clock, ANGRY_ES, market=world.es, language="es", topic="refund", party="g")
    cases.change_status(db, es_solved, Status.SOLVED, actor=SYSTEM, now=clock.now())
    sentiment.create_rule(db, name="Off", threshold=-0.1, tag="off", active=False, now=clock.now())

    assert sentiment.score_new_messages(db, now=clock.now()).flagged == 2
    flagged = {c.id for c in (us_refund, es_refund, es_refund_root, es_refunds, es_order, es_mild, es_solved)
               if _flags(db, c.id)}
    assert flagged == {es_refund.id, es_refund_root.id}
    assert "negative-sentiment" not in fresh_case(db, es_solved.id).tags
    assert fresh_case(db, es_solved.id).priority == "normal"
    assert all("off" not in fresh_case(db, c.id).tags for c in (es_refund, es_mild))


def test_priority_is_raised_never_lowered(db: Session, world: World, clock: FrozenClock) -> None:
    _rule(db, clock, raise_priority_to="high")
    urgent = _case(db, world, clock, ANGRY_EN, priority=Priority.URGENT, party="u")
    low = _case(db, world, clock, ANGRY_EN, priority=Priority.LOW, party="l")
    already = _case(db, world, clock, ANGRY_EN, priority=Priority.HIGH, party="h")
    cases.update_case(db, already, {"tags": ["angry"]}, actor=SYSTEM, now=clock.now())
    assert sentiment.score_new_messages(db, now=clock.now()).flagged == 3
    assert fresh_case(db, urgent.id).priority == "urgent" and "angry" in fresh_case(db, urgent.id).tags
    assert fresh_case(db, low.id).priority == "high"
    assert _flags(db, urgent.id)[0]["priority"] is None
    assert _flags(db, already.id)[0] | {"score": 0} == _flags(db, already.id)[0] | {
        "score": 0, "tagged": False, "priority": None}
    assert not [e for e in events_of(db, already.id) if e.type == "case.updated" and e.actor_type == "rule"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"threshold": 0}, "threshold"), ({"threshold": 0.3}, "threshold"), ({"threshold": -1.01}, "threshold"),
    ({"threshold": "low"}, "threshold"), ({"threshold": True}, "threshold"), ({"name": "  "}, "name"),
    ({"tag": ""}, "tag"), ({"tag": "Not a slug!"}, "tag"), ({"raise_priority_to": "huge"}, "raise_priority_to"),
    ({"market": "ZZ"}, "market"), ({"topic_prefix": "Refunds and more"}, "topic_prefix"),
    ({"active": "yes"}, "active"), ({"colour": "red"}, "colour"),
])
def test_rule_changes_are_validated_naming_the_field(db: Session, world: World, clock: FrozenClock,
                                                     changes: dict[str, Any], field: str) -> None:
    rule = _rule(db, clock)
    with pytest.raises(Invalid) as refused:
        sentiment.update_rule(db, rule, changes)
    assert refused.value.field == field
    assert sentiment.deactivate_rule(db, rule).active is False
    assert sentiment.update_rule(db, rule, {"threshold": -1, "market": "es", "topic_prefix": "",
                                            "raise_priority_to": None}).market == "ES"
    assert (rule.threshold, rule.topic_prefix, rule.raise_priority_to) == (-1.0, None, None)


# ---------------------------------------------------------------- the API


def test_the_rules_api_creates_lists_and_changes_rules(client: TestClient, world: World) -> None:
    made = client.post("/api/v1/feedback/sentiment-rules", headers=world.auth("lead"),
                       json={"name": "Refund anger", "threshold": -0.4, "market": "ES", "topic_prefix": "refund",
                             "raise_priority_to": "urgent"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body | {"id": 0, "created_at": None} == {
        "id": 0, "name": "Refund anger", "threshold": -0.4, "market": "ES", "topic_prefix": "refund",
        "tag": "negative-sentiment", "raise_priority_to": "urgent", "active": True, "created_at": None}
    patched = client.patch(f"/api/v1/feedback/sentiment-rules/{body['id']}", headers=world.auth("admin"),
                           json={"active": False, "threshold": -0.7})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["active"], patched.json()["threshold"], patched.json()["market"]) == (False, -0.7, "ES")
    listed = client.get("/api/v1/feedback/sentiment-rules", headers=world.auth("lead")).json()
    assert [r["name"] for r in listed] == ["Refund anger"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "threshold": 0}, "threshold"), ({"name": "x", "threshold": "very"}, "threshold"),
    ({"name": "x"}, "threshold"), ({"threshold": -0.5}, "name"), ({"name": "", "threshold": -0.5}, "name"),
    ({"name": "x", "threshold": -0.5, "tag": "no spaces"}, "tag"),
    ({"name": "x", "threshold": -0.5, "raise_priority_to": "asap"}, "raise_priority_to"),
    ({"name": "x", "threshold": -0.5, "market": "XX"}, "market"),
    ({"name": "x", "threshold": -0.5, "topic_prefix": "a..b"}, "topic_prefix"),
    ({"name": "x", "threshold": -0.5, "severity": 3}, "severity"),
])
def test_the_rules_api_refuses_bad_rules_naming_the_field(client: TestClient, world: World, db: Session,
                                                          body: dict[str, Any], field: str) -> None:
    assert_problem(client.post("/api/v1/feedback/sentiment-rules", headers=world.auth("lead"), json=body),
                   422, field)
    assert db.scalar(select(func.count()).select_from(SentimentRule)) == 0


def test_patching_refuses_nulls_and_unknown_rules(client: TestClient, world: World, db: Session,
                                                  clock: FrozenClock) -> None:
    rule = _rule(db, clock)
    db.commit()
    url = f"/api/v1/feedback/sentiment-rules/{rule.id}"
    for body, field in (({"name": None}, "name"), ({"tag": None}, "tag"), ({"threshold": None}, "threshold"),
                        ({"active": None}, "active"), ({"threshold": 1}, "threshold")):
        assert_problem(client.patch(url, headers=world.auth("lead"), json=body), 422, field)
    assert_problem(client.patch("/api/v1/feedback/sentiment-rules/999999", headers=world.auth("lead"),
                                json={"active": False}), 404, "rule_id")
    db.expire_all()
    kept = db.get(SentimentRule, rule.id)
    assert kept is not None and (kept.name, kept.threshold, kept.active) == ("Angry customer", -0.5, True)


def test_the_rules_api_needs_feedback_admin_in_house(client: TestClient, world: World, db: Session,
                                                     clock: FrozenClock) -> None:
    rule = _rule(db, clock)
    db.commit()
    body = {"name": "x", "threshold": -0.5}
    for who in ("agent_t1", "agent_t2", "qa", "buyer"):
        assert_problem(client.get("/api/v1/feedback/sentiment-rules", headers=world.auth(who)), 403)
        assert_problem(client.post("/api/v1/feedback/sentiment-rules", headers=world.auth(who), json=body), 403)
        assert_problem(client.patch(f"/api/v1/feedback/sentiment-rules/{rule.id}", headers=world.auth(who),
                                    json={"active": False}), 403)
    assert_problem(client.get("/api/v1/feedback/sentiment-rules"), 401)
    assert_problem(client.post("/api/v1/feedback/sentiment-rules", json=body), 401)
    assert_problem(client.patch(f"/api/v1/feedback/sentiment-rules/{rule.id}", json={"active": False}), 401)


def test_a_case_s_trend_over_the_api(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    case = _case(db, world, clock, ANGRY_EN)
    _customer_says(db, world, case, "Thanks, the refund arrived, great!", clock)
    sentiment.score_new_messages(db, now=clock.now())
    quiet = _case(db, world, clock, "Where is my order?", party="p-9")
    db.commit()
    trend = client.get(f"/api/v1/cases/{case.id}/sentiment", headers=world.auth("agent_t1"))
    assert trend.status_code == 200, trend.text
    body = trend.json()
    assert body["case_id"] == case.id and body["summary"] == "negative → positive"
    assert [p["label"] for p in body["points"]] == ["negative", "positive"]
    assert body["points"][0]["at"] < body["points"][1]["at"] and body["points"][0]["score"] < -0.6
    assert client.get(f"/api/v1/cases/{quiet.id}/sentiment", headers=world.auth("lead")).json() == {
        "case_id": quiet.id, "summary": "", "points": []}
    # The case gate: another vendor's agent does not see it; customers have no access to it; nor has anyone
    # signed out.
    assert_problem(client.get(f"/api/v1/cases/{case.id}/sentiment", headers=world.auth("agent_t1_b")), 404)
    assert_problem(client.get(f"/api/v1/cases/{case.id}/sentiment", headers=world.auth("buyer")), 403)
    assert_problem(client.get(f"/api/v1/cases/{case.id}/sentiment"), 401)


# ---------------------------------------------------------------- the pages


class StatementCounter:
    def __init__(self, connection: Connection) -> None:
        self.statements: list[str] = []
        self.connection = connection
        event.listen(connection, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.connection, "before_cursor_execute", self._count)


@pytest.fixture
def counter(connection: Connection) -> Iterator[StatementCounter]:
    made = StatementCounter(connection)
    yield made
    made.close()


def test_the_case_page_shows_each_message_s_sentiment_and_the_trend_in_bounded_queries(
        client: TestClient, world: World, db: Session, clock: FrozenClock, counter: StatementCounter) -> None:
    few = _case(db, world, clock, ANGRY_EN)
    _customer_says(db, world, few, "Ok, thanks, that is great.", clock)
    many = _case(db, world, clock, ANGRY_EN, party="p-2")
    for n in range(10):
        _customer_says(db, world, many, f"Any news? This is unacceptable ({n}).", clock)
    sentiment.score_new_messages(db, now=clock.now())
    db.commit()
    sign_in(client, "lead")

    def statements(case_id: int) -> tuple[int, str]:
        counter.statements.clear()
        page = client.get(f"/console/cases/{case_id}")
        assert page.status_code == 200
        return len([s for s in counter.statements if "message_sentiments" in s]), page.text

    statements(few.id)  # warm up
    few_queries, page = statements(few.id)
    many_queries, many_page = statements(many.id)
    assert few_queries == many_queries == 1
    assert "Customer sentiment: <strong>negative → positive</strong>" in page
    assert re.findall(r'<span class="visually-hidden">Sentiment: </span>(\w+)</span>', page) == [
        "Negative", "Positive"]
    assert len(re.findall(r"Sentiment: </span>Negative", many_page)) == 11
    assert "Customer sentiment: <strong>negative → negative</strong>" in many_page


def test_a_flag_reads_as_a_sentence_on_the_timeline(client: TestClient, world: World, db: Session,
                                                    clock: FrozenClock) -> None:
    _rule(db, clock)
    case = _case(db, world, clock, ANGRY_EN)
    sentiment.score_new_messages(db, now=clock.now())
    db.commit()
    sign_in(client, "agent_t2")
    page = client.get(f"/console/cases/{case.id}").text
    assert "Flagged by the sentiment rule “Angry customer”: a customer message scored -0." in page
    assert '<span class="tag">angry</span>' in page


def test_the_console_page_lists_rules_figures_and_flagged_cases(client: TestClient, world: World, db: Session,
                                                                clock: FrozenClock) -> None:
    _rule(db, clock)
    angry = _case(db, world, clock, ANGRY_EN)
    _case(db, world, clock, "Thanks, all good!", party="p-2")
    sentiment.score_new_messages(db, now=clock.now())
    facts.refresh_stale(db, now=clock.now())
    db.commit()
    sign_in(client, "lead")
    page = client.get("/console/feedback/sentiment")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Customer sentiment</h1>" in text and 'aria-current="page">Sentiment</a>' in text
    assert ">Angry customer</a>" in text and '<span class="badge status-solved">Active</span>' in text
    row = re.search(r'<tr><th scope="row">US</th>(.*?)</tr>', text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[:3] == ["2", "1", "50.0%"]
    assert f'href="/console/cases/{angry.id}">{fresh_case(db, angry.id).reference}</a>' in text
    assert '<label for="rule-threshold">Threshold' in text


def test_the_console_page_creates_edits_and_deactivates_rules(client: TestClient, world: World,
                                                              db: Session) -> None:
    csrf = sign_in(client, "lead")
    form = {"csrf_token": csrf, "name": "Furious in Spain", "threshold": "-0.7", "market": "ES", "topic_prefix": "",
            "tag": "furious", "raise_priority_to": "urgent", "active": "1"}
    made = client.post("/console/feedback/sentiment/rules", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/console/feedback/sentiment?notice=rule_created"
    rule = db.scalar(select(SentimentRule))
    assert rule is not None and (rule.name, rule.threshold, rule.market, rule.tag, rule.raise_priority_to) == (
        "Furious in Spain", -0.7, "ES", "furious", "urgent")
    assert "Rule created" in client.get(made.headers["location"]).text

    refused = client.post("/console/feedback/sentiment/rules", data=form | {"threshold": "0.2"})
    assert refused.status_code == 422 and 'id="rule-threshold-error"' in refused.text
    assert 'value="Furious in Spain"' in refused.text  # what was typed stays
    refused = client.post("/console/feedback/sentiment/rules", data=form | {"threshold": "soon"})
    assert refused.status_code == 422 and "enter a number" in refused.text.lower()
    assert db.scalar(select(func.count()).select_from(SentimentRule)) == 1

    edit = client.get(f"/console/feedback/sentiment?edit={rule.id}")
    assert "Edit “Furious in Spain”" in edit.text
    saved = client.post(f"/console/feedback/sentiment/rules/{rule.id}", follow_redirects=False,
                        data=form | {"threshold": "-0.8", "market": "", "raise_priority_to": ""})
    assert saved.status_code == 303
    db.expire_all()
    assert (rule.threshold, rule.market, rule.raise_priority_to, rule.active) == (-0.8, None, None, True)
    bad_edit = client.post(f"/console/feedback/sentiment/rules/{rule.id}", data=form | {"tag": "Not OK"})
    assert bad_edit.status_code == 422 and 'id="rule-tag-error"' in bad_edit.text
    gone = client.post(f"/console/feedback/sentiment/rules/{rule.id}/deactivate", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert gone.status_code == 303
    db.expire_all()
    assert rule.active is False and rule.tag == "furious"
    assert client.post(f"/console/feedback/sentiment/rules/{rule.id}/deactivate").status_code == 403  # no CSRF
    assert client.get("/console/feedback/sentiment?edit=999999").status_code == 404


def test_the_console_page_needs_feedback_admin_in_house(client: TestClient, world: World) -> None:
    response = client.get("/console/feedback/sentiment", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert client.post("/console/feedback/sentiment/rules", data={}, follow_redirects=False).status_code in (
        303, 401, 403)
    csrf = sign_in(client, "agent_t2")
    assert client.get("/console/feedback/sentiment").status_code == 403
    assert client.post("/console/feedback/sentiment/rules", data={"csrf_token": csrf, "name": "x",
                                                                  "threshold": "-0.5"}).status_code == 403
    assert 'href="/console/feedback/sentiment"' not in client.get("/console").text
    client.cookies.clear()
    sign_in(client, "lead")
    assert 'href="/console/feedback/sentiment"' in client.get("/console").text
