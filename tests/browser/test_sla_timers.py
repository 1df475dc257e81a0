"""SLA timers in a real browser: a lead opens a queue and sees each case's soonest clock, and the case
page's Service levels panel, with an overdue clock in red."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_case_journey import sign_in
from tests.factories.cases import make_case, make_party
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.sla import policies
from trustdesk.sla.schemas import PolicyIn, TargetIn

pytestmark = pytest.mark.browser
ALL = ("low", "normal", "high", "urgent")


def test_a_lead_sees_sla_timers_on_the_queue_and_the_case(live_server: LiveServer, browser: Any) -> None:
    world = live_server.world
    now = SystemClock().now()
    with transaction(live_server.factory) as session:
        policies.create_policy(session, PolicyIn(key="standard", name="Standard", is_default=True, targets={
            p: {"first_reply": TargetIn(minutes=60, business=False)} for p in ALL}), now=now)
        party = make_party(session, world.us, now=now, external_id="sla-browser")
        late = make_case(session, market=world.us, party=party, queue=world.queue_a, now=now - timedelta(hours=2),
                         subject="Waiting for two hours")
        fresh = make_case(session, market=world.us, party=party, queue=world.queue_a, now=now,
                          subject="Just arrived")
        late_id, fresh_id = late.id, fresh.id
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, live_server, world.users["lead"].email)

    page.goto(f"{live_server.url}/console/queues/{world.queue_a.id}")
    assert page.get_by_role("columnheader", name="Next due").is_visible()
    late_row = page.get_by_role("row", name=re.compile("Waiting for two hours"))
    overdue = late_row.locator("time.count-hot")
    assert overdue.is_visible() and overdue.inner_text().startswith("overdue 1h")
    fresh_row = page.get_by_role("row", name=re.compile("Just arrived"))
    assert re.match(r"in (59|60)m", fresh_row.locator("td time").first.inner_text())
    page.screenshot(path=str(ARTIFACTS / "queue-sla.png"), full_page=True)

    page.goto(f"{live_server.url}/console/cases/{late_id}")
    panel = page.get_by_role("region", name="Service levels")
    assert panel.is_visible() and "standard v1" in panel.inner_text()
    assert panel.locator("time.count-hot").inner_text().startswith("overdue 1h")
    page.goto(f"{live_server.url}/console/cases/{fresh_id}")
    assert page.get_by_role("region", name="Service levels").locator("time").first.inner_text().startswith("in ")
    context.close()
