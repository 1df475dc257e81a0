from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories.world import World


def test_health_and_me(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    me = client.get("/api/v1/me", headers=world.auth("agent_t1")).json()
    assert me["role"] == "agent_t1" and me["vendor_id"] == world.vendor_a.id


def test_customer_opens_case_and_agent_is_assigned(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/cases", headers=world.auth("buyer"), json={
        "channel": "web_form", "market": "US", "subject": "Late parcel", "body": "My parcel is a week late."})
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    seen = client.get(f"/api/v1/cases/{case_id}", headers=world.auth("agent_t1")).json()
    assert "assignee_id" in seen, seen
    assert seen["assignee_id"] == world.agents["agent_t1"].id
    assert seen["status"] == "open"
