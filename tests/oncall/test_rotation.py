"""Oncall rotation arithmetic, hand-computed: handoffs across DST changes in London, New York, Berlin and
Singapore (US clocks go forward on 2026-03-08 at 07:00 UTC, European ones on 2026-03-29 at 01:00 UTC,
US clocks go back on 2026-11-01 at 06:00 UTC), follow-the-sun coverage, precedence of layers, swaps and
overrides, fairness, lookups at boundaries and the iCal feed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from trustdesk.core.errors import Invalid
from trustdesk.oncall.rotation import (
    Layer,
    Override,
    Restriction,
    Shift,
    Swap,
    coverage,
    fairness,
    gaps,
    ical_feed,
    layer_shifts,
    load,
    next_shift,
    oncall_at,
    resolve,
)

LONDON, BERLIN, NEW_YORK, SINGAPORE, UTC_ZONE = (ZoneInfo(z) for z in (
    "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Singapore", "UTC"))
EVERY_DAY = frozenset(range(7))
MONDAY_0900 = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"

Row = tuple[datetime, datetime, str, str]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def rows(shifts: list[Shift]) -> list[Row]:
    return [(s.starts_at, s.ends_at, s.who, s.source) for s in shifts]


def daily(name: str, zone: ZoneInfo, starts_at: datetime, participants: tuple[str, ...], hours: tuple[int, int],
          **extra: Any) -> Layer:
    """A daily rotation handing off at starts_at's wall time, on call ``hours`` (local) every day."""
    return Layer(name=name, zone=zone, starts_at=starts_at, handoff="FREQ=DAILY", participants=participants,
                 restrictions=(Restriction(EVERY_DAY, time(hours[0]), time(hours[1])),), **extra)


# ---------------------------------------------------------------- 1. weekly handoffs across DST

LONDON_WEEKLY = Layer(name="primary", zone=LONDON, starts_at=local(LONDON, 2026, 3, 16, 9), handoff=MONDAY_0900,
                      participants=("ana", "ben", "cem"))


@pytest.mark.parametrize(("why", "start", "end", "expected"), [
    ("09:00 GMT is 09:00 UTC, 09:00 BST (from 2026-03-29) is 08:00 UTC; the fourth week wraps to ana",
     utc(2026, 3, 16), utc(2026, 4, 13), [
         (utc(2026, 3, 16, 9), utc(2026, 3, 23, 9), "ana", "primary"),
         (utc(2026, 3, 23, 9), utc(2026, 3, 30, 8), "ben", "primary"),  # 167 hours: the clocks went forward
         (utc(2026, 3, 30, 8), utc(2026, 4, 6, 8), "cem", "primary"),
         (utc(2026, 4, 6, 8), utc(2026, 4, 13), "ana", "primary")]),
    ("a window inside a shift is clipped to it", utc(2026, 3, 25, 12), utc(2026, 3, 31),
     [(utc(2026, 3, 25, 12), utc(2026, 3, 30, 8), "ben", "primary"),
      (utc(2026, 3, 30, 8), utc(2026, 3, 31), "cem", "primary")]),
    ("52 handoffs later (52 % 3 = 1) it is ben's turn, back on GMT", utc(2027, 3, 15), utc(2027, 3, 22),
     [(utc(2027, 3, 15), utc(2027, 3, 15, 9), "ana", "primary"),
      (utc(2027, 3, 15, 9), utc(2027, 3, 22), "ben", "primary")]),
    ("nothing before the rotation starts", utc(2026, 3, 1), utc(2026, 3, 16, 9), []),
])
def test_weekly_handoff_stays_at_0900_london_time(why: str, start: datetime, end: datetime,
                                                  expected: list[Row]) -> None:
    assert rows(layer_shifts(LONDON_WEEKLY, start, end)) == expected, why


@pytest.mark.parametrize("handoff", [
    "FREQ=HOURLY;INTERVAL=5;BYDAY=MO,WE,FR",
    "FREQ=DAILY;INTERVAL=3;BYHOUR=7,19",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
    "FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9",  # not weekly-periodic: counted from starts_at
])
def test_far_future_turns_match_counting_every_handoff(handoff: str) -> None:
    starts_at, start, end = utc(2024, 1, 3, 10, 17), utc(2026, 5, 4), utc(2026, 6, 18)
    people = tuple("abcdefg")
    layer = Layer(name="l", zone=UTC_ZONE, starts_at=starts_at, handoff=handoff, participants=people)
    walls = [starts_at.replace(tzinfo=None)] + [
        wall for wall in rrulestr(handoff, dtstart=starts_at.replace(tzinfo=None)).between(
            starts_at.replace(tzinfo=None), end.replace(tzinfo=None), inc=False)]
    turns = [(wall.replace(tzinfo=UTC), turn) for turn, wall in enumerate(walls)] + [(end, -1)]
    expected = [(max(a, start), b, people[turn % 7], "l") for (a, turn), (b, _) in pairwise(turns)
                if b > start]
    assert rows(layer_shifts(layer, start, end)) == expected


def test_a_year_of_hourly_handoffs_ten_years_in() -> None:
    layer = Layer(name="h", zone=UTC_ZONE, starts_at=utc(2016, 1, 1), handoff="FREQ=HOURLY",
                  participants=tuple("abcde"))
    shifts = layer_shifts(layer, utc(2027, 1, 1), utc(2028, 1, 1))
    # 4018 days (96432 hours) after starts_at: 96432 % 5 = 2
    assert len(shifts) == 8760
    assert (shifts[0].starts_at, shifts[0].who) == (utc(2027, 1, 1), "c")
    assert (shifts[-1].ends_at, shifts[-1].who) == (utc(2028, 1, 1), "b")


# ---------------------------------------------------------------- 2. follow the sun

# Drawn for mid-March: Singapore 08-16 SGT, Berlin 09-17 CET and New York 12-20 EDT tile the UTC day as
# 00-08, 08-16 and 16-24. Eight wall-clock hours in zones that change their clocks on different dates
# cannot tile both sides of a change, so the weeks around each change have the exact hole shown.
FOLLOW_THE_SUN = [
    daily("singapore", SINGAPORE, local(SINGAPORE, 2026, 3, 2, 8), ("ana", "ben"), (8, 16)),
    daily("berlin", BERLIN, local(BERLIN, 2026, 3, 2, 9), ("cem", "dora"), (9, 17)),
    daily("new-york", NEW_YORK, local(NEW_YORK, 2026, 3, 1, 12), ("eli", "fay"), (12, 20)),
]


@pytest.mark.parametrize(("why", "start", "expected_gaps"), [
    ("New York already on EDT, Berlin still on CET: the day is tiled", utc(2026, 3, 9), []),
    ("the week New York springs forward (Sunday 03-08): on EST, Monday to Saturday, its 12:00 is 17:00 UTC",
     utc(2026, 3, 2), [(utc(2026, 3, day, 16), utc(2026, 3, day, 17)) for day in range(2, 8)]),
    ("the week Berlin springs forward (Sunday 03-29): on CEST its 17:00 is 15:00 UTC",
     utc(2026, 3, 23), [(utc(2026, 3, 29, 15), utc(2026, 3, 29, 16))]),
])
def test_follow_the_sun_over_a_week(why: str, start: datetime, expected_gaps: list[tuple[datetime, datetime]]) -> None:
    end = start + timedelta(days=7)
    final = resolve(FOLLOW_THE_SUN, [], [], start, end)
    assert gaps(final, start, end) == expected_gaps, why
    assert coverage(final, start, end) == 1 - len(expected_gaps) / 168


def test_follow_the_sun_hands_off_daily_in_each_zone() -> None:
    start, end = utc(2026, 3, 9), utc(2026, 3, 16)
    final = resolve(FOLLOW_THE_SUN, [], [], start, end)
    # Monday 03-09 is turn 7 in Singapore and Berlin (odd: the second person) and turn 8 in New York.
    assert rows(final[:3]) == [
        (utc(2026, 3, 9), utc(2026, 3, 9, 8), "ben", "singapore"),
        (utc(2026, 3, 9, 8), utc(2026, 3, 9, 16), "dora", "berlin"),
        (utc(2026, 3, 9, 16), utc(2026, 3, 10), "eli", "new-york"),
    ]
    assert load(final, start, end) == {
        "ana": timedelta(hours=24), "ben": timedelta(hours=32), "cem": timedelta(hours=24),
        "dora": timedelta(hours=32), "eli": timedelta(hours=32), "fay": timedelta(hours=24),
    }


# ---------------------------------------------------------------- 3. layers, a swap and an override


def test_layers_swap_and_override_across_berlins_dst_change() -> None:
    layers = [
        Layer(name="backstop", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 23, 9), handoff=MONDAY_0900,
              participants=("zed", "yan")),
        daily("singapore", SINGAPORE, local(SINGAPORE, 2026, 3, 28, 8), ("ana", "ben"), (8, 16)),
        daily("berlin", BERLIN, local(BERLIN, 2026, 3, 28, 9), ("cem", "dora"), (9, 17)),
        daily("new-york", NEW_YORK, local(NEW_YORK, 2026, 3, 27, 12), ("eli", "fay"), (12, 20)),
    ]
    swaps = [Swap(utc(2026, 3, 29), utc(2026, 3, 29, 10), giver="dora", taker="gus")]
    overrides = [Override(utc(2026, 3, 29, 15, 30), utc(2026, 3, 29, 17), "hal")]
    assert rows(resolve(layers, overrides, swaps, utc(2026, 3, 28), utc(2026, 3, 30))) == [
        (utc(2026, 3, 28), utc(2026, 3, 28, 8), "ana", "singapore"),
        (utc(2026, 3, 28, 8), utc(2026, 3, 28, 16), "cem", "berlin"),  # 09-17 CET
        (utc(2026, 3, 28, 16), utc(2026, 3, 29), "fay", "new-york"),  # 12-20 EDT
        (utc(2026, 3, 29), utc(2026, 3, 29, 7), "ben", "singapore"),  # Berlin's 09:00 CEST is 07:00 UTC: it wins
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 10), "gus", "swap"),
        (utc(2026, 3, 29, 10), utc(2026, 3, 29, 15), "dora", "berlin"),
        (utc(2026, 3, 29, 15), utc(2026, 3, 29, 15, 30), "zed", "backstop"),  # the hour DST opened
        (utc(2026, 3, 29, 15, 30), utc(2026, 3, 29, 17), "hal", "override"),
        (utc(2026, 3, 29, 17), utc(2026, 3, 30), "eli", "new-york"),
    ]


def test_precedence_swaps_do_not_chain_and_later_overrides_win() -> None:
    bottom = Layer(name="bottom", zone=UTC_ZONE, starts_at=utc(2026, 6, 1), handoff="FREQ=DAILY",
                   participants=("ana",))
    top = daily("top", UTC_ZONE, utc(2026, 6, 1), ("ben",), (9, 17), ends_at=utc(2026, 6, 2, 12))
    swaps = [Swap(utc(2026, 6, 1, 8), utc(2026, 6, 1, 10), giver="ana", taker="cem"),
             Swap(utc(2026, 6, 1, 8), utc(2026, 6, 1, 10), giver="cem", taker="dan")]  # cem had nothing to give
    overrides = [Override(utc(2026, 6, 1, 20), utc(2026, 6, 2, 2), "eve"),
                 Override(utc(2026, 6, 2), utc(2026, 6, 2, 1), None),
                 Override(utc(2026, 6, 2, 0, 30), utc(2026, 6, 2, 0, 45), "fay"),
                 Override(utc(2026, 6, 1, 8, 30), utc(2026, 6, 1, 9), None)]
    start, end = utc(2026, 6, 1), utc(2026, 6, 3)
    final = resolve([bottom, top], overrides, swaps, start, end)
    assert rows(final) == [
        (utc(2026, 6, 1), utc(2026, 6, 1, 8), "ana", "bottom"),
        (utc(2026, 6, 1, 8), utc(2026, 6, 1, 8, 30), "cem", "swap"),
        (utc(2026, 6, 1, 9), utc(2026, 6, 1, 17), "ben", "top"),
        (utc(2026, 6, 1, 17), utc(2026, 6, 1, 20), "ana", "bottom"),
        (utc(2026, 6, 1, 20), utc(2026, 6, 2), "eve", "override"),
        (utc(2026, 6, 2, 0, 30), utc(2026, 6, 2, 0, 45), "fay", "override"),
        (utc(2026, 6, 2, 1), utc(2026, 6, 2, 2), "eve", "override"),
        (utc(2026, 6, 2, 2), utc(2026, 6, 2, 9), "ana", "bottom"),
        (utc(2026, 6, 2, 9), utc(2026, 6, 2, 12), "ben", "top"),  # the top layer ends at noon
        (utc(2026, 6, 2, 12), utc(2026, 6, 3), "ana", "bottom"),
    ]
    assert gaps(final, start, end) == [(utc(2026, 6, 1, 8, 30), utc(2026, 6, 1, 9)),
                                       (utc(2026, 6, 2), utc(2026, 6, 2, 0, 30)),
                                       (utc(2026, 6, 2, 0, 45), utc(2026, 6, 2, 1))]


# ---------------------------------------------------------------- 4. a removed shift


def test_a_removed_shift_is_a_gap() -> None:
    start, end = utc(2026, 3, 9), utc(2026, 3, 16)
    removed = Override(utc(2026, 3, 10, 8), utc(2026, 3, 10, 16), None)  # Berlin's Tuesday
    final = resolve(FOLLOW_THE_SUN, [removed], [], start, end)
    assert gaps(final, start, end) == [(utc(2026, 3, 10, 8), utc(2026, 3, 10, 16))]
    assert coverage(final, start, end) == 1 - 8 / 168
    assert oncall_at(final, utc(2026, 3, 10, 12)) is None


# ---------------------------------------------------------------- 5. fairness


def test_fairness() -> None:
    winter = Layer(name="primary", zone=LONDON, starts_at=local(LONDON, 2026, 1, 5, 9), handoff=MONDAY_0900,
                   participants=("ana", "ben", "cem"))
    start, end = utc(2026, 1, 5, 9), utc(2026, 1, 26, 9)
    even = resolve([winter], [], [], start, end)
    assert load(even, start, end) == {"ana": timedelta(hours=168), "ben": timedelta(hours=168),
                                      "cem": timedelta(hours=168)}
    assert fairness(even, ["ana", "ben", "cem"], start, end) == 1.0
    # x = (1, 1, 1, 0) weeks: D = 6, S = 3, n = 4 -> 1 - 6 / (2 * 3 * 3)
    assert fairness(even, ["ana", "ben", "cem", "dan"], start, end) == float(Fraction(2, 3))

    cem_week = Override(utc(2026, 1, 19, 9), utc(2026, 1, 26, 9), "ana")
    uneven = resolve([winter], [cem_week], [], start, end)
    # x = (2, 1, 0) weeks: D = 8, S = 3, n = 3 -> 1 - 8 / (2 * 3 * 2)
    assert fairness(uneven, ["ana", "ben", "cem"], start, end) == float(Fraction(1, 3))
    boss_week = Override(utc(2026, 1, 19, 9), utc(2026, 1, 26, 9), "boss")  # not in the rotation: not counted
    assert fairness(resolve([winter], [boss_week], [], start, end), ["ana", "ben", "cem"], start, end) == 0.5

    # Spring: ben's week is 167 hours. x = (168, 167, 168): D = 4, S = 503, n = 3 -> 1 - 4 / (2 * 503 * 2)
    spring_start, spring_end = utc(2026, 3, 16, 9), utc(2026, 4, 6, 8)
    spring = resolve([LONDON_WEEKLY], [], [], spring_start, spring_end)
    assert fairness(spring, ["ana", "ben", "cem"], spring_start, spring_end) == float(Fraction(502, 503))
    assert fairness(spring, ["ana"], spring_start, spring_end) == 1.0
    assert fairness([], ["ana", "ben"], spring_start, spring_end) == 1.0


# ---------------------------------------------------------------- 6. lookups at boundaries

A = Shift(utc(2026, 6, 1), utc(2026, 6, 1, 8), "ana", "primary")
B = Shift(utc(2026, 6, 1, 8), utc(2026, 6, 1, 12), "ana", "override")  # ana carries on: not a handoff
C = Shift(utc(2026, 6, 1, 12), utc(2026, 6, 1, 16), "ben", "primary")
D = Shift(utc(2026, 6, 1, 18), utc(2026, 6, 1, 20), "ben", "primary")  # after a gap: a handoff to ben again
FINAL = [A, B, C, D]
JUST_BEFORE = timedelta(microseconds=1)


@pytest.mark.parametrize(("at", "on_call", "next_one"), [
    (utc(2026, 5, 31, 23), None, A),
    (utc(2026, 6, 1), A, C),
    (utc(2026, 6, 1, 8) - JUST_BEFORE, A, C),
    (utc(2026, 6, 1, 8), B, C),
    (utc(2026, 6, 1, 12) - JUST_BEFORE, B, C),
    (utc(2026, 6, 1, 12), C, D),
    (utc(2026, 6, 1, 16) - JUST_BEFORE, C, D),
    (utc(2026, 6, 1, 16), None, D),
    (utc(2026, 6, 1, 18), D, None),
    (utc(2026, 6, 1, 20), None, None),
])
def test_oncall_at_and_next_shift_use_half_open_intervals(at: datetime, on_call: Shift | None,
                                                          next_one: Shift | None) -> None:
    assert oncall_at(FINAL, at) == on_call
    assert next_shift(FINAL, at) == next_one
    assert next_shift(list(reversed(FINAL)), at) == next_one


# ---------------------------------------------------------------- 7. the iCal feed


def test_ical_feed_round_trips_with_stable_uids() -> None:
    shifts = resolve(FOLLOW_THE_SUN, [], [], utc(2026, 3, 9), utc(2026, 3, 10))
    feed = ical_feed(shifts, name="Support on call", uid_prefix="support-", now=utc(2026, 3, 8, 12))
    calendar = Calendar.from_ical(feed)
    assert (str(calendar["prodid"]), str(calendar["version"]), str(calendar["x-wr-calname"])) == (
        "-//TrustDesk//oncall//EN", "2.0", "Support on call")
    events = calendar.walk("VEVENT")
    assert [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in events] == [
        (s.starts_at, s.ends_at, f"On call: {s.who}") for s in shifts]
    assert all(e.decoded("dtstart").tzinfo is not None and e.decoded("dtstart").utcoffset() == timedelta()
               for e in events)
    assert [str(e["uid"]) for e in events] == [
        "support-20260309T000000Z-ben", "support-20260309T080000Z-dora", "support-20260309T160000Z-eli"]
    assert all(e.decoded("dtstamp") == utc(2026, 3, 8, 12) for e in events)
    assert b"DTSTART:20260309T080000Z" in feed

    later = Calendar.from_ical(ical_feed(shifts, name="Support on call", uid_prefix="support-",
                                         now=utc(2026, 3, 9, 7)))
    assert [str(e["uid"]) for e in later.walk("VEVENT")] == [str(e["uid"]) for e in events]


# ---------------------------------------------------------------- 8. handoffs at wall times DST skips or repeats


@pytest.mark.parametrize(("why", "layer", "start", "end", "expected"), [
    ("02:30 does not exist on 2026-03-08 in New York: the handoff happens at the jump, 03:00 EDT",
     Layer(name="d", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 6, 2, 30), handoff="FREQ=DAILY",
           participants=("ana", "ben")),
     utc(2026, 3, 6), utc(2026, 3, 10), [
         (utc(2026, 3, 6, 7, 30), utc(2026, 3, 7, 7, 30), "ana", "d"),  # 02:30 EST
         (utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), "ben", "d"),  # to 03:00 EDT: 23.5 h
         (utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30), "ana", "d"),  # to 02:30 EDT: 23.5 h
         (utc(2026, 3, 9, 6, 30), utc(2026, 3, 10), "ben", "d")]),
    ("01:30 happens twice on 2026-11-01 in New York: the first one (EDT) hands off",
     Layer(name="d", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 10, 30, 1, 30), handoff="FREQ=DAILY",
           participants=("ana", "ben")),
     utc(2026, 10, 31), utc(2026, 11, 3), [
         (utc(2026, 10, 31), utc(2026, 10, 31, 5, 30), "ana", "d"),
         (utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), "ben", "d"),
         (utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), "ana", "d"),  # 25 h
         (utc(2026, 11, 2, 6, 30), utc(2026, 11, 3), "ben", "d")]),
    ("hourly at :30 through the gap: 02:30 hands off at 03:00 EDT, half an hour after 01:30 EST",
     Layer(name="h", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 8, 0, 30), handoff="FREQ=HOURLY",
           participants=("ana", "ben", "cem")),
     utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 8, 30), [
         (utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 6, 30), "ana", "h"),
         (utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7), "ben", "h"),
         (utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30), "cem", "h"),
         (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 30), "ana", "h")]),
    ("02:00, 02:20, 02:40 and 03:00 all fall at 07:00 UTC: four turns, only the last one's shift is kept",
     Layer(name="m", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 8, 1, 40), handoff="FREQ=MINUTELY;INTERVAL=20",
           participants=("a", "b", "c", "d", "e")),
     utc(2026, 3, 8, 6, 40), utc(2026, 3, 8, 7, 40), [
         (utc(2026, 3, 8, 6, 40), utc(2026, 3, 8, 7), "a", "m"),
         (utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 20), "e", "m"),
         (utc(2026, 3, 8, 7, 20), utc(2026, 3, 8, 7, 40), "a", "m")]),
    ("starting in the repeated hour (01:30 EST, the second one): 01:45 came before in real time, no handoff",
     Layer(name="q", zone=NEW_YORK, starts_at=utc(2026, 11, 1, 6, 30), handoff="FREQ=MINUTELY;INTERVAL=15",
           participants=("a", "b")),
     utc(2026, 11, 1, 6), utc(2026, 11, 1, 7, 15), [
         (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7), "a", "q"),  # to 02:00 EST
         (utc(2026, 11, 1, 7), utc(2026, 11, 1, 7, 15), "b", "q")]),
    ("a 22:00-06:00 night restriction is 7 hours on the spring-forward night",
     Layer(name="n", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 1), handoff="FREQ=WEEKLY", participants=("ana",),
           restrictions=(Restriction(EVERY_DAY, time(22), time(6)),)),
     utc(2026, 3, 7), utc(2026, 3, 9), [
         (utc(2026, 3, 7, 3), utc(2026, 3, 7, 11), "ana", "n"),
         (utc(2026, 3, 8, 3), utc(2026, 3, 8, 10), "ana", "n")]),
    ("a restriction from 02:30 to 03:30 on the spring-forward night lasts half an hour",
     Layer(name="n", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 1), handoff="FREQ=WEEKLY", participants=("ana",),
           restrictions=(Restriction(frozenset({6}), time(2, 30), time(3, 30)),)),
     utc(2026, 3, 8), utc(2026, 3, 9), [(utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30), "ana", "n")]),
    ("start == end is a whole day, on the days it starts on (Saturday)",
     Layer(name="n", zone=NEW_YORK, starts_at=local(NEW_YORK, 2026, 3, 1), handoff="FREQ=WEEKLY", participants=("ana",),
           restrictions=(Restriction(frozenset({5}), time(0), time(0)),)),
     utc(2026, 3, 1), utc(2026, 3, 15), [
         (utc(2026, 3, 7, 5), utc(2026, 3, 8, 5), "ana", "n"),
         (utc(2026, 3, 14, 4), utc(2026, 3, 15), "ana", "n")]),
])
def test_wall_times_around_dst(why: str, layer: Layer, start: datetime, end: datetime, expected: list[Row]) -> None:
    assert rows(layer_shifts(layer, start, end)) == expected, why


# ---------------------------------------------------------------- 9. validation


def layer(**overrides: Any) -> Layer:
    fields: dict[str, Any] = {"name": "l", "zone": LONDON, "starts_at": utc(2026, 3, 16, 9), "handoff": MONDAY_0900,
                              "participants": ("ana",)} | overrides
    return Layer(**fields)


@pytest.mark.parametrize(("why", "build", "field"), [
    ("not an RRULE", lambda: layer(handoff="every monday"), "handoff"),
    ("unknown frequency", lambda: layer(handoff="FREQ=SOMETIMES"), "handoff"),
    ("hour out of range", lambda: layer(handoff="FREQ=DAILY;BYHOUR=25"), "handoff"),
    ("COUNT: end a rotation with ends_at", lambda: layer(handoff="FREQ=DAILY;COUNT=3"), "handoff"),
    ("UNTIL", lambda: layer(handoff="FREQ=DAILY;UNTIL=20270101T000000"), "handoff"),
    ("a rule set, not one rule", lambda: layer(handoff="FREQ=DAILY\nEXDATE:20260401T090000"), "handoff"),
    ("no participants", lambda: layer(participants=()), "participants"),
    ("a blank participant", lambda: layer(participants=("ana", "")), "participants"),
    ("naive starts_at", lambda: layer(starts_at=datetime(2026, 3, 16, 9)), "starts_at"),
    ("ends before it starts", lambda: layer(ends_at=utc(2026, 3, 16, 9)), "ends_at"),
    ("day 7", lambda: Restriction(frozenset({7}), time(9), time(17)), "restrictions"),
    ("no days", lambda: Restriction(frozenset(), time(9), time(17)), "restrictions"),
    ("naive window start", lambda: layer_shifts(layer(), datetime(2026, 3, 16), utc(2026, 3, 17)), "start"),
    ("end == start", lambda: layer_shifts(layer(), utc(2026, 3, 16), utc(2026, 3, 16)), "end"),
    ("resolve: end before start", lambda: resolve([layer()], [], [], utc(2026, 3, 17), utc(2026, 3, 16)), "end"),
    ("naive override", lambda: Override(datetime(2026, 3, 16), utc(2026, 3, 17), "ana"), "starts_at"),
    ("override ends before it starts", lambda: Override(utc(2026, 3, 17), utc(2026, 3, 16), "ana"), "ends_at"),
    ("swap with oneself", lambda: Swap(utc(2026, 3, 16), utc(2026, 3, 17), "ana", "ana"), "taker"),
    ("fairness of nobody", lambda: fairness([], [], utc(2026, 3, 16), utc(2026, 3, 17)), "participants"),
    ("naive lookup", lambda: oncall_at([], datetime(2026, 3, 16)), "at"),
    ("naive feed stamp", lambda: ical_feed([], name="x", uid_prefix="x-", now=datetime(2026, 3, 16)), "now"),
])
def test_validation_names_the_field(why: str, build: Any, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        build()
    assert caught.value.field == field, why
