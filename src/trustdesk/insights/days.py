"""The day counts (``case_fact_days``): the counted metrics' numbers per UTC day, per moment and per
combination of the dashboards' dimensions, so a period's whole days are added up from a few thousand rows
a day instead of counted from every fact (``metrics.counted`` reads them; the parts of days at a period's
ends still come from the facts). The SLA targets that came due are counted the same way, per target. On
PostgreSQL the reply and resolution minutes are counted per day, market and bucket too (``TimeDayCount``),
so a median finds the bucket its rank falls in without sorting the period.

They are kept exact, not approximately fresh: whenever facts are folded again (``facts.refresh``), the days
those facts were and are counted on (each moment's day, before and after, and the solve day of every case
whose follow-ups changed: the repeat rate) are counted again from the facts in the same transaction. A
reader therefore sees day counts that agree with the facts it would otherwise read, figure for figure;
``tests/insights/test_days.py`` holds them to that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, String, and_, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from trustdesk.core.db import is_postgres
from trustdesk.insights import metrics
from trustdesk.insights.metrics import Counting, Period
from trustdesk.insights.models import CaseFact, DayCount, TargetFact, TimeDayCount

DIMENSIONS = ("market", "team_id", "first_team_id", "tier", "channel", "topic")
# PostgreSQL advisory lock held by a transaction that counts days, to its end: a day is deleted and counted
# again, and two transactions doing so at once under READ COMMITTED would each insert their own counts.
COUNTING_LOCK = 0x7D_0013
MAX_RANGE_DAYS = 31  # days counted again in one statement per moment
CHUNK = 500


def _moments() -> list[tuple[Any, list[tuple[str, Counting]]]]:
    """Each moment a counted metric counts from, with the metrics counted from it."""
    counted = [(key, d.counting) for key, d in metrics.DEFINITIONS.items() if d.counting is not None]
    anchors = {id(c.anchor): c.anchor for _, c in counted}
    return [(anchor, [(k, c) for k, c in counted if c.anchor is anchor]) for anchor in anchors.values()]


MOMENTS = _moments()
# The reply and resolution minutes, each with the moment that puts it in a period (``TimeDayCount``).
TIMES: list[tuple[Any, Any]] = list({column.key: (column, anchor) for anchor, column, _ in metrics.TIME_SPANS.values()}
                                    .values())


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def touched(session: Session, case_ids: Iterable[int]) -> set[date]:
    """The days these cases' facts (and their SLA targets) are counted on now, for every moment."""
    ids = sorted(set(case_ids))
    out: set[date] = set()
    anchors = [*{a.key: a for a in [*(anchor for anchor, _ in MOMENTS if anchor.class_ is CaseFact),
                                     *(anchor for _, anchor in TIMES)]}.values()]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for row in session.execute(select(*anchors).where(CaseFact.case_id.in_(chunk))):
            out.update(_utc_day(at) for at in row if at is not None)
        due = session.scalars(select(TargetFact.came_due_at).where(TargetFact.case_id.in_(chunk)).distinct())
        out.update(_utc_day(at) for at in due)
    return out


def _ranges(days: Iterable[date]) -> Iterator[tuple[date, date]]:
    """Runs of consecutive days as [first, last) ranges of at most ``MAX_RANGE_DAYS``."""
    ordered = sorted(set(days))
    i = 0
    while i < len(ordered):
        first = last = ordered[i]
        i += 1
        while i < len(ordered) and ordered[i] == last + timedelta(days=1) and (last - first).days + 1 < MAX_RANGE_DAYS:
            last = ordered[i]
            i += 1
        yield first, last + timedelta(days=1)


def _day_of(session: Session, anchor: Any) -> Any:
    if is_postgres(session):
        return cast(func.date_trunc("day", func.timezone("UTC", anchor)), Date)
    return func.date(anchor)


def _count(session: Session, first: date, last: date) -> None:
    """Count the days [first, last) again from the facts: every moment, every dimension."""
    session.execute(delete(DayCount).where(DayCount.day >= first, DayCount.day < last))
    period = Period(metrics.midnight(first), metrics.midnight(last))
    if is_postgres(session):  # the buckets serve PostgreSQL's percentiles (SQLite's sort in Python)
        session.execute(delete(TimeDayCount).where(TimeDayCount.day >= first, TimeDayCount.day < last))
        for column, anchor in TIMES:
            day, bucket = _day_of(session, anchor), metrics.time_bucket(column)
            buckets = (select(literal(column.key, String), day, CaseFact.market, bucket, func.count())
                       .where(anchor >= period.since, anchor < period.until, column.is_not(None))
                       .group_by(day, CaseFact.market, bucket))
            session.execute(insert(TimeDayCount).from_select(["measure", "day", "market", "bucket", "n"], buckets))
    for anchor, wanted in MOMENTS:
        day = _day_of(session, anchor)
        targets = any(spec.targets for _, spec in wanted)
        dimensions = [getattr(CaseFact, name) for name in DIMENSIONS] + ([TargetFact.metric] if targets else [])
        names = ["moment", "day", *DIMENSIONS] + (["target"] if targets else [])
        columns: list[Any] = [literal(anchor.key, String), day, *dimensions]
        for key, spec in wanted:
            base = spec.base
            names.append(f"{key}_n")
            columns.append(func.count() if base is None else func.count().filter(base))
            if spec.hit is not None:
                names.append(f"{key}_h")
                hit = spec.hit(period)
                columns.append(func.count().filter(hit if base is None else and_(base, hit)))
            if spec.total is not None:
                names.append(f"{key}_t")
                total = func.sum(spec.total)
                columns.append(func.coalesce(total if base is None else total.filter(base), 0))
        query = select(*columns)
        if targets:
            query = query.select_from(TargetFact).join(CaseFact, CaseFact.case_id == TargetFact.case_id)
        query = query.where(anchor >= period.since, anchor < period.until).group_by(day, *dimensions)
        session.execute(insert(DayCount).from_select(names, query))


def _one_at_a_time(session: Session) -> None:
    """Wait until no other transaction is counting days (SQLite: writers are serialized already)."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(COUNTING_LOCK)))


def recount(session: Session, days: Iterable[date]) -> int:
    """Count these days again from the facts. Returns how many days were counted."""
    counted = 0
    ranges = list(_ranges(days))
    if ranges:
        _one_at_a_time(session)
    for first, last in ranges:
        _count(session, first, last)
        counted += (last - first).days
    return counted


def rebuild(session: Session) -> int:
    """Count every day again (after a bulk load of facts, or with ``trustdesk insights rebuild``)."""
    _one_at_a_time(session)
    session.execute(delete(DayCount))
    session.execute(delete(TimeDayCount))
    days: set[date] = set()
    for anchor in [*(a for a, _ in MOMENTS), *(a for _, a in TIMES)]:
        low, high = session.execute(select(func.min(anchor), func.max(anchor))).one()
        if low is not None and high is not None:
            days.update(_utc_day(low) + timedelta(days=d) for d in range((_utc_day(high) - _utc_day(low)).days + 1))
    return recount(session, days)


def solve_days(session: Session, case_ids: Sequence[int]) -> set[date]:
    """The days these cases were first solved on (where the repeat rate counts them)."""
    out: set[date] = set()
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), CHUNK):
        solved = session.scalars(select(CaseFact.first_solved_at).where(
            CaseFact.case_id.in_(ids[start:start + CHUNK]), CaseFact.first_solved_at.is_not(None)))
        out.update(_utc_day(at) for at in solved if at is not None)
    return out
