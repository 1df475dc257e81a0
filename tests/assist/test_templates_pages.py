"""Console pages of templates: the list (filters, usage, empty state), the form refusing unknown variables and
syntax errors next to the field (and live, as the author types), retire; the case page's "Insert template"
picker and a reply sent with a template."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from tests.assist.template_helpers import USE_TABLES, create_template, open_case
from tests.cases.test_listing import StatementCounter
from tests.factories.api import events_of, fresh_case, row_counts
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.assist import macros
from trustdesk.assist.models import ResponseTemplate, ResponseTemplateBody, ResponseTemplateUse
from trustdesk.core.clock import FrozenClock
from trustdesk.demo.templates import TEMPLATES, ensure_templates

FORM = {"key": "greeting", "name": "Greeting", "description": "", "team_id": "", "default_locale": "en",
        "locale_0": "en", "body_0": "Hi {{ customer_first_name }}, thanks for writing.",
        "locale_1": "es", "body_1": "Hola {{ customer_first_name }}, gracias por escribir.",
        "actions.status": "pending", "actions.add_tags": "greeting, First-Contact", "actions.priority": ""}


def _count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_the_list_shows_an_empty_state_then_templates_by_team_and_language(client: TestClient, world: World) -> None:
    sign_in(client, "agent_t1")
    empty = client.get("/console/templates")
    assert empty.status_code == 200
    assert "No response templates yet" in empty.text and 'href="/console/templates/new"' not in empty.text
    assert 'href="/console/templates" aria-current="page"' in empty.text  # the navigation's entry

    create_template(client, world)
    create_template(client, world, key="t1a-only", name="Vendor A greeting", team_id=world.t1_a.id,
                    bodies={"en": "Hello {{ customer_name }}"}, default_locale="en", actions={})
    page = client.get("/console/templates").text
    assert "Refund issued" in page and "Vendor A greeting" in page and "Every team" in page
    assert "status → Solved; add tags refund, refund-issued; priority → high" in page

    spanish = client.get("/console/templates?locale=es", headers={"HX-Request": "true",
                                                                  "HX-Target": "template-results"})
    assert "<html" not in spanish.text and "Refund issued" in spanish.text and "Vendor A greeting" not in spanish.text
    every = client.get("/console/templates?team=every").text
    assert "Refund issued" in every and "Vendor A greeting" not in every
    none = client.get("/console/templates?q=nothing-like-this").text
    assert "No templates match these filters" in none

    xss = create_template(client, world, key="xss", name="<script>alert(1)</script>",
                          bodies={"en": "<img src=x onerror=alert(2)> {{ customer_name }}"})
    for path in ("/console/templates", f"/console/templates/{xss['id']}"):
        shown = client.get(path).text
        assert "<script>alert(1)" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "<img src=x" not in client.get(f"/console/templates/{xss['id']}").text


def test_the_form_refuses_an_unknown_variable_or_a_syntax_error_next_to_the_field(
        client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "lead")
    blank = client.get("/console/templates/new")
    assert blank.status_code == 200
    assert "Filters: default(&#34;your order&#34;), upper, lower, title, capitalize, trim, truncate(40)." in blank.text
    assert "{% if not order_id %}" in blank.text and "no comparisons" in blank.text

    unknown = client.post("/console/templates/new", data=FORM | {"body_1": "Hola {{ nombre }}", "csrf_token": token})
    assert unknown.status_code == 422
    assert re.search(r'id="f-body_1-error">Unknown variable \{\{ nombre \}\}', unknown.text), unknown.text[-3000:]
    assert "Hola {{ nombre }}" in unknown.text  # what was typed is kept
    broken = client.post("/console/templates/new", data=FORM | {"body_0": "Hi {{ customer_name ",
                                                                "csrf_token": token})
    assert broken.status_code == 422 and 'id="f-body_0-error">Syntax error on line 1' in broken.text
    sandbox = client.post("/console/templates/new", data=FORM | {"body_0": "{{ customer_name.__class__ }}",
                                                                 "csrf_token": token})
    assert sandbox.status_code == 422 and "Attribute access (.__class__) cannot be used" in sandbox.text
    assert _count(db, ResponseTemplate) == 0

    live = client.post("/console/templates/check", data=FORM | {"body_1": "Hola {{ nombre }}", "key": "Bad Key"},
                       headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert live.status_code == 200 and "<html" not in live.text and "2 problems" in live.text
    assert 'href="#f-body_1"' in live.text and 'href="#f-key"' in live.text
    preview = client.post("/console/templates/check", data=FORM, headers={"X-CSRF-Token": token})
    assert "Hi Alex, thanks for writing." in preview.text and "Hola Alex, gracias por escribir." in preview.text

    created = client.post("/console/templates/new", data=FORM | {"csrf_token": token}, follow_redirects=False)
    assert created.status_code == 303
    view = client.get(created.headers["location"]).text
    assert "Template created" in view and "Greeting" in view and "add tags greeting, first-contact" in view.lower()


def test_a_translation_is_edited_and_a_retired_template_leaves_the_picker(client: TestClient, world: World,
                                                                          db: Session) -> None:
    template = create_template(client, world)
    case = open_case(client, world, world.queue_b, external_id="b")
    token = sign_in(client, "lead")
    edit = client.get(f"/console/templates/{template['id']}/edit")
    assert edit.status_code == 200 and 'name="locale_2"' in edit.text  # room for one more translation

    form = {"name": "Refund issued", "description": "", "team_id": "", "default_locale": "en", "version": "1",
            "locale_0": "en", "body_0": "Hi {{ customer_first_name }}, refunded.",
            "locale_1": "es", "body_1": "", "locale_2": "es-MX", "body_2": "Qué onda {{ customer_first_name }}",
            "actions.status": "solved", "actions.add_tags": "refund", "actions.priority": "", "csrf_token": token}
    saved = client.post(f"/console/templates/{template['id']}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    db.expire_all()
    assert sorted(b.locale for b in db.scalars(select(ResponseTemplateBody))) == ["en", "es-MX"]
    stale = client.post(f"/console/templates/{template['id']}/edit", data=form)
    assert stale.status_code == 409 and "someone changed it meanwhile" in stale.text

    picker = client.get(f"/console/cases/{case['id']}/templates", headers={"HX-Request": "true"}).text
    assert "Refund issued" in picker
    retired = client.post(f"/console/templates/{template['id']}/retire", data={"csrf_token": token},
                          follow_redirects=False)
    assert retired.status_code == 303
    assert "Retired: agents no longer see it" in client.get(retired.headers["location"]).text
    picker = client.get(f"/console/cases/{case['id']}/templates", headers={"HX-Request": "true"}).text
    assert "Refund issued" not in picker and "No templates for this team yet" in picker


def test_insert_then_send_records_the_use_and_applies_the_actions(client: TestClient, world: World,
                                                                  db: Session) -> None:
    template = create_template(client, world)
    case = open_case(client, world, world.queue_b, external_id="b", language="es")
    token = sign_in(client, "agent_t1_b")
    page = client.get(f"/console/cases/{case['id']}").text
    assert "Insert template" in page and 'id="reply-template"' in page

    offered = client.get(f"/console/cases/{case['id']}/templates", headers={"HX-Request": "true"}).text
    assert f"/console/cases/{case['id']}/templates/{template['id']}/insert" in offered and ">es</span>" in offered
    inserted = client.post(f"/console/cases/{case['id']}/templates/{template['id']}/insert",
                           data={"body": "Buenos días."}, headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert inserted.status_code == 200
    assert '<textarea id="reply-body" name="body"' in inserted.text and "autofocus" in inserted.text
    assert "Buenos días.\n\nHola Casey, el reembolso del pedido [[order_id]] va de camino." in inserted.text
    assert 'id="reply-template" hx-swap-oob="true"' in inserted.text and 'value="es"' in inserted.text
    assert "<code>[[order_id]]</code>" in inserted.text  # the agent is told what to fill in

    chosen = {"template_id": str(template["id"]), "template_locale": "es", "template_name": "Refund issued",
              "template_actions": "status → Solved; add tags refund, refund-issued; priority → high",
              "template_apply": "1", "then_status": "", "csrf_token": token}
    before = row_counts(db, USE_TABLES)
    unfilled = client.post(f"/console/cases/{case['id']}/reply",
                           data=chosen | {"body": "Hola Casey, el pedido [[order_id]] va de camino."})
    assert unfilled.status_code == 422 and "Fill in order_id first" in unfilled.text
    assert f'name="template_id" value="{template["id"]}"' in unfilled.text  # the template stays chosen
    assert row_counts(db, USE_TABLES) == before

    sent = client.post(f"/console/cases/{case['id']}/reply", data=chosen | {"body": "Hola Casey, reembolsado."},
                       follow_redirects=False)
    assert sent.status_code == 303
    row = fresh_case(db, case["id"])
    assert (row.status, row.priority, row.tags) == ("solved", "high", ["refund", "refund-issued"])
    use = db.scalars(select(ResponseTemplateUse)).one()
    assert (use.via, use.locale, use.team_id) == ("console", "es", world.t1_b.id)
    timeline = client.get(f"/console/cases/{case['id']}").text
    assert ("Replied with template refund-issued (es): status → Solved; add tags refund, refund-issued; "
            "priority → high") in timeline
    assert [e.data["message_id"] for e in events_of(db, case["id"]) if e.type == "case.template_used"] == [
        max(e.data["message_id"] for e in events_of(db, case["id"]) if e.type == "case.message_added")]


def test_agents_may_not_edit_and_customers_may_not_list(client: TestClient, world: World) -> None:
    template = create_template(client, world)
    token = sign_in(client, "agent_t1")
    assert client.get("/console/templates").status_code == 200
    for path in ("/console/templates/new", f"/console/templates/{template['id']}/edit"):
        assert client.get(path).status_code == 403, path
    refused = client.post(f"/console/templates/{template['id']}/retire", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Edit and translate" not in client.get(f"/console/templates/{template['id']}").text
    client.cookies.clear()
    sign_in(client, "buyer")
    assert client.get("/console/templates").status_code == 403


def test_the_demo_templates_are_created_once(db: Session, world: World, clock: FrozenClock) -> None:
    for key, name in (("t2-payments", "Payments"), ("t2-orders", "Orders"), ("t2-sellers", "Sellers")):
        db.add(type(world.t2)(key=key, name=name, tier="t2", vendor_id=None, created_at=clock.now()))
    db.flush()

    assert ensure_templates(db, now=clock.now()) == len(TEMPLATES) >= 12
    assert ensure_templates(db, now=clock.now()) == 0
    locales = db.execute(select(ResponseTemplateBody.locale, func.count()).group_by(ResponseTemplateBody.locale))
    assert dict(locales.all()) == {"en": len(TEMPLATES), "es": len(TEMPLATES)}
    assert _count(db, ResponseTemplate) == len(TEMPLATES)


def test_a_text_failing_inside_jinja_is_shown_next_to_its_field_never_a_500(client: TestClient, world: World,
                                                                          db: Session) -> None:
    token = sign_in(client, "lead")
    body = "{% if customer_name and not order_id %}Hi {{ customer_name|truncate(1) }}{% endif %}"

    live = client.post("/console/templates/check", data=FORM | {"body_1": body},
                       headers={"HX-Request": "true", "X-CSRF-Token": token})
    saved = client.post("/console/templates/new", data=FORM | {"body_1": body, "csrf_token": token})

    assert live.status_code == 200 and 'href="#f-body_1"' in live.text
    assert "expected length &gt;= 3, got 1" in live.text
    assert saved.status_code == 422 and 'id="f-body_1-error">The text cannot be rendered' in saved.text
    assert _count(db, ResponseTemplate) == 0


def test_a_stored_text_that_fails_leaves_the_case_page_working(client: TestClient, world: World,
                                                               db: Session) -> None:
    good = create_template(client, world)
    broken = create_template(client, world, key="broken", name="Broken one")
    row = db.scalars(select(ResponseTemplateBody).where(ResponseTemplateBody.template_id == broken["id"],
                                                        ResponseTemplateBody.locale == "en")).one()
    row.body = "Hi {{ customer_name|truncate(1) }}"  # saved before the save-time checks caught it
    db.commit()
    case = open_case(client, world, world.queue_a)
    token = sign_in(client, "agent_t1")

    page = client.get(f"/console/cases/{case['id']}/templates")
    assert page.status_code == 200
    assert "Hi Casey, the refund for order [[order_id]] is on its way." in page.text
    assert ("template broken cannot be used on this case: its en text cannot be rendered: expected length &gt;= 3, "
            "got 1; a lead can correct it in the templates") in page.text
    insert = client.post(f"/console/cases/{case['id']}/templates/{broken['id']}/insert", data={"body": "Hello."},
                         headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert insert.status_code == 409 and insert.headers["HX-Retarget"] == "#alerts"
    assert "template broken cannot be used on this case" in insert.text and "<html" not in insert.text
    fine = client.post(f"/console/cases/{case['id']}/templates/{good['id']}/insert", data={"body": ""},
                       headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert fine.status_code == 200 and "the refund for order [[order_id]]" in fine.text


def test_the_case_templates_page_costs_the_same_queries_for_3_or_30_templates(
        client: TestClient, world: World, db: Session, clock: FrozenClock, connection: Connection) -> None:
    case = open_case(client, world, world.queue_a, custom_fields={"order_id": "BR-1"}, topic="orders.refund_status")
    sign_in(client, "agent_t1")

    def add(start: int, count: int) -> None:
        for n in range(start, start + count):
            macros.create_template(db, None, macros.TemplateDraft(
                key=f"t-{n}", name=f"Template {n}", default_locale="en", team_id=(world.t1_a.id, None)[n % 2],
                bodies={"en": "Hi {{ customer_name }}, {{ order_id }}: {{ topic }} by {{ sla_due|default('soon') }}",
                        "es": "Hola {{ customer_name }}"}), now=clock.now())
        db.commit()

    def page() -> None:
        shown = client.get(f"/console/cases/{case['id']}/templates")
        assert shown.status_code == 200 and "Hi Casey Customer, BR-1: refund status by soon" in shown.text

    counter = StatementCounter(connection)
    try:
        add(0, 3)
        counter.during(page)  # warm up
        few = counter.during(page)
        add(3, 27)
        many = counter.during(page)
    finally:
        counter.close()
    assert many == few, (few, many)
