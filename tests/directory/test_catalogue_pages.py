"""The service catalogue page: who owns it (now and then), entries in force, approving with four eyes."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.core.clock import FrozenClock
from trustdesk.core.identity import Actor, actor_for
from trustdesk.directory import catalogue
from trustdesk.directory.models import CatalogueEntry
from trustdesk.directory.schemas import CatalogueEntryIn, TopicIn


def _actor(world: World, who: str) -> Actor:
    return actor_for(world.users[who])


def _seed(db: Session, world: World, clock: FrozenClock) -> CatalogueEntry:
    now = clock.now()
    catalogue.import_topics(db, [TopicIn(key="orders", names={"en": "Orders <b>& more</b>"}),
                                 TopicIn(key="orders.late", names={"en": "Late delivery"})], now=now)
    entry = catalogue.propose(db, CatalogueEntryIn(topic="orders", team_id=world.t2.id, sla_policy_key="orders-std",
                                                   contact_user_id=world.users["agent_t2"].id),
                              author=_actor(world, "lead"), now=now)
    catalogue.approve(db, entry, approver=_actor(world, "admin"), now=now)
    draft = catalogue.propose(db, CatalogueEntryIn(topic="orders.late", market_scope="US", team_id=world.t1_a.id),
                              author=_actor(world, "lead"), now=now)
    db.commit()
    return draft


def test_the_page_answers_who_owns_it_and_lists_what_is_in_force(client: TestClient, world: World, db: Session,
                                                                 clock: FrozenClock) -> None:
    _seed(db, world, clock)
    sign_in(client, "qa")
    page = client.get("/console/catalogue", params={"market": "US", "topic": "orders.late"})
    assert page.status_code == 200, page.text
    assert "<h3 class=\"h-plain\">t2 <span class=\"tag\">t2</span></h3>" in page.text and "orders-std" in page.text
    assert world.users["agent_t2"].display_name in page.text  # the point of contact by name
    assert "Orders &lt;b&gt;&amp; more&lt;/b&gt;" in page.text and "<b>& more</b>" not in page.text
    assert "Waiting for approval" in page.text
    assert 'href="/console/catalogue" aria-current="page"' in page.text
    # QA may read, not decide: no approve buttons.
    assert "/approve" not in page.text

    then = client.get("/console/catalogue", params={
        "market": "US", "topic": "orders", "at": (clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    assert "Nobody." in then.text and "triage" in then.text


def test_a_bad_question_is_answered_next_to_its_field(client: TestClient, world: World, db: Session,
                                                      clock: FrozenClock) -> None:
    _seed(db, world, clock)
    sign_in(client, "qa")
    page = client.get("/console/catalogue", params={"market": "US", "topic": "nope"})
    assert page.status_code == 422
    assert "Unknown topic" in page.text and 'aria-invalid="true"' in page.text
    assert client.get("/console/catalogue", params={"market": "US", "at": "yesterday"}).status_code == 422


def test_approving_needs_a_second_person(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    draft = _seed(db, world, clock)
    csrf = sign_in(client, "lead")
    page = client.get("/console/catalogue")
    assert "Yours: someone else decides" in page.text
    refused = client.post(f"/console/catalogue/versions/{draft.id}/approve", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "second person" in refused.text
    db.expire_all()
    assert db.get(CatalogueEntry, draft.id).status == "draft"  # type: ignore[union-attr]

    client.cookies.clear()
    csrf = sign_in(client, "admin")
    missing_reason = client.post(f"/console/catalogue/versions/{draft.id}/reject", data={"csrf_token": csrf})
    assert missing_reason.status_code == 422 and "say why" in missing_reason.text
    approved = client.post(f"/console/catalogue/versions/{draft.id}/approve", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"] == "/console/catalogue?notice=approved"
    db.expire_all()
    stored = db.scalar(select(CatalogueEntry).where(CatalogueEntry.id == draft.id))
    assert stored is not None and stored.status == "approved" and stored.approver_user_id == world.users["admin"].id
    answer = client.get("/console/catalogue", params={"market": "US", "topic": "orders.late"})
    assert "<h3 class=\"h-plain\">t1-a <span class=\"tag\">t1</span></h3>" in answer.text


def test_without_csrf_nothing_is_decided(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    draft = _seed(db, world, clock)
    sign_in(client, "admin")
    assert client.post(f"/console/catalogue/versions/{draft.id}/approve", data={}).status_code == 403
    db.expire_all()
    assert db.get(CatalogueEntry, draft.id).status == "draft"  # type: ignore[union-attr]


def test_vendor_agents_do_not_see_the_catalogue(client: TestClient, world: World) -> None:
    sign_in(client, "agent_t1")
    assert client.get("/console/catalogue").status_code == 403
    assert "Service catalogue" not in client.get("/console").text
