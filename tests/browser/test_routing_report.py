"""The routing report in a real browser: a lead opens it on the report's eight-case history, reads the
misroute rate and the recovery plan, and changes the period with the keyboard alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_case_journey import sign_in
from tests.factories.routing_history import seed_misroute_history
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction

pytestmark = pytest.mark.browser


def test_a_lead_reads_the_routing_report_and_changes_the_period_by_keyboard(live_server: LiveServer,
                                                                            browser: Any) -> None:
    with transaction(live_server.factory) as session:
        seed_misroute_history(session, live_server.world, now=SystemClock().now())
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, live_server, live_server.world.users["lead"].email)

    page.goto(f"{live_server.url}/console/routing")
    assert page.get_by_role("heading", name="Routing quality", level=1).is_visible()
    rate = page.locator(".stat", has_text="Misroute rate").locator("dd").first
    assert rate.is_visible() and rate.inner_text() == "62.5%"
    plan_row = page.get_by_role("row", name=re.compile(r"Give orders\.delivery\.late in US to t2"))
    assert plan_row.is_visible()
    assert "+1" in plan_row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "routing-report.png"), full_page=True)

    # From the top of the page, Tab reaches the period select; arrow keys choose, Enter on Show applies.
    page.locator("body").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "f-days":
            break
    else:
        pytest.fail("the period select cannot be reached with Tab")
    page.keyboard.press("ArrowDown")  # 28 -> 90 days
    assert page.locator("#f-days").input_value() == "90"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Show"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/console/routing\?days=90$"))
    assert "over the last 90 days" in page.inner_text("main")
    assert page.locator(".stat", has_text="Misroute rate").locator("dd").first.inner_text() == "62.5%"
    context.close()
