"""SLA clocks as a fold over a case's history: the same function gives the live answer and the
replay (``trustdesk sla replay``), so the two cannot disagree.

Inputs are ``Happening``s read from the event log (created, customer message, public agent reply,
status change with whom we wait on) and the ``Terms`` snapshotted onto the case when its policy
applied. Clocks:

- ``first_reply``: from creation to the first public agent reply;
- ``next_reply``: from the oldest customer message not yet answered (after the first reply) to the
  next public agent reply; several customer messages in a row start one clock, at the first;
- ``periodic_update``: after each public agent reply, the next update is due (restarts at each reply);
- ``resolution``: from creation to solved; a reopened case resumes the same clock;
- ``internal``: while the case is on hold waiting on another internal team (an OLA), from the hold
  to the end of it. It runs whatever the customer-facing clocks do.

Waiting on the customer (``pending``) pauses the customer-facing clocks; ``Terms.pause_on`` may add
seller or third-party waits. Time counts on the business calendar or round the clock, per target.

When the case's terms change halfway (its priority changed: ``run_periods``), a clock still running or
paused counts on the new targets from its original start, as though they had applied all along; a
clock that had already stopped keeps the verdict of the terms in force when it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from trustdesk.sla.calendar import Calendar


class Metric(StrEnum):
    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    PERIODIC_UPDATE = "periodic_update"
    RESOLUTION = "resolution"
    INTERNAL = "internal"


CUSTOMER_FACING = (Metric.FIRST_REPLY, Metric.NEXT_REPLY, Metric.PERIODIC_UPDATE, Metric.RESOLUTION)


class WaitingOn(StrEnum):
    NOBODY = "nobody"  # we are working it
    CUSTOMER = "customer"
    SELLER = "seller"
    INTERNAL = "internal"
    THIRD_PARTY = "third_party"


class Kind(StrEnum):
    CREATED = "created"
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_REPLY = "agent_reply"
    STATUS = "status"


class Outcome(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"  # the case was solved before the clock was met (e.g. no reply was needed)


@dataclass(frozen=True)
class Target:
    minutes: int
    business: bool = True


@dataclass(frozen=True)
class Terms:
    targets: Mapping[Metric, Target]
    warn_fraction: float = 0.75
    pause_on: frozenset[WaitingOn] = frozenset({WaitingOn.CUSTOMER})
    # When set, the warning comes this many minutes before due (on the clock's own time: business
    # minutes for a business target) instead of at ``warn_fraction``; at the start when N >= the target.
    warn_minutes_before: int | None = None

    def warn_point(self, budget: timedelta) -> timedelta:
        """How much of a clock's budget is used when its warning is due."""
        if self.warn_minutes_before is not None:
            return max(budget - timedelta(minutes=self.warn_minutes_before), timedelta(0))
        return budget * self.warn_fraction


@dataclass(frozen=True)
class Happening:
    at: datetime
    kind: Kind
    status: str | None = None  # STATUS: the new status
    waiting_on: WaitingOn | None = None  # STATUS: whom we wait on (pending: the customer)


@dataclass
class Clock:
    metric: Metric
    started_at: datetime
    budget: timedelta
    business: bool
    seq: int = 0  # which clock of its metric, from 0 (next reply and periodic update start again)
    used: timedelta = timedelta(0)
    running_since: datetime | None = None
    stopped_at: datetime | None = None
    outcome: Outcome = Outcome.RUNNING
    due_at: datetime | None = None  # while running
    warn_at: datetime | None = None  # while running and not past the warning point
    breached_at: datetime | None = None  # when it went past its budget, if it did
    history: list[tuple[str, datetime]] = field(default_factory=list)  # (started|paused|resumed|..., at)
    spans: list[tuple[datetime, datetime | None]] = field(default_factory=list)  # when it ran
    paused_for: WaitingOn | None = None  # while paused: whom the case waits on


def _waiting(status: str | None, waiting_on: WaitingOn | None) -> WaitingOn:
    if status == "pending":
        return WaitingOn.CUSTOMER
    if status == "on_hold":
        return waiting_on or WaitingOn.THIRD_PARTY
    return WaitingOn.NOBODY


class _Fold:
    def __init__(self, terms: Terms, business: Calendar, always: Calendar) -> None:
        self.terms, self.business, self.always = terms, business, always
        self.clocks: list[Clock] = []
        self.status = "new"
        self.waiting = WaitingOn.NOBODY
        self.replied = False

    def calendar(self, clock: Clock) -> Calendar:
        return self.business if clock.business else self.always

    def current(self, metric: Metric) -> Clock | None:
        return next((c for c in reversed(self.clocks) if c.metric is metric and c.outcome in (
            Outcome.RUNNING, Outcome.PAUSED)), None)

    def paused_now(self, metric: Metric) -> bool:
        if metric is Metric.INTERNAL:
            return False
        return self.waiting in self.terms.pause_on

    # ------------------------------------------------------------ clock moves

    def start(self, metric: Metric, at: datetime) -> None:
        target = self.terms.targets.get(metric)
        if target is None or self.current(metric) is not None:
            return
        seq = sum(1 for c in self.clocks if c.metric is metric)
        clock = Clock(metric=metric, started_at=at, budget=timedelta(minutes=target.minutes),
                      business=target.business, seq=seq, history=[("started", at)])
        self.clocks.append(clock)
        if self.paused_now(metric):
            clock.outcome, clock.paused_for = Outcome.PAUSED, self.waiting
            clock.history.append(("paused", at))
        else:
            clock.running_since = at
            clock.spans.append((at, None))

    def pause(self, clock: Clock, at: datetime) -> None:
        if clock.outcome is not Outcome.RUNNING or clock.running_since is None:
            return
        clock.used += self.calendar(clock).between(clock.running_since, at)
        clock.spans[-1] = (clock.running_since, at)
        clock.running_since, clock.outcome, clock.paused_for = None, Outcome.PAUSED, self.waiting
        clock.history.append(("paused", at))

    def resume(self, clock: Clock, at: datetime) -> None:
        if clock.outcome is not Outcome.PAUSED:
            return
        clock.running_since, clock.outcome, clock.paused_for = at, Outcome.RUNNING, None
        clock.spans.append((at, None))
        clock.history.append(("resumed", at))

    def stop(self, clock: Clock, at: datetime, outcome: Outcome) -> None:
        if clock.outcome is Outcome.RUNNING and clock.running_since is not None:
            clock.used += self.calendar(clock).between(clock.running_since, at)
            clock.spans[-1] = (clock.running_since, at)
        clock.running_since, clock.stopped_at, clock.outcome, clock.paused_for = None, at, outcome, None
        clock.history.append((outcome.value, at))

    # ------------------------------------------------------------ the events

    def apply(self, happening: Happening) -> None:
        at = happening.at
        if happening.kind is Kind.CREATED:
            self.start(Metric.FIRST_REPLY, at)
            self.start(Metric.RESOLUTION, at)
        elif happening.kind is Kind.CUSTOMER_MESSAGE:
            if self.replied and self.status not in ("solved", "closed"):
                self.start(Metric.NEXT_REPLY, at)  # only when none runs: the oldest unanswered message
        elif happening.kind is Kind.AGENT_REPLY:
            for metric in (Metric.FIRST_REPLY, Metric.NEXT_REPLY, Metric.PERIODIC_UPDATE):
                clock = self.current(metric)
                if clock is not None:
                    self.stop(clock, at, Outcome.FULFILLED)
            self.replied = True
            if self.status not in ("solved", "closed"):
                self.start(Metric.PERIODIC_UPDATE, at)
        elif happening.kind is Kind.STATUS:
            self.change_status(happening.status or self.status, happening.waiting_on, at)

    def change_status(self, status: str, waiting_on: WaitingOn | None, at: datetime) -> None:
        was_solved = self.status in ("solved", "closed")
        self.status, self.waiting = status, _waiting(status, waiting_on)
        if status in ("solved", "closed"):
            for clock in [c for c in self.clocks if c.outcome in (Outcome.RUNNING, Outcome.PAUSED)]:
                self.stop(clock, at, Outcome.FULFILLED if clock.metric is Metric.RESOLUTION else Outcome.CANCELLED)
            return
        if was_solved:  # reopened: the resolution clock goes on from where it stopped
            last = next((c for c in reversed(self.clocks) if c.metric is Metric.RESOLUTION), None)
            if last is not None:
                last.outcome, last.stopped_at, last.paused_for = Outcome.PAUSED, None, self.waiting
                last.history.append(("reopened", at))
            if self.replied:  # the customer's message reopened it (recorded just before): it awaits a reply
                self.start(Metric.NEXT_REPLY, at)
        for metric in CUSTOMER_FACING:
            found = self.current(metric)
            if found is None:
                continue
            if self.paused_now(metric):
                self.pause(found, at)
            else:
                self.resume(found, at)
        internal = self.current(Metric.INTERNAL)
        if self.waiting is WaitingOn.INTERNAL:
            self.start(Metric.INTERNAL, at)
        elif internal is not None:
            self.stop(internal, at, Outcome.FULFILLED)

    # ------------------------------------------------------------ reading the clocks

    def settle(self, now: datetime) -> list[Clock]:
        """Due, warning and breach times as of ``now`` (a copy; the fold itself is not changed)."""
        out = []
        for clock in self.clocks:
            clock = replace(clock, history=list(clock.history), spans=list(clock.spans))
            calendar = self.calendar(clock)
            if clock.outcome is Outcome.RUNNING and clock.running_since is not None:
                left = clock.budget - clock.used
                # No time left (reopened after its budget ran out): due when it ran out, not now.
                clock.due_at = (calendar.add(clock.running_since, left) if left > timedelta(0)
                                else _when_used_up(clock, calendar, clock.budget))
                warn_point = self.terms.warn_point(clock.budget)
                clock.warn_at = (calendar.add(clock.running_since, warn_point - clock.used)
                                 if warn_point > clock.used else _when_used_up(clock, calendar, warn_point))
                if clock.due_at <= now:
                    clock.breached_at = clock.due_at
            elif clock.used > clock.budget:
                clock.breached_at = _when_used_up(clock, calendar, clock.budget)
            out.append(clock)
        return out


def _when_used_up(clock: Clock, calendar: Calendar, amount: timedelta) -> datetime:
    """The instant the clock had run for ``amount`` (its budget, or its warning point), walking its spans."""
    left = amount
    for start, end in clock.spans:
        spent = calendar.between(start, end) if end is not None else None
        if spent is None or spent >= left:
            return calendar.add(start, left)
        left -= spent
    raise AssertionError("a clock past its budget ran for longer than its spans")


def run(terms: Terms, business: Calendar, happenings: Sequence[Happening], *, now: datetime) -> list[Clock]:
    """Every clock of the case, oldest first, as of ``now``."""
    fold = _Fold(terms, business, Calendar(zone=business.zone, always_open=True))
    for happening in sorted(happenings, key=lambda h: h.at):
        fold.apply(happening)
    return fold.settle(now)


@dataclass(frozen=True)
class Period:
    """Terms the case had from ``since`` (None: from its start) until the next period's ``since``."""

    since: datetime | None
    terms: Terms
    business: Calendar


def run_periods(periods: Sequence[Period], happenings: Sequence[Happening], *, now: datetime) -> list[Clock]:
    """Every clock of a case whose terms changed (its priority did), oldest first, as of ``now``.

    Each period's terms are folded over the whole history. Which clocks exist, and when they start and
    stop, depends on the events alone (and on whether the metric has a target at all), so the folds
    agree clock by clock (metric, seq); they differ only in budgets, calendars and pauses. A clock still
    running or paused is taken from the latest terms (counted from its original start); a stopped one
    from the terms in force when it stopped (a clock stopping at the very instant of a change was judged
    before it). A clock whose metric had no target in the period that judges it is not one the case had.
    """
    if not periods:
        raise ValueError("a case has at least the terms it was given when it opened")
    if len(periods) == 1:
        return run(periods[0].terms, periods[0].business, happenings, now=now)
    folds = [{(c.metric, c.seq): c for c in run(p.terms, p.business, happenings, now=now)} for p in periods]
    keys: dict[tuple[Metric, int], Clock] = {}
    for fold in reversed(folds):
        for key, clock in fold.items():
            keys.setdefault(key, clock)
    out = []
    for key, any_clock in keys.items():
        judge = len(periods) - 1
        if any_clock.stopped_at is not None:
            stopped = any_clock.stopped_at
            judge = max(i for i, p in enumerate(periods) if p.since is None or p.since < stopped)
        chosen = folds[judge].get(key)
        if chosen is not None:
            out.append(chosen)
    return sorted(out, key=lambda c: c.started_at)
