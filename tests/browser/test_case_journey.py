"""The case journey in a real browser: a customer asks in the help center, an agent answers from
the console, the customer reads the answer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.factories.identity import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Any, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()[:2000]


def test_customer_asks_agent_answers_customer_reads(live_server: LiveServer, browser: Any) -> None:
    world = live_server.world
    subject = "Parcel stuck in customs"
    question = "My parcel has been stuck in customs for 9 days. <b>Can you help?</b>"
    answer = "We have asked the carrier to release it; expect delivery within 2 days."
    ARTIFACTS.mkdir(exist_ok=True)

    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    sign_in(page, live_server, world.users["buyer"].email)
    page.goto(f"{live_server.url}/help/new")
    page.select_option("select[name=market]", "US")
    page.fill("input[name=subject]", subject)
    page.fill("textarea[name=body]", question)
    page.click("form[action='/help/new'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/help/cases/ID-\d{4}-\d+.*"))
    reference = re.search(r"ID-\d{4}-\d+", page.url).group(0)  # type: ignore[union-attr]
    assert reference in page.inner_text("body")
    # The customer's own words come back as text, not markup.
    assert "<b>Can you help?</b>" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "journey-1-customer-submitted.png"), full_page=True)

    agent_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    agent = agent_context.new_page()
    sign_in(agent, live_server, world.users["agent_t1"].email)
    agent.goto(f"{live_server.url}/console/queues/{world.queue_a.id}")
    agent.fill("input[name=q]", reference)
    agent.press("input[name=q]", "Enter")
    row = agent.locator("table tbody tr", has_text=reference)
    row.first.wait_for()
    assert subject in row.first.inner_text()
    row.first.locator("a", has_text=reference).click()
    agent.wait_for_url(re.compile(r".*/console/cases/\d+"))
    assert question in agent.inner_text("#case")
    agent.fill("#reply-body", answer)
    agent.click("form[action$='/reply'] button[type=submit]")
    agent.wait_for_function("text => document.body.innerText.includes(text)", arg=answer)
    agent.screenshot(path=str(ARTIFACTS / "journey-2-agent-replied.png"), full_page=True)

    page.goto(f"{live_server.url}/help/cases/{reference}")
    assert answer in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "journey-3-customer-reads.png"), full_page=True)
    customer.close()
    agent_context.close()
