"""Appeals in a real browser: a reviewer opens Appeals from the nav, reads the original decision and its
statement of reasons, overturns it with the keyboard and sees the letter and the reversal; a QA reviewer
then completes the blind second review."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer
from tests.browser.test_case_journey import sign_in
from tests.factories.appeals import make_appeal, make_appeals_world, make_decision
from trustdesk.appeals import repository
from trustdesk.core.clock import SystemClock
from trustdesk.core.db import transaction
from trustdesk.core.settings import Settings

pytestmark = pytest.mark.browser
REASONS = "The supplier's invoices show the bag came from the brand's authorised distributor: it is genuine."


def test_a_reviewer_overturns_an_appeal_and_qa_reviews_it_blind(live_server: LiveServer, browser: Any,
                                                                 tmp_path: Any) -> None:
    world = live_server.world
    now = SystemClock().now()
    settings = Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="browser-secret-" + "y" * 32)
    with transaction(live_server.factory) as session:
        aw = make_appeals_world(session, world, now=now, settings=settings, qa_percent=100)
        decision = make_decision(session, aw, now=now, external_id="dec-browser")
        appeal = make_appeal(session, aw, decision, now=now, settings=settings,
                             text="The bag is genuine; invoice 2026-114 from the authorised distributor.")
        appeal_id, reference = appeal.id, appeal.reference
    assert reference is not None
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, live_server, world.users["reviewer"].email)

    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name=re.compile(r"^(\d+ open )?Appeals$")).click()
    page.wait_for_url("**/console/appeals")
    assert page.get_by_role("heading", name="Appeals", exact=True).is_visible()
    row = page.get_by_role("row").nth(1)
    assert reference in row.inner_text() and "Leather handbag" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "appeals-queue.png"), full_page=True)

    page.get_by_role("link", name=reference).click()
    page.wait_for_url(f"**/console/appeals/{appeal_id}")
    sor = page.get_by_role("region", name="Statement of reasons")
    assert "Seller policy 4.2 (counterfeit goods)" in sor.inner_text()
    assert "content removed" in sor.inner_text()
    assert "invoice 2026-114" in page.get_by_role("region", name="The appellant's statement").inner_text()
    page.screenshot(path=str(ARTIFACTS / "appeal-view.png"), full_page=True)

    # Keyboard only: choose the outcome, type the reasons, submit.
    page.get_by_role("radio", name="Upheld").focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # radios: the arrow moves to the next outcome and chooses it
    assert page.get_by_role("radio", name="Overturned", exact=True).is_checked()
    page.get_by_role("textbox", name="Reasons").focus()
    page.keyboard.type(REASONS)
    page.get_by_role("button", name="Record the decision").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/appeals/{appeal_id}?notice=decided")
    assert "Decision recorded" in page.get_by_role("status").inner_text()
    decided = page.get_by_role("region", name="Decision on the appeal")
    assert "Overturned" in decided.inner_text()
    assert "is reversed" in decided.inner_text() and "out-of-court dispute settlement body" in decided.inner_text()
    assert "Reversal requested" in page.get_by_role("region", name="Reversal").inner_text()
    page.screenshot(path=str(ARTIFACTS / "appeal-decided.png"), full_page=True)
    context.close()

    with transaction(live_server.factory) as session:
        review = repository.qa_review_of(session, appeal_id)
        assert review is not None  # qa_percent=100: every decided appeal is sampled
        review_id = review.id
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, live_server, world.users["qa"].email)
    page.goto(f"{live_server.url}/console/appeals/qa")
    page.get_by_role("link", name=f"Review {reference}").click()
    page.wait_for_url(f"**/console/appeals/qa/{review_id}")
    assert REASONS not in page.content()  # blind: the first reasons are hidden
    page.screenshot(path=str(ARTIFACTS / "appeal-qa-blind.png"), full_page=True)
    page.get_by_role("radio", name="Overturned", exact=True).check()
    page.get_by_role("textbox", name="Notes").fill("The invoices check out.")
    page.get_by_role("button", name="Submit the second review").click()
    page.wait_for_url(f"**/console/appeals/qa/{review_id}?notice=qa_submitted")
    assert "The reviews agree." in page.get_by_role("region", name="Your second review").inner_text()
    context.close()
