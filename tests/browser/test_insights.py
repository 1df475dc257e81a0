"""The insight dashboards in a real browser: a lead opens the overview and each dashboard on the routing
report's eight-case history (folded into facts), reads the figures and the charts drawn on the server, and
downloads the numbers behind one chart as CSV."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_case_journey import sign_in
from tests.factories.routing_history import seed_misroute_history
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.insights import facts

pytestmark = pytest.mark.browser

DASHBOARDS = {"operations": "Operations", "quality": "Quality", "routing": "Routing", "appeals": "Appeals"}


def test_a_lead_opens_every_dashboard_and_downloads_a_chart_s_numbers(live_server: LiveServer,
                                                                      browser: Any) -> None:
    with transaction(live_server.factory) as session:
        seed_misroute_history(session, live_server.world, now=SystemClock().now())
    with transaction(live_server.factory) as session:
        assert facts.refresh_stale(session, now=SystemClock().now()) == 8
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    sign_in(page, live_server, live_server.world.users["lead"].email)

    page.goto(f"{live_server.url}/console")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Insights").click()
    page.wait_for_url("**/console/insights")
    page.screenshot(path=str(ARTIFACTS / "insights-overview.png"), full_page=True)
    assert page.get_by_role("heading", name="Insights", level=1).is_visible()
    opened = page.locator(".kpi", has_text="Volume").locator(".kpi-value")
    assert opened.inner_text() == "8"

    subnav = page.get_by_role("navigation", name="Insights")
    for key, title in DASHBOARDS.items():
        subnav.get_by_role("link", name=title, exact=True).click()
        page.wait_for_url(re.compile(rf".*/console/insights/{key}(\?.*)?$"))
        assert page.get_by_role("heading", name=title, level=1).is_visible()
        assert subnav.get_by_role("link", name=title, exact=True).get_attribute("aria-current") == "page"
        if key in ("operations", "routing"):
            assert page.locator("figure.chart svg[role=img]").count() >= 1, key
        else:  # the history has no ratings and no appeals: those dashboards say so, chart by chart
            assert page.locator(".chart-card .empty").first.is_visible(), key
        page.screenshot(path=str(ARTIFACTS / f"insights-{key}.png"), full_page=True)

    # The routing dashboard: the misroute rate is the routing report's, and the chart's numbers download.
    subnav.get_by_role("link", name="Routing", exact=True).click()
    page.wait_for_url(re.compile(r".*/console/insights/routing(\?.*)?$"))
    rate = page.locator(".kpi", has_text="Misroute rate").locator(".kpi-value")
    assert rate.inner_text() == "62.5%"
    card = page.locator("#chart-misroute_by_team")
    assert card.get_by_role("img").count() == 1
    card.get_by_text("Show the numbers").click()
    assert card.get_by_role("table").is_visible()
    with page.expect_download() as waiting:
        card.get_by_role("link", name=re.compile("Download CSV")).click()
    download = waiting.value
    assert re.fullmatch(r"insights-routing-misroute_by_team-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv",
                        download.suggested_filename)
    path = download.path()
    assert path is not None
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0][0] == "team" and len(rows) >= 2
    shown = card.get_by_role("table").locator("tbody tr").count()
    assert len(rows) - 1 == shown  # the same rows as the table behind the chart
    context.close()
