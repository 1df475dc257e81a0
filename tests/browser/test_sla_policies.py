"""SLA policies in a real browser: an admin changes a first-reply target in the console; a case opened
afterwards gets the new due time while a case opened before keeps its own."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_case_journey import sign_in
from tests.factories.cases import make_case, make_party
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.sla import calendars, policies
from trustdesk.sla.schemas import CalendarIn, ConditionsIn, PolicyIn, TargetIn

pytestmark = pytest.mark.browser
ALL = ("low", "normal", "high", "urgent")


def test_an_admin_edits_a_target_and_only_new_cases_get_it(live_server: LiveServer, browser: Any) -> None:
    world = live_server.world
    now = SystemClock().now()
    with transaction(live_server.factory) as session:
        calendars.create_calendar(session, CalendarIn(key="us-office", name="US office", time_zone="America/New_York",
                                                      weekly={d: ["09:00-17:00"] for d in ("mon", "tue", "wed")}),
                                  now=now)
        policies.create_policy(session, PolicyIn(key="standard", name="Standard", is_default=True, targets={
            p: {"first_reply": TargetIn(minutes=60, business=False),
                "resolution": TargetIn(minutes=2880, business=False)} for p in ALL}), now=now)
        policies.create_policy(session, PolicyIn(
            key="us-urgent", name="US urgent", position=10, calendar_key="us-office", warn_minutes_before=15,
            conditions=ConditionsIn(markets=["US"], priorities=["urgent"]),
            targets={"urgent": {"first_reply": TargetIn(minutes=30)}}), now=now)
        party = make_party(session, world.us, now=now, external_id="sla-policy-browser")
        older = make_case(session, market=world.us, party=party, queue=world.queue_a, now=now,
                          subject="Opened before the change")
        older_id = older.id
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, live_server, world.users["admin"].email)

    page.get_by_role("link", name="Service levels").click()
    page.wait_for_url("**/console/sla/policies")
    assert page.get_by_role("heading", name="SLA policies").is_visible()
    rows = page.get_by_role("row")
    assert "US urgent" in rows.nth(1).inner_text() and "Standard" in rows.nth(2).inner_text()  # tried in order
    assert "first reply 1 h 24x7" in rows.nth(2).inner_text()
    page.screenshot(path=str(ARTIFACTS / "sla-policies.png"), full_page=True)

    page.get_by_role("link", name="Edit Standard").click()
    page.wait_for_url("**/console/sla/policies/standard/edit")
    assert page.get_by_label("Normal, first reply: minutes").input_value() == "60"
    # The default without targets for low priority: the service refuses, the form says where.
    page.get_by_label("Low, first reply: minutes").fill("")
    page.get_by_label("Low, resolution: minutes").fill("")
    with page.expect_navigation():
        page.get_by_role("button", name="Save version 2").click()
    error = page.locator("#f-targets-low-error")
    assert error.is_visible() and "needs targets for every priority" in error.inner_text()
    assert page.get_by_role("alert").is_visible()
    page.screenshot(path=str(ARTIFACTS / "sla-policy-error.png"), full_page=True)
    page.get_by_label("Low, first reply: minutes").fill("60")
    page.get_by_label("Low, resolution: minutes").fill("2880")

    # Keyboard only: focus the cell, type the new target, submit with Enter.
    page.get_by_label("Normal, first reply: minutes").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/sla/policies?notice=policy_saved&policy=standard")
    notice = page.get_by_role("status")
    assert "Version 2 saved: new cases get these terms; open cases keep theirs." in notice.inner_text()
    assert "first reply 30 min 24x7" in page.get_by_role("row").nth(2).inner_text()
    page.screenshot(path=str(ARTIFACTS / "sla-policy-saved.png"), full_page=True)

    with transaction(live_server.factory) as session:
        newer = make_case(session, market=world.us, party=party, queue=world.queue_a, now=SystemClock().now(),
                          subject="Opened after the change")
        newer_id = newer.id

    page.goto(f"{live_server.url}/console/cases/{newer_id}")
    panel = page.get_by_role("region", name="Service levels")
    assert "standard v2" in panel.inner_text()
    assert re.match(r"in (29|30)m", panel.locator("time").first.inner_text())
    page.goto(f"{live_server.url}/console/cases/{older_id}")
    panel = page.get_by_role("region", name="Service levels")
    assert "standard v1" in panel.inner_text()
    assert re.match(r"in (59m|1h 0m)", panel.locator("time").first.inner_text())

    page.goto(f"{live_server.url}/console/sla/policies/us-urgent/edit")
    page.screenshot(path=str(ARTIFACTS / "sla-policy-edit.png"), full_page=True)
    context.close()
