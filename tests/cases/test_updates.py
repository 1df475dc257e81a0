"""Field updates: optimistic concurrency with ETag / If-Match, normalised tags, validated custom fields."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, customer_case, events_of, fresh_case, row_counts
from tests.factories.world import World


@pytest.fixture
def case(client: TestClient, world: World) -> dict[str, Any]:
    return customer_case(client, world)


def _etag(client: TestClient, world: World, case_id: int, who: str = "agent_t1") -> str:
    response = client.get(f"/api/v1/cases/{case_id}", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def _patch(client: TestClient, world: World, case_id: int, body: dict[str, Any], if_match: str | None,
           who: str = "agent_t1") -> Any:
    headers = world.auth(who) | ({"If-Match": if_match} if if_match is not None else {})
    return client.patch(f"/api/v1/cases/{case_id}", headers=headers, json=body)


def _snapshot(db: Session, case_id: int) -> tuple[Any, ...]:
    case = fresh_case(db, case_id)
    return (case.subject, case.priority, case.topic, list(case.tags), dict(case.custom_fields), case.version,
            case.updated_at)


def test_get_returns_the_version_as_etag(client: TestClient, world: World, db: Session,
                                         case: dict[str, Any]) -> None:
    response = client.get(f"/api/v1/cases/{case['id']}", headers=world.auth("agent_t1"))
    version = fresh_case(db, case["id"]).version
    assert response.headers["etag"] == f'"{version}"'
    assert response.json()["version"] == version
    # Customers cannot edit fields, so they get no ETag to edit with.
    assert "etag" not in client.get(f"/api/v1/cases/{case['id']}", headers=world.auth("buyer")).headers


def test_patch_without_if_match_is_428_and_changes_nothing(client: TestClient, world: World, db: Session,
                                                           case: dict[str, Any]) -> None:
    before, counts = _snapshot(db, case["id"]), row_counts(db)
    assert_problem(_patch(client, world, case["id"], {"subject": "Changed"}, None), 428, "If-Match")
    assert _snapshot(db, case["id"]) == before
    assert row_counts(db) == counts


@pytest.mark.parametrize("stale", ['"0"', '"999"', "garbage", 'W/"0"'])
def test_stale_if_match_is_412_and_changes_nothing(client: TestClient, world: World, db: Session,
                                                   case: dict[str, Any], stale: str) -> None:
    before, counts = _snapshot(db, case["id"]), row_counts(db)
    problem = assert_problem(_patch(client, world, case["id"], {"subject": "Changed", "priority": "high"}, stale),
                             412, "If-Match")
    assert problem["current_version"] == before[5]
    assert _snapshot(db, case["id"]) == before
    assert row_counts(db) == counts


def test_a_lost_update_is_refused(client: TestClient, world: World, db: Session, case: dict[str, Any]) -> None:
    """Two agents read version n; the first write wins, the second must reload."""
    etag = _etag(client, world, case["id"])
    first = _patch(client, world, case["id"], {"priority": "high"}, etag)
    assert first.status_code == 200, first.text
    second = _patch(client, world, case["id"], {"priority": "low"}, etag, who="agent_t2")
    assert_problem(second, 412, "If-Match")
    assert fresh_case(db, case["id"]).priority == "high"


def test_fresh_if_match_applies_the_change_and_records_it(client: TestClient, world: World, db: Session,
                                                          case: dict[str, Any]) -> None:
    etag = _etag(client, world, case["id"])
    old_version = fresh_case(db, case["id"]).version
    response = _patch(client, world, case["id"], {"subject": "  Parcel lost  ", "priority": "urgent",
                                                  "topic": "shipping"}, etag)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["subject"], body["priority"], body["topic"]) == ("Parcel lost", "urgent", "shipping")
    assert response.headers["etag"] == f'"{old_version + 1}"' != etag
    assert body["version"] == old_version + 1
    stored = fresh_case(db, case["id"])
    assert (stored.subject, stored.priority, stored.topic, stored.version) == ("Parcel lost", "urgent", "shipping",
                                                                               old_version + 1)
    updated = [e for e in events_of(db, case["id"]) if e.type == "case.updated"]
    assert len(updated) == 1
    assert (updated[0].actor_type, updated[0].actor_id) == ("agent", world.users["agent_t1"].id)
    assert updated[0].data == {"changes": {
        "subject": {"from": "Where is my order?", "to": "Parcel lost"},
        "priority": {"from": "normal", "to": "urgent"},
        "topic": {"from": None, "to": "shipping"},
    }}
    # The new ETag works for the next change; the old one no longer does.
    assert _patch(client, world, case["id"], {"priority": "low"}, response.headers["etag"]).status_code == 200
    assert _patch(client, world, case["id"], {"priority": "high"}, etag).status_code == 412


@pytest.mark.parametrize("form", ["weak", "star", "list"])
def test_if_match_accepts_weak_star_and_lists(client: TestClient, world: World, case: dict[str, Any],
                                              form: str) -> None:
    etag = _etag(client, world, case["id"])
    header = {"weak": f"W/{etag}", "star": "*", "list": f'"999", {etag}'}[form]
    assert _patch(client, world, case["id"], {"priority": "high"}, header).status_code == 200


def test_a_patch_that_changes_nothing_records_nothing(client: TestClient, world: World, db: Session,
                                                      case: dict[str, Any]) -> None:
    etag = _etag(client, world, case["id"])
    response = _patch(client, world, case["id"], {"subject": "Where is my order?", "priority": "normal"}, etag)
    assert response.status_code == 200
    assert response.headers["etag"] == etag
    assert not [e for e in events_of(db, case["id"]) if e.type == "case.updated"]


def test_tags_are_normalised(client: TestClient, world: World, db: Session, case: dict[str, Any]) -> None:
    etag = _etag(client, world, case["id"])
    response = _patch(client, world, case["id"], {"tags": [" VIP ", "Refund:Partial", "vip", "order.late"]}, etag)
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["vip", "refund:partial", "order.late"]
    assert fresh_case(db, case["id"]).tags == ["vip", "refund:partial", "order.late"]
    event = [e for e in events_of(db, case["id"]) if e.type == "case.updated"][-1]
    assert event.data["changes"]["tags"] == {"from": [], "to": ["vip", "refund:partial", "order.late"]}


@pytest.mark.parametrize(("body", "field"), [
    ({"tags": ["two words"]}, "tags"),
    ({"tags": ["-leading-dash"]}, "tags"),
    ({"tags": ["x" * 65]}, "tags"),
    ({"tags": [f"t{i}" for i in range(31)]}, "tags"),
    ({"custom_fields": {"1starts_with_digit": 1}}, "custom_fields"),
    ({"custom_fields": {"has-dash": 1}}, "custom_fields"),
    ({"custom_fields": {"nested": {"a": 1}}}, "custom_fields"),
    ({"custom_fields": {"list_of_objects": [{"a": 1}]}}, "custom_fields"),
    ({"custom_fields": {"big": "x" * 9000}}, "custom_fields"),
    ({"subject": None}, "subject"),
    ({"priority": None}, "priority"),
    ({"priority": "critical"}, "priority"),
    ({"subject": ""}, "subject"),
    ({"status": "solved"}, "status"),
    ({"assignee_id": 1}, "assignee_id"),
])
def test_invalid_changes_are_refused_and_change_nothing(client: TestClient, world: World, db: Session,
                                                        case: dict[str, Any], body: dict[str, Any],
                                                        field: str) -> None:
    etag = _etag(client, world, case["id"])
    before, counts = _snapshot(db, case["id"]), row_counts(db)
    assert_problem(_patch(client, world, case["id"], body, etag), 422, field)
    assert _snapshot(db, case["id"]) == before
    assert row_counts(db) == counts


def test_custom_fields_are_stored_as_given(client: TestClient, world: World, db: Session,
                                           case: dict[str, Any]) -> None:
    fields = {"order_id": "A-1", "amount": 12.5, "paid": True, "items": ["sku1", "sku2"], "note": None}
    response = _patch(client, world, case["id"], {"custom_fields": fields}, _etag(client, world, case["id"]))
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"] == fields
    assert fresh_case(db, case["id"]).custom_fields == fields


def test_closed_cases_cannot_be_edited(client: TestClient, world: World, db: Session, case: dict[str, Any]) -> None:
    for status in ("solved", "closed"):
        response = client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("agent_t1"),
                               json={"status": status})
        assert response.status_code == 200, response.text
    before = _snapshot(db, case["id"])
    assert_problem(_patch(client, world, case["id"], {"priority": "high"}, _etag(client, world, case["id"])),
                   409, "status")
    assert _snapshot(db, case["id"]) == before


@pytest.mark.parametrize("who", ["buyer", "qa"])
def test_roles_without_update_permission_cannot_patch(client: TestClient, world: World, db: Session,
                                                      case: dict[str, Any], who: str) -> None:
    before = _snapshot(db, case["id"])
    assert_problem(_patch(client, world, case["id"], {"subject": "Mine now"}, "*", who=who), 403)
    assert _snapshot(db, case["id"]) == before
