"""Oncall schedule arithmetic: rotation layers, swaps and overrides resolved into one list of shifts.

Pure functions on frozen dataclasses; no database, no clock, no I/O. Every instant going in must be
timezone-aware and every instant coming out is UTC. A layer's handoff rule and restrictions are wall
times in the layer's zone, so a 09:00 handoff stays at 09:00 local when the clocks change.

Wall times and DST, the same rule as ``sla.calendar``:

* a wall time the clocks skip (02:30 on a spring-forward night) means the instant of the jump
  (03:00 after the jump), so a handoff inside the gap still happens, as early as it can;
* a wall time that happens twice (clocks going back) means its first occurrence (``fold=0``);
* a handoff rule runs on wall time, so a repeated wall hour hands off once, and handoffs inside one
  gap fall on the same instant: each still counts as a turn of the rotation, but only the last one's
  shift is kept (the others last no time).

Every handoff is counted from starts_at, so who is on call years later does not depend on the window
asked for. Rules that repeat weekly (FREQ of WEEKLY or finer, BYDAY/BYHOUR/BYMINUTE/BYSECOND only) skip
whole periods; any other rule (monthly, BYMONTH, ...) is walked from starts_at, cheap for the
handful of handoffs such rules make in a year.

Precedence in :func:`resolve`, lowest first: layers in list order (a later layer wins wherever it has
someone on call), then swaps, then overrides (a later override wins; ``who=None`` removes coverage).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from icalendar import Calendar, Event

from trustdesk.core.errors import Invalid

WEEK = timedelta(days=7)
# Rule parts whose pattern repeats every lcm(INTERVAL x FREQ, one week); a rule made only of these can
# be fast-forwarded by whole periods instead of being iterated from starts_at.
_WEEK_PERIODIC_PARTS = frozenset({"FREQ", "INTERVAL", "WKST", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND"})
_FREQ_SECONDS = {"WEEKLY": 7 * 86400, "DAILY": 86400, "HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}
_WEEKDAY_CODES = frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"})
# Local wall time and UTC differ by at most a day (Samoa skipped a whole one in 2011); starting the
# count this far before a window is always early enough to see every handoff that touches it.
_WALL_MARGIN = timedelta(days=2)


@dataclass(frozen=True)
class Restriction:
    """A window of the week in the layer's zone; ``end <= start`` runs past midnight (equal: 24 h)."""

    days: frozenset[int]  # 0=Monday..6=Sunday: the days a window starts on
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise Invalid("restriction days must be 0 (Monday) to 6 (Sunday)", field="restrictions")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise Invalid("restriction times are wall times in the layer's zone, without a zone",
                          field="restrictions")


@dataclass(frozen=True)
class Layer:
    name: str
    zone: ZoneInfo
    starts_at: datetime  # the first participant is on call from here
    handoff: str  # RRULE body, evaluated on wall time in ``zone`` from starts_at, e.g. "FREQ=WEEKLY;BYDAY=MO"
    participants: tuple[str, ...]  # in rotation order; each handoff passes to the next, wrapping around
    restrictions: tuple[Restriction, ...] = ()  # empty: the whole time
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise Invalid("a layer needs a name", field="name")
        if not self.participants or not all(self.participants):
            raise Invalid("a layer needs at least one participant, none of them blank", field="participants")
        _require_aware(self.starts_at, "starts_at")
        if self.ends_at is not None:
            _require_aware(self.ends_at, "ends_at")
            if self.ends_at <= self.starts_at:
                raise Invalid("a layer must end after it starts", field="ends_at")
        _handoff_rule(self)


@dataclass(frozen=True)
class Override:
    """Someone covers [starts_at, ends_at) on top of every layer; ``who=None`` removes coverage."""

    starts_at: datetime
    ends_at: datetime
    who: str | None

    def __post_init__(self) -> None:
        _require_window(self.starts_at, self.ends_at, "starts_at", "ends_at")
        if self.who == "":
            raise Invalid("an override needs someone, or None to remove coverage", field="who")


@dataclass(frozen=True)
class Swap:
    """Within [starts_at, ends_at), what ``giver`` would have covered (layers and their precedence
    applied, before any swap or override) is covered by ``taker``. Swaps never chain: A->B and B->C
    over the same hours give A's hours to B and B's own hours to C."""

    starts_at: datetime
    ends_at: datetime
    giver: str
    taker: str

    def __post_init__(self) -> None:
        _require_window(self.starts_at, self.ends_at, "starts_at", "ends_at")
        if not self.giver:
            raise Invalid("a swap needs a giver", field="giver")
        if not self.taker or self.taker == self.giver:
            raise Invalid("a swap needs a taker other than the giver", field="taker")


@dataclass(frozen=True)
class Shift:
    starts_at: datetime
    ends_at: datetime
    who: str
    source: str  # the layer's name, "override" or "swap"


class _Piece(NamedTuple):
    start: datetime
    end: datetime
    who: str | None  # None: an override that removes coverage, dropped at the end
    source: str


# ---------------------------------------------------------------- one layer


def layer_shifts(layer: Layer, start: datetime, end: datetime) -> list[Shift]:
    """The layer's own shifts within [start, end), cut to its restrictions; a handoff to the person
    already on call (a rotation of one) does not split a shift."""
    start, end = _require_window(start, end, "start", "end")
    window_start = max(start, layer.starts_at.astimezone(UTC))
    window_end = min(end, layer.ends_at.astimezone(UTC)) if layer.ends_at else end
    if window_end <= window_start:
        return []
    rotation = [
        _Piece(a, b, layer.participants[turn % len(layer.participants)], layer.name)
        for a, b, turn in _turns(layer, window_start, window_end)
    ]
    return _merge(_clip(rotation, _allowed(layer, window_start, window_end)))


def _turns(layer: Layer, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
    """Tile [start, end) with (from, to, turn): turn n is the n-th handoff since starts_at (0: none yet)."""
    zone = layer.zone
    first_instant, first_wall = layer.starts_at.astimezone(UTC), _wall(layer.starts_at, zone)
    rule, period = _handoff_rule(layer)
    turn, floor, rule = _fast_forward(rule, period, first_wall, _wall(start, zone) - _WALL_MARGIN)
    out = []
    cursor = start
    for wall in rule:
        if wall <= floor:  # counted by the fast-forward, or starts_at itself (not a handoff)
            continue
        handoff = _instant(wall, zone)
        if handoff <= first_instant:  # a wall time after starts_at's that came earlier (a repeated hour)
            continue
        if handoff > cursor:
            out.append((cursor, min(handoff, end), turn))
            cursor = handoff
        turn += 1
        if handoff >= end:
            return out
    out.append((cursor, end, turn))  # a rule that stops handing off leaves its last holder on call
    return out


def _handoff_rule(layer: Layer) -> tuple[rrule, timedelta | None]:
    """The layer's rule on wall time, and its period when it repeats weekly (see _WEEK_PERIODIC_PARTS)."""
    body = layer.handoff.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:"):]
    try:
        parts = dict(part.split("=", 1) for part in body.upper().split(";") if part)
    except ValueError:
        raise Invalid(f"not an RRULE: {layer.handoff!r}", field="handoff") from None
    if "COUNT" in parts or "UNTIL" in parts:
        raise Invalid("a handoff rule runs as long as the layer; end it with ends_at", field="handoff")
    try:
        rule = rrulestr(body, dtstart=_wall(layer.starts_at, layer.zone))
    except Exception as error:  # dateutil reports bad input with several exception types
        raise Invalid(f"not an RRULE: {layer.handoff!r} ({error})", field="handoff") from error
    if not isinstance(rule, rrule):
        raise Invalid("a handoff is a single RRULE", field="handoff")
    return rule, _period(parts)


def _period(parts: dict[str, str]) -> timedelta | None:
    freq_seconds = _FREQ_SECONDS.get(parts.get("FREQ", ""))
    if freq_seconds is None or not parts.keys() <= _WEEK_PERIODIC_PARTS:
        return None
    if any(day not in _WEEKDAY_CODES for day in parts.get("BYDAY", "MO").split(",")):
        return None  # "+1MO" and the like count within a month or year
    step = int(parts.get("INTERVAL", "1")) * freq_seconds
    return timedelta(seconds=math.lcm(step, int(WEEK.total_seconds())))


def _fast_forward(rule: rrule, period: timedelta | None, first_wall: datetime,
                  target: datetime) -> tuple[int, datetime, rrule]:
    """Skip whole periods of a periodic rule before ``target``: (handoffs skipped, the wall time up to
    which they were counted, the rule restarted there). dateutil iterates from dtstart, so without
    this a query years after starts_at would walk every handoff since."""
    if period is None or target - first_wall < 2 * period:
        return 0, first_wall, rule
    per_period = sum(1 for wall in rule.between(first_wall, first_wall + period, inc=True) if wall > first_wall)
    periods = (target - first_wall) // period
    floor = first_wall + periods * period
    return periods * per_period, floor, rule.replace(dtstart=floor)


def _allowed(layer: Layer, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The restriction windows that touch [start, end), as disjoint UTC intervals."""
    if not layer.restrictions:
        return [(start, end)]
    zone = layer.zone
    windows = []
    day = start.astimezone(zone).date() - timedelta(days=1)  # yesterday's overnight window may reach in
    while day <= end.astimezone(zone).date():
        for restriction in layer.restrictions:
            if day.weekday() in restriction.days:
                end_day = day if restriction.end > restriction.start else day + timedelta(days=1)
                a, b = _local(day, restriction.start, zone), _local(end_day, restriction.end, zone)
                if min(b, end) > max(a, start):
                    windows.append((max(a, start), min(b, end)))
        day += timedelta(days=1)
    return _union(windows)


# ---------------------------------------------------------------- the final schedule


def resolve(layers: Sequence[Layer], overrides: Sequence[Override], swaps: Sequence[Swap],
            start: datetime, end: datetime) -> list[Shift]:
    """Who is on call within [start, end): sorted, non-overlapping, adjacent pieces of the same person
    from the same source merged. See the module docstring for precedence."""
    start, end = _require_window(start, end, "start", "end")
    schedule: list[_Piece] = []
    for layer in layers:
        schedule = _paint(schedule, [_Piece(s.starts_at, s.ends_at, s.who, s.source)
                                     for s in layer_shifts(layer, start, end)])
    before_swaps = schedule
    for swap in swaps:
        window = [(swap.starts_at.astimezone(UTC), swap.ends_at.astimezone(UTC))]
        given = [piece._replace(who=swap.taker, source="swap") for piece in before_swaps if piece.who == swap.giver]
        schedule = _paint(schedule, _clip(given, window))
    for override in overrides:
        piece = _Piece(max(start, override.starts_at.astimezone(UTC)), min(end, override.ends_at.astimezone(UTC)),
                       override.who, "override")
        if piece.end > piece.start:
            schedule = _paint(schedule, [piece])
    return _merge([piece for piece in schedule if piece.who is not None])


def gaps(final: Iterable[Shift], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    start, end = _require_window(start, end, "start", "end")
    out = []
    cursor = start
    for shift in sorted(final, key=lambda s: s.starts_at):
        if shift.starts_at > cursor:
            out.append((cursor, min(shift.starts_at, end)))
        cursor = max(cursor, shift.ends_at)
        if cursor >= end:
            return out
    out.append((cursor, end))
    return out


def coverage(final: Iterable[Shift], start: datetime, end: datetime) -> float:
    """The fraction of [start, end) when someone is on call."""
    uncovered = sum((b - a for a, b in gaps(final, start, end)), timedelta())
    return 1 - uncovered / (end - start)


def load(final: Iterable[Shift], start: datetime, end: datetime) -> dict[str, timedelta]:
    """Time on call per person within [start, end); people with none are absent."""
    start, end = _require_window(start, end, "start", "end")
    out: dict[str, timedelta] = {}
    for shift in final:
        overlap = min(shift.ends_at, end) - max(shift.starts_at, start)
        if overlap > timedelta():
            out[shift.who] = out.get(shift.who, timedelta()) + overlap
    return out


def fairness(final: Iterable[Shift], participants: Iterable[str], start: datetime, end: datetime) -> float:
    """1 - the normalised Gini coefficient of the participants' time on call within [start, end).

    With x_i each participant's time (0 for none), n participants, S = sum x_i and
    D = sum over all ordered pairs |x_i - x_j|: fairness = 1 - D / (2 S (n - 1)). It is 1 when all
    carry the same load and 0 when one carries all of it. Time of people outside ``participants``
    (an override by a manager, say) does not count. One participant, or nobody on call: 1.
    """
    people = list(dict.fromkeys(participants))
    if not people:
        raise Invalid("fairness needs at least one participant", field="participants")
    per_person = load(final, start, end)
    times = [per_person.get(person, timedelta()) // timedelta(microseconds=1) for person in people]
    total = sum(times)
    if len(people) == 1 or total == 0:
        return 1.0
    spread = sum(abs(a - b) for a in times for b in times)
    return float(1 - Fraction(spread, 2 * total * (len(people) - 1)))


def oncall_at(final: Iterable[Shift], at: datetime) -> Shift | None:
    _require_aware(at, "at")
    return next((s for s in final if s.starts_at <= at < s.ends_at), None)


def next_shift(final: Iterable[Shift], at: datetime) -> Shift | None:
    """The next handoff after ``at``: the first later shift with someone else, or after a gap. A
    shift that carries on the same person without a break (e.g. an override by the person already
    on call) is not a handoff."""
    _require_aware(at, "at")
    ordered = sorted(final, key=lambda s: s.starts_at)
    current = oncall_at(ordered, at)
    for shift in ordered:
        if shift.starts_at <= at:
            continue
        if current is None or shift.starts_at > current.ends_at or shift.who != current.who:
            return shift
        current = shift
    return None


def ical_feed(shifts: Iterable[Shift], *, name: str, uid_prefix: str, now: datetime) -> bytes:
    """An iCalendar feed with one event per shift. A shift's UID is ``{uid_prefix}{start}-{who}`` (start
    as 20260328T090000Z), so a calendar app that polls the feed updates events instead of duplicating."""
    _require_aware(now, "now")
    calendar = Calendar()
    calendar.add("prodid", "-//TrustDesk//oncall//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for shift in sorted(shifts, key=lambda s: (s.starts_at, s.who)):
        starts_at = shift.starts_at.astimezone(UTC)
        event = Event()
        event.add("uid", f"{uid_prefix}{starts_at:%Y%m%dT%H%M%SZ}-{shift.who}")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", starts_at)
        event.add("dtend", shift.ends_at.astimezone(UTC))
        event.add("summary", f"On call: {shift.who}")
        calendar.add_component(event)
    feed: bytes = calendar.to_ical()
    return feed


# ---------------------------------------------------------------- intervals and wall times


def _paint(base: list[_Piece], top: list[_Piece]) -> list[_Piece]:
    """``top`` laid over ``base``; both sorted and non-overlapping."""
    uncovered = _clip(base, _complement([(p.start, p.end) for p in top], base))
    return sorted(uncovered + top, key=lambda p: p.start)


def _clip(pieces: list[_Piece], windows: list[tuple[datetime, datetime]]) -> list[_Piece]:
    """The parts of ``pieces`` inside ``windows``; both sorted and non-overlapping, empty parts dropped."""
    out = []
    first = 0
    for piece in pieces:
        while first < len(windows) and windows[first][1] <= piece.start:
            first += 1
        index = first
        while index < len(windows) and windows[index][0] < piece.end:
            a, b = windows[index]
            if min(b, piece.end) > max(a, piece.start):
                out.append(piece._replace(start=max(a, piece.start), end=min(b, piece.end)))
            index += 1
    return out


def _complement(windows: list[tuple[datetime, datetime]], pieces: list[_Piece]) -> list[tuple[datetime, datetime]]:
    """The time within the span of ``pieces`` that ``windows`` (sorted, disjoint) leave free."""
    if not pieces:
        return []
    out = []
    cursor = pieces[0].start
    for a, b in windows:
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    out.append((cursor, max(cursor, pieces[-1].end)))
    return [(a, b) for a, b in out if b > a]


def _union(windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _merge(pieces: list[_Piece]) -> list[Shift]:
    out: list[Shift] = []
    for piece in pieces:
        assert piece.who is not None
        last = out[-1] if out else None
        if last and last.ends_at == piece.start and (last.who, last.source) == (piece.who, piece.source):
            out[-1] = Shift(last.starts_at, piece.end, last.who, last.source)
        else:
            out.append(Shift(piece.start, piece.end, piece.who, piece.source))
    return out


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _local(day: date, wall_time: time, zone: ZoneInfo) -> datetime:
    return _instant(datetime.combine(day, wall_time), zone)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time: its first occurrence when it happens twice, the instant of the
    jump when the clocks skip it (so the mapping never runs backwards)."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the offset in force before a change
    if _wall(instant, zone) == wall:
        return instant
    # In a gap: fold=0 read it with the old offset (after the jump), fold=1 with the new one (before it).
    before = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    after = math.ceil(instant.timestamp())
    old_offset = datetime.fromtimestamp(before, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == old_offset:
            before = middle
        else:
            after = middle
    return datetime.fromtimestamp(after, UTC)


def _require_aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(f"{field} must be timezone-aware", field=field)
    return value.astimezone(UTC)


def _require_window(start: datetime, end: datetime, start_field: str, end_field: str) -> tuple[datetime, datetime]:
    start, end = _require_aware(start, start_field), _require_aware(end, end_field)
    if end <= start:
        raise Invalid(f"{end_field} must be after {start_field}", field=end_field)
    return start, end
