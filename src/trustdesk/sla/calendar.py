"""Business-time arithmetic on a calendar: open hours per weekday in a time zone, holidays, 24x7.

Hours are wall-clock times in the calendar's zone; every computation converts each open interval
of a local day to UTC and works on instants, so a day with a DST change is as long as it really
is (an overnight shift 00:00-06:00 lasts five hours on the spring-forward night and seven on the
fall-back one). A wall time that does not exist (skipped by the clocks going forward) is read as
the instant it would have been without the jump, i.e. the first wall time after the gap; a wall
time that happens twice (clocks going back) means its first occurrence.

``minutes`` are minutes after local midnight; an interval ends at most at 1440 (24:00). Shifts
that cross midnight are stored as two intervals, one on each day (``parse_hours`` splits them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from trustdesk.core.errors import Invalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# Looking further than this for open time means the calendar is (nearly) never open.
SEARCH_DAYS = 3 * 366
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")

Span = tuple[int, int]  # [start, end) in minutes after local midnight


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    weekly: tuple[tuple[Span, ...], ...] = ((),) * 7  # Monday first
    holidays: Mapping[date, tuple[Span, ...]] = field(default_factory=dict)  # a day's hours instead (empty: closed)
    always_open: bool = False
    # Each local day's intervals, worked out once: a fold walks the same days again and again.
    _days: dict[date, list[tuple[datetime, datetime]]] = field(default_factory=dict, init=False, repr=False,
                                                               compare=False, hash=False)

    # ------------------------------------------------------------ the open intervals

    def spans_on(self, day: date) -> tuple[Span, ...]:
        if day in self.holidays:
            return self.holidays[day]
        return self.weekly[day.weekday()]

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's open intervals as UTC instants, in order."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        if self.always_open:
            out = [(_instant(day, 0, self.zone), _instant(day, DAY_MINUTES, self.zone))]
        else:
            out = []
            for start, end in self.spans_on(day):
                a, b = _instant(day, start, self.zone), _instant(day, end, self.zone)
                if b > a:  # a span inside a skipped hour is empty
                    out.append((a, b))
        if len(self._days) < 20_000:  # bounded: a calendar object lives for one request or job
            self._days[day] = out
        return out

    def intervals(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals from ``since`` on (the first one clipped to it), for up to SEARCH_DAYS."""
        _aware(since)
        day = since.astimezone(self.zone).date() - timedelta(days=1)  # yesterday's 24:00 may be after since
        for _ in range(SEARCH_DAYS + 2):
            for a, b in self.intervals_on(day):
                if b > since:
                    yield max(a, since), b
            day += timedelta(days=1)

    # ------------------------------------------------------------ arithmetic

    def is_open(self, moment: datetime) -> bool:
        first = next(self.intervals(moment), None)
        return first is not None and first[0] == moment

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` when open, else when the calendar next opens."""
        first = next(self.intervals(moment), None)
        if first is None:
            raise Invalid(f"the calendar is not open in the {SEARCH_DAYS} days after {moment:%Y-%m-%d}",
                          field="calendar")
        return first[0]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of open time has passed since ``start``."""
        _aware(start)
        if duration < timedelta(0):
            raise ValueError("a duration of business time cannot be negative")
        if self.always_open:
            return start.astimezone(UTC) + duration
        left = duration
        for a, b in self.intervals(start):
            if b - a >= left:
                return a + left
            left -= b - a
        raise Invalid(f"the calendar does not have {duration} of open time in the {SEARCH_DAYS} days after "
                      f"{start:%Y-%m-%d}", field="calendar")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time in [start, end) (zero when end is not after start)."""
        _aware(start)
        _aware(end)
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        for a, b in self.intervals(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("business time needs timezone-aware datetimes")


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time on a local day (24:00 is the next day's 00:00). A wall time in a
    gap (skipped when the clocks go forward) is the instant of the jump, so spans inside the gap are
    empty and spans around it never overlap."""
    if minutes >= DAY_MINUTES:
        day, minutes = day + timedelta(days=minutes // DAY_MINUTES), minutes % DAY_MINUTES
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    before_jump = local.astimezone(UTC)  # fold=0: read with the offset in force before the transition
    if before_jump.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return before_jump
    low, high = local.replace(fold=1).astimezone(UTC), before_jump  # the jump lies between the two readings
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


# ---------------------------------------------------------------- parsing hours


def parse_span(text: str, *, field: str) -> tuple[int, int]:
    """ "09:00-12:00" -> (540, 720); an end at or before the start crosses midnight (end + 1440)."""
    found = _HOURS.match(text.strip())
    if not found:
        raise Invalid(f"{text!r} is not HH:MM-HH:MM", field=field)
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise Invalid(f"{text!r} is not a time of day", field=field)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        end += DAY_MINUTES  # 22:00-06:00 runs into the next day
    if end - start > DAY_MINUTES or end == start:
        raise Invalid(f"{text!r} is empty", field=field)
    return start, end


def parse_hours(raw: Mapping[str, Sequence[str]], *, field: str = "weekly") -> tuple[tuple[Span, ...], ...]:
    """Weekly hours {"mon": ["09:00-12:00", "13:00-18:00"], ...} as seven days of spans, overnight
    shifts split at midnight; overlapping spans on a day are refused, naming the second one."""
    unknown = set(raw) - set(DAYS)
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(f"unknown day {name!r}; use {', '.join(DAYS)}", field=f"{field}.{name}")
    per_day: list[list[tuple[Span, str]]] = [[] for _ in DAYS]
    for index, name in enumerate(DAYS):
        for position, text in enumerate(raw.get(name, ())):
            where = f"{field}.{name}[{position}]"
            start, end = parse_span(text, field=where)
            per_day[index].append(((start, min(end, DAY_MINUTES)), where))
            if end > DAY_MINUTES:
                per_day[(index + 1) % 7].append(((0, end - DAY_MINUTES), where))
    return tuple(_merge(spans) for spans in per_day)


def parse_day_hours(raw: Sequence[str], *, field: str) -> tuple[Span, ...]:
    """A single day's hours (a holiday with short opening); nothing crosses midnight here."""
    spans = []
    for position, text in enumerate(raw):
        start, end = parse_span(text, field=f"{field}[{position}]")
        if end > DAY_MINUTES:
            raise Invalid(f"{text!r} crosses midnight; a holiday's hours end by 24:00", field=f"{field}[{position}]")
        spans.append(((start, end), f"{field}[{position}]"))
    return _merge(spans)


def _merge(spans: list[tuple[Span, str]]) -> tuple[Span, ...]:
    ordered = sorted(spans)
    for (first, _), (second, where) in pairwise(ordered):
        if second[0] < first[1]:
            raise Invalid(f"{format_span(second)} overlaps {format_span(first)}", field=where)
    return tuple(span for span, _ in ordered)


def format_span(span: Span) -> str:
    start, end = span
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
