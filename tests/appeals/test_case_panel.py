"""The case page of an appeal points to the appeal (for in-house appeals staff only)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.appeals import AppealsWorld, make_appeal, make_decision
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings


def test_the_appeals_case_links_to_its_appeal_for_appeals_staff(client: TestClient, db: Session, aw: AppealsWorld,
                                                                clock: FrozenClock, settings: Settings) -> None:
    appeal = make_appeal(db, aw, make_decision(db, aw, now=clock.now()), now=clock.now(), settings=settings)
    db.commit()
    sign_in(client, "reviewer")
    page = client.get(f"/console/cases/{appeal.case_id}")
    assert page.status_code == 200
    assert f'href="/console/appeals/{appeal.id}">{appeal.reference}</a>' in page.text
    assert "dec-1" in page.text and "Counterfeit goods" in page.text
    # Tier 2 staff read the case but do not work appeals: no panel.
    client.cookies.clear()
    sign_in(client, "agent_t2")
    other = client.get(f"/console/cases/{appeal.case_id}")
    assert other.status_code == 200 and 'id="appeal"' not in other.text
