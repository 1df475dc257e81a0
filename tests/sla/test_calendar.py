"""Business-time arithmetic, table-driven: split shifts, holidays, overnight shifts, and DST changes in
three markets (New York and Madrid spring forward in March, Sydney falls back in April)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trustdesk.core.errors import Invalid
from trustdesk.sla.calendar import Calendar, parse_day_hours, parse_hours

NY, MADRID, SYDNEY, JAKARTA = (ZoneInfo(z) for z in ("America/New_York", "Europe/Madrid", "Australia/Sydney",
                                                    "Asia/Jakarta"))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def cal(zone: ZoneInfo, hours: dict[str, list[str]], holidays: dict[date, list[str]] | None = None) -> Calendar:
    return Calendar(zone=zone, weekly=parse_hours(hours), holidays={
        day: parse_day_hours(spans, field="holiday") for day, spans in (holidays or {}).items()})


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


ROUND_THE_CLOCK = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SPLIT = {day: ["09:00-14:00", "15:00-18:00"] for day in WEEKDAYS}
OFFICE = {day: ["09:00-17:00"] for day in WEEKDAYS}
NIGHTS = {day: ["22:00-06:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

ADD_CASES = [
    # (why, calendar, start, business time, due (local wall time in the calendar's zone))
    ("NY: 24 h of a round-the-clock calendar across spring forward is 24 real hours",
     cal(NY, ROUND_THE_CLOCK), local(NY, 2026, 3, 7, 12), timedelta(hours=24), local(NY, 2026, 3, 8, 13)),
    ("NY: 24 h across fall back", cal(NY, ROUND_THE_CLOCK), local(NY, 2026, 10, 31, 12), timedelta(hours=24),
     local(NY, 2026, 11, 1, 11)),
    ("Madrid: split shift, Friday's last hour then Monday after the DST change",
     cal(MADRID, SPLIT), local(MADRID, 2026, 3, 27, 17), timedelta(hours=4), local(MADRID, 2026, 3, 30, 12)),
    ("Madrid: the lunch break does not count", cal(MADRID, SPLIT), local(MADRID, 2026, 3, 30, 13),
     timedelta(hours=2), local(MADRID, 2026, 3, 30, 16)),
    ("Madrid: a holiday Monday moves it to Tuesday",
     cal(MADRID, SPLIT, {date(2026, 3, 30): []}), local(MADRID, 2026, 3, 27, 17), timedelta(hours=4),
     local(MADRID, 2026, 3, 31, 12)),
    ("Madrid: a holiday with short hours (10:00-12:00)",
     cal(MADRID, SPLIT, {date(2026, 3, 30): ["10:00-12:00"]}), local(MADRID, 2026, 3, 27, 17),
     timedelta(hours=4), local(MADRID, 2026, 3, 31, 10)),
    ("Madrid: starting outside hours starts at the next opening", cal(MADRID, SPLIT),
     local(MADRID, 2026, 3, 28, 10), timedelta(minutes=30), local(MADRID, 2026, 3, 30, 9, 30)),
    ("Sydney: the overnight shift is nine hours on the fall-back night",
     cal(SYDNEY, NIGHTS), local(SYDNEY, 2026, 4, 4, 22), timedelta(hours=8), local(SYDNEY, 2026, 4, 5, 5)),
    ("Sydney: ... and eight on an ordinary night (due at the shift's end)", cal(SYDNEY, NIGHTS),
     local(SYDNEY, 2026, 4, 11, 22), timedelta(hours=8), local(SYDNEY, 2026, 4, 12, 6)),
    ("Sydney: one more minute waits for the next night", cal(SYDNEY, NIGHTS), local(SYDNEY, 2026, 4, 11, 22),
     timedelta(hours=8, minutes=1), local(SYDNEY, 2026, 4, 12, 22, 1)),
    ("Jakarta: an overnight shift crosses midnight", cal(JAKARTA, NIGHTS), local(JAKARTA, 2026, 3, 2, 23),
     timedelta(hours=2), local(JAKARTA, 2026, 3, 3, 1)),
    ("NY: office hours over a weekend", cal(NY, OFFICE), local(NY, 2026, 3, 6, 16), timedelta(hours=2),
     local(NY, 2026, 3, 9, 10)),
    ("zero business time at a closed moment is the next opening", cal(NY, OFFICE), local(NY, 2026, 3, 7, 12),
     timedelta(0), local(NY, 2026, 3, 9, 9)),
]


@pytest.mark.parametrize(("why", "calendar", "start", "duration", "due"), ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_add_business_time(why: str, calendar: Calendar, start: datetime, duration: timedelta,
                           due: datetime) -> None:
    got = calendar.add(start, duration)
    assert got == due, (why, got.astimezone(calendar.zone))
    assert calendar.between(start, got) == duration


BETWEEN_CASES = [
    ("office hours Friday 16:00 to Monday 10:00", cal(NY, OFFICE), local(NY, 2026, 3, 6, 16),
     local(NY, 2026, 3, 9, 10), timedelta(hours=2)),
    ("spring-forward Sunday in a round-the-clock calendar is 23 hours", cal(NY, ROUND_THE_CLOCK),
     local(NY, 2026, 3, 8, 0), local(NY, 2026, 3, 9, 0), timedelta(hours=23)),
    ("fall-back Sunday is 25 hours", cal(MADRID, ROUND_THE_CLOCK), local(MADRID, 2026, 10, 25, 0),
     local(MADRID, 2026, 10, 26, 0), timedelta(hours=25)),
    ("a weekend pause in office hours counts nothing", cal(MADRID, SPLIT), local(MADRID, 2026, 3, 28, 8),
     local(MADRID, 2026, 3, 30, 9), timedelta(0)),
    ("end before start is zero", cal(NY, OFFICE), local(NY, 2026, 3, 9, 12), local(NY, 2026, 3, 9, 10),
     timedelta(0)),
]


@pytest.mark.parametrize(("why", "calendar", "start", "end", "expected"), BETWEEN_CASES,
                         ids=[c[0] for c in BETWEEN_CASES])
def test_business_time_between(why: str, calendar: Calendar, start: datetime, end: datetime,
                               expected: timedelta) -> None:
    assert calendar.between(start, end) == expected, why


def test_spans_in_a_dst_gap_are_empty_and_never_overlap() -> None:
    # New York jumps from 02:00 to 03:00 on 8 March 2026.
    gappy = cal(NY, {"sun": ["01:00-02:30", "03:00-05:00"]})
    sunday = local(NY, 2026, 3, 8, 0)
    assert gappy.between(sunday, local(NY, 2026, 3, 8, 6)) == timedelta(hours=3)  # 01:00-02:00 and 03:00-05:00
    assert gappy.add(sunday, timedelta(hours=3)) == local(NY, 2026, 3, 8, 5)
    assert cal(NY, {"sun": ["02:00-02:30"]}).intervals_on(sunday.date()) == []


def test_always_open_is_wall_clock_free() -> None:
    always = Calendar(zone=NY, always_open=True)
    start = local(NY, 2026, 3, 8, 1)
    assert always.add(start, timedelta(hours=2)) == local(NY, 2026, 3, 8, 4)  # 02:00-03:00 does not exist
    assert always.is_open(start) and always.next_open(start) == start


def test_open_and_next_open() -> None:
    office = cal(NY, OFFICE)
    assert office.is_open(local(NY, 2026, 3, 9, 9)) and not office.is_open(local(NY, 2026, 3, 9, 17))
    assert office.next_open(local(NY, 2026, 3, 6, 17, 30)) == local(NY, 2026, 3, 9, 9)
    never = Calendar(zone=NY)
    with pytest.raises(Invalid):
        never.add(local(NY, 2026, 3, 9, 9), timedelta(minutes=1))


@pytest.mark.parametrize(("hours", "field"), [
    ({"mon": ["25:00-26:00"]}, "weekly.mon[0]"),
    ({"mon": ["9-17"]}, "weekly.mon[0]"),
    ({"mon": ["09:00-12:00", "11:00-13:00"]}, "weekly.mon[1]"),
    ({"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}, "weekly.mon[0]"),
    ({"funday": ["09:00-10:00"]}, "weekly.funday"),
    ({"mon": ["09:00-12:60"]}, "weekly.mon[0]"),
])
def test_bad_hours_name_the_field(hours: dict[str, list[str]], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_hours(hours)
    assert caught.value.field == field


def test_overnight_shifts_split_at_midnight() -> None:
    week = parse_hours({"sun": ["22:00-06:00"], "mon": ["09:00-12:00"]})
    assert week[6] == ((22 * 60, 24 * 60),) and week[0] == ((0, 6 * 60), (9 * 60, 12 * 60))
