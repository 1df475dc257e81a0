"""The directory API: markets, vendors, teams, queues and agents (admin only), and agents' presence."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, row_counts
from tests.factories.identity import make_token, make_user
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.permissions import Role
from trustdesk.directory.models import Agent, Market

DIRECTORY_TABLES = ("markets", "vendors", "teams", "queues", "agents", "team_memberships", "users")
FRANCE = {"code": "fr", "name": "France", "time_zone": "Europe/Paris", "languages": ["fr", "en"],
          "default_language": "fr", "currency": "EUR"}


def _post(client: TestClient, world: World, path: str, body: Any, who: str = "admin") -> Any:
    return client.post(f"/api/v1{path}", headers=world.auth(who), json=body)


def _refused(client: TestClient, world: World, db: Session, path: str, body: Any, status: int, field: str | None,
             method: str = "POST", who: str = "admin") -> dict[str, Any]:
    before = row_counts(db, DIRECTORY_TABLES)
    response = client.request(method, f"/api/v1{path}", headers=world.auth(who), json=body)
    problem = assert_problem(response, status, field)
    assert row_counts(db, DIRECTORY_TABLES) == before
    return problem


# ---------------------------------------------------------------- markets


def test_admin_creates_a_market(client: TestClient, world: World, db: Session) -> None:
    response = _post(client, world, "/markets", FRANCE)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created == {"id": created["id"], "code": "FR", "name": "France", "time_zone": "Europe/Paris",
                       "languages": ["fr", "en"], "default_language": "fr", "currency": "EUR", "region": None,
                       "routing_threshold": None, "is_active": True}
    market = db.get(Market, created["id"])
    assert market is not None and market.code == "FR"
    listed = client.get("/api/v1/markets", headers=world.auth("agent_t1")).json()
    assert [m["code"] for m in listed] == ["ES", "FR", "US"]
    # Customers can now open cases there once a queue takes them; until then the market is named.
    assert_problem(client.post("/api/v1/cases", headers=world.auth("buyer"), json={
        "channel": "web_form", "market": "fr", "subject": "Bonjour", "body": "Ma commande est en retard."}),
        422, "market")


@pytest.mark.parametrize(("change", "field"), [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "Europe/Pariss"}, "time_zone"),
    ({"time_zone": "+02:00"}, "time_zone"),
    ({"default_language": "de"}, "default_language"),
    ({"languages": []}, "languages"),
    ({"languages": ["French"]}, "languages[0]"),
    ({"currency": "eur"}, "currency"),
    ({"code": "F"}, "code"),
    ({"code": "fr fr"}, "code"),
    ({"region": "eu"}, "region"),
    ({"region": "US"}, "region"),  # a market's code cannot name a region
    ({"routing_threshold": 1.5}, "routing_threshold"),
    ({"routing_threshold": "sure"}, "routing_threshold"),
])
def test_invalid_markets_are_refused(client: TestClient, world: World, db: Session, change: dict[str, Any],
                                     field: str) -> None:
    _refused(client, world, db, "/markets", FRANCE | change, 422, field)


def test_market_codes_are_unique_whatever_their_case(client: TestClient, world: World, db: Session) -> None:
    _refused(client, world, db, "/markets", FRANCE | {"code": "us"}, 409, "code")


def test_admin_updates_a_market(client: TestClient, world: World, db: Session) -> None:
    body = {"code": "US", "name": "USA", "time_zone": "America/New_York", "languages": ["en", "es"],
            "default_language": "en", "currency": "USD"}
    response = client.put(f"/api/v1/markets/{world.us.id}", headers=world.auth("admin"), json=body)
    assert response.status_code == 200, response.text
    assert response.json()["time_zone"] == "America/New_York" and response.json()["languages"] == ["en", "es"]
    _refused(client, world, db, f"/markets/{world.us.id}", body | {"default_language": "fr"}, 422,
             "default_language", method="PUT")
    _refused(client, world, db, f"/markets/{world.us.id}", body | {"code": "ES"}, 409, "code", method="PUT")
    _refused(client, world, db, "/markets/999999", body, 404, "market_id", method="PUT")


# ---------------------------------------------------------------- vendors and teams


def test_admin_creates_vendors_and_teams(client: TestClient, world: World) -> None:
    vendor = _post(client, world, "/vendors", {"code": "vendor-c", "name": "Vendor C"})
    assert vendor.status_code == 201, vendor.text
    team = _post(client, world, "/teams", {"key": "t1-c", "name": "T1 Vendor C", "tier": "t1",
                                            "vendor_id": vendor.json()["id"]})
    assert team.status_code == 201, team.text
    assert team.json() == {"id": team.json()["id"], "key": "t1-c", "name": "T1 Vendor C", "tier": "t1",
                           "vendor_id": vendor.json()["id"]}
    in_house = _post(client, world, "/teams", {"key": "trust-safety", "name": "Trust & Safety", "tier": "t2"})
    assert in_house.status_code == 201 and in_house.json()["vendor_id"] is None


@pytest.mark.parametrize("tier", ["t2", "oncall", "appeals", "internal"])
def test_only_tier_1_teams_have_a_vendor(client: TestClient, world: World, db: Session, tier: str) -> None:
    _refused(client, world, db, "/teams", {"key": "vendor-t2", "name": "X", "tier": tier,
                                           "vendor_id": world.vendor_a.id}, 422, "vendor_id")


def test_invalid_teams_and_vendors_are_refused(client: TestClient, world: World, db: Session) -> None:
    _refused(client, world, db, "/teams", {"key": "t1-x", "name": "X", "tier": "t1", "vendor_id": 999_999}, 422,
             "vendor_id")
    _refused(client, world, db, "/teams", {"key": "t2", "name": "Again", "tier": "t2"}, 409, "key")
    _refused(client, world, db, "/teams", {"key": "t9", "name": "X", "tier": "t9"}, 422, "tier")
    _refused(client, world, db, "/vendors", {"code": "vendor-a", "name": "Again"}, 409, "code")
    _refused(client, world, db, "/vendors", {"code": "", "name": "Nameless"}, 422, "code")
    # A vendor's team cannot be moved up a tier while it keeps its vendor.
    _refused(client, world, db, f"/teams/{world.t1_a.id}", {"key": "t1-a", "name": "T1 A", "tier": "t2",
                                                            "vendor_id": world.vendor_a.id}, 422, "vendor_id",
             method="PUT")


# ---------------------------------------------------------------- queues


def test_admin_creates_a_queue(client: TestClient, world: World) -> None:
    response = _post(client, world, "/queues", {
        "key": "us-sellers", "name": "US sellers", "team_id": world.t1_a.id, "market_id": world.us.id,
        "intake_channels": ["web_form", "email"], "intake_party_kinds": ["seller"], "intake_order": 50})
    assert response.status_code == 201, response.text
    queue = response.json()
    assert (queue["team_id"], queue["market_id"], queue["intake_channels"], queue["auto_assign"]) == (
        world.t1_a.id, world.us.id, ["web_form", "email"], True)
    # It takes sellers' web forms in the US from now on (it comes first in intake order).
    created = client.post("/api/v1/cases", headers=world.auth("seller"), json={
        "channel": "web_form", "market": "US", "subject": "Payout", "body": "My payout is missing."})
    assert created.status_code == 201
    detail = client.get(f"/api/v1/cases/{created.json()['id']}", headers=world.auth("agent_t1")).json()
    assert detail["queue_id"] == queue["id"]


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"team_id": 999_999}, 422, "team_id"),
    ({"team_id": 0}, 422, "team_id"),
    ({"market_id": 999_999}, 422, "market_id"),
    ({"intake_channels": ["fax"]}, 422, "intake_channels"),
    ({"intake_party_kinds": ["robot"]}, 422, "intake_party_kinds"),
    ({"intake_order": -1}, 422, "intake_order"),
    ({"key": "us-buyers"}, 409, "key"),
])
def test_invalid_queues_are_refused(client: TestClient, world: World, db: Session, change: dict[str, Any],
                                    status: int, field: str) -> None:
    body = {"key": "new-queue", "name": "New", "team_id": world.t2.id} | change
    _refused(client, world, db, "/queues", body, status, field)


# ---------------------------------------------------------------- agents


def test_admin_makes_an_agent(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    user = make_user(db, Role.AGENT_T1, now=clock.now(), email="newbie@example.test", name="Newbie")
    db.commit()
    response = _post(client, world, "/agents", {"user_id": user.id, "vendor_id": world.vendor_a.id,
                                                "languages": ["en", "es-MX"], "skills": [" returns "],
                                                "capacity": 3, "team_ids": [world.t1_a.id]})
    assert response.status_code == 201, response.text
    agent = response.json()
    assert (agent["display_name"], agent["vendor_id"], agent["languages"], agent["skills"], agent["capacity"],
            agent["presence"], agent["team_ids"], agent["open_cases"]) == (
        "Newbie", world.vendor_a.id, ["en", "es-MX"], ["returns"], 3, "offline", [world.t1_a.id], 0)

    changed = client.patch(f"/api/v1/agents/{agent['id']}", headers=world.auth("admin"),
                           json={"capacity": 8, "presence": "away"})
    assert changed.status_code == 200 and (changed.json()["capacity"], changed.json()["presence"]) == (8, "away")
    _refused(client, world, db, f"/agents/{agent['id']}", {"capacity": None}, 422, "capacity", method="PATCH")
    _refused(client, world, db, f"/agents/{agent['id']}", {"capacity": 501}, 422, "capacity", method="PATCH")
    _refused(client, world, db, "/agents/999999", {"capacity": 1}, 404, "agent_id", method="PATCH")


def test_in_house_agents_may_back_up_any_team(client: TestClient, world: World, db: Session,
                                              clock: FrozenClock) -> None:
    user = make_user(db, Role.AGENT_T2, now=clock.now(), email="backup@example.test")
    db.commit()
    response = _post(client, world, "/agents", {"user_id": user.id, "languages": ["en"],
                                                "team_ids": [world.t2.id, world.t1_a.id, world.t1_b.id]})
    assert response.status_code == 201, response.text
    assert sorted(response.json()["team_ids"]) == sorted([world.t2.id, world.t1_a.id, world.t1_b.id])


@pytest.mark.parametrize("who", ["buyer", "seller", "internal_requester"])
def test_customers_cannot_be_agents(client: TestClient, world: World, db: Session, who: str) -> None:
    problem = _refused(client, world, db, "/agents", {"user_id": world.users[who].id, "languages": ["en"]}, 422,
                       "user_id")
    assert who in problem["detail"]


def test_vendor_agents_join_only_their_vendors_teams(client: TestClient, world: World, db: Session,
                                                     clock: FrozenClock) -> None:
    user = make_user(db, Role.AGENT_T1, now=clock.now(), email="vendor-a-2@example.test")
    db.commit()
    body = {"user_id": user.id, "vendor_id": world.vendor_a.id, "languages": ["en"]}
    _refused(client, world, db, "/agents", body | {"team_ids": [world.t1_b.id]}, 422, "team_ids")
    _refused(client, world, db, "/agents", body | {"team_ids": [world.t1_a.id, world.t2.id]}, 422, "team_ids")
    # Nor may an existing vendor agent be moved into another vendor's team.
    agent_id = world.agents["agent_t1"].id
    _refused(client, world, db, f"/agents/{agent_id}", {"team_ids": [world.t1_b.id]}, 422, "team_ids",
             method="PATCH")
    assert client.get("/api/v1/agents", headers=world.auth("admin")).json()  # still readable


def test_invalid_agents_are_refused(client: TestClient, world: World, db: Session) -> None:
    _refused(client, world, db, "/agents", {"user_id": 999_999, "languages": ["en"]}, 422, "user_id")
    _refused(client, world, db, "/agents", {"user_id": world.users["agent_t1"].id, "languages": ["en"]}, 409,
             "user_id")
    _refused(client, world, db, "/agents", {"user_id": world.users["agent_t1"].id, "languages": []}, 422,
             "languages")
    _refused(client, world, db, "/agents", {"user_id": world.users["qa"].id, "languages": ["en"],
                                            "vendor_id": 999_999}, 409, "user_id")


def test_an_agent_needs_a_known_vendor(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    user = make_user(db, Role.AGENT_T1, now=clock.now(), email="orphan@example.test")
    db.commit()
    _refused(client, world, db, "/agents", {"user_id": user.id, "languages": ["en"], "vendor_id": 999_999}, 422,
             "vendor_id")
    _refused(client, world, db, "/agents", {"user_id": user.id, "languages": ["en"], "team_ids": [999_999]}, 422,
             "team_ids")


# ---------------------------------------------------------------- who may administer


ADMIN_WRITES = [
    ("POST", "/markets", FRANCE),
    ("POST", "/vendors", {"code": "vendor-z", "name": "Z"}),
    ("POST", "/teams", {"key": "t-z", "name": "Z", "tier": "t2"}),
    ("POST", "/queues", {"key": "q-z", "name": "Z", "team_id": 1}),
    ("POST", "/agents", {"user_id": 1, "languages": ["en"]}),
    ("PUT", "/markets/1", FRANCE),
    ("PUT", "/teams/1", {"key": "t-z", "name": "Z", "tier": "t2"}),
    ("PUT", "/queues/1", {"key": "q-z", "name": "Z", "team_id": 1}),
    ("PATCH", "/agents/1", {"capacity": 1}),
]


@pytest.mark.parametrize("who", ["lead", "agent_t2", "agent_t1", "qa", "buyer"])
def test_only_admins_administer_the_directory(client: TestClient, world: World, db: Session, who: str) -> None:
    for method, path, body in ADMIN_WRITES:
        problem = _refused(client, world, db, path, body, 403, None, method=method, who=who)
        assert "directory.admin" in problem["detail"]


def test_directory_reads_need_directory_read(client: TestClient, world: World) -> None:
    for path in ("/markets", "/vendors", "/teams", "/agents"):
        assert client.get(f"/api/v1{path}", headers=world.auth("qa")).status_code == 200
        assert_problem(client.get(f"/api/v1{path}", headers=world.auth("buyer")), 403)
        assert_problem(client.get(f"/api/v1{path}"), 401)


# ---------------------------------------------------------------- presence


def test_agents_set_their_own_presence(client: TestClient, world: World, db: Session) -> None:
    response = client.put("/api/v1/me/presence", headers=world.auth("agent_t2"), json={"presence": "online"})
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["presence"]) == (world.agents["agent_t2"].id, "online")
    db.expire_all()
    agent = db.get(Agent, world.agents["agent_t2"].id)
    assert agent is not None and agent.presence == "online"
    assert client.put("/api/v1/me/presence", headers=world.auth("agent_t2"),
                      json={"presence": "offline"}).json()["presence"] == "offline"


def test_bad_presence_is_refused(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    _refused(client, world, db, "/me/presence", {"presence": "busy"}, 422, "presence", method="PUT",
             who="agent_t1")
    _refused(client, world, db, "/me/presence", {"presence": "online", "agent_id": 1}, 422, "agent_id",
             method="PUT", who="agent_t1")
    _refused(client, world, db, "/me/presence", {"presence": "online"}, 403, None, method="PUT", who="buyer")
    # An agent role without an agent record has no presence to set.
    user = make_user(db, Role.AGENT_T1, now=clock.now(), email="not-yet@example.test")
    token = make_token(db, user, now=clock.now())
    db.commit()
    response = client.put("/api/v1/me/presence", headers={"Authorization": f"Bearer {token}"},
                          json={"presence": "online"})
    assert "only agents" in assert_problem(response, 403)["detail"]
