"""Oncall schedules through the API: three layers in three time zones with a swap and an override
across Berlin's DST change, a removed shift as a gap, who is on call (API and CLI), the iCalendar
feed behind a revocable token, and who may change what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock

DAILY = "FREQ=DAILY"


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _layer(name: str, zone: str, starts_at: str, people: list[int], hours: tuple[str, str]) -> dict[str, Any]:
    return {"name": name, "time_zone": zone, "starts_at": starts_at, "handoff": DAILY, "participants": people,
            "restrictions": [{"start": hours[0], "end": hours[1]}]}


def _sun(world: World) -> dict[str, Any]:
    u = {k: world.users[k].id for k in ("oncall_sme", "agent_t2", "lead", "admin", "reviewer", "qa")}
    return {"key": "sun", "name": "Follow the sun", "team": "t2", "time_zone": "Europe/Berlin", "layers": [
        _layer("singapore", "Asia/Singapore", "2026-03-28T08:00:00+08:00", [u["oncall_sme"], u["agent_t2"]],
               ("08:00", "16:00")),
        _layer("berlin", "Europe/Berlin", "2026-03-28T09:00:00+01:00", [u["lead"], u["admin"]], ("09:00", "17:00")),
        _layer("new-york", "America/New_York", "2026-03-27T12:00:00-04:00", [u["reviewer"], u["qa"]],
               ("12:00", "20:00")),
    ]}


@pytest.fixture
def sun(client: TestClient, world: World) -> dict[str, Any]:
    response = client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=_sun(world))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _final(client: TestClient, world: World, since: datetime, until: datetime) -> dict[str, Any]:
    response = client.get("/api/v1/oncall/schedules/sun/final", headers=world.auth("agent_t1"),
                          params={"since": iso(since), "until": iso(until)})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_layers_a_swap_and_an_override_across_dst_give_the_expected_schedule(
        client: TestClient, world: World, sun: dict[str, Any]) -> None:
    u = {k: world.users[k].id for k in ("oncall_sme", "agent_t2", "lead", "admin", "reviewer", "qa")}
    swap = {"starts_at": iso(utc(3, 29)), "ends_at": iso(utc(3, 29, 10)), "giver_id": u["admin"],
            "taker_id": u["agent_t2"], "reason": "dentist"}
    assert client.post("/api/v1/oncall/schedules/sun/swaps", headers=world.auth("admin"), json=swap).status_code == 201
    override = {"starts_at": iso(utc(3, 29, 15, 30)), "ends_at": iso(utc(3, 29, 17)), "user_id": u["lead"]}
    assert client.post("/api/v1/oncall/schedules/sun/overrides", headers=world.auth("lead"),
                       json=override).status_code == 201
    final = _final(client, world, utc(3, 28), utc(3, 30))
    got = [(s["starts_at"], s["ends_at"], s["user_id"], s["source"]) for s in final["shifts"]]
    assert got == [
        (iso(utc(3, 28)), iso(utc(3, 28, 8)), u["oncall_sme"], "singapore"),
        (iso(utc(3, 28, 8)), iso(utc(3, 28, 16)), u["lead"], "berlin"),  # 09-17 CET
        (iso(utc(3, 28, 16)), iso(utc(3, 29)), u["qa"], "new-york"),  # 12-20 EDT
        (iso(utc(3, 29)), iso(utc(3, 29, 7)), u["agent_t2"], "singapore"),
        (iso(utc(3, 29, 7)), iso(utc(3, 29, 10)), u["agent_t2"], "swap"),  # Berlin's 09:00 is 07:00 UTC in CEST
        (iso(utc(3, 29, 10)), iso(utc(3, 29, 15)), u["admin"], "berlin"),
        (iso(utc(3, 29, 15, 30)), iso(utc(3, 29, 17)), u["lead"], "override"),
        (iso(utc(3, 29, 17)), iso(utc(3, 30)), u["reviewer"], "new-york"),
    ]
    # Berlin ends at 15:00 UTC in summer time, New York starts at 16:00: a gap the override half fills.
    assert final["gaps"] == [{"starts_at": iso(utc(3, 29, 15)), "ends_at": iso(utc(3, 29, 15, 30))}]
    assert final["coverage"] == round(1 - 0.5 / 48, 6)


def test_follow_the_sun_covers_a_week_and_a_removed_shift_shows_as_a_gap(client: TestClient, world: World) -> None:
    body = _sun(world)
    for layer in body["layers"]:  # from early March: the week of 9 March has New York on summer time, Berlin not
        layer["starts_at"] = "2026-03-02" + layer["starts_at"][10:]
    assert client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=body).status_code == 201
    before = _final(client, world, utc(3, 9), utc(3, 16))
    assert before["gaps"] == [] and before["coverage"] == 1.0
    removed = {"starts_at": iso(utc(3, 10, 8)), "ends_at": iso(utc(3, 10, 16)), "user_id": None,
               "reason": "Berlin team offsite"}
    response = client.post("/api/v1/oncall/schedules/sun/overrides", headers=world.auth("lead"), json=removed)
    assert response.status_code == 201, response.text
    after = _final(client, world, utc(3, 9), utc(3, 16))
    assert after["gaps"] == [{"starts_at": iso(utc(3, 10, 8)), "ends_at": iso(utc(3, 10, 16))}]
    assert after["coverage"] == round(1 - 8 / 168, 6)
    now = client.get("/api/v1/oncall/now", headers=world.auth("agent_t1"),
                     params={"team": "t2", "at": iso(utc(3, 10, 12))})
    assert now.json() == [{"schedule": "sun", "user_id": None, "name": None}]


def test_who_is_on_call_now_and_next(client: TestClient, world: World, sun: dict[str, Any],
                                     clock: FrozenClock) -> None:
    clock.set(utc(4, 7, 12))  # Berlin's day (09-17 CEST is 07-15 UTC); New York from 16:00 UTC
    now = client.get("/api/v1/oncall/now", headers=world.auth("agent_t1"), params={"team": "t2"})
    assert now.status_code == 200
    lead_or_admin = {world.users["lead"].id, world.users["admin"].id}
    [answer] = now.json()
    assert answer["schedule"] == "sun" and answer["user_id"] in lead_or_admin
    final = client.get("/api/v1/oncall/schedules/sun/final", headers=world.auth("agent_t1")).json()
    assert final["now"]["user_id"] == answer["user_id"] and final["now"]["source"] == "berlin"
    assert final["next"]["source"] == "new-york" and final["next"]["starts_at"] == iso(utc(4, 7, 16))
    assert_problem(client.get("/api/v1/oncall/now", headers=world.auth("agent_t1"), params={"team": "nope"}), 404,
                   "team")


def test_the_ical_feed_parses_matches_and_can_be_revoked(client: TestClient, world: World, sun: dict[str, Any],
                                                        clock: FrozenClock) -> None:
    clock.set(utc(3, 28))
    created = client.post("/api/v1/oncall/schedules/sun/feeds", headers=world.auth("lead"))
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    path = url.split("127.0.0.1:8000", 1)[1]
    feed = client.get(path)  # no sign-in: the token is the credential
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.content)
    events = sorted((e.decoded("dtstart"), e.decoded("dtend"), str(e.get("summary"))) for e in calendar.walk("VEVENT"))
    final = _final(client, world, utc(3, 28) - timedelta(days=14), utc(3, 28) + timedelta(days=90))
    names = {world.users[k].id: world.users[k].display_name for k in world.users}
    expected = sorted((datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"]),
                       f"On call: {names[s['user_id']]}") for s in final["shifts"])
    assert events == expected and len(events) > 100
    # Revoked, the same link answers 404; a made-up token too.
    assert client.delete(f"/api/v1/oncall/feeds/{created.json()['id']}", headers=world.auth("lead")).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get("/api/v1/oncall/feeds/cal_madeup-token-123.ics").status_code == 404


def test_a_person_gets_a_feed_of_their_own_shifts(client: TestClient, world: World, sun: dict[str, Any],
                                                  clock: FrozenClock) -> None:
    clock.set(utc(3, 28))
    created = client.post("/api/v1/oncall/me/feeds", headers=world.auth("oncall_sme"))
    assert created.status_code == 201
    calendar = Calendar.from_ical(client.get(created.json()["url"].split("127.0.0.1:8000", 1)[1]).content)
    events = list(calendar.walk("VEVENT"))
    assert events and all("Follow the sun" in str(e.get("summary")) for e in events)
    assert all(e.decoded("dtstart").astimezone(UTC).hour in (0, 23) for e in events)  # 08:00 Singapore
    # Somebody else's feed is not theirs to revoke.
    assert client.delete(f"/api/v1/oncall/feeds/{created.json()['id']}",
                         headers=world.auth("agent_t2")).status_code == 403


def test_swaps_belong_to_the_people_swapping(client: TestClient, world: World, sun: dict[str, Any]) -> None:
    u = {k: world.users[k].id for k in ("lead", "admin", "oncall_sme", "agent_t2")}
    body = {"starts_at": iso(utc(4, 1)), "ends_at": iso(utc(4, 2)), "giver_id": u["admin"], "taker_id": u["lead"]}
    assert client.post("/api/v1/oncall/schedules/sun/swaps", headers=world.auth("oncall_sme"),
                       json=body).status_code == 403  # neither of the two, and not a schedule admin
    assert client.post("/api/v1/oncall/schedules/sun/swaps", headers=world.auth("agent_t1"),
                       json=body).status_code == 403  # no oncall role at all
    mine = body | {"giver_id": u["oncall_sme"], "taker_id": u["agent_t2"]}
    assert client.post("/api/v1/oncall/schedules/sun/swaps", headers=world.auth("oncall_sme"),
                       json=mine).status_code == 201
    assert_problem(client.post("/api/v1/oncall/schedules/sun/swaps", headers=world.auth("oncall_sme"),
                               json=mine | {"taker_id": u["oncall_sme"]}), 422, "taker_id")
    assert_problem(client.post("/api/v1/oncall/schedules/sun/swaps", headers=world.auth("oncall_sme"),
                               json=mine | {"ends_at": iso(utc(3, 1))}), 422, "ends_at")


def test_only_in_house_oncall_admins_change_schedules(client: TestClient, world: World, db: Session) -> None:
    body = _sun(world)
    assert client.post("/api/v1/oncall/schedules", headers=world.auth("agent_t2"), json=body).status_code == 403
    assert client.post("/api/v1/oncall/schedules", headers=world.auth("buyer"), json=body).status_code == 403
    assert client.get("/api/v1/oncall/schedules", headers=world.auth("buyer")).status_code == 403
    assert client.get("/api/v1/oncall/schedules", headers=world.auth("agent_t1")).status_code == 200


@pytest.mark.parametrize("change, field", [
    ({"handoff": "FREQ=SOMETIMES"}, "layers[0].handoff"),
    ({"handoff": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, "layers[0].handoff"),  # would never hand off
    ({"handoff": "FREQ=DAILY;COUNT=3"}, "layers[0].handoff"),
    ({"participants": []}, "layers[0].participants"),
    ({"participants": [2**31 - 2]}, "layers[0].participants[0]"),
    ({"restrictions": [{"days": ["funday"], "start": "09:00", "end": "17:00"}]}, "layers[0].restrictions[0].days"),
    ({"time_zone": "Mars/Olympus"}, "layers[0].time_zone"),
])
def test_a_bad_layer_is_refused_naming_the_field(client: TestClient, world: World, change: dict[str, Any],
                                                 field: str) -> None:
    body = _sun(world)
    body["layers"][0] |= change
    assert_problem(client.post("/api/v1/oncall/schedules", headers=world.auth("lead"), json=body), 422, field)
    assert client.get("/api/v1/oncall/schedules/sun", headers=world.auth("lead")).status_code == 404
