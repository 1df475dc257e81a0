"""Calendars through the API: hours checked field by field, holidays by hand and from iCalendar, due times."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories.api import assert_problem
from tests.factories.world import World

MADRID = {"key": "es-t1", "name": "Spain Tier 1", "time_zone": "Europe/Madrid",
          "weekly": {day: ["09:00-14:00", "15:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}}
ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//holidays//EN
BEGIN:VEVENT
UID:good-friday-2026@example.test
DTSTART;VALUE=DATE:20260403
DTEND;VALUE=DATE:20260404
SUMMARY:Viernes Santo
END:VEVENT
BEGIN:VEVENT
UID:easter-2026@example.test
DTSTART;VALUE=DATE:20260405
DTEND;VALUE=DATE:20260407
SUMMARY:Pascua
END:VEVENT
BEGIN:VEVENT
UID:party@example.test
DTSTART:20260410T180000Z
DTEND:20260410T200000Z
SUMMARY:Team party
END:VEVENT
END:VCALENDAR
"""


def _create(client: TestClient, world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/calendars", headers=world.auth("admin"), json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_calendar_with_holidays_answers_due_times(client: TestClient, world: World) -> None:
    created = _create(client, world, MADRID)
    assert created["weekly"]["sat"] == [] and created["weekly"]["mon"] == ["09:00-14:00", "15:00-18:00"]
    imported = client.post("/api/v1/calendars/es-t1/holidays/import", headers=world.auth("admin") | {
        "Content-Type": "text/calendar"}, content=ICS)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"created": 3, "updated": 0, "unchanged": 0,
                               "skipped": ["Team party: not an all-day event"]}
    again = client.post("/api/v1/calendars/es-t1/holidays/import", headers=world.auth("admin") | {
        "Content-Type": "text/calendar"}, content=ICS)
    assert again.json()["unchanged"] == 3 and again.json()["created"] == 0
    listed = client.get("/api/v1/calendars/es-t1/holidays", headers=world.auth("agent_t1")).json()
    assert [(h["day"], h["name"], h["source"]) for h in listed] == [
        ("2026-04-03", "Viernes Santo", "ical"), ("2026-04-05", "Pascua", "ical"), ("2026-04-06", "Pascua", "ical")]
    # Thursday 17:00 + 3 business hours: Thursday's last hour, Friday (Good Friday) and Monday (Easter
    # Monday) closed, so Tuesday 11:00 in Madrid (09:00 UTC, summer time).
    due = client.get("/api/v1/calendars/es-t1/due", headers=world.auth("agent_t1"),
                     params={"start": "2026-04-02T17:00:00+02:00", "minutes": 180}).json()
    assert due["due"] == "2026-04-07T09:00:00Z" and due["open_now"] is True
    # A short-hours day instead of a closed one changes the answer.
    short = client.put("/api/v1/calendars/es-t1/holidays/2026-04-06", headers=world.auth("admin"),
                       json={"day": "2026-04-06", "name": "Lunes de Pascua (medio día)", "hours": ["09:00-11:00"]})
    assert short.status_code == 200, short.text
    due = client.get("/api/v1/calendars/es-t1/due", headers=world.auth("agent_t1"),
                     params={"start": "2026-04-02T17:00:00+02:00", "minutes": 180}).json()
    assert due["due"] == "2026-04-06T09:00:00Z"
    assert client.delete("/api/v1/calendars/es-t1/holidays/2026-04-06", headers=world.auth("admin")).status_code == 204
    assert_problem(client.delete("/api/v1/calendars/es-t1/holidays/2026-04-06", headers=world.auth("admin")),
                   404, "day")


@pytest.mark.parametrize(("change", "field"), [
    ({"weekly": {"mon": ["9-17"]}}, "weekly.mon[0]"),
    ({"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "weekly.mon[1]"),
    ({"weekly": {"someday": ["09:00-12:00"]}}, "weekly.someday"),
    ({"weekly": {}}, "weekly"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"key": "Bad Key"}, "key"),
])
def test_bad_calendars_name_the_field(client: TestClient, world: World, change: dict[str, Any], field: str) -> None:
    assert_problem(client.post("/api/v1/calendars", headers=world.auth("admin"), json=MADRID | change), 422, field)
    assert client.get("/api/v1/calendars", headers=world.auth("admin")).json() == []


def test_twenty_four_seven_needs_no_hours_and_keys_are_unique(client: TestClient, world: World) -> None:
    _create(client, world, {"key": "oncall", "name": "Oncall", "time_zone": "UTC", "always_open": True})
    assert_problem(client.post("/api/v1/calendars", headers=world.auth("admin"), json={
        "key": "oncall", "name": "Again", "time_zone": "UTC", "always_open": True}), 409, "key")
    due = client.get("/api/v1/calendars/oncall/due", headers=world.auth("agent_t2"),
                     params={"start": "2026-03-07T23:00:00Z", "minutes": 90}).json()
    assert due["due"] == "2026-03-08T00:30:00Z"
    bad_ics = client.post("/api/v1/calendars/oncall/holidays/import", headers=world.auth("admin") | {
        "Content-Type": "text/calendar"}, content="not a calendar")
    assert_problem(bad_ics, 422, "body")


def test_who_may_read_and_change_calendars(client: TestClient, world: World) -> None:
    _create(client, world, MADRID)
    for who in ("agent_t1", "lead", "qa"):
        assert client.get("/api/v1/calendars", headers=world.auth(who)).status_code == 200
    assert_problem(client.get("/api/v1/calendars", headers=world.auth("buyer")), 403)
    for who in ("agent_t1", "lead"):
        assert_problem(client.put("/api/v1/calendars/es-t1", headers=world.auth(who), json=MADRID), 403)
    renamed = client.put("/api/v1/calendars/es-t1", headers=world.auth("admin"), json=MADRID | {"name": "Spain"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Spain"
    assert_problem(client.put("/api/v1/calendars/es-t1", headers=world.auth("admin"), json=MADRID | {"key": "x"}),
                   422, "key")
