"""Oncall in a real browser: a lead sees who is on call now and next, opens the schedule, escalates a
case by hand and the oncall acknowledges it from the case page."""

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
from trustdesk.oncall import ladders, schedules
from trustdesk.oncall.schedules import LayerSpec

pytestmark = pytest.mark.browser


def test_a_lead_sees_who_is_on_call_and_an_escalation_is_acknowledged(live_server: LiveServer,
                                                                      browser: Any) -> None:
    world = live_server.world
    now = SystemClock().now()
    sme, t2 = world.users["oncall_sme"], world.users["agent_t2"]
    with transaction(live_server.factory) as session:
        # Daily handoffs: the SME now (the rotation started a moment ago), the T2 agent from tomorrow.
        schedules.create_schedule(session, key="t2-oncall", name="T2 oncall", team_key="t2", time_zone="UTC",
                                  description="", now=now, layers=[LayerSpec(
                                      name="Daily", time_zone="UTC", starts_at=now - timedelta(minutes=1),
                                      handoff="FREQ=DAILY", participants=[sme.id, t2.id], restrictions=[])])
        ladders.save_ladder(session, key="by-hand", name="By hand", triggers=["manual"], conditions={},
                            steps=[{"type": "notify_oncall", "schedule": "t2-oncall"}], ack_timeout_minutes=None,
                            position=1, is_active=True, now=now, create=True)
        party = make_party(session, world.us, now=now, external_id="oncall-browser")
        case_id = make_case(session, market=world.us, party=party, queue=world.queue_a, now=now,
                            subject="Charged three times").id
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, live_server, world.users["lead"].email)

    page.get_by_role("link", name="Oncall", exact=True).click()
    row = page.get_by_role("row", name=re.compile("T2 oncall"))
    assert sme.display_name in row.locator("td").nth(0).inner_text()  # on call now
    assert t2.display_name in row.locator("td").nth(1).inner_text()  # next
    page.get_by_role("link", name="T2 oncall").click()
    assert page.locator(".stat", has_text="On call now").inner_text().count(sme.display_name) == 1
    assert page.locator("tr.is-now").is_visible()
    page.screenshot(path=str(ARTIFACTS / "oncall-schedule.png"), full_page=True)

    page.goto(f"{live_server.url}/console/cases/{case_id}")
    panel = page.get_by_role("region", name="Escalation")
    panel.get_by_label("Why escalate?").fill("Buyer charged three times for one order")
    panel.get_by_role("button", name="Escalate").click()
    panel = page.get_by_role("region", name="Escalation")
    assert "page the oncall (t2-oncall)" in panel.inner_text()
    assert f"{sme.display_name} paged" in panel.inner_text()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, sme.email)
    page.goto(f"{live_server.url}/console/cases/{case_id}")
    page.get_by_role("region", name="Escalation").get_by_role("button", name="Acknowledge").click()
    assert page.get_by_text("Acknowledged: the escalation stopped paging.").is_visible()
    assert "Acknowledged" in page.get_by_role("region", name="Escalation").inner_text()
    page.screenshot(path=str(ARTIFACTS / "oncall-acknowledged.png"), full_page=True)
    context.close()
