"""SLA clocks folded from a case's history, on a Madrid split-shift calendar (09:00-14:00, 15:00-18:00
on weekdays; DST starts on Sunday 29 March 2026). Every expected time was worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from trustdesk.sla.calendar import Calendar, parse_hours
from trustdesk.sla.clocks import Clock, Happening, Kind, Metric, Outcome, Target, Terms, WaitingOn, run

MADRID = ZoneInfo("Europe/Madrid")
SPLIT = Calendar(zone=MADRID, weekly=parse_hours({d: ["09:00-14:00", "15:00-18:00"]
                                                  for d in ("mon", "tue", "wed", "thu", "fri")}))
TERMS = Terms(targets={
    Metric.FIRST_REPLY: Target(60), Metric.NEXT_REPLY: Target(120), Metric.PERIODIC_UPDATE: Target(240),
    Metric.RESOLUTION: Target(16 * 60), Metric.INTERNAL: Target(180, business=False),
})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=MADRID) if day <= 31 else \
        datetime(2026, 4, day - 31, hour, minute, tzinfo=MADRID)


def created(t: datetime) -> Happening:
    return Happening(t, Kind.CREATED)


def customer(t: datetime) -> Happening:
    return Happening(t, Kind.CUSTOMER_MESSAGE)


def reply(t: datetime) -> Happening:
    return Happening(t, Kind.AGENT_REPLY)


def status(t: datetime, to: str, waiting_on: WaitingOn | None = None) -> Happening:
    return Happening(t, Kind.STATUS, status=to, waiting_on=waiting_on)


def clocks(history: list[Happening], now: datetime, terms: Terms = TERMS) -> dict[Metric, list[Clock]]:
    out: dict[Metric, list[Clock]] = {}
    for clock in run(terms, SPLIT, history, now=now):
        out.setdefault(clock.metric, []).append(clock)
    return out


def test_a_first_reply_in_time_and_the_resolution_due_two_days_later() -> None:
    found = clocks([created(at(23, 10)), reply(at(23, 10, 40))], now=at(23, 11))
    first = found[Metric.FIRST_REPLY][0]
    assert (first.outcome, first.used, first.breached_at) == (Outcome.FULFILLED, timedelta(minutes=40), None)
    resolution = found[Metric.RESOLUTION][0]
    # 16 business hours from Monday 10:00: 7 h Monday, 8 h Tuesday, 1 h Wednesday.
    assert resolution.due_at == at(25, 10) and resolution.outcome is Outcome.RUNNING
    assert resolution.warn_at == at(24, 14)  # 75%: 12 h in, the end of Tuesday's morning shift
    periodic = found[Metric.PERIODIC_UPDATE][0]
    assert periodic.started_at == at(23, 10, 40) and periodic.due_at == at(23, 15, 40)  # lunch excluded


def test_a_pause_spanning_a_weekend_and_the_dst_change() -> None:
    history = [created(at(27, 16)), reply(at(27, 16, 30)), status(at(27, 16, 30), "pending"),
               customer(at(30, 10)), status(at(30, 10), "open")]
    found = clocks(history, now=at(30, 10, 5))
    resolution = found[Metric.RESOLUTION][0]
    # 30 minutes used on Friday; 930 left from Monday 10:00 (summer time): 420 Monday, 480 Tuesday, 30 Wednesday.
    assert resolution.used == timedelta(minutes=30) and resolution.due_at == at(32, 9, 30)
    assert [h[0] for h in resolution.history] == ["started", "paused", "resumed"]
    assert found[Metric.NEXT_REPLY][0].due_at == at(30, 12)
    periodic = found[Metric.PERIODIC_UPDATE][0]
    assert periodic.used == timedelta(0) and periodic.due_at == at(30, 14)


def test_next_reply_starts_at_the_oldest_unanswered_message() -> None:
    history = [created(at(23, 10)), reply(at(23, 10, 10)), customer(at(23, 10, 20)), customer(at(23, 10, 50)),
               customer(at(23, 11, 30)), reply(at(23, 12, 30)), customer(at(23, 13))]
    found = clocks(history, now=at(23, 13, 5))[Metric.NEXT_REPLY]
    assert [c.started_at for c in found] == [at(23, 10, 20), at(23, 13)]
    answered, waiting = found
    assert answered.outcome is Outcome.FULFILLED and answered.used == timedelta(minutes=130)
    assert answered.breached_at == at(23, 12, 20)
    assert waiting.due_at == at(23, 16)  # one hour before lunch, one after


def test_an_internal_wait_runs_its_own_clock_and_the_customer_clocks_go_on() -> None:
    history = [created(at(23, 10)), reply(at(23, 10, 10)), status(at(23, 10, 30), "on_hold", WaitingOn.INTERNAL),
               status(at(23, 14, 30), "open")]
    found = clocks(history, now=at(23, 15))
    internal = found[Metric.INTERNAL][0]
    assert (internal.started_at, internal.stopped_at) == (at(23, 10, 30), at(23, 14, 30))
    assert internal.used == timedelta(hours=4) and internal.breached_at == at(23, 13, 30)  # calendar hours
    assert found[Metric.RESOLUTION][0].used == timedelta(0) and found[Metric.RESOLUTION][0].outcome is Outcome.RUNNING
    assert [h[0] for h in found[Metric.RESOLUTION][0].history] == ["started"]  # never paused


def test_waiting_on_a_seller_pauses_only_when_the_terms_say_so() -> None:
    history = [created(at(23, 10)), reply(at(23, 10, 10)), status(at(23, 11), "on_hold", WaitingOn.SELLER),
               status(at(24, 11), "open")]
    default = clocks(history, now=at(24, 12))[Metric.RESOLUTION][0]
    pausing = clocks(history, now=at(24, 12), terms=Terms(targets=TERMS.targets, pause_on=frozenset(
        {WaitingOn.CUSTOMER, WaitingOn.SELLER})))[Metric.RESOLUTION][0]
    assert default.due_at == at(25, 10)
    assert pausing.used == timedelta(hours=1)  # Monday 10:00-11:00 only
    assert pausing.due_at == at(26, 10)  # 15 h from Tuesday 11:00: 6 + 8 + 1


def test_solving_stops_the_clocks_and_reopening_resumes_resolution() -> None:
    history = [created(at(23, 10)), status(at(23, 11), "solved"), customer(at(23, 12)), status(at(23, 12), "open")]
    found = clocks(history, now=at(23, 12, 30))
    assert found[Metric.FIRST_REPLY][0].outcome is Outcome.CANCELLED
    resolution = found[Metric.RESOLUTION][0]
    assert resolution.outcome is Outcome.RUNNING and resolution.used == timedelta(hours=1)
    assert [h[0] for h in resolution.history] == ["started", "fulfilled", "reopened", "resumed"]
    assert resolution.due_at == at(25, 11)  # 15 h left from Monday 12:00: 5 + 8 + 2
    assert Metric.NEXT_REPLY not in found  # no first reply yet: the first-reply clock covered it


def test_a_customer_message_that_reopens_a_solved_case_awaits_a_reply() -> None:
    history = [created(at(23, 10)), reply(at(23, 10, 10)), status(at(23, 11), "solved"),
               customer(at(23, 12)), status(at(23, 12), "open")]
    next_reply = clocks(history, now=at(23, 12, 5))[Metric.NEXT_REPLY]
    assert [(c.started_at, c.outcome) for c in next_reply] == [(at(23, 12), Outcome.RUNNING)]


def test_a_clock_reopened_with_no_time_left_is_due_when_it_ran_out() -> None:
    short = Terms(targets={Metric.RESOLUTION: Target(60, business=False)})
    history = [created(at(23, 10)), status(at(23, 12), "solved"), status(at(23, 15), "open")]
    resolution = clocks(history, now=at(23, 15, 5), terms=short)[Metric.RESOLUTION][0]
    assert resolution.due_at == at(23, 11) and resolution.breached_at == at(23, 11)


def test_a_running_clock_past_due_is_breached_at_its_due_time() -> None:
    found = clocks([created(at(23, 10))], now=at(23, 15, 30))
    first = found[Metric.FIRST_REPLY][0]
    assert first.due_at == at(23, 11) and first.breached_at == at(23, 11) and first.outcome is Outcome.RUNNING
