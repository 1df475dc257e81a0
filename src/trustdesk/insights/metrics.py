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

Medians and 90th percentiles interpolate linearly between the two nearest values (PostgreSQL's
``percentile_cont``, NumPy's default): the median of 10, 20, 30, 40 is 25 and their p90 is 37. The
``_business`` variants measure the same spans in the open minutes of the case's SLA calendar.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from trustdesk.appeals import insights as appeal_insights
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Invalid
from trustdesk.insights.models import CaseFact, TargetFact
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
    compute: Compute = field(repr=False)
    filters: tuple[str, ...] = FILTERS
    groups: tuple[str, ...] = CASE_GROUPS


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
    """The UTC day (or its week's Monday) of a time, as YYYY-MM-DD text, on either database."""
    if is_postgres(session):
        utc = func.timezone("UTC", column)
        return func.to_char(func.date_trunc(size, utc), "YYYY-MM-DD")
    if size == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.date(column)


def _group_column(session: Session, by: str | None, anchor: Any, fact: Any = CaseFact) -> Any:
    if by is None:
        return literal(None)
    if by in ("day", "week"):
        return _bucket(session, anchor, by)
    column = {"market": fact.market, "team": fact.team_id, "tier": fact.tier, "channel": fact.channel,
              "topic": fact.topic, "agent": fact.agent_id, "first_team": fact.first_team_id}.get(by)
    if column is None:
        raise Invalid(f"group by one of {', '.join(CASE_GROUPS)}", field="by")
    return column


def _label(value: Any) -> str | None:
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


def _counted(session: Session, period: Period, filters: Filters, by: str | None, *, anchor: Any,
             base: Any, hit: Any) -> list[Value]:
    """Counts (and a ratio ``hit / base`` when ``hit`` is given) of the facts anchored in the period."""
    group = _group_column(session, by, anchor)
    where = [*_in(anchor, period), *_where(filters)]
    if base is not None:
        where.append(base)
    hits = func.count(case((hit, 1))) if hit is not None else literal(0)
    query = select(group.label("g"), func.count().label("n"), hits.label("h")).where(*where).group_by(group)
    out = []
    for g, n, h in session.execute(query):
        if hit is None:
            out.append(Value(group=_label(g), value=float(n), count=int(n)))
        else:
            out.append(Value(group=_label(g), value=int(h) / int(n) if n else None, numerator=int(h),
                             denominator=int(n), count=int(n)))
    return _ordered(out, by)


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


def volume(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.created_at, base=None, hit=None)


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


def sla_compliance(session: Session, period: Period, filters: Filters, by: str | None,
                   now: datetime) -> list[Value]:
    anchor = TargetFact.came_due_at
    group = TargetFact.metric if by == "target" else _group_column(session, by, anchor)
    query = (select(group.label("g"), func.count().label("n"), func.count(case((TargetFact.met, 1))).label("h"))
             .select_from(TargetFact).where(*_in(anchor, period)).group_by(group))
    where = _where(filters)
    if where or by not in (None, "target", "day", "week"):
        # The facts are joined only when a filter or a group reads them: every target fact has its case's
        # fact (a foreign key), so the join adds no row and drops none, and without it the targets are
        # counted from their own index.
        query = query.join(CaseFact, CaseFact.case_id == TargetFact.case_id).where(*where)
    return _ordered([Value(group=_label(g), value=int(h) / int(n) if n else None, numerator=int(h),
                           denominator=int(n), count=int(n)) for g, n, h in session.execute(query)], by)


def csat(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.csat_rated_at,
                    base=CaseFact.csat_score.is_not(None), hit=CaseFact.csat_score >= GOOD_RATING)


def csat_mean(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
    anchor = CaseFact.csat_rated_at
    group = _group_column(session, by, anchor)
    query = (select(group.label("g"), func.sum(CaseFact.csat_score), func.count())
             .where(*_in(anchor, period), CaseFact.csat_score.is_not(None), *_where(filters)).group_by(group))
    return _ordered([Value(group=_label(g), value=int(total) / int(n) if n else None, numerator=int(total),
                           denominator=int(n), count=int(n)) for g, total, n in session.execute(query)], by)


def escalation_rate(session: Session, period: Period, filters: Filters, by: str | None,
                    now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.created_at, base=CaseFact.handled_by_t1,
                    hit=CaseFact.escalated_from_t1)


def reopen_rate(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.first_solved_at, base=None,
                    hit=CaseFact.reopens > 0)


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


def repeat_rate(session: Session, period: Period, filters: Filters, by: str | None, now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.first_solved_at, base=None,
                    hit=repeated_in(period))


def misroute_rate(session: Session, period: Period, filters: Filters, by: str | None,
                  now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.created_at, base=CaseFact.routed,
                    hit=CaseFact.misrouted)


def hops_per_case(session: Session, period: Period, filters: Filters, by: str | None,
                  now: datetime) -> list[Value]:
    anchor = CaseFact.created_at
    group = _group_column(session, by, anchor)
    query = (select(group.label("g"), func.sum(CaseFact.hops), func.count())
             .where(*_in(anchor, period), CaseFact.routed, *_where(filters)).group_by(group))
    return _ordered([Value(group=_label(g), value=int(total) / int(n) if n else None, numerator=int(total),
                           denominator=int(n), count=int(n)) for g, total, n in session.execute(query)], by)


def _tone(score: Any) -> Any:
    """A sentiment score's label as a rank (negative 0, neutral 1, positive 2), by VADER's thresholds."""
    return case((score <= NEGATIVE_FROM, 0), (score >= POSITIVE_FROM, 2), else_=1)


def negative_sentiment_rate(session: Session, period: Period, filters: Filters, by: str | None,
                            now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.created_at,
                    base=CaseFact.sentiment_last.is_not(None), hit=CaseFact.sentiment_last <= NEGATIVE_FROM)


def sentiment_worsened_rate(session: Session, period: Period, filters: Filters, by: str | None,
                            now: datetime) -> list[Value]:
    return _counted(session, period, filters, by, anchor=CaseFact.created_at,
                    base=CaseFact.sentiment_last.is_not(None),
                    hit=_tone(CaseFact.sentiment_last) < _tone(CaseFact.sentiment_first))


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


_TIME_SPANS: dict[str, tuple[Any, Any, float]] = {}  # a time metric's key: (anchor, column, quantile)


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
            _TIME_SPANS[f"{key}_{suffix}"] = (anchor, column, q)
            times.append(Definition(f"{key}_{suffix}", f"{label}, {word.lower()}", Unit.MINUTES, Better.LOWER,
                                    f"{word} minutes {what}.", _time_metric(column, anchor, q)))
    items = [
        Definition("volume", "Volume", Unit.COUNT, Better.LOWER, "Cases opened in the period.", volume),
        Definition("backlog", "Backlog", Unit.COUNT, Better.LOWER,
                   "Cases not solved or closed now (new, open, pending, on hold) that were opened before the "
                   "period ended.", backlog, groups=CASE_GROUPS[:6]),
        *times,
        Definition("sla_compliance", "SLA compliance", Unit.RATIO, Better.HIGHER,
                   "Targets met in time / targets that came due in the period (by target: first reply, next "
                   "reply, periodic update, resolution).", sla_compliance, groups=(*CASE_GROUPS, "target")),
        Definition("csat", "CSAT", Unit.RATIO, Better.HIGHER,
                   "Good ratings (4 or 5) / all ratings given in the period; one rating per case, the latest "
                   "counts.", csat),
        Definition("csat_mean", "CSAT, mean rating", Unit.SCORE, Better.HIGHER,
                   "The mean of the ratings given in the period, on the 1-5 scale.", csat_mean),
        Definition("escalation_rate", "Escalation rate", Unit.RATIO, Better.LOWER,
                   "Cases escalated from Tier 1 (up a tier, or a ladder started while Tier 1 had it) / cases "
                   "Tier 1 handled, of the cases opened in the period.", escalation_rate, groups=ROUTED_GROUPS),
        Definition("reopen_rate", "Reopen rate", Unit.RATIO, Better.LOWER,
                   "Solved cases reopened / solved cases, of the cases first solved in the period.", reopen_rate),
        Definition("repeat_rate", "Repeat rate", Unit.RATIO, Better.LOWER,
                   f"Solved cases reopened, or followed by the same party on the same topic within {REPEAT_DAYS} "
                   "days / solved cases, of the cases first solved in the period.", repeat_rate),
        Definition("misroute_rate", "Misroute rate", Unit.RATIO, Better.LOWER,
                   "Misrouted cases (final team not the first routed team, or the topic corrected) / routed "
                   "cases, of the cases opened in the period.", misroute_rate, groups=ROUTED_GROUPS),
        Definition("hops_per_case", "Hops per routed case", Unit.MEAN, Better.LOWER,
                   "Team changes (reroutes to another team, escalations excluded) per routed case, of the cases "
                   "opened in the period.", hops_per_case, groups=ROUTED_GROUPS),
        Definition("negative_sentiment_rate", "Negative sentiment", Unit.RATIO, Better.LOWER,
                   f"Cases whose last scored customer message is negative (score {NEGATIVE_FROM} or lower) / "
                   "cases with a scored customer message, of the cases opened in the period.",
                   negative_sentiment_rate),
        Definition("sentiment_worsened_rate", "Sentiment worsened", Unit.RATIO, Better.LOWER,
                   "Cases whose last scored customer message has a worse label than the first (positive, "
                   "neutral, negative) / cases with a scored customer message, of the cases opened in the "
                   "period.", sentiment_worsened_rate),
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
    values = metric.compute(session, period, filters, by, now)
    if by is None and not values:  # nothing counted: zero cases, a rate of nothing, no time
        if metric.unit is Unit.COUNT:
            return [Value(group=None, value=0.0)]
        if metric.unit is Unit.RATIO:
            return [Value(group=None, value=None, numerator=0, denominator=0)]
        return [Value(group=None, value=None)]
    return values


def times(session: Session, keys: Sequence[str], period: Period, filters: Filters | None = None, *,
          now: datetime) -> dict[str, Value]:
    """The single figures of several time metrics (``first_reply_median``, ``resolution_business_p90``, ...),
    the same as ``value`` gives each: on PostgreSQL the metrics counted from the same moment are computed
    in one statement (a median and a p90, on the clock and in business minutes: one scan, not four)."""
    filters = filters or Filters()
    if not is_postgres(session):
        return {key: value(session, key, period, filters, now=now) for key in keys}
    spans: dict[str, tuple[Any, Any, float]] = {}
    for key in keys:
        metric = definition(key)
        if metric.key not in _TIME_SPANS:
            raise Invalid(f"{metric.label} is not a time metric", field="metric")
        spans[key] = _TIME_SPANS[metric.key]
    out: dict[str, Value] = {}
    for anchor in {id(a): a for a, _, _ in spans.values()}.values():
        wanted = [(key, column, q) for key, (a, column, q) in spans.items() if a is anchor]
        columns = [(f"v{i}", func.percentile_cont(q).within_group(column)) for i, (_, column, q) in enumerate(wanted)]
        counts = [(f"n{i}", func.count(column)) for i, (_, column, _) in enumerate(wanted)]
        query = select(*(c.label(name) for name, c in (*columns, *counts))).where(*_in(anchor, period),
                                                                                   *_where(filters))
        row = session.execute(query).mappings().one()
        for i, (key, _, _) in enumerate(wanted):
            found = row[f"v{i}"]
            out[key] = Value(group=None, value=float(found) if found is not None else None, count=int(row[f"n{i}"]))
    return {key: out[key] for key in keys}


def value(session: Session, key: str, period: Period, filters: Filters | None = None, *,
          now: datetime) -> Value:
    """The single figure of a metric (no grouping)."""
    return compute(session, key, period, filters, now=now)[0]
