"""Next due first: cases ordered by their soonest running SLA clock, cases with none last (by id), page
by page through the keyset cursor; the default order of queue pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories.api import assert_problem, intake_case
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.cases.repository import encode_cursor
from trustdesk.core.clock import FrozenClock

ALL = ("low", "normal", "high", "urgent")
POLICY = {"key": "standard", "name": "Standard", "is_default": True, "targets": {
    p: {"first_reply": {"minutes": {"urgent": 30, "high": 60}.get(p, 120), "business": False}} for p in ALL}}


@pytest.fixture
def cases(client: TestClient, world: World, clock: FrozenClock) -> dict[str, int]:
    def case(name: str, **body: Any) -> int:
        clock.advance(minutes=1)
        return int(intake_case(client, world, queue=world.queue_t2, external_id=name, subject=name, **body)["id"])

    made = {"before": case("before")}  # opened before any policy: it has no clock
    assert client.post("/api/v1/sla/policies", headers=world.auth("admin"), json=POLICY).status_code == 201
    made |= {"normal": case("normal"), "urgent": case("urgent", priority="urgent"),
             "high": case("high", priority="high"), "waiting": case("waiting"), "normal2": case("normal2")}
    # Waiting on the customer: its clock is paused, nothing falls due.
    response = client.post(f"/api/v1/cases/{made['waiting']}/status", headers=world.auth("lead"),
                           json={"status": "pending"})
    assert response.status_code == 200, response.text
    return made


# due: urgent 09:33 (30 min from 09:03), high 09:04 + 60 = 10:04, normal 09:02 + 120 = 11:02, normal2 09:06 + 120
EXPECTED = ["urgent", "high", "normal", "normal2", "before", "waiting"]


def _page(client: TestClient, world: World, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/cases", headers=world.auth("lead"),
                          params={"queue_id": world.queue_t2.id, "sort": "due_asc"} | params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_api_lists_the_soonest_due_first_and_pages_through_the_cursor(
        client: TestClient, world: World, cases: dict[str, int]) -> None:
    names = {case_id: name for name, case_id in cases.items()}
    assert [names[c["id"]] for c in _page(client, world, limit=50)["items"]] == EXPECTED
    walked, cursor, pages = [], None, 0
    while True:
        page = _page(client, world, limit=2, **({"cursor": cursor} if cursor else {}))
        walked.append([names[c["id"]] for c in page["items"]])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None or pages > 5:
            break
    # Page 2 crosses from the last case with a due time to the first with none; page 3 pages among those.
    assert walked == [["urgent", "high"], ["normal", "normal2"], ["before", "waiting"]]


def test_a_reply_takes_a_case_down_the_list(client: TestClient, world: World, cases: dict[str, int]) -> None:
    reply = client.post(f"/api/v1/cases/{cases['urgent']}/messages", headers=world.auth("lead"),
                        json={"body": "Looking now."})
    assert reply.status_code == 201, reply.text
    names = {case_id: name for name, case_id in cases.items()}
    order = [names[c["id"]] for c in _page(client, world, limit=50)["items"]]
    assert order == ["high", "normal", "normal2", "before", "urgent", "waiting"]


def test_cursors_are_checked_for_the_sort_they_page(client: TestClient, world: World,
                                                   cases: dict[str, int]) -> None:
    nothing_due = encode_cursor(None, cases["before"])
    assert [c["id"] for c in _page(client, world, cursor=nothing_due)["items"]] == [cases["waiting"]]
    response = client.get("/api/v1/cases", headers=world.auth("lead"), params={"cursor": nothing_due})
    assert_problem(response, 422, "cursor")  # newest first pages by a time, never by nothing
    assert_problem(client.get("/api/v1/cases", headers=world.auth("lead"), params={"sort": "due"}), 422, "sort")


def test_queue_pages_show_the_soonest_due_first_by_default(client: TestClient, world: World,
                                                          cases: dict[str, int]) -> None:
    sign_in(client, "lead")
    page = client.get(f"/console/queues/{world.queue_t2.id}").text
    assert '<option value="due_asc" selected>Next due first</option>' in page
    shown = re.findall(r'class="subject"><a href="/console/cases/\d+">([^<]+)</a>', page)
    assert shown == EXPECTED
    newest = client.get(f"/console/queues/{world.queue_t2.id}?sort=created_desc").text
    assert re.findall(r'class="subject"><a href="/console/cases/\d+">([^<]+)</a>', newest) == [
        "normal2", "waiting", "high", "urgent", "normal", "before"]
