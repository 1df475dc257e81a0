"""Self-service first, in a real browser: a customer asks the help-center assistant and is answered;
asks something no article covers, says it did not help, and is passed to a person; the agent opens
the new case and sees the assistant's transcript and three suggested replies."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_case_journey import sign_in
from tests.factories.assist import resolved_case
from trustdesk.cases.models import Case
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.demo.kb import ensure_kb

pytestmark = pytest.mark.browser

COUNTERFEIT = ("Hi {first},\n\nI'm sorry the item from order {order} is not genuine. I've reported the shop to our "
               "brand-protection team and refunded you in full; return the item is not needed.\n\n{agent}")
QUESTION = "The handbag I received is a counterfeit, a fake designer copy. I want to report the shop."


def _seed(server: LiveServer) -> None:
    world = server.world
    now = SystemClock().now()
    with transaction(server.factory) as session:
        ensure_kb(session, now=now)
        resolved_case(session, world, now, name="Maria Lopez", order="BR-123456789", score=5, reply=COUNTERFEIT,
                      subject="Fake item", question="I got a counterfeit bag, a fake copy, not the real brand")
        resolved_case(session, world, now, name="Sam Okafor", order="BR-987654321", score=4,
                      subject="Counterfeit sneakers",
                      question="the sneakers are counterfeit fakes, I want to report this shop",
                      reply="Hi {first}, thanks for reporting the shop. Please send two photos of the item and its "
                            "label so our brand-protection team can act. {agent}")
    response = httpx.post(f"{server.url}/api/v1/templates", headers={"Authorization": f"Bearer {world.tokens['lead']}"},
                          json={"key": "counterfeit-report", "name": "Counterfeit item reported",
                                "team_id": world.t1_a.id, "default_locale": "en", "actions": {},
                                "bodies": {"en": "Hi {{ customer_first_name }}, thank you for reporting a counterfeit "
                                                 "item. We have opened an investigation into the shop. "
                                                 "{{ agent_name }}"}})
    assert response.status_code == 201, response.text


def test_answered_then_handed_off_and_the_agent_sees_transcript_and_suggestions(
        live_server: LiveServer, browser: Any) -> None:
    _seed(live_server)
    world = live_server.world
    ARTIFACTS.mkdir(exist_ok=True)

    customer = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
    sign_in(customer, live_server, world.users["buyer"].email)
    customer.goto(f"{live_server.url}/help/assistant?market=US&lang=en")
    customer.fill("#bot-text", "How can I track my order?")
    customer.get_by_role("button", name="Ask").click()
    customer.wait_for_load_state("networkidle")
    assert "Did this solve it?" in customer.inner_text("body")
    assert customer.get_by_role("link", name=re.compile("How do I track my order")).count() == 1
    customer.get_by_role("button", name="Yes, thanks").click()
    customer.wait_for_load_state("networkidle")
    assert "Glad that helped!" in customer.inner_text("body")

    customer.fill("#bot-text", QUESTION)
    customer.get_by_role("button", name="Ask").click()
    customer.wait_for_load_state("networkidle")
    customer.screenshot(path=str(ARTIFACTS / "self-service-1-not-covered.png"), full_page=True)
    # Whether the assistant offered a weak article or none, the customer says it did not help.
    did_not_help = customer.get_by_role("button", name=re.compile("^(No, talk to a person|Talk to a person)$"))
    did_not_help.first.click()
    customer.wait_for_url(re.compile(r".*/help/cases/ID-\d{4}-\d+.*"))
    reference = re.search(r"ID-\d{4}-\d+", customer.url).group(0)  # type: ignore[union-attr]
    assert QUESTION in customer.inner_text("body")

    with transaction(live_server.factory) as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
    agent = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    sign_in(agent, live_server, world.users["agent_t1"].email)
    agent.goto(f"{live_server.url}/console/cases/{case_id}")
    thread = agent.inner_text("#case")
    assert QUESTION in thread and "How can I track my order?" in thread  # what the assistant already tried
    uses = agent.locator("#suggestions").get_by_role("button", name=re.compile("^Use this reply"))
    uses.first.wait_for()
    assert uses.count() == 3
    panel = agent.inner_text("#suggestions")
    assert "Resolved case" in panel and "Template" in panel and "Maria" not in panel
    assert "How do I track my order?" not in panel  # the article the assistant already offered is not again
    agent.screenshot(path=str(ARTIFACTS / "self-service-2-agent-suggestions.png"), full_page=True)
    uses.first.click()
    # The reply box holds the suggestion and has the keyboard focus (set once htmx has settled).
    agent.wait_for_function("document.querySelector('#reply-body').value.length > 0 "
                            "&& document.activeElement && document.activeElement.id === 'reply-body'")
