"""Linking cases (duplicate / related) and merging one case into another."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, customer_case, events_of, fresh_case, row_counts
from tests.factories.world import World
from trustdesk.cases.models import CaseLink


def _link(client: TestClient, world: World, case_id: int, other_id: int, kind: str, who: str = "lead") -> Any:
    return client.post(f"/api/v1/cases/{case_id}/links", headers=world.auth(who),
                       json={"case_id": other_id, "kind": kind})


def _merge(client: TestClient, world: World, source_id: int, target_id: int, who: str = "lead") -> Any:
    return client.post(f"/api/v1/cases/{source_id}/merge", headers=world.auth(who),
                       json={"into_case_id": target_id})


@pytest.fixture
def pair(client: TestClient, world: World) -> tuple[int, int]:
    first = customer_case(client, world, subject="Parcel late", body="My parcel 77 is late.")
    second = customer_case(client, world, subject="Parcel still late", body="Still no sign of parcel 77.")
    return first["id"], second["id"]


# ---------------------------------------------------------------- links


@pytest.mark.parametrize("kind", ["duplicate_of", "related"])
def test_a_link_is_recorded_on_both_timelines(client: TestClient, world: World, db: Session,
                                              pair: tuple[int, int], kind: str) -> None:
    first, second = pair
    response = _link(client, world, second, first, kind)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["case_id"], body["linked_case_id"], body["kind"]) == (second, first, kind)
    stored = db.scalars(select(CaseLink).where(CaseLink.id == body["id"])).one()
    assert (stored.case_id, stored.linked_case_id, stored.created_by_user_id) == (second, first,
                                                                                 world.users["lead"].id)
    on_second, on_first = events_of(db, second)[-1], events_of(db, first)[-1]
    assert (on_second.type, on_second.actor_type, on_second.data) == ("case.linked", "agent",
                                                                      {"case_id": first, "kind": kind})
    assert (on_first.type, on_first.data) == ("case.linked", {"case_id": second, "kind": kind, "inverse": True})


@pytest.mark.parametrize(("kind", "again"), [
    ("related", "same direction"), ("related", "reverse"), ("duplicate_of", "same direction"),
    ("duplicate_of", "reverse"),
])
def test_linking_twice_is_a_conflict(client: TestClient, world: World, db: Session, pair: tuple[int, int],
                                     kind: str, again: str) -> None:
    first, second = pair
    assert _link(client, world, second, first, kind).status_code == 201
    counts = row_counts(db)
    source, target = (second, first) if again == "same direction" else (first, second)
    assert_problem(_link(client, world, source, target, kind), 409, "case_id")
    assert row_counts(db) == counts


def test_one_pair_may_be_both_related_and_duplicate(client: TestClient, world: World, pair: tuple[int, int]) -> None:
    first, second = pair
    assert _link(client, world, second, first, "related").status_code == 201
    assert _link(client, world, second, first, "duplicate_of").status_code == 201


def test_bad_links_are_refused(client: TestClient, world: World, db: Session, pair: tuple[int, int]) -> None:
    first, _second = pair
    counts = row_counts(db)
    assert_problem(_link(client, world, first, first, "related"), 422, "case_id")
    assert_problem(_link(client, world, first, 999_999, "related"), 404, "case_id")
    assert_problem(_link(client, world, first, _second, "sibling"), 422, "kind")
    assert_problem(_link(client, world, first, _second, "related", who="agent_t1"), 403)
    assert row_counts(db) == counts


# ---------------------------------------------------------------- merges


def test_merge_closes_the_source_and_quotes_it_on_the_target(client: TestClient, world: World, db: Session,
                                                             pair: tuple[int, int]) -> None:
    target, source = pair
    agent = world.auth("agent_t1")
    assert client.post(f"/api/v1/cases/{source}/messages", headers=agent,
                       json={"body": "Checking with the carrier."}).status_code == 201
    assert client.post(f"/api/v1/cases/{source}/notes", headers=agent,
                       json={"body": "Carrier says lost."}).status_code == 201
    source_reference = fresh_case(db, source).reference

    response = _merge(client, world, source, target)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == target and response.json()["status"] == "open"
    merged = fresh_case(db, source)
    assert (merged.status, merged.merged_into_id, merged.closed_at is not None) == ("closed", target, True)
    changes = [(e.data["from"], e.data["to"], e.data["reason"]) for e in events_of(db, source)
               if e.type == "case.status_changed"][-2:]
    assert changes == [("open", "solved", "merged"), ("solved", "closed", "merged")]
    assert events_of(db, source)[-1].data == {"into_case_id": target}
    assert [e.type for e in events_of(db, target)[-2:]] == ["case.message_added", "case.merged"]
    assert events_of(db, target)[-1].data == {"from_case_id": source}
    link = db.scalars(select(CaseLink).where(CaseLink.case_id == source)).one()
    assert (link.linked_case_id, link.kind) == (target, "duplicate_of")

    detail = client.get(f"/api/v1/cases/{target}", headers=agent).json()
    note = detail["messages"][-1]
    assert note["visibility"] == "internal"
    assert note["body"].startswith(f"Merged from {source_reference} (Parcel still late)")
    for quoted in ("Still no sign of parcel 77.", "Checking with the carrier.", "Carrier says lost."):
        assert quoted in note["body"]
    # The customer sees the target without the internal quote, and the source as closed.
    seen = client.get(f"/api/v1/cases/{target}", headers=world.auth("buyer")).json()
    assert all("Merged from" not in m["body"] for m in seen["messages"])
    assert client.get(f"/api/v1/cases/{source}", headers=world.auth("buyer")).json()["status"] == "closed"
    assert_problem(client.post(f"/api/v1/cases/{source}/messages", headers=world.auth("buyer"),
                               json={"body": "Hello?"}), 409)


def test_merging_cases_of_different_parties_is_refused(client: TestClient, world: World, db: Session) -> None:
    mine = customer_case(client, world)
    theirs = customer_case(client, world, who="buyer2")
    counts = row_counts(db)
    assert_problem(_merge(client, world, mine["id"], theirs["id"]), 422, "into_case_id")
    assert row_counts(db) == counts
    assert fresh_case(db, mine["id"]).status == "open"


@pytest.mark.parametrize("closed", ["source", "target"])
def test_merging_closed_cases_is_refused(client: TestClient, world: World, db: Session, pair: tuple[int, int],
                                         closed: str) -> None:
    target, source = pair
    shut = source if closed == "source" else target
    for status in ("solved", "closed"):
        client.post(f"/api/v1/cases/{shut}/status", headers=world.auth("agent_t1"), json={"status": status})
    counts = row_counts(db)
    assert_problem(_merge(client, world, source, target), 409, "into_case_id")
    assert row_counts(db) == counts
    assert fresh_case(db, source).merged_into_id is None


def test_a_merged_case_cannot_be_merged_again(client: TestClient, world: World, db: Session,
                                              pair: tuple[int, int]) -> None:
    target, source = pair
    assert _merge(client, world, source, target).status_code == 200
    third = customer_case(client, world)["id"]
    assert_problem(_merge(client, world, source, third), 409)
    assert fresh_case(db, source).merged_into_id == target


def test_bad_merges_are_refused(client: TestClient, world: World, db: Session, pair: tuple[int, int]) -> None:
    target, source = pair
    counts = row_counts(db)
    assert_problem(_merge(client, world, source, source), 422, "into_case_id")
    assert_problem(_merge(client, world, source, 999_999), 404, "into_case_id")
    assert_problem(_merge(client, world, source, target, who="agent_t1"), 403)
    assert_problem(_merge(client, world, source, target, who="buyer"), 403)
    assert row_counts(db) == counts
