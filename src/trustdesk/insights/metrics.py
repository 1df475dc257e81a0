"""Every metric of the product, defined once (GLOSSARY), computed from the event log.

Case metrics read ``case_facts`` (each row a fold of one case's events, ``insights.facts``) and
``case_target_facts`` (the SLA targets that came due, by the SLA report's own fold); deflection reads
the self-service funnel and the overturn rate the appeal event log. Each definition says which moment
puts a case in a period, so a figure means the same on the dashboard, in the weekly report, in an OKR
and over the API:

========================  ==========================================================  =====================
metric                    value                                                       a case counts when
========================  ==========================================================  =====================
volume                    cases opened                                                opened in the period
backlog                   cases not solved or closed now (new, open, pending, on hold) opened before its end
first_reply_*             minutes from opening to the first public agent reply        first reply in it
resolution_*              minutes from opening to the last solve                      last solved in it
sla_compliance            targets met in time / targets that came due                 target came due in it
csat                      good ratings (4-5) / ratings; the latest rating counts      rated in it
csat_mean                 mean rating, 1-5                                            rated in it
escalation_rate           cases escalated from Tier 1 / cases Tier 1 handled          opened in it
reopen_rate               solved cases reopened / solved cases                        first solved in it
repeat_rate               solved cases reopened, or followed by the same party on     first solved in it
                          the same topic within 7 days / solved cases
misroute_rate             misrouted cases / routed cases                              opened in it
hops_per_case             team changes per routed case (mean)                         opened in it
negative_sentiment_rate   cases whose last scored customer message is negative        opened in it
                          (-0.05 or lower) / cases with a scored customer message
sentiment_worsened_rate   cases whose last scored message's label is worse than the   opened in it
                          first's (positive, neutral, negative) / cases with one
deflection_rate           self-service sessions resolved / sessions                   session started in it
appeals_overturn_rate     appeals overturned fully or partly / appeals decided        decided in it
========================  ==========================================================  =====================

The counted metrics (volume, the rates and the means) add up a period's whole UTC days from the day counts
(``insights.days``: per day, moment and dimension, kept exact by every fact refresh) and count only the parts
of days at its ends from the facts; the time metrics sort the facts' minutes (exact percentiles cannot be
added up from days).

Medians and 90th percentiles interpolate linearly between the two nearest values (PostgreSQL's
``percentile_cont``, NumPy's default): the median of 10, 20, 30, 40 is 25 and their p90 is 37. The
``_business`` variants measure the same spans in the open minutes of the case's SLA calendar.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Float,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from trustdesk.appeals import insights as appeal_insights
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Invalid
from trustdesk.insights.models import CaseFact, DayCount, TargetFact, TimeDayCount
from trustdesk.knowledge import funnel
from trustdesk.text.sentiment import NEGATIVE_FROM, POSITIVE_FROM

REPEAT_DAYS = 7  # GLOSSARY: the same party on the same topic within N days of a solved case
DEFLECTION_DAYS = 7
GOOD_RATING = 4
OPEN_STATUSES = ("new", "open", "pending", "on_hold")
MAX_PERIOD_DAYS = 400


class Unit(StrEnum):
    COUNT = "count"
    MINUTES = "minutes"
    RATIO = "ratio"  # 0 .. 1
    SCORE = "score"  # a 1-5 mean
    MEAN = "mean"  # a mean count per case (hops)


class Better(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


FILTERS = ("market", "team", "tier", "channel", "topic")
CASE_GROUPS = ("market", "team", "tier", "channel", "topic", "agent", "day", "week")
ROUTED_GROUPS = (*CASE_GROUPS, "first_team")  # the team routing sent a case to first


@dataclass(frozen=True)
class Filters:
    """Which cases: a market code, a team id, a tier, a channel and a topic (its sub-topics included)."""

    market: str | None = None
    team: int | None = None
    tier: str | None = None
    channel: str | None = None
    topic: str | None = None

    def given(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name) is not None}

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Filters:
        unknown = set(raw) - set(FILTERS)
        if unknown:
            raise Invalid(f"filter by {', '.join(FILTERS)}", field=sorted(unknown)[0])
        team = raw.get("team")
        if team is not None and (isinstance(team, bool) or not isinstance(team, int)):
            raise Invalid("a team's id", field="team")
        values = {k: v for k, v in raw.items() if k != "team"}
        for name, value in values.items():
            if value is not None and not isinstance(value, str):
                raise Invalid("a text value", field=name)
        return cls(team=team, **{k: (v or None) for k, v in values.items()})


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise Invalid("a period needs times with a zone", field="since")
        if self.until <= self.since:
            raise Invalid("the period ends after it starts", field="until")
        if self.until - self.since > timedelta(days=MAX_PERIOD_DAYS):
            raise Invalid(f"a period of at most {MAX_PERIOD_DAYS} days", field="since")

    def before(self) -> Period:
        """The period of the same length just before this one (for "change vs previous")."""
        length = self.until - self.since
        return Period(self.since - length, self.since)


@dataclass(frozen=True)
class Value:
    """One figure: the value, and what it was computed from (so it can be checked by hand)."""

    group: str | None
    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    count: int = 0  # the cases (ratings, targets, sessions) it was computed from

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "value": None if self.value is None else round(self.value, 6),
                "numerator": self.numerator, "denominator": self.denominator, "count": self.count}


Compute = Callable[[Session, Period, Filters, str | None, datetime], list[Value]]


@dataclass(frozen=True)
class Definition:
    key: str
    label: str
    unit: Unit
    better: Better
    description: str
    rule: Compute | Counting = field(repr=False)  # a function, or how a counted metric counts
    filters: tuple[str, ...] = FILTERS
    groups: tuple[str, ...] = CASE_GROUPS

    @property
    def counting(self) -> Counting | None:
        return self.rule if isinstance(self.rule, Counting) else None


# ----------------------------------------------------------------------------------------------- helpers


def _topic_is(column: Any, topic: str) -> ColumnElement[bool]:
    return or_(column == topic, column.like(topic.replace("%", r"\%").replace("_", r"\_") + ".%", escape="\\"))


def _where(filters: Filters, fact: Any = CaseFact) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.market:
        out.append(fact.market == filters.market)
    if filters.team is not None:
        out.append(fact.team_id == filters.team)
    if filters.tier:
        out.append(fact.tier == filters.tier)
    if filters.channel:
        out.append(fact.channel == filters.channel)
    if filters.topic:
        out.append(_topic_is(fact.topic, filters.topic))
    return out


def conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """The filters as conditions on ``case_facts``, for figures that join other tables to the facts (the
    live SLA risk of the dashboards), so a filter means the same there as in every metric."""
    return _where(filters)


def _bucket(session: Session, column: Any, size: str) -> Any:
    """The UTC day (or its week's Monday) of a time: on PostgreSQL the truncated time (grouping by it is
    twice as fast as by its text; ``_label`` writes it as YYYY-MM-DD), on SQLite that text."""
    if is_postgres(session):
        return func.date_trunc(size, func.timezone("UTC", column))
    if size == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.date(column)


def _group_column(session: Session, by: str | None, anchor: Any, fact: Any = CaseFact) -> Any:
    if by is None:
        return literal(None)
    if by in ("day", "week"):
        return _bucket(session, anchor, by)
    name = {"market": "market", "team": "team_id", "tier": "tier", "channel": "channel", "topic": "topic",
            "agent": "agent_id", "first_team": "first_team_id"}.get(by)
    if name is None:
        raise Invalid(f"group by one of {', '.join(CASE_GROUPS)}", field="by")
    return getattr(fact, name)


def _label(value: Any) -> str | None:
    if isinstance(value, datetime):  # a day or week bucket (``_bucket``)
        return value.date().isoformat()
    if isinstance(value, date):  # a day of the day counts
        return value.isoformat()
    return None if value is None else str(value)


def _in(anchor: Any, period: Period) -> list[ColumnElement[bool]]:
    return [anchor >= period.since, anchor < period.until]


def _ordered(rows: list[Value], by: str | None) -> list[Value]:
    if by in ("day", "week"):
        return sorted(rows, key=lambda v: v.group or "")
    return sorted(rows, key=lambda v: (-v.count, v.group is None, v.group or ""))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile of the values by linear interpolation (PostgreSQL's ``percentile_cont``)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


@dataclass(frozen=True)
class Counting:
    """How a counted metric counts: the facts anchored in the period (those meeting ``base``, when given),
    and among them the hits (``hit``: a ratio's numerator) or a column's sum (``total``: a mean's numerator).
    ``hit`` is given the span of every period counted at once (the repeat rate reads the follow-ups that
    can exist in it)."""

    anchor: Any
    base: Any = None  # a condition (a boolean column, or an expression)
    hit: Callable[[Period], Any] | None = None
    total: Any = None
    targets: bool = False  # counts SLA target facts (each with its case's fact), not case facts


def _filtered(aggregate: Any, condition: Any) -> Any:
    return aggregate if condition is None else aggregate.filter(condition)


DAY_GROUPS = (None, "market", "team", "tier", "channel", "topic", "first_team", "day", "week", "target")  # DayCount


def day_bounds(period: Period) -> tuple[date, date] | None:
    """The whole UTC days inside a period, [first, last), or None when it holds no whole day."""
    since, until = period.since.astimezone(UTC), period.until.astimezone(UTC)
    first = since.date() + (timedelta(days=1) if since.time() != time(0) else timedelta(0))
    last = until.date()
    return (first, last) if first < last else None


def midnight(day: date) -> datetime:
    """The start of a UTC day (the day counts' days, ``insights.days``)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def _split(period: Period) -> tuple[tuple[date, date] | None, list[Period]]:
    """A period as its whole days (read from the day counts) and the parts of days at its ends (from the
    facts)."""
    whole = day_bounds(period)
    if whole is None:
        return None, [period]
    first, last = midnight(whole[0]), midnight(whole[1])
    edges = [p for p in (Period(period.since, first) if period.since < first else None,
                         Period(last, period.until) if last < period.until else None) if p is not None]
    return whole, edges


Tally = dict[tuple[str, int], dict[str | None, list[int]]]  # (metric, period) -> group -> [counted, numerator]


def _tally_facts(session: Session, anchor: Any, wanted: list[tuple[str, Counting]], parts: list[list[Period]],
                 span: Period, filters: Filters, by: str | None, into: Tally) -> None:
    """Count the facts anchored in each period's ``parts`` (one statement; ``span`` bounds the follow-ups the
    repeat rate reads)."""
    bounds = [p for ps in parts for p in ps]
    if not bounds:
        return
    targets = any(spec.targets for _, spec in wanted)
    group = TargetFact.metric if by == "target" else _group_column(session, by, anchor)
    columns: list[Any] = [group.label("g")]
    alone = len(bounds) == 1  # the statement's own bounds are the part's: only the metric's base is asked
    for key, spec in wanted:
        for i, own in enumerate(parts):
            if not own:
                continue
            inside = [*([] if alone else [or_(*(and_(*_in(anchor, p)) for p in own))]),
                      *([spec.base] if spec.base is not None else [])]
            counts = and_(*inside) if inside else None
            columns.append(_filtered(func.count(), counts).label(f"n_{key}_{i}"))
            if spec.hit is not None:
                hits = spec.hit(span) if counts is None else and_(counts, spec.hit(span))
                columns.append(func.count().filter(hits).label(f"h_{key}_{i}"))
            if spec.total is not None:
                columns.append(func.coalesce(_filtered(func.sum(spec.total), counts), 0).label(f"t_{key}_{i}"))
    where = _in(anchor, bounds[0]) if alone else [or_(*(and_(*_in(anchor, p)) for p in bounds))]
    query = select(*columns)
    if targets and (filters.given() or by not in (None, "target", "day", "week")):
        # The facts are joined only when a filter or a group reads them: every target fact has its case's
        # fact (a foreign key), so the join adds no row and drops none, and without it the targets are
        # counted from their own index.
        query = query.select_from(TargetFact).join(CaseFact, CaseFact.case_id == TargetFact.case_id)
    query = query.where(*where, *_where(filters)).group_by(group)
    for row in session.execute(query).mappings():
        for key, spec in wanted:
            for i, own in enumerate(parts):
                if own:
                    top = f"h_{key}_{i}" if spec.hit is not None else f"t_{key}_{i}" if spec.total is not None else None
                    _add(into, key, i, _label(row["g"]), int(row[f"n_{key}_{i}"]), int(row[top]) if top else 0)


def _tally_days(session: Session, anchor: Any, wanted: list[tuple[str, Counting]],
                days: list[tuple[date, date] | None], filters: Filters, by: str | None, into: Tally) -> None:
    """Add up the day counts of each period's whole days (one statement)."""
    ranges = [d for d in days if d is not None]
    if not ranges:
        return
    if by == "target":
        group: Any = DayCount.target
    elif by == "day":
        group = DayCount.day
    elif by == "week":  # the Monday, as ``_bucket`` gives it
        group = (func.date_trunc("week", cast(DayCount.day, DateTime)) if is_postgres(session)
                 else func.date(DayCount.day, "weekday 0", "-6 days"))
    else:
        group = _group_column(session, by, DayCount.day, fact=DayCount)
    columns: list[Any] = [group.label("g")]
    for key, spec in wanted:
        for i, own in enumerate(days):
            if own is None:
                continue
            inside = and_(DayCount.day >= own[0], DayCount.day < own[1])
            columns.append(func.coalesce(func.sum(getattr(DayCount, f"{key}_n")).filter(inside), 0)
                           .label(f"n_{key}_{i}"))
            if spec.hit is not None or spec.total is not None:
                top = getattr(DayCount, f"{key}_h" if spec.hit is not None else f"{key}_t")
                columns.append(func.coalesce(func.sum(top).filter(inside), 0).label(f"x_{key}_{i}"))
    query = (select(*columns).where(DayCount.moment == anchor.key, DayCount.day >= min(r[0] for r in ranges),
                                    DayCount.day < max(r[1] for r in ranges), *_where(filters, fact=DayCount))
             .group_by(group))
    for row in session.execute(query).mappings():
        for key, spec in wanted:
            for i, own in enumerate(days):
                if own is not None:
                    extra = spec.hit is not None or spec.total is not None
                    _add(into, key, i, _label(row["g"]), int(row[f"n_{key}_{i}"]),
                         int(row[f"x_{key}_{i}"]) if extra else 0)


def _add(into: Tally, key: str, i: int, group: str | None, n: int, top: int) -> None:
    if n:
        found = into.setdefault((key, i), {}).setdefault(group, [0, 0])
        found[0] += n
        found[1] += top


def counted(session: Session, keys: Sequence[str], periods: Sequence[Period], filters: Filters | None = None, *,
            by: str | None = None, from_days: bool = True) -> dict[str, list[list[Value]]]:
    """Counted metrics (volume, the rates, the means) over several periods, each the same as ``compute``
    gives, and counted together: for the metrics counted from the same moment, the whole days of every
    period come from the day counts (``DayCount``, a few thousand rows a day at a million cases, not
    ten thousand facts) in one statement, and the parts of days at the periods' ends from the facts in
    another. ``from_days=False`` reads the facts alone (the definition the day counts are tested against;
    grouping by agent always does). A period with nothing counted has no value (``[]``)."""
    filters = filters or Filters()
    specs: dict[str, Counting] = {}
    for key in keys:
        metric = definition(key)
        if metric.counting is None:
            raise Invalid(f"{metric.label} is not a counted metric", field="metric")
        if by is not None and by not in metric.groups:
            raise Invalid(f"{metric.label} groups by one of {', '.join(metric.groups)}", field="by")
        specs[key] = metric.counting
    out: dict[str, list[list[Value]]] = {key: [[] for _ in periods] for key in keys}
    if not periods:
        return out
    span = Period(min(p.since for p in periods), max(p.until for p in periods))
    use_days = from_days and by in DAY_GROUPS
    into: Tally = {}
    for anchor in {id(c.anchor): c.anchor for c in specs.values()}.values():
        wanted = [(key, spec) for key, spec in specs.items() if spec.anchor is anchor]
        split = [_split(p) if use_days else (None, [p]) for p in periods]
        _tally_facts(session, anchor, wanted, [edges for _, edges in split], span, filters, by, into)
        _tally_days(session, anchor, wanted, [whole for whole, _ in split], filters, by, into)
    for key, spec in specs.items():
        ratio_or_mean = spec.hit is not None or spec.total is not None
        for i in range(len(periods)):
            tallied = into.get((key, i), {}).items()
            values = ([Value(group=g, value=top / n, numerator=top, denominator=n, count=n) for g, (n, top) in tallied]
                      if ratio_or_mean else [Value(group=g, value=float(n), count=n) for g, (n, _) in tallied])
            out[key][i] = _ordered(values, by)
    return out


def _quantile(session: Session, period: Period, filters: Filters, by: str | None, *, anchor: Any,
              column: Any, q: float) -> list[Value]:
    group = _group_column(session, by, anchor)
    where = [*_in(anchor, period), *_where(filters), column.is_not(None)]
    out = []
    if is_postgres(session):
        query = (select(group.label("g"), func.percentile_cont(q).within_group(column).label("v"),
                        func.count().label("n")).where(*where).group_by(group))
        out = [Value(group=_label(g), value=float(v) if v is not None else None, count=int(n))
               for g, v, n in session.execute(query)]
    else:
        values: dict[Any, list[float]] = defaultdict(list)
        for g, v in session.execute(select(group, column).where(*where)):
            values[g].append(float(v))
        out = [Value(group=_label(g), value=percentile(vs, q), count=len(vs)) for g, vs in values.items()]
    return _ordered(out, by)


# ----------------------------------------------------------------------------------------------- metrics


def backlog(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
    group = _group_column(session, by, CaseFact.created_at)
    query = (select(group.label("g"), func.count()).where(CaseFact.created_at < period.until,
                                                          CaseFact.status.in_(OPEN_STATUSES), *_where(filters))
             .group_by(group))
    return _ordered([Value(group=_label(g), value=float(n), count=int(n)) for g, n in session.execute(query)], by)


def _time_metric(column: Any, anchor: Any, q: float) -> Compute:
    def compute(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
        return _quantile(session, period, filters, by, anchor=anchor, column=column, q=q)
    return compute


def repeated(days: int = REPEAT_DAYS) -> ColumnElement[bool]:
    """A solved case was repeated: reopened, or the same party came back on its topic within ``days``."""
    later = aliased(CaseFact)
    follow_up = select(later.case_id).where(later.repeat_of_case_id == CaseFact.case_id,
                                            later.repeat_gap_minutes <= days * 24 * 60).exists()
    return or_(CaseFact.reopens > 0, follow_up)


def repeated_in(period: Period, days: int = REPEAT_DAYS) -> ColumnElement[bool]:
    """``repeated`` for cases first solved in the period, read from the follow-ups that can exist: one opens
    at or after the solve it follows and within ``days`` of it, so only cases opened from the period's start
    to ``days`` after its end (and a minute, for the gap's rounding) can be one. The same cases as
    ``repeated``, from one bounded set instead of a probe per solved case."""
    later = aliased(CaseFact)
    follow_ups = select(later.repeat_of_case_id).where(
        later.created_at >= period.since, later.created_at < period.until + timedelta(days=days, minutes=1),
        later.repeat_of_case_id.is_not(None), later.repeat_gap_minutes <= days * 24 * 60)
    return or_(CaseFact.reopens > 0, CaseFact.case_id.in_(follow_ups))


def _tone(score: Any) -> Any:
    """A sentiment score's label as a rank (negative 0, neutral 1, positive 2), by VADER's thresholds."""
    return case((score <= NEGATIVE_FROM, 0), (score >= POSITIVE_FROM, 2), else_=1)


def deflection_rate(session: Session, period: Period, filters: Filters, by: str | None,
                    now: datetime) -> list[Value]:
    # The funnel counts sessions by one dimension at a time: a market or a topic, grouped by either.
    if filters.market and filters.topic:
        raise Invalid("deflection is filtered by a market or by a topic, not both", field="topic")
    if (by == "topic" and filters.market) or (by == "market" and filters.topic):
        raise Invalid("deflection is grouped by the dimension it is filtered by", field="by")
    dimension = by or ("topic" if filters.topic else "market")
    report = funnel.report(session, since=period.since, until=period.until, now=now, days=DEFLECTION_DAYS,
                           by=dimension)
    rows = [r for r in report.rows
            if not (filters.market and r.key != filters.market)
            and not (filters.topic and (r.key is None or not (r.key == filters.topic
                                                              or r.key.startswith(filters.topic + "."))))]
    if by is None:
        attempts = sum(r.attempts for r in rows)
        resolved = sum(r.resolved for r in rows)
        return [Value(group=None, value=resolved / attempts if attempts else None, numerator=resolved,
                      denominator=attempts, count=attempts)]
    return [Value(group=r.key, value=r.resolved / r.attempts if r.attempts else None, numerator=r.resolved,
                  denominator=r.attempts, count=r.attempts) for r in rows]


def appeals_overturn_rate(session: Session, period: Period, filters: Filters, by: str | None,
                          now: datetime) -> list[Value]:
    decided = appeal_insights.decided_in(since=period.since, until=period.until).subquery()
    anchor = decided.c.decided_at
    group = _group_column(session, by, anchor)
    query = (select(group.label("g"), func.count().label("n"),
                    func.count(case((decided.c.overturned, 1))).label("h"))
             .select_from(decided).join(CaseFact, CaseFact.case_id == decided.c.case_id)
             .where(*_where(filters)).group_by(group))
    return _ordered([Value(group=_label(g), value=int(h) / int(n) if n else None, numerator=int(h),
                           denominator=int(n), count=int(n)) for g, n, h in session.execute(query)], by)


TIME_SPANS: dict[str, tuple[Any, Any, float]] = {}  # a time metric's key: (anchor, column, quantile)


def _definitions() -> dict[str, Definition]:
    times = []
    for key, label, column, anchor, what in (
            ("first_reply", "First reply time", CaseFact.first_reply_minutes, CaseFact.first_reply_at,
             "from opening to the first public agent reply (bot replies and notes do not count)"),
            ("first_reply_business", "First reply time (business)", CaseFact.first_reply_business_minutes,
             CaseFact.first_reply_at, "the same span in open minutes of the case's SLA calendar"),
            ("resolution", "Resolution time", CaseFact.resolution_minutes, CaseFact.solved_at,
             "from opening to the last solve (a reopened case keeps counting)"),
            ("resolution_business", "Resolution time (business)", CaseFact.resolution_business_minutes,
             CaseFact.solved_at, "the same span in open minutes of the case's SLA calendar")):
        for suffix, q, word in (("median", 0.5, "Median"), ("p90", 0.9, "90th percentile")):
            TIME_SPANS[f"{key}_{suffix}"] = (anchor, column, q)
            times.append(Definition(f"{key}_{suffix}", f"{label}, {word.lower()}", Unit.MINUTES, Better.LOWER,
                                    f"{word} minutes {what}.", _time_metric(column, anchor, q)))
    items = [
        Definition("volume", "Volume", Unit.COUNT, Better.LOWER, "Cases opened in the period.",
                   Counting(CaseFact.created_at)),
        Definition("backlog", "Backlog", Unit.COUNT, Better.LOWER,
                   "Cases not solved or closed now (new, open, pending, on hold) that were opened before the "
                   "period ended.", backlog, groups=CASE_GROUPS[:6]),
        *times,
        Definition("sla_compliance", "SLA compliance", Unit.RATIO, Better.HIGHER,
                   "Targets met in time / targets that came due in the period (by target: first reply, next "
                   "reply, periodic update, resolution).",
                   Counting(TargetFact.came_due_at, hit=lambda _: TargetFact.met, targets=True),
                   groups=(*CASE_GROUPS, "target")),
        Definition("csat", "CSAT", Unit.RATIO, Better.HIGHER,
                   "Good ratings (4 or 5) / all ratings given in the period; one rating per case, the latest "
                   "counts.", Counting(CaseFact.csat_rated_at, base=CaseFact.csat_score.is_not(None),
                                      hit=lambda _: CaseFact.csat_score >= GOOD_RATING)),
        Definition("csat_mean", "CSAT, mean rating", Unit.SCORE, Better.HIGHER,
                   "The mean of the ratings given in the period, on the 1-5 scale.",
                   Counting(CaseFact.csat_rated_at, base=CaseFact.csat_score.is_not(None), total=CaseFact.csat_score)),
        Definition("escalation_rate", "Escalation rate", Unit.RATIO, Better.LOWER,
                   "Cases escalated from Tier 1 (up a tier, or a ladder started while Tier 1 had it) / cases "
                   "Tier 1 handled, of the cases opened in the period.",
                   Counting(CaseFact.created_at, base=CaseFact.handled_by_t1, hit=lambda _: CaseFact.escalated_from_t1),
                   groups=ROUTED_GROUPS),
        Definition("reopen_rate", "Reopen rate", Unit.RATIO, Better.LOWER,
                   "Solved cases reopened / solved cases, of the cases first solved in the period.",
                   Counting(CaseFact.first_solved_at, hit=lambda _: CaseFact.reopens > 0)),
        Definition("repeat_rate", "Repeat rate", Unit.RATIO, Better.LOWER,
                   f"Solved cases reopened, or followed by the same party on the same topic within {REPEAT_DAYS} "
                   "days / solved cases, of the cases first solved in the period.",
                   Counting(CaseFact.first_solved_at, hit=repeated_in)),
        Definition("misroute_rate", "Misroute rate", Unit.RATIO, Better.LOWER,
                   "Misrouted cases (final team not the first routed team, or the topic corrected) / routed "
                   "cases, of the cases opened in the period.",
                   Counting(CaseFact.created_at, base=CaseFact.routed, hit=lambda _: CaseFact.misrouted),
                   groups=ROUTED_GROUPS),
        Definition("hops_per_case", "Hops per routed case", Unit.MEAN, Better.LOWER,
                   "Team changes (reroutes to another team, escalations excluded) per routed case, of the cases "
                   "opened in the period.", Counting(CaseFact.created_at, base=CaseFact.routed, total=CaseFact.hops),
                   groups=ROUTED_GROUPS),
        Definition("negative_sentiment_rate", "Negative sentiment", Unit.RATIO, Better.LOWER,
                   f"Cases whose last scored customer message is negative (score {NEGATIVE_FROM} or lower) / "
                   "cases with a scored customer message, of the cases opened in the period.",
                   Counting(CaseFact.created_at, base=CaseFact.sentiment_last.is_not(None),
                            hit=lambda _: CaseFact.sentiment_last <= NEGATIVE_FROM)),
        Definition("sentiment_worsened_rate", "Sentiment worsened", Unit.RATIO, Better.LOWER,
                   "Cases whose last scored customer message has a worse label than the first (positive, "
                   "neutral, negative) / cases with a scored customer message, of the cases opened in the "
                   "period.", Counting(CaseFact.created_at, base=CaseFact.sentiment_last.is_not(None),
                                      hit=lambda _: _tone(CaseFact.sentiment_last) < _tone(CaseFact.sentiment_first))),
        Definition("deflection_rate", "Deflection", Unit.RATIO, Better.HIGHER,
                   f"Self-service sessions after which the party opened no case within {DEFLECTION_DAYS} days / "
                   "sessions with a question, started in the period.", deflection_rate,
                   filters=("market", "topic"), groups=("market", "topic")),
        Definition("appeals_overturn_rate", "Appeals overturn rate", Unit.RATIO, Better.LOWER,
                   "Appeals overturned fully or partly / appeals decided in the period.", appeals_overturn_rate),
    ]
    return {d.key: d for d in items}


DEFINITIONS: dict[str, Definition] = _definitions()


def definition(key: str, *, field: str = "metric") -> Definition:
    found = DEFINITIONS.get(key)
    if found is None:
        raise Invalid(f"no metric {key!r}; one of {', '.join(DEFINITIONS)}", field=field)
    return found


def _nothing(metric: Definition) -> Value:
    """The single figure of a metric over no cases: zero cases, a rate of nothing, no time."""
    if metric.unit is Unit.COUNT:
        return Value(group=None, value=0.0)
    if metric.unit is Unit.RATIO:
        return Value(group=None, value=None, numerator=0, denominator=0)
    return Value(group=None, value=None)


def compute(session: Session, key: str, period: Period, filters: Filters | None = None, *, by: str | None = None,
            now: datetime) -> list[Value]:
    """The metric over the period for the filtered cases, one value, or one per group ``by``."""
    metric = definition(key)
    filters = filters or Filters()
    for name in filters.given():
        if name not in metric.filters:
            raise Invalid(f"{metric.label} cannot be filtered by {name}", field=name)
    if by is not None and by not in metric.groups:
        raise Invalid(f"{metric.label} groups by one of {', '.join(metric.groups)}", field="by")
    if metric.counting is not None:
        values = counted(session, [key], [period], filters, by=by)[key][0]
    else:
        assert not isinstance(metric.rule, Counting)
        values = metric.rule(session, period, filters, by, now)
    if by is None and not values:
        return [_nothing(metric)]
    return values


# The buckets of the reply and resolution minutes (``TimeDayCount``): five minutes wide up to an hour, twenty
# up to a day, two hours up to ten days, a day up to a hundred days, then one open bucket (280 in all: few
# rows a day to add up, few values in a bucket to read). Bucket b holds TIME_EDGES[b - 1] <= minutes <
# TIME_EDGES[b] (PostgreSQL's width_bucket; 0 below the first edge).
TIME_EDGES: tuple[float, ...] = tuple(float(e) for e in (*range(0, 60, 5), *range(60, 1440, 20),
                                                         *range(1440, 14400, 120), *range(14400, 144000, 1440),
                                                         144000))


def time_bucket(column: Any) -> Any:
    return func.width_bucket(column, bindparam("time_edges", list(TIME_EDGES), type_=ARRAY(Float)))


def _bucket_bounds(bucket: int) -> tuple[float | None, float | None]:
    return (TIME_EDGES[bucket - 1] if bucket > 0 else None,
            TIME_EDGES[bucket] if bucket < len(TIME_EDGES) else None)


def _ranked(session: Session, anchor: Any, wanted: list[tuple[str, Any, float]], periods: Sequence[Period],
            filters: Filters) -> dict[str, list[list[Value]]]:
    """Exact percentiles without sorting the period (PostgreSQL): how many values each bucket holds (the
    whole days from ``TimeDayCount``, the parts of days at the ends from the facts), so the rank a median
    or a p90 needs falls in a known bucket at a known offset; then only those values are read, in order,
    from the minutes' index. The same interpolation as ``percentile_cont`` (and ``percentile``)."""
    columns = {column.key: column for _, column, _ in wanted}
    counts: dict[tuple[str, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    split = [_split(p) for p in periods]
    market = [TimeDayCount.market == filters.market] if filters.market else []
    ranges = [whole for whole, _ in split if whole is not None]
    if ranges:
        sums = [func.coalesce(func.sum(TimeDayCount.n).filter(TimeDayCount.day >= w[0], TimeDayCount.day < w[1]), 0)
                .label(f"n{i}") for i, (w, _) in enumerate(split) if w is not None]
        query = (select(TimeDayCount.measure, TimeDayCount.bucket, *sums)
                 .where(TimeDayCount.measure.in_(list(columns)), TimeDayCount.day >= min(r[0] for r in ranges),
                        TimeDayCount.day < max(r[1] for r in ranges), *market)
                 .group_by(TimeDayCount.measure, TimeDayCount.bucket))
        for row in session.execute(query).mappings():
            for i, (whole, _) in enumerate(split):
                if whole is not None and row[f"n{i}"]:
                    counts[(row["measure"], i)][int(row["bucket"])] += int(row[f"n{i}"])
    edges = [(i, edge) for i, (_, own) in enumerate(split) for edge in own]
    for name, column in columns.items() if edges else ():
        bucket = time_bucket(column)
        tallies = [func.count().filter(or_(*(and_(*_in(anchor, e)) for j, e in edges if j == i))).label(f"n{i}")
                   for i in sorted({i for i, _ in edges})]
        query = (select(bucket.label("b"), *tallies)
                 .where(or_(*(and_(*_in(anchor, e)) for _, e in edges)), column.is_not(None), *_where(filters))
                 .group_by(bucket))
        for row in session.execute(query).mappings():
            for i in {i for i, _ in edges}:
                if row[f"n{i}"]:
                    counts[(name, i)][int(row["b"])] += int(row[f"n{i}"])
    # Each rank wanted: (column, period, bucket, offset in the bucket).
    wanted_ranks: dict[tuple[str, int, int], tuple[str, int, int, int]] = {}
    totals: dict[tuple[str, int], int] = {}
    for name in columns:
        for i in range(len(periods)):
            buckets = counts.get((name, i), {})
            totals[(name, i)] = total = sum(buckets.values())
            ranks = {r for _, column, q in wanted if column.key == name and total
                     for r in (math.floor(q * (total - 1)), math.ceil(q * (total - 1)))}
            seen, ordered = 0, sorted(buckets.items())
            for rank in sorted(ranks):
                while seen + ordered[0][1] <= rank:
                    seen += ordered.pop(0)[1]
                wanted_ranks[(name, i, rank)] = (name, i, ordered[0][0], rank - seen)
    found: dict[tuple[str, int, int], float] = {}
    if wanted_ranks:
        parts = []
        for tag, (name, i, bucket, offset) in enumerate(wanted_ranks.values()):
            column, (low, high) = columns[name], _bucket_bounds(bucket)
            bounds = [*([column >= low] if low is not None else []), *([column < high] if high is not None else [])]
            parts.append(select(literal(tag).label("tag"), column.label("v"))
                         .where(*_in(anchor, periods[i]), column.is_not(None), *bounds, *_where(filters))
                         .order_by(column).offset(offset).limit(1).subquery())
        values = {int(t): float(v) for t, v in session.execute(union_all(*(select(p.c.tag, p.c.v) for p in parts)))}
        found = {rank: values[tag] for tag, rank in enumerate(wanted_ranks)}
    out: dict[str, list[list[Value]]] = {}
    for key, column, q in wanted:
        out[key] = []
        for i in range(len(periods)):
            total = totals[(column.key, i)]
            if not total:
                out[key].append([])
                continue
            position = q * (total - 1)
            low, high = math.floor(position), math.ceil(position)
            first, second = found[(column.key, i, low)], found[(column.key, i, high)]
            value = first if low == high else first + (second - first) * (position - low)
            out[key].append([Value(group=None, value=value, count=total)])
    return out


def _slices(period: Period, by: str) -> list[tuple[str, Period]]:
    """A period cut at UTC midnights (``day``) or Mondays (``week``), each slice named as ``_bucket`` names it."""
    out = []
    start = period.since.astimezone(UTC)
    while start < period.until:
        day = start.date()
        first = day - timedelta(days=day.weekday()) if by == "week" else day
        end = min(period.until, midnight(first + timedelta(days=7 if by == "week" else 1)))
        out.append((first.isoformat(), Period(start, end)))
        start = end
    return out


def _ranked_by(session: Session, anchor: Any, wanted: list[tuple[str, Any, float]], periods: Sequence[Period],
               filters: Filters, by: str | None) -> dict[str, list[list[Value]]]:
    """``_ranked`` for each period, or for each day or week of each period (a trend): every slice its own
    period of one reading."""
    if by is None:
        return _ranked(session, anchor, wanted, periods, filters)
    slices = [(i, name, part) for i, period in enumerate(periods) for name, part in _slices(period, by)]
    found = _ranked(session, anchor, wanted, [part for _, _, part in slices], filters)
    out: dict[str, list[list[Value]]] = {key: [[] for _ in periods] for key, _, _ in wanted}
    for key, per_slice in found.items():
        for (i, name, _), values in zip(slices, per_slice, strict=True):
            out[key][i].extend(replace(v, group=name) for v in values)
    return {key: [_ordered(values, by) for values in per] for key, per in out.items()}


def quantiles(session: Session, keys: Sequence[str], periods: Sequence[Period], filters: Filters | None = None,
              *, by: str | None = None, now: datetime, from_days: bool = True) -> dict[str, list[list[Value]]]:
    """Time metrics (``first_reply_median``, ``resolution_business_p90``, ...) over several periods, each the
    same as ``compute`` gives. On PostgreSQL the single figures and the trends by day or week (unfiltered,
    or of a market) find their ranks from the day buckets and read only the values at them (``_ranked``);
    other groups and filters sort: the metrics counted from the same moment in one statement, every period in it (a
    median and a p90, on the clock and in business minutes, this period and the one before: one scan, not
    eight). ``from_days=False`` always sorts (the definition the buckets are tested against). A period with
    nothing counted has no value (``[]``)."""
    filters = filters or Filters()
    spans: dict[str, tuple[Any, Any, float]] = {}
    for key in keys:
        metric = definition(key)
        if metric.key not in TIME_SPANS:
            raise Invalid(f"{metric.label} is not a time metric", field="metric")
        if by is not None and by not in metric.groups:
            raise Invalid(f"{metric.label} groups by one of {', '.join(metric.groups)}", field="by")
        spans[key] = TIME_SPANS[metric.key]
    if not is_postgres(session) or not periods:
        return {key: [[v for v in compute(session, key, period, filters, by=by, now=now) if by is not None or v.count]
                      for period in periods] for key in keys}
    out: dict[str, list[list[Value]]] = {key: [[] for _ in periods] for key in keys}
    span = Period(min(p.since for p in periods), max(p.until for p in periods))
    for anchor in {id(a): a for a, _, _ in spans.values()}.values():
        wanted = [(key, column, q) for key, (a, column, q) in spans.items() if a is anchor]
        if from_days and by in (None, "day", "week") and set(filters.given()) <= {"market"}:
            for key, per in _ranked_by(session, anchor, wanted, periods, filters, by).items():
                out[key] = per
            continue
        group = _group_column(session, by, anchor)
        columns: list[Any] = [group.label("g")]
        for j, (_, column, q) in enumerate(wanted):
            for i, period in enumerate(periods):
                # One period: no FILTER (the statement's bounds are the period's), and PostgreSQL shares one
                # sort between the median and the p90 of a column.
                inside = and_(*_in(anchor, period)) if len(periods) > 1 else None
                columns.append(_filtered(func.percentile_cont(q).within_group(column), inside).label(f"v{j}_{i}"))
                columns.append(_filtered(func.count(column), inside).label(f"n{j}_{i}"))
        query = select(*columns).where(*_in(anchor, span), *_where(filters)).group_by(group)
        for row in session.execute(query).mappings():
            for j, (key, _, _) in enumerate(wanted):
                for i in range(len(periods)):
                    n, found = int(row[f"n{j}_{i}"]), row[f"v{j}_{i}"]
                    if n or by is None:
                        out[key][i].append(Value(group=_label(row["g"]), value=None if found is None else float(found),
                                                 count=n))
    if by is None:  # one row, with nothing counted: no time
        return {key: [values if values and values[0].count else [] for values in per] for key, per in out.items()}
    return {key: [_ordered(values, by) for values in per] for key, per in out.items()}


def times(session: Session, keys: Sequence[str], period: Period, filters: Filters | None = None, *,
          now: datetime) -> dict[str, Value]:
    """The single figures of several time metrics, the same as ``value`` gives each (``quantiles``)."""
    found = quantiles(session, keys, [period], filters, now=now)
    return {key: found[key][0][0] if found[key][0] else _nothing(definition(key)) for key in keys}


def pairs(session: Session, keys: Sequence[str], period: Period, filters: Filters | None = None, *,
          now: datetime) -> dict[str, tuple[Value, Value]]:
    """Each metric's single figure over the period and over the period of the same length before it (a KPI
    tile and its change), the same as ``value`` gives, in as few statements as it can: the counted metrics
    and the time metrics of the same moment with both periods in one statement; any other metric twice."""
    filters = filters or Filters()
    periods = [period, period.before()]
    for key in keys:
        for name in filters.given():
            if name not in definition(key).filters:
                raise Invalid(f"{definition(key).label} cannot be filtered by {name}", field=name)
    found: dict[str, list[list[Value]]] = {}
    found |= counted(session, [k for k in keys if definition(k).counting is not None], periods, filters)
    found |= quantiles(session, [k for k in keys if k in TIME_SPANS], periods, filters, now=now)
    out: dict[str, tuple[Value, Value]] = {}
    for key in keys:
        if key in found:
            current, before = (values[0] if values else _nothing(definition(key)) for values in found[key])
        else:
            current, before = (value(session, key, p, filters, now=now) for p in periods)
        out[key] = (current, before)
    return out


def value(session: Session, key: str, period: Period, filters: Filters | None = None, *,
          now: datetime) -> Value:
    """The single figure of a metric (no grouping)."""
    return compute(session, key, period, filters, now=now)[0]
