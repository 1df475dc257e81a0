"""A CSAT survey in a real browser: the customer of a solved case opens the survey link (no sign-in), picks a
rating with the keyboard, sends it, sees the thank-you, and the rating is recorded."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.browser.conftest import ARTIFACTS, LiveServer
from trustdesk.cases.models import Message
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.feedback import surveys
from trustdesk.feedback.models import CaseRating, CsatSurvey

pytestmark = pytest.mark.browser


def _solved_case_with_survey(server: LiveServer) -> tuple[int, str]:
    """A buyer's in-app chat case solved by an agent, and the survey link the survey job posted on it."""
    world = server.world
    created = httpx.post(f"{server.url}/api/v1/cases", headers={"Authorization": f"Bearer {world.tokens['buyer']}"},
                         json={"channel": "in_app_chat", "market": "US", "subject": "Parcel never arrived",
                               "body": "Order 5521 was due last week and has not arrived."})
    assert created.status_code == 201, created.text
    case_id = int(created.json()["id"])
    solved = httpx.post(f"{server.url}/api/v1/cases/{case_id}/messages",
                        headers={"Authorization": f"Bearer {world.tokens['lead']}"},
                        json={"body": "The carrier found it: it arrives tomorrow.", "visibility": "public",
                              "status": "solved"})
    assert solved.status_code == 201, solved.text
    now = SystemClock().now()
    with transaction(server.factory) as session:
        assert surveys.schedule_due(session, now=now) == 1
        # The job, an hour on (the channel's default delay): the link goes on the case's thread.
        assert surveys.send_due(session, now=now + timedelta(hours=1), base_url=server.url) == 1
        body = session.scalar(select(Message.body).where(Message.case_id == case_id,
                                                         Message.author_type == "system"))
    assert body is not None
    match = re.search(rf"{re.escape(server.url)}/survey/cs_[A-Za-z0-9_-]+", body)
    assert match, body
    return case_id, match.group(0)


def test_a_customer_rates_a_solved_case_from_the_survey_link_with_the_keyboard(live_server: LiveServer,
                                                                              browser: Any) -> None:
    case_id, link = _solved_case_with_survey(live_server)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # nobody signed in
    page = context.new_page()
    page.goto(link)
    assert page.get_by_role("heading", name="How did we do?").is_visible()
    assert "Parcel never arrived" in page.inner_text("main")
    scale = page.get_by_role("group", name=re.compile("How satisfied are you"))
    assert scale.get_by_role("radio").count() == 5
    page.screenshot(path=str(ARTIFACTS / "survey-form.png"), full_page=True)

    # Keyboard only: focus the scale, arrow to "4 · Satisfied", tab to the button and press Enter.
    scale.get_by_role("radio", name="1 · Very dissatisfied").focus()
    page.keyboard.press("Space")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert scale.get_by_role("radio", name="4 · Satisfied").is_checked()
    page.get_by_role("textbox", name=re.compile("Anything you would like to tell us")).focus()
    page.keyboard.type("Quick and friendly, thank you.")
    page.get_by_role("button", name="Send my rating").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/survey/*?thanks=1")
    assert "Thank you for your feedback." in page.locator("#survey-thanks").inner_text()
    page.screenshot(path=str(ARTIFACTS / "survey-thanks.png"), full_page=True)
    context.close()

    with transaction(live_server.factory) as session:
        rating = session.scalar(select(CaseRating).where(CaseRating.case_id == case_id))
        survey = session.scalar(select(CsatSurvey).where(CsatSurvey.case_id == case_id))
        assert rating is not None and survey is not None
        assert (rating.score, rating.comment, rating.channel) == (4, "Quick and friendly, thank you.", "in_app_chat")
        assert survey.status == "answered"
