"""The day counts agree with the facts, figure for figure, and stay so as the log grows.

On the seeded fortnight of ``tests/insights/history.py``: every counted metric, over periods that hold whole
days and parts of days (and none), filtered and grouped every way the day counts serve, read from the day
counts and the facts' ends equals the same read from the facts alone; after new events (a follow-up that
turns an old solve into a repeat, a rating changed days later, an escalation of an older case) the counts a
refresh kept equal those counted again from nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.factories.world import World
from tests.insights.history import FORTNIGHT, NOW, SETTINGS, SYSTEM, History, at, history
from trustdesk.cases import service as cases
from trustdesk.cases.models import Party
from trustdesk.core.db import is_postgres
from trustdesk.insights import days, facts, metrics
from trustdesk.insights.metrics import Filters, Period
from trustdesk.insights.models import DayCount, TimeDayCount

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


def test_percentiles_from_the_buckets_are_the_sorted_ones(db: Session, history: History) -> None:
    if not is_postgres(db):
        pytest.skip("the buckets serve PostgreSQL's percentiles; on SQLite they are sorted in Python")
    rng = random.Random(7)
    # Forty more cases over the fortnight, answered and solved after spans that land on bucket edges (60 and
    # 1,440 minutes), inside narrow buckets and in the wide ones, some in Spain.
    spans = [60, 1440, 59, 61, 600, 3, 14400, 2000, 45, 90, 20, 1460]
    for n in range(40):
        opened = at(rng.randrange(0, 13), rng.randrange(0, 24), rng.randrange(0, 60))
        name = f"R{n}"
        history.open(name, opened, es=n % 4 == 0)
        history.reply(name, opened + timedelta(minutes=spans[n % len(spans)] + (n // 10) * 0.25),
                      solve=n % 3 != 0)
    db.flush()
    assert facts.refresh_stale(db, now=NOW) == 40
    assert db.scalar(select(func.count()).select_from(TimeDayCount))
    timed = [k for k in metrics.DEFINITIONS if k.startswith(("first_reply", "resolution"))]
    for filters in (Filters(), Filters(market="US"), Filters(market="ES")):
        for by in (None, "day", "week"):  # the figures, and the trends of a chart
            ranked = metrics.quantiles(db, timed, PERIODS, filters, by=by, now=NOW)
            sorted_ = metrics.quantiles(db, timed, PERIODS, filters, by=by, now=NOW, from_days=False)
            assert ranked == sorted_, (filters, by)
    assert len(metrics.quantiles(db, ["first_reply_median"], [FORTNIGHT], by="day", now=NOW)
               ["first_reply_median"][0]) >= 10  # a trend with most of the fortnight's days
    # The buckets were read, not the sort: without them only the parts of days at the ends are counted.
    db.execute(delete(TimeDayCount))
    assert metrics.quantiles(db, ["first_reply_median"], [PERIODS[1]], now=NOW)["first_reply_median"] == [[]]


def test_one_transaction_counts_days_at_a_time(db: Session, history: History) -> None:
    if not is_postgres(db):
        pytest.skip("SQLite serializes writers; PostgreSQL needs the advisory lock")
    days.recount(db, [at(0, 9).date()])
    held = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND granted "
                "AND pid = pg_backend_pid()")
    assert db.scalar(held, {"key": days.COUNTING_LOCK}) == 1  # held by the transaction that counted, to its end
    bind = db.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with engine.connect() as other:  # a second refresh job waits for it
        assert other.scalar(select(func.pg_try_advisory_xact_lock(days.COUNTING_LOCK))) is False
        other.rollback()
