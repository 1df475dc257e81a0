"""In a real browser, by keyboard only: open "Insert template" on a case, find a template, insert it (the text
lands in the reply box in the case's language, focused), send it; the template's actions apply."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, browser, live_server  # noqa: F401  (fixtures)
from tests.browser.test_case_journey import sign_in
from tests.factories.cases import make_case, make_party
from trustdesk.assist import macros
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction

pytestmark = pytest.mark.browser


def test_an_agent_inserts_a_template_by_keyboard_and_sends_it(live_server: LiveServer, browser: Any) -> None:  # noqa: F811
    world = live_server.world
    now = SystemClock().now()
    with transaction(live_server.factory) as session:
        macros.create_template(session, None, macros.TemplateDraft(
            key="refund-issued", name="Refund issued", default_locale="en", bodies={
                "en": "Hi {{ customer_first_name }}, order {{ order_id }} is refunded.",
                "es": "Hola {{ customer_first_name }}, el pedido {{ order_id }} está reembolsado."},
            actions=macros.Actions(status="solved", add_tags=["refund"])), now=now)
        party = make_party(session, world.es, now=now, external_id="lucia")
        case = make_case(session, market=world.es, party=party, queue=world.queue_b, now=now, language="es",
                         custom_fields={"order_id": "BR-204518837"})
        case_id = case.id
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(page, live_server, world.users["agent_t1_b"].email)
    page.goto(f"{live_server.url}/console/cases/{case_id}")
    page.wait_for_function("() => !!window.htmx")  # the picker loads its list through htmx
    # The suggested replies load first (the first in a process builds the search index, holding SQLite).
    page.wait_for_function("() => !document.querySelector('#suggestions[hx-get]')")

    page.get_by_text("Insert template").focus()
    page.keyboard.press("Enter")
    page.locator("#template-picker").get_by_role("button", name=re.compile("Refund issued")).wait_for()
    page.keyboard.press("Tab")
    # As a person would, wait for the filtered list (fetched 250 ms after the last key) before moving on.
    with page.expect_response(lambda response: "/templates?" in response.url and "q=refund" in response.url):
        page.keyboard.type("refund")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'reply-body'")

    assert page.input_value("#reply-body") == "Hola Pat, el pedido BR-204518837 está reembolsado."
    assert page.get_by_text(re.compile("On send: status → Solved; add tag refund")).is_visible()
    page.screenshot(path=str(ARTIFACTS / "replies-template-inserted.png"), full_page=True)
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Your reply was sent.").wait_for()
    assert page.locator(".case-head .badge").first.inner_text() == "Solved"
    assert page.get_by_text(re.compile(r"Replied with template refund-issued \(es\)")).is_visible()


def test_a_broken_stored_template_is_said_so_and_the_others_still_insert(live_server: LiveServer,  # noqa: F811
                                                                         browser: Any) -> None:  # noqa: F811
    world = live_server.world
    now = SystemClock().now()
    with transaction(live_server.factory) as session:
        good = macros.create_template(session, None, macros.TemplateDraft(
            key="refund-issued", name="Refund issued", default_locale="en",
            bodies={"en": "Hi {{ customer_first_name }}, order {{ order_id|truncate(5) }} is refunded."}), now=now)
        broken = macros.create_template(session, None, macros.TemplateDraft(
            key="old-greeting", name="Old greeting", default_locale="en", bodies={"en": "Hi"}), now=now)
        # A text saved before the save-time checks caught it.
        macros.bodies_of(session, broken.id)["en"].body = "Hi {{ customer_name|truncate(1) }}"
        party = make_party(session, world.us, now=now, external_id="lee")
        case_id = make_case(session, market=world.us, party=party, queue=world.queue_a, now=now).id
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(page, live_server, world.users["agent_t1"].email)
    page.goto(f"{live_server.url}/console/cases/{case_id}")
    page.wait_for_function("() => !!window.htmx")

    page.get_by_text("Insert template").click()
    page.locator("#template-picker").get_by_role("button", name=re.compile("Old greeting")).click()
    alert = page.locator("#alerts").get_by_text(re.compile("template old-greeting cannot be used on this case"))
    alert.wait_for()
    assert page.input_value("#reply-body") == ""
    page.screenshot(path=str(ARTIFACTS / "replies-template-broken-alert.png"), full_page=True)
    page.locator("#template-picker").get_by_role("button", name=re.compile("Refund issued")).click()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'reply-body'")
    assert page.input_value("#reply-body") == "Hi Pat, order [[order_id]] is refunded."

    page.goto(f"{live_server.url}/console/cases/{case_id}/templates")  # the page without JavaScript
    assert page.get_by_text("Hi Pat, order [[order_id]] is refunded.").is_visible()
    assert page.get_by_text("its en text cannot be rendered: expected length >= 3, got 1", exact=False).is_visible()
    page.screenshot(path=str(ARTIFACTS / "replies-case-templates-broken.png"), full_page=True)
    assert good.id != broken.id
