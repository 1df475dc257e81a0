"""The console over HTTP: scoping, escaping, the case actions and their refusals, admin forms."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import customer_case, events_of, fresh_case, intake_case, row_counts
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.cases.models import Status
from trustdesk.cases.service import TRANSITIONS
from trustdesk.core.permissions import Perm
from trustdesk.directory.models import Agent, Market, Presence, Queue, Team
from trustdesk.web.deps import PageRequires

XSS = "<script>alert(1)</script>"


def _case_ids(client: TestClient, world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """A US case (vendor A's queue) and an ES case (vendor B's queue)."""
    return customer_case(client, world), customer_case(client, world, "buyer2", market="ES",
                                                      body="Mi pedido no ha llegado todavía, ¿dónde está?")


# ---------------------------------------------------------------- scope


def test_a_vendor_agent_gets_404_for_another_vendors_case_and_queue(client: TestClient, world: World) -> None:
    _us, es = _case_ids(client, world)
    sign_in(client, "agent_t1")  # vendor A

    assert client.get(f"/console/cases/{es['id']}").status_code == 404
    assert client.get(f"/console/queues/{world.queue_b.id}").status_code == 404
    assert client.post(f"/console/queues/{world.queue_b.id}/next",
                       data={"csrf_token": client.cookies["td_csrf"]}).status_code == 404
    dashboard = client.get("/console").text
    assert world.queue_a.name in dashboard and world.queue_b.name not in dashboard


def test_a_vendor_agents_queue_lists_only_what_they_may_see(client: TestClient, world: World) -> None:
    us, _es = _case_ids(client, world)
    sign_in(client, "agent_t1")

    page = client.get(f"/console/queues/{world.queue_a.id}?status=all")

    assert page.status_code == 200
    assert us["reference"] in page.text
    assert "1</strong> case matches" in page.text


def test_the_queue_filters_search_and_paginate(client: TestClient, world: World) -> None:
    for n in range(27):
        intake_case(client, world, queue=world.queue_t2, external_id=f"c-{n}", subject=f"Parcel {n} lost")
    sign_in(client, "lead")

    first = client.get(f"/console/queues/{world.queue_t2.id}")
    assert first.text.count("/console/cases/") >= 25 * 2 - 1
    next_url = re.search(r'href="(/console/queues/\d+\?[^"]*cursor=[^"]+)"', first.text)
    assert next_url, "no next page link"
    second = client.get(next_url.group(1).replace("&amp;", "&"))
    # Soonest due first by default; with no SLA policy nothing is due, so the oldest come first.
    assert second.status_code == 200 and "Parcel 26 lost" in second.text and "Parcel 0 lost" not in second.text

    searched = client.get(f"/console/queues/{world.queue_t2.id}?q=Parcel+13")
    assert "Parcel 13 lost" in searched.text and "Parcel 12 lost" not in searched.text

    fragment = client.get(f"/console/queues/{world.queue_t2.id}?q=Parcel+13",
                          headers={"HX-Request": "true", "HX-Target": "queue-results"})
    assert "<html" not in fragment.text and "Parcel 13 lost" in fragment.text
    assert client.get(f"/console/queues/{world.queue_t2.id}?cursor=forged").status_code == 422


# ---------------------------------------------------------------- the case page


def test_message_html_is_escaped_in_the_console(client: TestClient, world: World) -> None:
    case = customer_case(client, world, subject=f"Help {XSS}", body=f"Line one\n{XSS}\n<img src=x onerror=alert(2)>")
    sign_in(client, "agent_t1")

    page = client.get(f"/console/cases/{case['id']}").text

    assert XSS not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Line one\n&lt;script&gt;" in page  # newlines kept for white-space: pre-wrap


def test_the_case_page_shows_thread_notes_timeline_and_the_allowed_next_statuses(
        client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")
    client.post(f"/console/cases/{case['id']}/note", data={"body": "Check the carrier", "csrf_token": token})

    page = client.get(f"/console/cases/{case['id']}").text

    assert "Check the carrier" in page and "msg-internal" in page
    assert "Routed to us-buyers" in page and "case.created" in page
    statuses = re.search(r'<select id="status-to".*?</select>', page, re.S)
    assert statuses
    current = Status(fresh_case(db, case["id"]).status)
    assert re.findall(r'<option value="(\w+)"', statuses.group(0)) == [
        s.value for s in Status if s in TRANSITIONS[current]]


def test_a_reply_is_sent_with_submit_as_and_redirects_back(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")

    response = client.post(f"/console/cases/{case['id']}/reply",
                           data={"body": "We are on it.", "then_status": "pending", "csrf_token": token},
                           follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == f"/console/cases/{case['id']}?notice=reply_sent"
    assert fresh_case(db, case["id"]).status == "pending"
    assert "Your reply was sent." in client.get(response.headers["location"]).text


def test_a_refused_reply_keeps_the_text_and_saves_nothing(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")
    before = row_counts(db)

    empty = client.post(f"/console/cases/{case['id']}/reply", data={"body": "  ", "csrf_token": token})
    # A reply then a refused status: the savepoint drops the reply too.
    client.post(f"/console/cases/{case['id']}/status", data={"status": "solved", "csrf_token": token})
    solved_before = row_counts(db)
    refused = client.post(f"/console/cases/{case['id']}/reply",
                          data={"body": "Keep me", "then_status": "pending", "csrf_token": token})

    assert empty.status_code == 422 and "Must not be empty" in empty.text
    assert refused.status_code == 409 and "Keep me" in refused.text
    assert "A solved case cannot become pending" in refused.text
    assert row_counts(db) == solved_before
    assert before["case_messages"] == solved_before["case_messages"]


def test_the_reroute_form_refuses_a_missing_reason(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")
    before = len(events_of(db, case["id"]))

    response = client.post(f"/console/cases/{case['id']}/reroute",
                           data={"queue_id": str(world.queue_t2.id), "reason": "", "note": "please take it",
                                 "csrf_token": token})

    assert response.status_code == 422
    assert "A reroute needs a reason code" in response.text
    assert 'id="reroute-reason-error"' in response.text
    assert "please take it" in response.text  # the note is kept
    assert fresh_case(db, case["id"]).queue_id == world.queue_a.id
    assert len(events_of(db, case["id"])) == before


def test_a_vendor_agent_escalates_to_an_in_house_queue_and_leaves_the_case(
        client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")
    page = client.get(f"/console/cases/{case['id']}").text
    reroute_options = re.search(r'<select id="reroute-queue".*?</select>', page, re.S)
    assert reroute_options
    assert world.queue_t2.name in reroute_options.group(0) and world.queue_b.name not in reroute_options.group(0)

    refused = client.post(f"/console/cases/{case['id']}/reroute",
                          data={"queue_id": str(world.queue_b.id), "reason": "wrong_market", "csrf_token": token})
    moved = client.post(f"/console/cases/{case['id']}/reroute",
                        data={"queue_id": str(world.queue_t2.id), "reason": "needs_specialist", "csrf_token": token},
                        follow_redirects=False)

    assert refused.status_code == 422
    assert moved.status_code == 303
    assert moved.headers["location"] == (f"/console/queues/{world.queue_a.id}?notice=rerouted_away"
                                         f"&ref={case['reference']}")
    rerouted = [e for e in events_of(db, case["id"]) if e.type == "case.rerouted"]
    assert [e.data["reason"] for e in rerouted] == ["needs_specialist"]


def test_status_change_offers_and_applies_the_transitions(client: TestClient, world: World, db: Session) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "agent_t1")

    done = client.post(f"/console/cases/{case['id']}/status", data={"status": "on_hold", "csrf_token": token},
                       follow_redirects=False)
    same = client.post(f"/console/cases/{case['id']}/status", data={"status": "on_hold", "csrf_token": token})

    assert done.status_code == 303 and fresh_case(db, case["id"]).status == "on_hold"
    assert same.status_code == 409 and "The case is on_hold already" in same.text


def test_assign_to_me_and_to_others_needs_cases_assign(client: TestClient, world: World, db: Session) -> None:
    case = intake_case(client, world, queue=world.queue_a)
    token = sign_in(client, "agent_t1")

    mine = client.post(f"/console/cases/{case['id']}/assign", data={"agent_id": "me", "csrf_token": token},
                       follow_redirects=False)
    other = client.post(f"/console/cases/{case['id']}/assign",
                        data={"agent_id": str(world.agents["agent_t2"].id), "csrf_token": token})

    assert mine.status_code == 303
    assert fresh_case(db, case["id"]).assignee_id == world.agents["agent_t1"].id
    assert other.status_code == 403

    client.cookies.clear()
    lead_token = sign_in(client, "lead")
    handed = client.post(f"/console/cases/{case['id']}/assign",
                         data={"agent_id": str(world.agents["agent_t2"].id), "csrf_token": lead_token},
                         follow_redirects=False)
    assert handed.status_code == 303
    assert fresh_case(db, case["id"]).assignee_id == world.agents["agent_t2"].id


def test_get_next_claims_the_oldest_case_or_says_nothing_waits(client: TestClient, world: World,
                                                              db: Session) -> None:
    case = intake_case(client, world, queue=world.queue_t2)
    token = sign_in(client, "agent_t2")

    claimed = client.post(f"/console/queues/{world.queue_t2.id}/next", data={"csrf_token": token},
                          follow_redirects=False)
    nothing = client.post(f"/console/queues/{world.queue_t2.id}/next", data={"csrf_token": token},
                          follow_redirects=False)

    assert claimed.headers["location"] == f"/console/cases/{case['id']}?notice=claimed"
    assert fresh_case(db, case["id"]).assignee_id == world.agents["agent_t2"].id
    assert nothing.headers["location"] == f"/console/queues/{world.queue_t2.id}?notice=nothing_waiting"
    assert "Nothing is waiting" in client.get(nothing.headers["location"]).text


def test_presence_toggle(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "agent_t1")

    plain = client.post("/console/presence", data={"presence": "away", "csrf_token": token}, follow_redirects=False)
    htmx = client.post("/console/presence", data={"presence": "offline"},
                       headers={"HX-Request": "true", "X-CSRF-Token": token})
    bad = client.post("/console/presence", data={"presence": "asleep", "csrf_token": token})

    assert plain.status_code == 303
    assert htmx.status_code == 200 and 'hx-swap-oob="true"' in htmx.text
    assert bad.status_code == 422
    db.expire_all()
    agent = db.get(Agent, world.agents["agent_t1"].id)
    assert agent is not None and agent.presence == Presence.OFFLINE.value


def test_htmx_errors_are_swapped_into_the_alerts_region(client: TestClient, world: World) -> None:
    _us, es = _case_ids(client, world)
    token = sign_in(client, "agent_t1")

    response = client.post(f"/console/cases/{es['id']}/note", data={"body": "x"},
                           headers={"HX-Request": "true", "HX-Target": "case", "X-CSRF-Token": token})

    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#alerts" and "<html" not in response.text


# ---------------------------------------------------------------- permissions


def _page_permission(dependant: Dependant) -> Perm | None:
    for sub in dependant.dependencies:
        if isinstance(sub.call, PageRequires):
            return sub.call.permission
        found = _page_permission(sub)
        if found is not None:
            return found
    return None


def _console_routes(app: FastAPI, world: World, case_id: int) -> list[tuple[str, str]]:
    """Every console route but those for everyone signed in (``Perm.SELF``: one's own notifications)."""
    values = {"queue_id": world.queue_a.id, "case_id": case_id, "agent_id": world.agents["agent_t1"].id,
              "market_id": world.queue_a.market_id, "team_id": world.t1_a.id, "version_id": 1, "version": 1,
              "notification_id": 1, "key": "standard", "feed_id": 1, "override_id": 1, "escalation_id": 1,
              "crisis_id": 1, "template_id": 1, "attachment_id": 1, "set_id": 1, "appeal_id": 1, "review_id": 1,
              "party_id": 1, "code": "US", "channel": "web_form", "calibration_id": 1, "issue_id": 1,
              "note_id": 1, "rule_id": 1, "page_id": 1, "schedule_id": 1, "objective_id": 1}
    routes = []
    for prefix, router in app.state.routers:
        for route in router.routes:
            if not (isinstance(route, APIRoute) and prefix == "" and route.path.startswith("/console")):
                continue
            if _page_permission(route.dependant) is Perm.SELF:
                continue
            params = set(re.findall(r"{(\w+)}", route.path))
            assert params <= values.keys(), f"add a value for {params - values.keys()} ({route.path})"
            routes += [(method, route.path.format(**values)) for method in sorted(route.methods)]
    return routes


def test_every_console_page_refuses_a_customer(client: TestClient, app: FastAPI, world: World) -> None:
    case = customer_case(client, world)
    token = sign_in(client, "buyer")
    routes = _console_routes(app, world, case["id"])
    assert len(routes) >= 20

    for method, path in routes:
        response = client.request(method, path, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "You can't open this page" in response.text


def test_the_console_navigation_shows_only_what_the_actor_may_do(client: TestClient, world: World) -> None:
    sign_in(client, "agent_t1")
    agent_page = client.get("/console").text
    client.cookies.clear()
    sign_in(client, "admin")
    admin_page = client.get("/console").text

    assert 'href="/console/admin"' not in agent_page and 'href="/internal/requests/new"' not in agent_page
    assert 'href="/console/admin"' in admin_page and 'href="/internal/requests/new"' in admin_page


# ---------------------------------------------------------------- admin


def test_admin_forms_create_and_name_the_bad_field(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "admin")
    for page in ("", "/markets", "/vendors", "/teams", "/queues", "/agents",
                 f"/agents/{world.agents['agent_t1'].id}"):
        assert client.get(f"/console/admin{page}").status_code == 200, page

    bad = client.post("/console/admin/markets", data={
        "code": "FR", "name": "France", "time_zone": "Europe/Pariss", "languages": "fr, en",
        "default_language": "fr", "currency": "EUR", "is_active": "1", "csrf_token": token})
    clash = client.post("/console/admin/markets", data={
        "code": "US", "name": "Again", "time_zone": "UTC", "languages": "en", "default_language": "en",
        "currency": "USD", "csrf_token": token})
    good = client.post("/console/admin/markets", data={
        "code": "fr", "name": "France", "time_zone": "Europe/Paris", "languages": "fr, en",
        "default_language": "fr", "currency": "eur", "is_active": "1", "csrf_token": token}, follow_redirects=False)

    assert bad.status_code == 422 and 'id="f-time_zone-error"' in bad.text and "Europe/Pariss" in bad.text
    assert clash.status_code == 409 and 'id="f-code-error"' in clash.text
    assert good.status_code == 303
    assert db.query(Market).filter_by(code="FR").one().currency == "EUR"


def test_admin_edits_an_agent(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "admin")
    agent_id = world.agents["agent_t1"].id

    refused = client.post(f"/console/admin/agents/{agent_id}", data={
        "languages": "en", "skills": "", "capacity": "3", "team_ids": [str(world.t1_b.id)], "presence": "online",
        "csrf_token": token})
    saved = client.post(f"/console/admin/agents/{agent_id}", data={
        "languages": "en, es", "skills": "refunds, payments", "capacity": "3", "team_ids": [str(world.t1_a.id)],
        "presence": "away", "csrf_token": token}, follow_redirects=False)

    assert refused.status_code == 422 and "not staffed by this agent&#39;s vendor" in refused.text
    assert saved.status_code == 303
    db.expire_all()
    agent = db.get(Agent, agent_id)
    assert agent is not None
    assert (agent.languages, agent.skills, agent.capacity, agent.presence) == (
        ["en", "es"], ["refunds", "payments"], 3, "away")


def test_admin_edits_a_queue(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "admin")
    queue = world.queue_a
    page = client.get(f"/console/admin/queues/{queue.id}")
    assert page.status_code == 200
    assert 'value="us-buyers"' in page.text and "Edit queue" in page.text
    form = {"key": "us-buyers", "name": "US buyers (chat)", "team_id": str(queue.team_id),
            "market_id": str(queue.market_id), "intake_channels": ["in_app_chat"], "intake_party_kinds": ["buyer"],
            "intake_order": "5", "auto_assign": "1", "is_active": "1", "csrf_token": token}

    clash = client.post(f"/console/admin/queues/{queue.id}", data=form | {"key": world.queue_b.key})
    bad = client.post(f"/console/admin/queues/{queue.id}", data=form | {"intake_channels": ["fax"]})
    db.expire_all()
    assert clash.status_code == 409 and 'id="f-key-error"' in clash.text
    assert bad.status_code == 422 and "fax" not in db.get(Queue, queue.id).intake_channels  # type: ignore[union-attr]
    assert db.get(Queue, queue.id).name == "us-buyers"  # type: ignore[union-attr]

    saved = client.post(f"/console/admin/queues/{queue.id}", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?notice=saved")
    db.expire_all()
    edited = db.get(Queue, queue.id)
    assert edited is not None
    assert (edited.name, edited.intake_channels, edited.intake_order, edited.is_triage) == (
        "US buyers (chat)", ["in_app_chat"], 5, False)
    assert client.get(f"/console/admin/queues/{2**31 - 1}").status_code == 404


def test_admin_edits_a_market_and_a_team(client: TestClient, world: World, db: Session) -> None:
    token = sign_in(client, "admin")
    market_id, team_id = world.queue_b.market_id, world.t1_a.id
    assert 'value="Europe/Madrid"' in client.get(f"/console/admin/markets/{market_id}").text
    assert 'value="t1-a"' in client.get(f"/console/admin/teams/{team_id}").text
    market_form = {"code": "ES", "name": "España", "time_zone": "Europe/Madrid", "languages": "es, ca, en",
                   "default_language": "es", "currency": "EUR", "is_active": "1", "csrf_token": token}

    bad = client.post(f"/console/admin/markets/{market_id}", data=market_form | {"default_language": "fr"})
    clash = client.post(f"/console/admin/teams/{team_id}", data={
        "key": world.t1_b.key, "name": "T1 Vendor A", "tier": "t1", "vendor_id": str(world.t1_a.vendor_id),
        "csrf_token": token})
    market_saved = client.post(f"/console/admin/markets/{market_id}", data=market_form, follow_redirects=False)
    team_saved = client.post(f"/console/admin/teams/{team_id}", data={
        "key": "t1-a", "name": "Tier 1 Vendor A (US)", "tier": "t1", "vendor_id": str(world.t1_a.vendor_id),
        "csrf_token": token}, follow_redirects=False)

    assert bad.status_code == 422 and 'id="f-default_language-error"' in bad.text and "España" in bad.text
    assert clash.status_code == 409 and 'id="f-key-error"' in clash.text
    assert market_saved.status_code == 303 and team_saved.status_code == 303
    db.expire_all()
    market = db.get(Market, market_id)
    assert market is not None and (market.name, market.languages) == ("España", ["es", "ca", "en"])
    assert db.get(Team, team_id).name == "Tier 1 Vendor A (US)"  # type: ignore[union-attr]
    assert client.get("/console/admin/markets/999999").status_code == 404
    assert client.get("/console/admin/teams/999999").status_code == 404


@pytest.mark.parametrize("who", ["agent_t1", "lead"])
def test_admin_pages_need_directory_admin(client: TestClient, world: World, who: str) -> None:
    sign_in(client, who)

    assert client.get("/console/admin/markets").status_code == 403
