"""The OKR API over HTTP: set an objective with key results, read its live progress (the same figures as the
metrics), change it and its key results, archive it; each bad field a 422 naming it; denials for the anonymous,
roles without the permission and a vendor's lead. The seeded history is ``tests.insights.history``: in March
so far (judged Monday 16 March 09:00), CSAT 3 of 4 and a first reply median of 120 minutes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.directory import make_agent
from tests.factories.identity import make_token, make_user
from tests.factories.world import World
from tests.insights.history import NOW, History, history
from trustdesk.core.clock import FrozenClock
from trustdesk.core.permissions import Role
from trustdesk.insights.models import KeyResult, Objective

__all__ = ["history"]  # the fixture

API = "/api/v1/okrs"
MARCH = {"period_start": "2026-03-01", "period_end": "2026-03-31"}


def body(**overrides: Any) -> dict[str, Any]:
    return {"title": "Buyers are happier", "description": "Spring push", **MARCH, "key_results": [
        {"title": "CSAT reaches 90%", "metric": "csat", "target": 0.9, "baseline": 0.5},
        {"title": "Answer within an hour", "metric": "first_reply_median", "direction": "decrease", "target": 60,
         "baseline": 240, "filters": {"market": "us"}},
    ]} | overrides


@pytest.fixture
def seeded(db: Session, history: History, clock: FrozenClock) -> History:
    db.commit()
    clock.set(NOW)
    return history


def create(client: TestClient, world: World, **overrides: Any) -> dict[str, Any]:
    made = client.post(API, headers=world.auth("lead"), json=body(**overrides))
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def test_set_an_objective_and_read_its_progress_live(client: TestClient, world: World, seeded: History) -> None:
    made = client.post(API, headers=world.auth("lead"), json=body(owner_user_id=world.users["lead"].id))
    assert made.status_code == 201, made.text
    created = made.json()
    assert made.headers["location"] == f"{API}/{created['id']}" and made.headers["etag"]
    csat, reply = created["key_results"]
    # CSAT 3 of 4 = 0.75: (0.75 - 0.5) / (0.9 - 0.5) = 0.625 of the way, with 369 / 744 of March gone.
    assert (csat["current"], csat["numerator"], csat["denominator"]) == (0.75, 3, 4)
    assert csat["progress"] == {"status": "on_track", "status_label": "On track", "progress": 0.625,
                                "expected": round(369 / 744, 6)}
    assert csat["metric_label"] == "CSAT" and csat["unit"] == "ratio" and csat["direction"] == "at_least"
    assert csat["current_text"] == "75.0%" and csat["filter_text"] == "all cases"
    # US first replies 60, 1080, 3900, 20, 180: median 180; (180 - 240) / (60 - 240) = 1/3.
    assert reply["current"] == 180 and reply["direction"] == "at_most" and reply["filters"] == {"market": "US"}
    assert reply["progress"]["progress"] == pytest.approx(1 / 3, abs=1e-6)
    assert reply["progress"]["status"] == "at_risk"  # 0.333 against 0.496
    assert created["progress"]["progress"] == pytest.approx((0.625 + 1 / 3) / 2, abs=1e-6)
    assert created["owner_name"] == world.users["lead"].display_name
    assert created["url"] == f"/console/insights/okrs#objective-{created['id']}"

    listing = client.get(API, headers=world.auth("qa"))  # insights.read is enough to read
    assert listing.status_code == 200, listing.text
    assert listing.json()["as_of"].startswith("2026-03-16T09:00")
    assert [o["id"] for o in listing.json()["items"]] == [created["id"]]
    assert listing.json()["items"][0]["key_results"] == created["key_results"]
    one = client.get(f"{API}/{created['id']}", headers=world.auth("qa"))
    assert one.status_code == 200 and one.json() == created
    assert_problem(client.get(f"{API}/999999", headers=world.auth("qa")), 404, "objective_id")


def test_change_an_objective_and_its_key_results_then_archive_it(client: TestClient, db: Session, world: World,
                                                                 seeded: History, clock: FrozenClock) -> None:
    created = create(client, world)
    url = f"{API}/{created['id']}"
    csat_id, reply_id = (k["id"] for k in created["key_results"])
    lead = world.auth("lead")

    patched = client.patch(url, headers=lead, json={"title": "Buyers are much happier",
                                                    "period_end": "2026-04-30"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "Buyers are much happier" and patched.json()["period_end"] == "2026-04-30"
    # March 1 to April 30 is 61 days, 15 days 9 hours gone.
    assert patched.json()["progress"]["expected"] == round(369 / (61 * 24), 6)

    changed = client.patch(f"{url}/key-results/{csat_id}", headers=lead, json={"target": 0.8, "baseline": 0.7})
    assert changed.status_code == 200, changed.text
    assert changed.json()["progress"]["progress"] == pytest.approx(0.5)  # (0.75 - 0.7) / (0.8 - 0.7)
    spain = client.patch(f"{url}/key-results/{csat_id}", headers=lead,
                         json={"filters": {"market": "ES"}, "baseline": None})
    assert spain.status_code == 200 and spain.json()["filters"] == {"market": "ES"}
    assert spain.json()["current"] == 1.0 and spain.json()["progress"]["status"] == "met"

    added = client.post(f"{url}/key-results", headers=lead, json={"title": "Fewer reopens", "metric": "reopen_rate",
                                                                  "target": 0.05})
    assert added.status_code == 201, added.text
    assert added.json()["position"] == 2 and added.json()["direction"] == "at_most"
    assert added.headers["location"] == f"{url}/key-results/{added.json()['id']}"
    assert client.delete(f"{url}/key-results/{reply_id}", headers=lead).status_code == 204
    assert_problem(client.delete(f"{url}/key-results/{reply_id}", headers=lead), 404, "key_result_id")
    titles = [k["title"] for k in client.get(url, headers=lead).json()["key_results"]]
    assert titles == ["CSAT reaches 90%", "Fewer reopens"]

    # A stale If-Match is refused; the current one is taken.
    current = client.get(url, headers=lead).headers["etag"]
    clock.advance(minutes=5)
    assert client.patch(url, headers=lead | {"If-Match": current}, json={"description": "Q2"}).status_code == 200
    assert_problem(client.patch(url, headers=lead | {"If-Match": current}, json={"description": "Q3"}), 412,
                   "If-Match")

    archived = client.post(f"{url}/archive", headers=lead)
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert client.get(API, headers=lead).json()["items"] == []
    assert [o["id"] for o in client.get(API, headers=lead, params={"include_archived": True}).json()["items"]] == [
        created["id"]]
    assert_problem(client.patch(url, headers=lead, json={"title": "Again"}), 409, "archived")
    assert_problem(client.post(f"{url}/key-results", headers=lead, json={
        "title": "x", "metric": "csat", "target": 0.9}), 409, "archived")
    restored = client.patch(url, headers=lead, json={"archived": False})
    assert restored.status_code == 200 and restored.json()["archived"] is False
    db.expire_all()
    assert db.get(Objective, created["id"]).description == "Q2"  # type: ignore[union-attr]


BAD: list[tuple[dict[str, Any], str]] = [
    (body(key_results=[{"title": "x", "metric": "speed", "target": 1}]), "key_results[0].metric"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": 0.9, "filters": {"market": "ZZ"}}]),
     "key_results[0].filters.market"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": 0.9, "filters": {"team": 999999}}]),
     "key_results[0].filters.team"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": 0.9, "filters": {"agent": 1}}]),
     "key_results[0].filters.agent"),
    (body(key_results=[{"title": "x", "metric": "deflection_rate", "target": 0.5, "filters": {"channel": "api"}}]),
     "key_results[0].filters.channel"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": 1.2}]), "key_results[0].target"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": "lots"}]), "key_results[0].target"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": 0.8, "baseline": 0.9}]),
     "key_results[0].baseline"),
    (body(key_results=[{"title": "x", "metric": "csat", "target": 0.8, "direction": "up"}]),
     "key_results[0].direction"),
    (body(key_results=[{"title": "", "metric": "csat", "target": 0.8}]), "key_results[0].title"),
    (body(key_results=[{"metric": "csat", "target": 0.8}]), "key_results[0].title"),
    (body(period_start="2026-03-31", period_end="2026-03-01"), "period_end"),
    (body(period_end="2027-06-30"), "period_end"),
    (body(period_start="March"), "period_start"),
    (body(title=" "), "title"),
    (body(owner_user_id=0), "owner_user_id"),
    (body(colour="red"), "colour"),
]


@pytest.mark.parametrize(("sent", "field"), BAD)
def test_bad_input_is_a_422_naming_the_field(client: TestClient, db: Session, world: World, sent: dict[str, Any],
                                             field: str) -> None:
    assert_problem(client.post(API, headers=world.auth("lead"), json=sent), 422, field)
    assert db.query(Objective).count() == 0 and db.query(KeyResult).count() == 0


def test_bad_changes_are_422s_naming_the_field(client: TestClient, world: World, seeded: History) -> None:
    created = create(client, world)
    url, lead = f"{API}/{created['id']}", world.auth("lead")
    kr_url = f"{url}/key-results/{created['key_results'][0]['id']}"
    for path, sent, field in (
            (url, {"period_end": "2026-02-01"}, "period_end"),
            (url, {"owner_user_id": world.users["buyer"].id}, "owner_user_id"),
            (url, {"title": None}, "title"),
            (kr_url, {"metric": "deflection_rate", "filters": {"team": world.t2.id}}, "filters.team"),
            (kr_url, {"target": None}, "target"),
            (kr_url, {"target": 7}, "target"),
            (kr_url, {"position": -1}, "position"),
            (f"{url}/key-results/999999", {"target": 0.5}, None)):
        response = client.patch(path, headers=lead, json=sent)
        assert_problem(response, 404 if field is None else 422, field or "key_result_id")
    other = create(client, world, title="Another")
    assert_problem(client.patch(f"{API}/{other['id']}/key-results/{created['key_results'][0]['id']}", headers=lead,
                                json={"target": 0.5}), 404, "key_result_id")
    assert client.get(url, headers=lead).json() == created  # nothing changed


def test_reads_need_insights_read_and_writes_insights_admin_in_house(client: TestClient, db: Session, world: World,
                                                                     clock: FrozenClock) -> None:
    created = create(client, world)
    url = f"{API}/{created['id']}"
    kr_url = f"{url}/key-results/{created['key_results'][0]['id']}"
    vendor_lead = make_user(db, Role.LEAD, now=clock.now(), email="vendor.lead@example.test", name="Vendor Lead")
    make_agent(db, vendor_lead, now=clock.now(), teams=[world.t1_a], vendor=world.vendor_a)
    vendor = {"Authorization": f"Bearer {make_token(db, vendor_lead, now=clock.now())}"}
    db.commit()
    writes = [("POST", API, body()), ("PATCH", url, {"title": "x"}), ("POST", f"{url}/archive", None),
              ("POST", f"{url}/key-results", {"title": "x", "metric": "csat", "target": 0.9}),
              ("PATCH", kr_url, {"target": 0.5}), ("DELETE", kr_url, None)]
    reads = [("GET", API, None), ("GET", url, None)]
    for method, path, sent in reads + writes:
        assert_problem(client.request(method, path, json=sent), 401)
        assert_problem(client.request(method, path, headers=vendor, json=sent), 403)  # a vendor's lead
        for who in ("agent_t1", "agent_t2", "buyer"):
            assert_problem(client.request(method, path, headers=world.auth(who), json=sent), 403)
    for method, path, sent in writes:
        assert_problem(client.request(method, path, headers=world.auth("qa"), json=sent), 403)  # read only
    assert client.get(url, headers=world.auth("qa")).json() == created


def test_the_list_does_not_grow_queries_with_objectives(client: TestClient, connection: Connection, world: World,
                                                        seeded: History) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    one_kr = {"key_results": [{"title": "CSAT", "metric": "csat", "target": 0.9}],
              "owner_user_id": world.users["lead"].id}
    create(client, world, **one_kr)
    client.get(API, headers=world.auth("qa"))  # the first request also records the token's use
    event.listen(connection, "before_cursor_execute", count)
    try:
        assert len(client.get(API, headers=world.auth("qa")).json()["items"]) == 1
        first = len(statements)
        for n in range(3):
            create(client, world, title=f"Objective {n}", **one_kr)
        statements.clear()
        assert len(client.get(API, headers=world.auth("qa")).json()["items"]) == 4
    finally:
        event.remove(connection, "before_cursor_execute", count)
    # Each key result costs its metric's statements (the facts at the period's ends, the day counts of its
    # whole days): the same for each, and none per objective, owner or key result row.
    grown = len(statements) - first
    assert grown % 3 == 0 and 1 <= grown // 3 <= 2, statements[first:]
