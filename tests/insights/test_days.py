"""The day counts agree with the facts, figure for figure, and stay so as the log grows.

On the seeded fortnight of ``tests/insights/history.py``: every counted metric, over periods that hold whole
days and parts of days (and none), filtered and grouped every way the day counts serve, read from the day
counts and the facts' ends equals the same read from the facts alone; after new events (a follow-up that
turns an old solve into a repeat, a rating changed days later, an escalation of an older case) the counts a
refresh kept equal those counted again from nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.world import World
from tests.insights.history import FORTNIGHT, NOW, SETTINGS, SYSTEM, History, at, history
from trustdesk.cases import service as cases
from trustdesk.cases.models import Party
from trustdesk.insights import days, facts, metrics
from trustdesk.insights.metrics import Filters, Period
from trustdesk.insights.models import DayCount

__all__ = ["history"]  # the fixture

COUNTED = [key for key, d in metrics.DEFINITIONS.items() if d.counting is not None]
PERIODS = (
    FORTNIGHT,  # starts at 09:00: a part of a day, twelve whole days, a part
    Period(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),  # whole days only
    Period(at(0, 10), at(0, 15)),  # within one day: facts only
    Period(at(1, 0), at(1, 23)),  # no whole day
    Period(at(0, 12), at(3, 10)),
    Period(START - timedelta(days=30), NOW + timedelta(days=3)),  # past both ends of the history
)


def both_ways(db: Session, filters: Filters, by: str | None) -> tuple[Any, Any]:
    keys = [k for k in COUNTED if by is None or by in metrics.DEFINITIONS[k].groups]
    return (metrics.counted(db, keys, PERIODS, filters, by=by),
            metrics.counted(db, keys, PERIODS, filters, by=by, from_days=False))


def rows(db: Session) -> list[tuple[Any, ...]]:
    columns = [c for c in DayCount.__table__.columns if c.key != "id"]
    return sorted(tuple(r) for r in db.execute(select(*columns)))


def test_the_day_counts_give_the_facts_figures(db: Session, history: History) -> None:
    assert db.scalar(select(func.count()).select_from(DayCount))  # kept by the history's refresh
    for filters in (Filters(), Filters(market="US"), Filters(channel="in_app_chat"), Filters(topic="orders")):
        for by in metrics.DAY_GROUPS:
            from_days, from_facts = both_ways(db, filters, by)
            assert from_days == from_facts, (filters, by)
    # By hand: 1-8 March holds C1-C7 opened (7 cases) and four of five good ratings (C2's latest is a 2).
    week = metrics.counted(db, ["volume", "csat"], [PERIODS[1]])
    assert week["volume"][0][0].value == 7
    assert (week["csat"][0][0].numerator, week["csat"][0][0].denominator) == (3, 4)
    by_day = {v.group: v.count for v in metrics.counted(db, ["volume"], [PERIODS[1]], by="day")["volume"][0]}
    assert by_day == {"2026-03-02": 3, "2026-03-03": 2, "2026-03-05": 1, "2026-03-06": 1}
    # Whole days are read from the day counts, not the facts: without them, a week of whole days is empty.
    db.execute(delete(DayCount))
    assert metrics.counted(db, ["volume"], [PERIODS[1]])["volume"] == [[]]
    assert metrics.counted(db, ["volume"], [PERIODS[1]], from_days=False)["volume"][0][0].value == 7


def test_a_refresh_keeps_the_day_counts_exact(db: Session, world: World, history: History) -> None:
    c1_party = db.get(Party, history.cases["C1"].party_id)
    # C2's party comes back on its topic two days after C2 was solved: C2 becomes a repeat on its solve day.
    history.open("C8", at(3, 12), party=db.get(Party, history.cases["C2"].party_id))
    history.rate("C5", 2, at(9, 10))  # re-rated a week later: the rating moves to another day
    cases.reroute_case(db, history.cases["C6"], to_queue=world.queue_t2, reason="escalated", actor=SYSTEM,
                       settings=SETTINGS, now=at(9, 11))
    history.open("C9", at(10, 9), party=c1_party)
    db.flush()
    before = metrics.value(db, "repeat_rate", FORTNIGHT, now=NOW)
    assert facts.refresh_stale(db, now=NOW) == 4
    kept = rows(db)
    repeats = metrics.value(db, "repeat_rate", FORTNIGHT, now=NOW)
    assert repeats.numerator == (before.numerator or 0) + 1  # C2, through its follow-up C8
    days.rebuild(db)
    assert rows(db) == kept
    for by in (None, "day", "topic", "target"):
        from_days, from_facts = both_ways(db, Filters(), by)
        assert from_days == from_facts, by


def test_runs_of_days_are_counted_in_bounded_ranges() -> None:
    first = date(2026, 1, 1)
    spread = [first + timedelta(days=d) for d in (*range(0, 40), 45, 47, 48)]
    ranges = list(days._ranges(spread))
    assert ranges == [(first, first + timedelta(days=days.MAX_RANGE_DAYS)),
                      (first + timedelta(days=days.MAX_RANGE_DAYS), first + timedelta(days=40)),
                      (first + timedelta(days=45), first + timedelta(days=46)),
                      (first + timedelta(days=47), first + timedelta(days=49))]
