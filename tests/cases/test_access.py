"""Who may see and do what: vendor isolation, customers' own cases, every route's permission, CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories.api import all_row_counts, assert_problem, customer_case, fresh_case, intake_case, row_counts
from tests.factories.directory import make_agent
from tests.factories.identity import make_token, make_user
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.models_registry import metadata
from trustdesk.core.permissions import ROLE_PERMISSIONS, Perm, Role
from trustdesk.web.deps import CSRF_COOKIE, SESSION_COOKIE, Requires, public

CASE_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "", None),
    ("PATCH", "", {"priority": "high"}),
    ("POST", "/messages", {"body": "Hello from vendor A"}),
    ("POST", "/messages", {"body": "Internal", "visibility": "internal"}),
    ("POST", "/notes", {"body": "Internal note"}),
    ("POST", "/attachments", [{"filename": "a.png", "content_type": "image/png", "size_bytes": 10}]),
    ("POST", "/status", {"status": "solved"}),
    ("POST", "/assign", {"agent_id": None}),
    ("POST", "/reroute", {"queue_id": 0, "reason": "other"}),  # queue filled in below
    ("GET", "/events", None),
]


def _dump(db: Session) -> dict[str, list[Any]]:
    """Every row of every table: a refused request must leave all of them as they were."""
    db.expire_all()
    return {name: [tuple(r) for r in db.execute(text(f"SELECT * FROM {name} ORDER BY 1")).all()]
            for name in sorted(metadata.tables)}


# ---------------------------------------------------------------- vendor isolation


@pytest.fixture
def vendor_b_case(client: TestClient, world: World) -> dict[str, Any]:
    created = customer_case(client, world, market="ES", subject="Pedido", body="Mi pedido no ha llegado todavía.")
    return created


@pytest.mark.parametrize(("method", "suffix", "body"), CASE_ROUTES,
                         ids=[f"{m} {s or '/'}{'-note' if b and 'visibility' in str(b) else ''}"
                              for m, s, b in CASE_ROUTES])
def test_vendor_a_gets_404_on_vendor_b_cases(client: TestClient, world: World, db: Session,
                                             vendor_b_case: dict[str, Any], method: str, suffix: str,
                                             body: Any) -> None:
    case_id = vendor_b_case["id"]
    if suffix == "/reroute":
        body = {"queue_id": world.queue_a.id, "reason": "other"}
    headers = world.auth("agent_t1") | {"If-Match": "*"}
    before = _dump(db)

    response = client.request(method, f"/api/v1/cases/{case_id}{suffix}", headers=headers, json=body)
    missing = client.request(method, f"/api/v1/cases/999999{suffix}", headers=headers, json=body)

    problem = assert_problem(response, 404, "case_id")
    assert problem["detail"] == f"case {case_id} does not exist"
    assert_problem(missing, 404, "case_id")
    # Indistinguishable from a case that does not exist.
    assert {k: v for k, v in problem.items() if k not in ("detail", "instance", "errors")} == {
        k: v for k, v in missing.json().items() if k not in ("detail", "instance", "errors")}
    assert _dump(db) == before
    # The vendor's own agent works the same case fine.
    assert client.get(f"/api/v1/cases/{case_id}", headers=world.auth("agent_t1_b")).status_code == 200


def test_cross_vendor_links_and_merges_are_404(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                              vendor_b_case: dict[str, Any]) -> None:
    senior = make_user(db, Role.AGENT_T2, now=clock.now(), email="senior-a@example.test")
    make_agent(db, senior, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    token = make_token(db, senior, now=clock.now())
    db.commit()
    own = customer_case(client, world)
    headers = {"Authorization": f"Bearer {token}"}
    before = _dump(db)
    link = client.post(f"/api/v1/cases/{own['id']}/links", headers=headers,
                       json={"case_id": vendor_b_case["id"], "kind": "related"})
    assert_problem(link, 404, "case_id")
    merge = client.post(f"/api/v1/cases/{own['id']}/merge", headers=headers,
                        json={"into_case_id": vendor_b_case["id"]})
    assert_problem(merge, 404, "into_case_id")
    assert_problem(client.post(f"/api/v1/cases/{vendor_b_case['id']}/links", headers=headers,
                               json={"case_id": own["id"], "kind": "related"}), 404, "case_id")
    assert _dump(db) == before


def test_lists_show_only_the_vendors_own_cases(client: TestClient, world: World,
                                               vendor_b_case: dict[str, Any]) -> None:
    vendor_a_case = customer_case(client, world)
    in_house = intake_case(client, world, queue=world.queue_t2)

    def listed(who: str, **params: Any) -> set[int]:
        response = client.get("/api/v1/cases", headers=world.auth(who), params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert listed("agent_t1") == {vendor_a_case["id"]}
    assert listed("agent_t1_b") == {vendor_b_case["id"]}
    assert listed("agent_t2") == listed("lead") == {vendor_a_case["id"], vendor_b_case["id"], in_house["id"]}
    # Filters cannot reach around the scope.
    assert listed("agent_t1", queue_id=world.queue_b.id) == set()
    assert listed("agent_t1", q=vendor_b_case["reference"]) == set()
    assert listed("agent_t1", market="ES") == set()
    assert listed("agent_t1", status="open") == {vendor_a_case["id"]}


def test_queue_list_hides_other_vendors_queues(client: TestClient, world: World,
                                               vendor_b_case: dict[str, Any]) -> None:
    def queues(who: str) -> dict[int, dict[str, Any]]:
        response = client.get("/api/v1/queues", headers=world.auth(who))
        assert response.status_code == 200, response.text
        return {row["queue"]["id"]: row for row in response.json()}

    assert set(queues("agent_t1")) == {world.queue_a.id}
    assert set(queues("agent_t1_b")) == {world.queue_b.id}
    everything = queues("agent_t2")
    assert set(everything) == {world.queue_a.id, world.queue_b.id, world.queue_t2.id, world.queue_internal.id}
    assert everything[world.queue_b.id]["open"] == 1  # vendor B's auto-assigned case
    assert_problem(client.get("/api/v1/queues", headers=world.auth("buyer")), 403)


def test_directory_lists_hide_other_vendors(client: TestClient, world: World) -> None:
    headers = world.auth("agent_t1")
    vendors = client.get("/api/v1/vendors", headers=headers).json()
    assert [v["id"] for v in vendors] == [world.vendor_a.id]
    agents = client.get("/api/v1/agents", headers=headers).json()
    assert {a["vendor_id"] for a in agents} == {world.vendor_a.id}
    teams = client.get("/api/v1/teams", headers=headers).json()
    assert world.vendor_b.id not in {t["vendor_id"] for t in teams}
    assert world.t1_a.id in {t["id"] for t in teams}
    all_teams = client.get("/api/v1/teams", headers=world.auth("agent_t2")).json()
    assert {world.t1_a.id, world.t1_b.id, world.t2.id} <= {t["id"] for t in all_teams}


# ---------------------------------------------------------------- customers


def test_customers_see_only_their_own_cases(client: TestClient, world: World, db: Session) -> None:
    mine = customer_case(client, world)
    mine_in_spain = customer_case(client, world, market="ES", subject="Pedido", body="Mi pedido no llega.")
    theirs = customer_case(client, world, who="buyer2")

    listed = client.get("/api/v1/cases", headers=world.auth("buyer"))
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json()["items"]} == {mine["id"], mine_in_spain["id"]}
    assert_problem(client.get(f"/api/v1/cases/{theirs['id']}", headers=world.auth("buyer")), 404, "case_id")
    counts = row_counts(db)
    assert_problem(client.post(f"/api/v1/cases/{theirs['id']}/messages", headers=world.auth("buyer"),
                               json={"body": "Let me in"}), 404)
    assert row_counts(db) == counts
    assert {item["id"] for item in client.get("/api/v1/cases", headers=world.auth("buyer2")).json()["items"]} == {
        theirs["id"]}


def test_customers_never_see_internal_notes_or_routing(client: TestClient, world: World) -> None:
    created = customer_case(client, world)
    case_url = f"/api/v1/cases/{created['id']}"
    agent = world.auth("agent_t1")
    assert client.post(f"{case_url}/notes", headers=agent, json={"body": "Customer seems upset"}).status_code == 201
    assert client.post(f"{case_url}/messages", headers=agent,
                       json={"body": "Internal via messages", "visibility": "internal"}).status_code == 201
    assert client.post(f"{case_url}/messages", headers=agent, json={"body": "We are on it."}).status_code == 201

    seen = client.get(case_url, headers=world.auth("buyer")).json()
    assert [m["body"] for m in seen["messages"]] == [created["messages"][0]["body"], "We are on it."]
    assert {m["visibility"] for m in seen["messages"]} == {"public"}
    hidden = {"party", "team_id", "queue_id", "assignee_id", "priority", "tags", "custom_fields", "version",
              "attachments", "topic"}
    assert not hidden & set(seen)
    for item in client.get("/api/v1/cases", headers=world.auth("buyer")).json()["items"]:
        assert not hidden & set(item)
    # The agent sees everything.
    full = client.get(case_url, headers=agent).json()
    assert len(full["messages"]) == 4 and full["assignee_id"] == world.agents["agent_t1"].id
    # Nor may a customer read the audit trail or write an internal note.
    assert_problem(client.get(f"{case_url}/events", headers=world.auth("buyer")), 403)
    assert_problem(client.post(f"{case_url}/messages", headers=world.auth("buyer"),
                               json={"body": "sneaky", "visibility": "internal"}), 422, "visibility")


# ---------------------------------------------------------------- every route's permission


def _declared(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, Requires) or sub.call is public:
            found.append(sub.call)
        found.extend(_declared(sub))
    return found


def _permissions(route: APIRoute) -> tuple[Perm, ...] | None:
    """The route's declared permissions, or None when it is public."""
    declared = _declared(route.dependant)
    assert declared, f"{route.path} declares no permission"
    if declared[0] is public:
        return None
    assert isinstance(declared[0], Requires)
    return tuple(declared[0].permissions)


def _bodies(world: World, case_id: int, other_case_id: int) -> dict[tuple[str, str], Any]:
    """Valid bodies, so that a missing check would really write something."""
    market = {"code": "FR", "name": "France", "time_zone": "Europe/Paris", "languages": ["fr"],
              "default_language": "fr", "currency": "EUR"}
    return {
        ("POST", "/me/tokens"): {"name": "stolen"},
        ("POST", "/users"): {"email": "new@example.test", "display_name": "New", "role": "admin"},
        ("PUT", "/users/{user_id}/role"): {"role": "admin"},
        ("POST", "/cases"): {"channel": "api", "market": "US", "subject": "s", "body": "b",
                             "party": {"kind": "buyer", "external_id": "x", "display_name": "X"}},
        ("PATCH", "/cases/{case_id}"): {"priority": "urgent"},
        ("POST", "/cases/{case_id}/messages"): {"body": "hello"},
        ("POST", "/cases/{case_id}/notes"): {"body": "note"},
        ("POST", "/cases/{case_id}/attachments"): [{"filename": "a.png", "content_type": "image/png",
                                                    "size_bytes": 10}],
        ("POST", "/cases/{case_id}/status"): {"status": "solved"},
        ("POST", "/cases/{case_id}/assign"): {"agent_id": None},
        ("POST", "/cases/{case_id}/reroute"): {"queue_id": world.queue_t2.id, "reason": "other"},
        ("POST", "/cases/{case_id}/links"): {"case_id": other_case_id, "kind": "related"},
        ("POST", "/cases/{case_id}/merge"): {"into_case_id": other_case_id},
        ("POST", "/internal-requests"): {"request_type": "any", "market": "US", "subject": "s", "body": "b"},
        ("POST", "/markets"): market,
        ("PUT", "/markets/{market_id}"): market,
        ("POST", "/vendors"): {"code": "vendor-c", "name": "Vendor C"},
        ("POST", "/teams"): {"key": "t-new", "name": "New", "tier": "t2"},
        ("PUT", "/teams/{team_id}"): {"key": "t-renamed", "name": "Renamed", "tier": "t2"},
        ("POST", "/queues"): {"key": "q-new", "name": "New", "team_id": world.t2.id},
        ("PUT", "/queues/{queue_id}"): {"key": "q-renamed", "name": "Renamed", "team_id": world.t2.id},
        ("POST", "/agents"): {"user_id": world.users["qa"].id, "languages": ["en"]},
        ("PATCH", "/agents/{agent_id}"): {"capacity": 99},
        ("PUT", "/me/presence"): {"presence": "online"},
        ("PUT", "/topics/{key}"): {"key": "orders", "names": {"en": "Orders"}},
        ("POST", "/topics/import"): "key,en\norders,Orders\n",
        ("POST", "/catalogue"): {"team_id": world.t2.id},
        ("POST", "/catalogue/{entry_id}/versions"): {"team_id": world.t2.id},
        ("POST", "/catalogue/versions/{version_id}/approve"): {},
        ("POST", "/catalogue/versions/{version_id}/reject"): {"note": "no"},
        ("POST", "/catalogue/{entry_id}/retire"): {},
        ("POST", "/routing/rules"): {"rules": []},
        ("POST", "/routing/models"): {"embeddings": False},
        ("POST", "/calendars"): {"key": "c", "name": "C", "time_zone": "UTC", "always_open": True},
        ("PUT", "/calendars/{key}"): {"key": "c", "name": "C", "time_zone": "UTC", "always_open": True},
        ("PUT", "/calendars/{key}/holidays/{day}"): {"day": "2026-12-25", "name": "Christmas"},
        ("POST", "/calendars/{key}/holidays/import"): "BEGIN:VCALENDAR\nEND:VCALENDAR\n",
        ("POST", "/sla/policies"): {"key": "p", "name": "P", "targets": {}},
        ("PUT", "/sla/policies/{key}"): {"key": "p", "name": "P", "targets": {}},
        ("POST", "/templates"): {"key": "t", "name": "T", "bodies": {"en": "Hi {{ customer_name }}"}},
        ("POST", "/templates/{template_id}/use"): {"case_id": case_id},
        ("POST", "/cases/{case_id}/suggestions/{set_id}/use"): {"rank": 1},
        ("PUT", "/cases/{case_id}/rating"): {"score": 5},
    }


def test_every_route_refuses_the_anonymous_and_roles_without_its_permission(
        app: FastAPI, client: TestClient, world: World, db: Session) -> None:
    case_id = customer_case(client, world)["id"]
    other_case_id = customer_case(client, world, subject="Second")["id"]
    path_values = {"case_id": case_id, "queue_id": world.queue_a.id, "market_id": world.us.id,
                   "team_id": world.t1_a.id, "agent_id": world.agents["agent_t1"].id, "token_id": 1,
                   "user_id": world.users["buyer"].id, "key": "orders", "entry_id": 1, "version_id": 1,
                   "version": 1, "notification_id": 1, "day": "2026-12-25", "override_id": 1, "feed_id": 1,
                   "escalation_id": 1, "crisis_id": 1, "token": "cal_0123456789", "conversation_id": 1,
                   "template_id": 1, "locale": "es", "set_id": 1, "external_id": "dec-1", "appeal_id": 1,
                   "dispute_id": 1, "reversal_id": "msg_rev_1", "party_id": 1, "channel": "web_form",
                   "calibration_id": 1, "evaluation_id": 1, "note_id": 1, "rule_id": 1, "issue_id": 1, "schedule_id": 1,
                   "objective_id": 1, "key_result_id": 1}
    bodies = _bodies(world, case_id, other_case_id)
    who_is = {name: Role(user.role) for name, user in world.users.items()}
    before = _dump(db)
    failures: list[str] = []
    checked = refused_roles = 0

    for prefix, router in app.state.routers:
        if prefix != "/api/v1":
            continue
        for route in router.routes:
            assert isinstance(route, APIRoute)
            permissions = _permissions(route)
            if permissions is None:
                continue
            for method in route.methods:
                url = prefix + route.path.format(**path_values)
                body = bodies.get((method, route.path))
                attempts = [("anonymous", {}, 401)] + [
                    (name, world.auth(name), 403) for name, role in who_is.items()
                    if not set(permissions) & ROLE_PERMISSIONS[role]]
                for who, headers, expected in attempts:
                    response = client.request(method, url, headers=headers | {"If-Match": "*"},
                                              json=body if method != "GET" else None)
                    checked += 1
                    refused_roles += who != "anonymous"
                    if response.status_code != expected or not response.headers.get(
                            "content-type", "").startswith("application/problem+json"):
                        failures.append(f"{method} {url} as {who}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)
    assert checked > 100 and refused_roles > 60, (checked, refused_roles)
    assert _dump(db) == before, "a refused request wrote something"


def test_unknown_or_malformed_tokens_are_401(client: TestClient, world: World) -> None:
    for header in ("Bearer td_not-a-real-token", "Bearer nonsense", "Bearer "):
        problem = assert_problem(client.get("/api/v1/cases", headers={"Authorization": header}), 401)
        assert problem["errors"][0]["field"] == "Authorization"


# ---------------------------------------------------------------- cookies and CSRF


def _sign_in_with_cookie(app: FastAPI, client: TestClient, world: World, who: str, csrf: str = "csrf-123") -> None:
    user = world.users[who]
    cookie = app.state.trustdesk.signer.dumps({"uid": user.id, "gen": user.session_generation}, salt="session")
    client.cookies.set(SESSION_COOKIE, cookie)
    client.cookies.set(CSRF_COOKIE, csrf)


BUYER_CASE = {"channel": "web_form", "market": "US", "subject": "Cookie case", "body": "Opened from the console."}


def test_cookie_writes_need_the_csrf_header(app: FastAPI, client: TestClient, world: World, db: Session) -> None:
    _sign_in_with_cookie(app, client, world, "buyer")
    counts = all_row_counts(db)
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        problem = assert_problem(client.post("/api/v1/cases", headers=headers, json=BUYER_CASE), 403)
        assert problem["errors"][0]["field"].lower() == "x-csrf-token"
    assert all_row_counts(db) == counts

    assert client.get("/api/v1/cases").status_code == 200  # reads need no token
    created = client.post("/api/v1/cases", headers={"X-CSRF-Token": "csrf-123"}, json=BUYER_CASE)
    assert created.status_code == 201, created.text
    assert fresh_case(db, created.json()["id"]).subject == "Cookie case"


def test_cookie_without_a_csrf_cookie_is_refused(app: FastAPI, client: TestClient, world: World,
                                                 db: Session) -> None:
    _sign_in_with_cookie(app, client, world, "agent_t1")
    client.cookies.delete(CSRF_COOKIE)
    created = customer_case(client, world, who="buyer")  # bearer: no CSRF needed
    counts = all_row_counts(db)
    for method, suffix, body in CASE_ROUTES:
        if method == "GET":
            continue
        response = client.request(method, f"/api/v1/cases/{created['id']}{suffix}",
                                  headers={"X-CSRF-Token": "anything", "If-Match": "*"}, json=body)
        assert_problem(response, 403)
    assert all_row_counts(db) == counts


def test_a_stale_session_cookie_is_anonymous(app: FastAPI, client: TestClient, world: World, db: Session) -> None:
    user = world.users["buyer"]
    stale = app.state.trustdesk.signer.dumps({"uid": user.id, "gen": user.session_generation + 1}, salt="session")
    client.cookies.set(SESSION_COOKIE, stale)
    assert_problem(client.get("/api/v1/cases"), 401)
    client.cookies.set(SESSION_COOKIE, "forged.value")
    assert_problem(client.get("/api/v1/cases"), 401)
