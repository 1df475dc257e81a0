"""The knowledge base's console, its gaps page and its deflection funnel (page and API) are the
platform's own: a vendor's lead holds KB_EDIT and KB_PUBLISH by role, yet is refused all of them
(articles are published for every market; the funnel counts every market's conversations), and
the navigation does not offer them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.directory import make_agent
from tests.factories.identity import make_token, make_user
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.permissions import Perm, Role, role_has

PAGES = ["/console/kb", "/console/kb/articles/new", "/console/kb/review", "/console/kb/categories",
         "/console/kb/deflection", "/console/kb/gaps"]


@pytest.fixture
def vendor_lead(db: Session, world: World, clock: FrozenClock) -> str:
    """A lead who works for vendor A (signs in as vendor_lead@example.test); returns their API token."""
    user = make_user(db, Role.LEAD, now=clock.now(), email="vendor_lead@example.test", name="Vendor lead")
    make_agent(db, user, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    token = make_token(db, user, now=clock.now())
    db.commit()
    return token


def test_a_vendor_lead_holds_the_kb_permissions_by_role() -> None:
    # What makes the in-house rule necessary: the role alone would let them in.
    assert role_has(Role.LEAD, Perm.KB_EDIT) and role_has(Role.LEAD, Perm.KB_PUBLISH)


@pytest.mark.parametrize("path", PAGES)
def test_a_vendor_lead_is_refused_the_kb_console_pages(client: TestClient, world: World, vendor_lead: str,
                                                       path: str) -> None:
    sign_in(client, "vendor_lead")
    refused = client.get(path)
    assert refused.status_code == 403 and "in-house staff" in refused.text
    sign_in(client, "lead")  # the in-house lead opens the same page
    assert client.get(path).status_code == 200


def test_a_vendor_lead_cannot_write_or_publish_an_article(client: TestClient, world: World,
                                                          vendor_lead: str) -> None:
    csrf = sign_in(client, "vendor_lead")
    created = client.post("/console/kb/articles", data={
        "csrf_token": csrf, "key": "vendor-article", "locale": "en", "title": "Everyone sees this",
        "body": "Published for every market.", "category": "", "markets": ""})
    assert created.status_code == 403
    published = client.post("/console/kb/versions/1/publish", data={"csrf_token": csrf})
    assert published.status_code == 403


def test_a_vendor_lead_is_refused_the_deflection_api(client: TestClient, world: World, vendor_lead: str) -> None:
    assert_problem(client.get("/api/v1/kb/deflection", headers={"Authorization": f"Bearer {vendor_lead}"}), 403)
    assert client.get("/api/v1/kb/deflection", headers=world.auth("lead")).status_code == 200


def test_the_navigation_offers_the_knowledge_base_to_in_house_staff_only(client: TestClient, world: World,
                                                                         vendor_lead: str) -> None:
    sign_in(client, "vendor_lead")
    vendor_page = client.get("/console/notifications")
    assert vendor_page.status_code == 200 and 'href="/console/kb"' not in vendor_page.text
    sign_in(client, "lead")
    assert 'href="/console/kb"' in client.get("/console/notifications").text
