"""The templates API: refused at save time (unknown variable, syntax error), rendered for a case with its
values and language, used with its actions applied in one transaction, counted per team, and guarded."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from tests.assist.template_helpers import REFUND, USE_TABLES, create_template, open_case
from tests.cases.test_listing import StatementCounter
from tests.factories.api import all_row_counts, assert_problem, events_of, fresh_case, row_counts
from tests.factories.world import World
from trustdesk.assist import macros
from trustdesk.assist.models import ResponseTemplate, ResponseTemplateBody, ResponseTemplateUse
from trustdesk.assist.rendering import VARIABLES, RenderFailed
from trustdesk.core.clock import FrozenClock
from trustdesk.core.identity import actor_for
from trustdesk.core.settings import Settings


def test_an_unknown_variable_or_a_syntax_error_is_refused_at_save_time(client: TestClient, world: World,
                                                                      db: Session) -> None:
    before = all_row_counts(db)
    unknown = client.post("/api/v1/templates", headers=world.auth("lead"), json=REFUND | {
        "bodies": {"en": "Hi {{ customer_name }}", "es": "Hola {{ nombre_cliente }}"}})
    problem = assert_problem(unknown, 422, "bodies.es")
    assert "{{ nombre_cliente }}" in problem["detail"] and problem["variables"] == ["nombre_cliente"]

    broken = client.post("/api/v1/templates", headers=world.auth("lead"), json=REFUND | {
        "bodies": {"en": "Hi {{ customer_name }\n"}})
    assert "syntax error on line 1" in assert_problem(broken, 422, "bodies.en")["detail"]

    created = create_template(client, world)
    update = client.put(f"/api/v1/templates/{created['id']}", headers=world.auth("lead") | {"If-Match": '"1"'},
                        json={k: v for k, v in REFUND.items() if k != "key"} | {"bodies": {"en": "{{ order_no }}"}})
    assert assert_problem(update, 422, "bodies.en")["variables"] == ["order_no"]
    translation = client.put(f"/api/v1/templates/{created['id']}/translations/id",
                             headers=world.auth("lead") | {"If-Match": '"1"'}, json={"body": "Halo {% if %}"})
    assert_problem(translation, 422, "body")
    sandbox = client.put(f"/api/v1/templates/{created['id']}/translations/id",
                         headers=world.auth("lead") | {"If-Match": '"1"'}, json={"body": "{{ ''.__class__ }}"})
    assert "attribute access" in assert_problem(sandbox, 422, "body")["detail"]
    after = all_row_counts(db)
    assert {t: n - before[t] for t, n in after.items() if n != before[t]} == {
        "response_templates": 1, "response_template_bodies": 2}


def test_a_template_is_created_read_translated_and_changed_with_its_version(client: TestClient, world: World,
                                                                           db: Session) -> None:
    created = client.post("/api/v1/templates", headers=world.auth("lead"), json=REFUND | {"team_id": world.t2.id})
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    body = created.json()
    assert body["actions"] == {"status": "solved", "add_tags": ["refund", "refund-issued"], "priority": "high"}
    assert body["locales"] == ["en", "es"] and body["team"] == "T2 Orders"
    assert body["variables"]["en"] == ["agent_name", "customer_first_name", "order_id"]
    url, lead = f"/api/v1/templates/{body['id']}", world.auth("lead")
    assert_problem(client.post("/api/v1/templates", headers=lead, json=REFUND), 409, "key")

    assert_problem(client.put(f"{url}/translations/es-MX", headers=lead, json={"body": "Hola"}), 428, "If-Match")
    mexican = client.put(f"{url}/translations/es_mx", headers=lead | {"If-Match": '"1"'},
                         json={"body": "Qué onda {{ customer_first_name }}"})
    assert mexican.status_code == 200 and mexican.headers["ETag"] == '"2"'
    assert mexican.json()["locales"] == ["en", "es", "es-MX"]
    stale = client.put(f"{url}/translations/id", headers=lead | {"If-Match": '"1"'}, json={"body": "Halo"})
    assert assert_problem(stale, 412, "If-Match")["current_version"] == 2
    assert_problem(client.delete(f"{url}/translations/en", headers=lead | {"If-Match": '"2"'}), 409, "locale")
    removed = client.delete(f"{url}/translations/es-MX", headers=lead | {"If-Match": '"2"'})
    assert removed.json()["locales"] == ["en", "es"]

    retired = client.post(f"{url}/retire", headers=lead)
    assert retired.json()["is_active"] is False
    assert body["id"] not in [t["id"] for t in client.get("/api/v1/templates", headers=lead).json()]
    assert body["id"] in [t["id"] for t in client.get("/api/v1/templates?status=retired", headers=lead).json()]
    assert client.delete(url, headers=lead).status_code == 204
    assert client.get(url, headers=lead).status_code == 404


def test_rendering_for_a_case_fills_every_variable(client: TestClient, world: World, clock: FrozenClock) -> None:
    policy = {"key": "standard", "name": "Standard", "is_default": True, "targets": {
        p: {"first_reply": {"minutes": 90, "business": False}} for p in ("low", "normal", "high", "urgent")}}
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=policy).status_code == 201
    case = open_case(client, world, world.queue_a, custom_fields={"order_id": "BR-123456789"},
                     topic="orders.refund_status")
    every = "\n".join(f"{name}={{{{ {name} }}}}" for name in VARIABLES)
    template = create_template(client, world, key="everything", bodies={"en": every})

    shown = client.get(f"/api/v1/templates/{template['id']}/render?case_id={case['id']}",
                       headers=world.auth("agent_t1"))

    assert shown.status_code == 200, shown.text
    data = shown.json()
    assert data["missing"] == [] and data["locale"] == "en" and data["fallback"] is False
    values = dict(line.split("=", 1) for line in data["text"].splitlines())
    due = (clock.now() + timedelta(minutes=90)).astimezone(ZoneInfo(world.us.time_zone))
    assert values == {
        "customer_name": "Casey Customer", "customer_first_name": "Casey", "order_id": "BR-123456789",
        "sla_due": values["sla_due"], "agent_name": "Agent_T1", "agent_first_name": "Agent_T1",
        "case_reference": case["reference"], "case_subject": "Refund not received",
        "case_url": f"http://127.0.0.1:8000/help/cases/{case['reference']}", "market": world.us.name,
        "topic": "refund status", "team_name": "T1 Vendor A", "help_center_url": "http://127.0.0.1:8000/help",
    }
    assert values["sla_due"] == f"{due:%Y-%m-%d %H:%M} {due.tzname()}"
    assert data["values"]["order_id"] == "BR-123456789"


def test_a_missing_value_is_reported_and_the_locale_falls_back(client: TestClient, world: World) -> None:
    template = create_template(client, world)
    mexican = open_case(client, world, world.queue_b, language="es-mx", external_id="mx")
    indonesian = open_case(client, world, world.queue_a, language="id", external_id="id")
    agent_b, agent_a = world.auth("agent_t1_b"), world.auth("agent_t1")

    spanish = client.get(f"/api/v1/templates/{template['id']}/render?case_id={mexican['id']}", headers=agent_b).json()
    assert (spanish["requested_locale"], spanish["tried"], spanish["locale"]) == ("es-MX", ["es-MX", "es", "en"], "es")
    assert spanish["fallback"] is False
    assert spanish["missing"] == ["order_id"] and "pedido [[order_id]]" in spanish["text"]

    english = client.get(f"/api/v1/templates/{template['id']}/render?case_id={indonesian['id']}", headers=agent_a)
    assert english.json()["locale"] == "en" and english.json()["fallback"] is True
    asked = client.get(f"/api/v1/templates/{template['id']}/render?case_id={mexican['id']}&locale=en", headers=agent_b)
    assert asked.json()["locale"] == "en" and asked.json()["text"].startswith("Hi Casey")
    offered = client.get(f"/api/v1/templates?case_id={mexican['id']}", headers=agent_b).json()
    assert [(t["key"], t["offered_locale"]) for t in offered] == [("refund-issued", "es")]


def test_using_a_template_sends_the_reply_and_applies_its_actions_in_one_transaction(
        client: TestClient, world: World, db: Session) -> None:
    template = create_template(client, world)
    case = open_case(client, world, world.queue_a, custom_fields={"order_id": "BR-1"})
    agent = world.auth("agent_t1")
    text = client.get(f"/api/v1/templates/{template['id']}/render?case_id={case['id']}", headers=agent).json()["text"]

    used = client.post(f"/api/v1/templates/{template['id']}/use", headers=agent,
                       json={"case_id": case["id"], "reply": text + " Anything else?"})

    assert used.status_code == 201, used.text
    assert used.json()["applied"] == {"add_tags": ["refund", "refund-issued"], "priority": "high", "status": "solved"}
    row = fresh_case(db, case["id"])
    assert (row.status, row.priority, row.tags) == ("solved", "high", ["refund", "refund-issued"])
    kinds = [e.type for e in events_of(db, case["id"]) if e.type.startswith("case.")]
    assert kinds[-4:] == ["case.message_added", "case.updated", "case.status_changed", "case.template_used"]
    used_event = next(e for e in events_of(db, case["id"]) if e.type == "case.template_used")
    assert used_event.data["template_key"] == "refund-issued" and used_event.data["locale"] == "en"
    assert used_event.data["message_id"] == used.json()["message_id"] and used_event.actor_type == "agent"
    use = db.scalars(select(ResponseTemplateUse)).one()
    assert (use.case_id, use.team_id, use.locale, use.via, use.user_id) == (
        case["id"], world.t1_a.id, "en", "api", world.users["agent_t1"].id)
    db.expire_all()
    assert db.get(ResponseTemplate, template["id"]).usage_count == 1  # type: ignore[union-attr]

    # A reply on the solved case, then a status the template cannot reach from there: nothing is kept.
    hold = create_template(client, world, key="hold", actions={"status": "on_hold"})
    before = row_counts(db, USE_TABLES)
    refused = client.post(f"/api/v1/templates/{hold['id']}/use", headers=agent,
                          json={"case_id": case["id"], "reply": "We are checking with the carrier."})
    assert "cannot become on_hold" in assert_problem(refused, 409, "status")["detail"]
    unfilled = client.post(f"/api/v1/templates/{template['id']}/use", headers=agent,
                           json={"case_id": case["id"], "reply": "Your order [[order_id]] is refunded."})
    assert assert_problem(unfilled, 422, "reply")["variables"] == ["order_id"]
    assert row_counts(db, USE_TABLES) == before
    assert fresh_case(db, case["id"]).status == "solved"


def test_the_agents_submit_as_wins_over_the_templates_status(client: TestClient, world: World, db: Session) -> None:
    template = create_template(client, world)
    case = open_case(client, world, world.queue_a, custom_fields={"order_id": "BR-2"})

    used = client.post(f"/api/v1/templates/{template['id']}/use", headers=world.auth("agent_t1"),
                       json={"case_id": case["id"], "reply": "Refunded.", "then_status": "pending"})

    assert used.json()["applied"]["status_left"] == "the agent chose pending"
    assert fresh_case(db, case["id"]).status == "pending"
    without = client.post(f"/api/v1/templates/{template['id']}/use", headers=world.auth("agent_t1"),
                          json={"case_id": case["id"], "apply_actions": False})
    assert without.json()["applied"]["left_out"]["status"] == "solved"
    assert fresh_case(db, case["id"]).status == "pending"


def test_usage_is_counted_per_team(client: TestClient, world: World) -> None:
    template = create_template(client, world, actions={})
    for queue, who, n in ((world.queue_a, "agent_t1", 2), (world.queue_b, "agent_t1_b", 1)):
        for i in range(n):
            case = open_case(client, world, queue, external_id=f"{queue.key}-{i}")
            assert client.post(f"/api/v1/templates/{template['id']}/use", headers=world.auth(who),
                               json={"case_id": case["id"]}).status_code == 201

    everyone = client.get("/api/v1/templates/usage", headers=world.auth("lead")).json()
    assert [(r["team"], r["uses"]) for r in everyone] == [("T1 Vendor A", 2), ("T1 Vendor B", 1)]
    own = client.get("/api/v1/templates/usage", headers=world.auth("agent_t1_b")).json()
    assert [(r["team"], r["uses"]) for r in own] == [("T1 Vendor B", 1)]
    assert client.get(f"/api/v1/templates/{template['id']}", headers=world.auth("lead")).json()["usage_count"] == 3
    later = client.get("/api/v1/templates/usage?since=2030-01-01T00:00:00Z", headers=world.auth("lead")).json()
    assert later == []


def test_who_may_list_use_and_edit(client: TestClient, world: World, db: Session) -> None:
    vendor_a = create_template(client, world, key="vendor-a-only", team_id=world.t1_a.id)
    case_b = open_case(client, world, world.queue_b, external_id="b")
    before = all_row_counts(db)

    assert_problem(client.post("/api/v1/templates", headers=world.auth("agent_t1"), json=REFUND | {"key": "t1"}), 403)
    assert_problem(client.put(f"/api/v1/templates/{vendor_a['id']}/translations/id",
                              headers=world.auth("agent_t1") | {"If-Match": "*"}, json={"body": "Halo"}), 403)
    assert_problem(client.get("/api/v1/templates", headers=world.auth("buyer")), 403)
    assert_problem(client.get(f"/api/v1/templates/{vendor_a['id']}", headers=world.auth("buyer")), 403)
    # Another vendor's agents do not see vendor A's team's template, nor may anyone use it on another team's case.
    assert_problem(client.get(f"/api/v1/templates/{vendor_a['id']}", headers=world.auth("agent_t1_b")), 404,
                   "template_id")
    assert_problem(client.post(f"/api/v1/templates/{vendor_a['id']}/use", headers=world.auth("lead"),
                               json={"case_id": case_b["id"]}), 422, "template_id")
    assert_problem(client.get(f"/api/v1/templates/{vendor_a['id']}/render?case_id={case_b['id']}",
                              headers=world.auth("agent_t1")), 404, "case_id")
    assert all_row_counts(db) == before
    assert client.get(f"/api/v1/templates/{vendor_a['id']}", headers=world.auth("agent_t1")).status_code == 200


def test_listing_costs_the_same_number_of_queries_for_3_or_30_templates(
        client: TestClient, world: World, db: Session, clock: FrozenClock, connection: Connection) -> None:
    def add(start: int, count: int) -> None:
        for n in range(start, start + count):
            macros.create_template(db, None, macros.TemplateDraft(
                key=f"t-{n}", name=f"Template {n}", default_locale="en",
                team_id=(world.t1_a.id, world.t2.id, None)[n % 3],
                bodies={"en": "Hi {{ customer_name }}", "es": "Hola {{ customer_name }}"}), now=clock.now())
        db.commit()

    counter = StatementCounter(connection)
    try:
        def listing() -> None:
            assert client.get("/api/v1/templates", headers=world.auth("lead")).status_code == 200
        add(0, 3)
        counter.during(listing)  # warm up: the first request of a token touches it
        few = counter.during(listing)
        add(3, 27)
        many = counter.during(listing)
    finally:
        counter.close()
    assert len(client.get("/api/v1/templates", headers=world.auth("lead")).json()) == 30
    assert many == few, (few, many)


def _store_unchecked(db: Session, template_id: int, locale: str, body: str) -> None:
    """A text as one saved before today's save-time checks (straight into the table)."""
    row = db.scalars(select(ResponseTemplateBody).where(ResponseTemplateBody.template_id == template_id,
                                                        ResponseTemplateBody.locale == locale)).one()
    row.body = body
    db.commit()


def test_a_text_that_fails_inside_jinja_or_hides_a_branch_is_refused_naming_the_field(
        client: TestClient, world: World, db: Session) -> None:
    before = all_row_counts(db)
    crash = client.post("/api/v1/templates", headers=world.auth("lead"), json=REFUND | {
        "bodies": {"en": "Hi {{ customer_name|truncate(1) }}"}})
    assert assert_problem(crash, 422, "bodies.en")["detail"] == (
        "the text cannot be rendered: expected length >= 3, got 1")
    guarded = client.post("/api/v1/templates", headers=world.auth("lead"), json=REFUND | {"bodies": {
        "en": "Hi", "es": '{% if customer_name != "Alex Morgan" and customer_name is string %}'
                          '{{ customer_name|replace("", customer_name)|replace("", customer_name) }}{% endif %}'}})
    assert "{% if %}" in assert_problem(guarded, 422, "bodies.es")["detail"]
    created = create_template(client, world)
    translation = client.put(f"/api/v1/templates/{created['id']}/translations/id",
                             headers=world.auth("lead") | {"If-Match": '"1"'},
                             json={"body": "{% if order_id and not sla_due %}{{ order_id|truncate(0) }}{% endif %}"})
    assert "expected length >= 3, got 0" in assert_problem(translation, 422, "body")["detail"]
    after = all_row_counts(db)
    assert {t: n - before[t] for t, n in after.items() if n != before[t]} == {
        "response_templates": 1, "response_template_bodies": 2}


def test_a_stored_text_that_fails_is_a_409_naming_the_template_never_a_500(
        client: TestClient, world: World, db: Session, settings: Settings) -> None:
    good = create_template(client, world)
    broken = create_template(client, world, key="broken", name="Broken")
    _store_unchecked(db, broken["id"], "en", '{% if customer_name != "Nobody" %}'
                                             '{{ customer_name|replace("a", "b", "x") }}{% endif %}')
    case = open_case(client, world, world.queue_a)
    agent = world.auth("agent_t1")

    refused = client.get(f"/api/v1/templates/{broken['id']}/render?case_id={case['id']}", headers=agent)

    problem = assert_problem(refused, 409, "template_id")
    assert problem["template_key"] == "broken" and problem["template_id"] == broken["id"]
    assert problem["detail"].startswith("template broken cannot be used on this case: its en text cannot be "
                                        "rendered: No filter named 'replace'")
    assert client.get(f"/api/v1/templates/{good['id']}/render?case_id={case['id']}",
                      headers=agent).status_code == 200
    offered = client.get(f"/api/v1/templates?case_id={case['id']}", headers=agent)
    assert sorted(t["key"] for t in offered.json()) == ["broken", "refund-issued"]

    # Many at once: the broken one is its RenderFailed, for the caller to leave out; the others render.
    row = fresh_case(db, case["id"])
    templates = [db.get(ResponseTemplate, i) for i in (good["id"], broken["id"])]
    shown = macros.render_many_for_case(db, [t for t in templates if t is not None], row,
                                        actor=actor_for(world.users["agent_t1"]), settings=settings)
    assert isinstance(shown[broken["id"]], RenderFailed) and isinstance(shown[good["id"]], macros.Rendered)
    assert shown[broken["id"]].status == 409


def test_a_value_shortened_by_a_filter_is_still_reported_missing(client: TestClient, world: World) -> None:
    template = create_template(client, world, key="short", bodies={"en": "Order {{ order_id|truncate(5) }} and "
                                                                         "{{ order_id|upper }} is refunded."})
    case = open_case(client, world, world.queue_a)
    agent = world.auth("agent_t1")

    shown = client.get(f"/api/v1/templates/{template['id']}/render?case_id={case['id']}", headers=agent).json()

    assert shown["text"] == "Order [[order_id]] and [[order_id]] is refunded."
    assert shown["missing"] == ["order_id"]
    sent = client.post(f"/api/v1/templates/{template['id']}/use", headers=agent,
                       json={"case_id": case["id"], "reply": shown["text"]})
    assert assert_problem(sent, 422, "reply")["variables"] == ["order_id"]
