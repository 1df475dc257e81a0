"""The panels of the insight dashboards and of the weekly report: operations, quality, routing, appeals and
the top contact drivers, each built the same way for both.

A panel is a title, its **KPI figures** (the value over the period, the value over the period of the same
length just before, the change and whether it is better or worse, each from ``metrics.compute``), its
**charts** (``insights.charts``: the same SVG on the console and in the PDF, and the rows behind it, which
are its CSV download) and a few **tables** of what a chart cannot show (example comments, cases about to
breach). Every figure over a period comes from ``insights.metrics``; the live figures of the operations
panel come from the queues (``directory.views.queue_counts``) and the SLA timers (``sla.timers``); the
appeals panel reuses the appeals report (``appeals.insights.volume``) and the routing causes the routing
report's own functions (``routing.analysis``).

Charts are drawn only when read (drawing one takes 50-90 ms): a page that shows one CSAT breakdown of
five draws one, and the CSV of a chart reads its rows.

Nothing here loops over the period's cases in Python: the KPI tiles of a panel are asked for together
(``metrics.pairs``: the metrics of one moment, this period and the one before, in one statement; whole days
from the day counts, ``insights.days``) and every chart is one grouped statement. The routing causes are
the exception, as in the routing report they replay each misrouted case's journey; the dashboard loads them
after the page (``causes``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from trustdesk.appeals import insights as appeal_insights
from trustdesk.appeals import repository as appeal_repository
from trustdesk.cases.models import Channel
from trustdesk.core.errors import Invalid
from trustdesk.directory import catalogue
from trustdesk.directory import repository as directory_repository
from trustdesk.directory import service as directory
from trustdesk.directory import views as directory_views
from trustdesk.directory.models import Tier
from trustdesk.feedback.models import CaseRating, LowRatingReason
from trustdesk.insights import charts, metrics
from trustdesk.insights.charts import Chart
from trustdesk.insights.metrics import OPEN_STATUSES, Filters, Period, Unit, Value
from trustdesk.insights.models import LOW_RATING, CaseFact
from trustdesk.routing import analysis
from trustdesk.sla import timers
from trustdesk.sla.models import SlaTimer

AT_RISK_HOURS = 2  # an SLA target due within this many hours (or past due) is at risk
EXAMPLE_COMMENTS = 3  # per reason
AT_RISK_SHOWN = 10
CAUSES_SHOWN = 10
DAILY_UP_TO_DAYS = 31  # a trend is per day up to this many days, per week beyond
NONE_LABEL = {"topic": "(no topic)", "team": "(no team)", "first_team": "(no team)", "agent": "(nobody)",
              "market": "(no market)", "channel": "(no channel)", "tier": "(no tier)"}
CHANNEL_LABELS: dict[str, str] = {
    Channel.IN_APP_CHAT.value: "In-app chat", Channel.WEB_FORM.value: "Web form",
    Channel.APPEAL_FORM.value: "Appeal form", Channel.INTERNAL_FORM.value: "Internal form",
    Channel.API.value: "API", Channel.EMAIL.value: "E-mail",
}
TIER_LABELS: dict[str, str] = {Tier.T1.value: "Tier 1", Tier.T2.value: "Tier 2", Tier.ONCALL.value: "Oncall",
                               Tier.APPEALS.value: "Appeals", Tier.INTERNAL.value: "Internal"}
TARGET_LABELS: dict[str, str] = {"first_reply": "First reply", "next_reply": "Next reply",
                                 "periodic_update": "Periodic update", "resolution": "Resolution",
                                 "internal": "Internal (OLA)"}
REASON_LABELS: dict[str, str] = {
    LowRatingReason.SLOW.value: "It took too long", LowRatingReason.NOT_RESOLVED.value: "Not resolved",
    LowRatingReason.UNHELPFUL.value: "The answer did not help", LowRatingReason.RUDE.value: "The agent's manner",
    LowRatingReason.POLICY.value: "The policy itself", LowRatingReason.TRANSFERRED.value: "Passed between teams",
    LowRatingReason.OTHER.value: "Another reason", "": "No reason given",
}
CSAT_DIMENSIONS: dict[str, str] = {"topic": "topic", "market": "market", "channel": "channel", "team": "team",
                                   "agent": "agent"}
# A change smaller than this prints as zero, so it is no change (0.05 points, half a minute, 0.005).
SAME: dict[str, float] = {Unit.RATIO.value: 0.0005, Unit.MINUTES.value: 0.5, Unit.SCORE.value: 0.005,
                          Unit.MEAN.value: 0.005, Unit.COUNT.value: 0.5}


# ----------------------------------------------------------------------------------------------- figures


def duration(minutes: float) -> str:
    """Minutes in words a lead reads at a glance: 45 min, 3 h 20 min, 2 d 4 h."""
    sign = "-" if minutes < 0 else ""
    left = abs(minutes)
    if left < 59.5:
        return f"{sign}{left:.0f} min"
    whole = round(left)
    if whole < 24 * 60:
        hours, rest = divmod(whole, 60)
        return f"{sign}{hours} h {rest:02d} min" if rest else f"{sign}{hours} h"
    days, rest = divmod(whole, 24 * 60)
    hours = round(rest / 60)
    if hours == 24:
        days, hours = days + 1, 0
    return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"


def figure(value: float | None, unit: str) -> str:
    """A figure as the dashboards and the report print it ("—" when there is nothing to show)."""
    if value is None:
        return "—"
    if unit == Unit.RATIO:
        return f"{value * 100:.1f}%"
    if unit == Unit.MINUTES:
        return duration(value)
    if unit in (Unit.SCORE, Unit.MEAN):
        return f"{value:.2f}"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Kpi:
    """One headline figure, and how it moved since the period before (``previous`` None: a live figure)."""

    key: str
    label: str
    unit: str
    value: float | None
    previous: float | None = None
    better: str | None = None  # "higher" or "lower"; None: neither way is better (a live count)
    basis: str = ""  # what it was computed from, in words ("3 of 4 ratings")
    description: str = ""
    live: bool = False

    @property
    def text(self) -> str:
        return figure(self.value, self.unit)

    @property
    def previous_text(self) -> str:
        return figure(self.previous, self.unit)

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def verdict(self) -> str:
        """better, worse, same, or "" (nothing to compare, or no way is better)."""
        change = self.change
        if change is None:
            return ""
        if abs(change) < SAME.get(self.unit, 0.5):
            return "same"
        if self.better is None:
            return ""
        return "better" if (change > 0) == (self.better == metrics.Better.HIGHER) else "worse"

    @property
    def change_text(self) -> str:
        """The change in the figure's own unit: +2.5 pts, +12 (+8.3%), +35 min, -0.12."""
        change = self.change
        if change is None:
            return ""
        sign = "+" if change > 0 else "-" if change < 0 else "±"
        size = abs(change)
        if self.unit == Unit.RATIO:
            return f"{sign}{size * 100:.1f} pts"
        if self.unit == Unit.MINUTES:
            return f"{sign}{duration(size)}"
        if self.unit in (Unit.SCORE, Unit.MEAN):
            return f"{sign}{size:.2f}"
        relative = f" ({sign}{size / self.previous:.0%})" if self.previous else ""
        return f"{sign}{size:,.0f}{relative}"

    @property
    def change_words(self) -> str:
        """The sentence under the figure: "+2.5 pts vs 71.0% the period before: better"."""
        if self.live:
            return "now"
        if self.previous is None:
            return "no figure for the period before"
        verdict = self.verdict
        if verdict == "same":
            return f"no change from the period before ({self.previous_text})"
        words = f"{self.change_text} vs {self.previous_text} the period before"
        return f"{words}: {verdict}" if verdict else words


@dataclass(frozen=True)
class PanelChart:
    """A chart of a panel: its numbers now, its picture when it is read."""

    key: str
    title: str
    unit: str
    draw: Callable[[], Chart] = field(repr=False, compare=False)
    empty_text: str = "Nothing to show in this period"
    note: str = ""

    @functools.cached_property
    def chart(self) -> Chart:
        return self.draw()

    @property
    def svg(self) -> str:
        return self.chart.svg

    @property
    def columns(self) -> tuple[str, ...]:
        return self.chart.columns

    @property
    def rows(self) -> tuple[tuple[Any, ...], ...]:
        return self.chart.rows

    @property
    def empty(self) -> bool:
        return self.chart.empty

    def cells(self) -> list[list[str]]:
        """The numbers as the "Show the numbers" table prints them (the value columns in the chart's unit)."""
        return [[figure(v, self.unit) if isinstance(v, int | float) and not isinstance(v, bool) else
                 ("—" if v is None else str(v)) for v in row] for row in self.rows]

    def csv(self) -> str:
        return charts.to_csv(self.chart)


@dataclass(frozen=True)
class Table:
    """Figures a chart cannot show (example comments, the cases about to breach), and their CSV."""

    key: str
    title: str
    caption: str
    columns: tuple[str, ...]  # the CSV header
    headings: tuple[str, ...]  # what the page shows over each column
    rows: tuple[tuple[Any, ...], ...]  # raw values, as downloaded
    cells: tuple[tuple[str, ...], ...]  # as shown
    numeric: tuple[bool, ...]  # right-aligned columns
    links: tuple[str | None, ...] = ()  # per row, where its first cell links to
    empty_text: str = "Nothing to show in this period"

    @property
    def empty(self) -> bool:
        return not self.rows

    def csv(self) -> str:
        return charts.rows_to_csv(self.columns, self.rows)


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    description: str
    kpis: tuple[Kpi, ...] = ()
    charts: tuple[PanelChart, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (words, address)

    def item(self, key: str) -> PanelChart | Table | None:
        items: list[PanelChart | Table] = [*self.charts, *self.tables]
        return next((i for i in items if i.key == key), None)

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    def chart(self, key: str) -> PanelChart:
        return next(c for c in self.charts if c.key == key)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


# ----------------------------------------------------------------------------------------------- naming


@dataclass(frozen=True)
class Names:
    """What a group's key reads as: team and agent names, channel and tier words (topics and markets stay
    their codes, which is how every other page names them)."""

    teams: dict[str, str]
    agents: dict[str, str]

    def of(self, by: str | None, key: str | None) -> str:
        if key is None:
            return NONE_LABEL.get(by or "", "(none)")
        if by in ("team", "first_team"):
            return self.teams.get(key, f"team {key}")
        if by == "agent":
            return self.agents.get(key, f"agent {key}")
        if by == "channel":
            return CHANNEL_LABELS.get(key, key)
        if by == "tier":
            return TIER_LABELS.get(key, key)
        if by == "target":
            return TARGET_LABELS.get(key, key)
        return key


def names(session: Session, *, agents: bool = False) -> Names:
    teams = {str(t.id): t.name for t in directory.list_teams(session)}
    people = {str(a.id): u.display_name for a, u in directory.list_agents(session)} if agents else {}
    return Names(teams=teams, agents=people)


def trend_group(period: Period) -> str:
    return "day" if period.until - period.since <= timedelta(days=DAILY_UP_TO_DAYS) else "week"


def _compute(session: Session, key: str, period: Period, filters: Filters, now: datetime,
             by: str | None = None) -> list[Value]:
    return metrics.compute(session, key, period, filters, by=by, now=now)


def basis(value: Value, unit: str, *, of: str = "cases") -> str:
    """What a figure was computed from, in words."""
    if unit == Unit.RATIO and value.denominator is not None:
        return f"{value.numerator:,} of {value.denominator:,} {of}" if value.denominator else f"no {of}"
    if unit in (Unit.SCORE, Unit.MEAN) and value.denominator is not None:
        return f"over {value.denominator:,} {of}"
    if unit == Unit.MINUTES:
        return f"over {value.count:,} {of}" if value.count else f"no {of}"
    return ""


def kpis(session: Session, items: Sequence[tuple[str, str, str | None]], period: Period, filters: Filters,
         now: datetime) -> list[Kpi]:
    """Metrics' figures over the period and the period before, as KPI tiles; ``items``: (metric, what it
    counts, a label or None for the metric's own). The figures come from ``metrics.pairs``: the metrics of
    the same moment, both periods, in one statement."""
    found = metrics.pairs(session, [key for key, _, _ in items], period, filters, now=now)
    out = []
    for key, of, label in items:
        definition = metrics.definition(key)
        current, before = found[key]
        out.append(Kpi(key=key, label=label or definition.label, unit=definition.unit.value, value=current.value,
                       previous=before.value, better=definition.better.value,
                       basis=basis(current, definition.unit, of=of), description=definition.description))
    return out


def kpi(session: Session, key: str, period: Period, filters: Filters, now: datetime, *, of: str = "cases",
        label: str | None = None) -> Kpi:
    """A metric's figure over the period and the period before, as a KPI tile."""
    return kpis(session, [(key, of, label)], period, filters, now)[0]


def _bar(session: Session, key: str, metric: str, title: str, period: Period, filters: Filters, now: datetime,
         *, by: str, label: Names, value_title: str, empty: str, order: str = "count", top: int | None = None,
         note: str = "", category_title: str = "") -> PanelChart:
    """A metric grouped by one dimension as bars; ``order``: as the metric ranks them (most counted first),
    ``numerator`` (most hits first: what drives a rate) or ``value``."""
    definition = metrics.definition(metric)
    values = _compute(session, metric, period, filters, now, by=by)
    values = [v for v in values if v.value is not None]
    if order == "numerator":
        values.sort(key=lambda v: (-(v.numerator or 0), -v.count, v.group or ""))
    elif order == "value":
        values.sort(key=lambda v: (-(v.value or 0.0), -v.count, v.group or ""))
    rows = [(label.of(by, v.group), v.value) for v in values[:top] if v.value is not None]
    unit = definition.unit.value
    return PanelChart(key=key, title=title, unit=unit, empty_text=empty, note=note, draw=lambda: charts.bar(
        key, title, rows, value_title=value_title, unit=unit, category_title=category_title or by))


def _counts_bar(key: str, title: str, rows: Sequence[tuple[str, float | None]], *, value_title: str, empty: str,
                category_title: str, note: str = "", unit: str = Unit.COUNT.value) -> PanelChart:
    return PanelChart(key=key, title=title, unit=unit, empty_text=empty, note=note, draw=lambda: charts.bar(
        key, title, list(rows), value_title=value_title, unit=unit, category_title=category_title))


def _buckets(period: Period, by: str) -> list[str]:
    """The period's days (or weeks, by their Monday) as the metrics name them: YYYY-MM-DD, UTC."""
    first, last = period.since.astimezone(UTC).date(), (period.until.astimezone(UTC) - timedelta(microseconds=1)).date()
    step = 1
    if by == "week":
        first, step = first - timedelta(days=first.weekday()), 7
    return [(first + timedelta(days=d)).isoformat() for d in range(0, (last - first).days + 1, step)]


def _trend(session: Session, key: str, title: str, series: Sequence[tuple[str, str]], period: Period,
           filters: Filters, now: datetime, *, value_title: str, empty: str, note: str = "") -> PanelChart:
    """A line per (metric, series name) over the period's days (or weeks)."""
    by = trend_group(period)
    unit = metrics.definition(series[0][0]).unit.value
    rows: list[tuple[str, str, float | None]] = []
    buckets = _buckets(period, by)
    keys = [metric for metric, _ in series]
    if all(metrics.definition(k).counting is not None for k in keys):
        together = {k: v[0] for k, v in metrics.counted(session, keys, [period], filters, by=by).items()}
    elif all(metrics.definition(k).unit is Unit.MINUTES for k in keys):
        together = {k: v[0] for k, v in metrics.quantiles(session, keys, [period], filters, by=by, now=now).items()}
    else:
        together = {k: _compute(session, k, period, filters, now, by=by) for k in keys}
    for metric, name in series:
        found = {v.group or "": v.value for v in together[metric]}
        if unit == metrics.Unit.COUNT:  # a day without cases counted nothing: 0, not a gap in the line
            found = {bucket: found.get(bucket, 0) for bucket in buckets} | found
        rows += [(bucket, name, value) for bucket, value in found.items()]
    rows.sort(key=lambda r: (r[0], [n for _, n in series].index(r[1])))
    return PanelChart(key=key, title=title, unit=unit, empty_text=empty, note=note, draw=lambda: charts.line(
        key, title, rows, value_title=value_title, unit=unit, x_title=by))


def make_table(key: str, title: str, caption: str, columns: Sequence[tuple[str, str, str]],
           rows: Iterable[Sequence[Any]], *, empty: str, links: Sequence[str | None] = ()) -> Table:
    """``columns``: (CSV name, heading, unit) where unit is a metrics unit, or "text"."""
    raw = tuple(tuple(r) for r in rows)
    units = [u for _, _, u in columns]
    cells = tuple(tuple(str(v) if u == "text" else figure(v, u) if v is not None else "—"
                        for v, u in zip(row, units, strict=True)) for row in raw)
    return Table(key=key, title=title, caption=caption, columns=tuple(c for c, _, _ in columns),
                 headings=tuple(h for _, h, _ in columns), rows=raw, cells=cells,
                 numeric=tuple(u != "text" for u in units), links=tuple(links), empty_text=empty)


# ----------------------------------------------------------------------------------------------- drivers


def drivers(session: Session, period: Period, filters: Filters, now: datetime, *, top: int = 10) -> Panel:
    """The top contact drivers: cases opened per topic in the period, next to the period before."""
    both = metrics.counted(session, ["volume"], [period, period.before()], filters, by="topic")["volume"]
    current, before = ({v.group: v.count for v in values} for values in both)
    topics = sorted(set(current) | set(before), key=lambda t: (-current.get(t, 0), -before.get(t, 0), t or ""))
    label = Names(teams={}, agents={})
    rows = []
    for topic in topics:
        now_n, then_n = current.get(topic, 0), before.get(topic, 0)
        rows.append((label.of("topic", topic), now_n, then_n, now_n - then_n,
                     (now_n - then_n) / then_n if then_n else None))
    shown = [r for r in rows if r[1]][:top]
    series = ("this period", "the period before")
    bars = [(r[0], name, float(n)) for r in shown for name, n in zip(series, (r[1], r[2]), strict=True)]
    chart = PanelChart(
        key="drivers", title=f"Top {top} contact drivers: cases by topic", unit=Unit.COUNT.value,
        empty_text="No cases opened in this period",
        draw=lambda: charts.grouped_bar("drivers", f"Top {top} contact drivers: cases by topic", bars,
                                        value_title="cases opened", category_title="topic", series=series))
    rising = sorted((r for r in rows if r[3] > 0), key=lambda r: (-r[3], -r[1], r[0]))[:top]
    table = make_table("drivers_change", "Every topic, this period against the one before",
                   "Cases opened per topic in this period and the period of the same length before it; the change "
                   "as a count and as a share of the period before (none for a topic new this period).",
                   [("topic", "Topic", "text"), ("cases", "Cases", "count"), ("cases_before", "Before", "count"),
                    ("change", "Change", "count"), ("change_share", "Change %", "ratio")], rows,
                   empty="No cases opened in this period or the one before")
    rising_table = make_table("drivers_rising", "Rising fastest",
                          "The topics whose cases grew most against the period before.",
                          [("topic", "Topic", "text"), ("cases", "Cases", "count"),
                           ("cases_before", "Before", "count"), ("change", "Change", "count"),
                           ("change_share", "Change %", "ratio")], rising,
                          empty="No topic grew against the period before")
    total = sum(current.values())
    tiles = (Kpi(key="volume", label="Cases opened", unit=Unit.COUNT.value, value=float(total),
                 previous=float(sum(before.values())), better=metrics.Better.LOWER.value,
                 description=metrics.definition("volume").description),)
    return Panel(key="drivers", title="Top contact drivers",
                 description="What customers contact us about most, and what grew.", kpis=tiles, charts=(chart,),
                 tables=(table, rising_table))


# ----------------------------------------------------------------------------------------------- operations

TIMES = ("first_reply_median", "first_reply_p90", "first_reply_business_median", "first_reply_business_p90",
         "resolution_median", "resolution_p90", "resolution_business_median", "resolution_business_p90")


def _soonest_due() -> Any:
    """Each case's soonest running SLA clock, from the sweep's own rows (``sla_timers``: a paused or met
    clock has no due time, a closed case has no rows)."""
    return (select(SlaTimer.case_id.label("case_id"), func.min(SlaTimer.due_at).label("due_at"))
            .where(SlaTimer.due_at.is_not(None)).group_by(SlaTimer.case_id).subquery())


@dataclass(frozen=True)
class RiskCase:
    case_id: int
    reference: str | None
    topic: str | None
    team_id: int | None
    market: str
    due_at: datetime
    metric: str  # the target falling due first


@dataclass(frozen=True)
class AtRisk:
    overdue: int
    due_soon: int  # not yet due, due within AT_RISK_HOURS
    first: list[RiskCase]  # the soonest

    @property
    def total(self) -> int:
        return self.overdue + self.due_soon


def at_risk(session: Session, filters: Filters, now: datetime) -> AtRisk:
    """Open cases whose soonest running SLA target is past due or due within ``AT_RISK_HOURS``."""
    horizon = now + timedelta(hours=AT_RISK_HOURS)
    soonest = _soonest_due()
    base = (select(CaseFact.case_id, CaseFact.reference, CaseFact.topic, CaseFact.team_id, CaseFact.market,
                   soonest.c.due_at.label("due_at"))
            .join(soonest, soonest.c.case_id == CaseFact.case_id)
            .where(soonest.c.due_at <= horizon, CaseFact.status.in_(OPEN_STATUSES), *metrics.conditions(filters)))
    counted = base.subquery()
    overdue, total = session.execute(select(func.count(case((counted.c.due_at <= now, 1))), func.count())
                                     .select_from(counted)).one()
    first = session.execute(base.order_by(soonest.c.due_at, CaseFact.case_id).limit(AT_RISK_SHOWN)).all() \
        if total else []
    which = timers.next_due(session, [row.case_id for row in first])
    rows = [RiskCase(case_id=r.case_id, reference=r.reference, topic=r.topic, team_id=r.team_id, market=r.market,
                     due_at=r.due_at, metric=which.get(r.case_id, ("", r.due_at))[0]) for r in first]
    return AtRisk(overdue=int(overdue or 0), due_soon=int(total or 0) - int(overdue or 0), first=rows)


def live_queues(session: Session, filters: Filters) -> list[Any]:
    """The active queues a filter names (a team's own, a tier's, a market's and those serving every market)
    with their open work now."""
    rows = [(q, t) for q, t in directory_repository.queues_with_teams(session) if q.is_active]
    if filters.team is not None:
        rows = [(q, t) for q, t in rows if q.team_id == filters.team]
    if filters.tier:
        rows = [(q, t) for q, t in rows if t.tier == filters.tier]
    if filters.market:
        market = directory.market_by_code(session, filters.market)
        rows = [(q, t) for q, t in rows if q.market_id in (None, market.id)]
    return list(directory_views.queue_counts(session, rows))


def _due_words(due: datetime, now: datetime) -> str:
    minutes = (due - now).total_seconds() / 60
    return f"past due by {duration(-minutes)}" if minutes <= 0 else f"due in {duration(minutes)}"


def operations(session: Session, period: Period, filters: Filters, now: datetime) -> Panel:
    """Live work (open, unassigned, about to breach), volume, reply and resolution times, SLA compliance."""
    label = names(session)
    live = Period(now - timedelta(days=1), now)  # the backlog counts what is open now, opened before now
    backlog = metrics.value(session, "backlog", live, filters, now=now)
    queues = live_queues(session, filters)
    risk = at_risk(session, filters, now)
    times = metrics.pairs(session, TIMES, period, filters, now=now)
    figures = kpis(session, [("volume", "cases", "Cases opened"), ("sla_compliance", "targets", None)], period,
                   filters, now)

    def time_kpi(key: str, of: str) -> Kpi:
        definition = metrics.definition(key)
        current, before = times[key]
        return Kpi(key=key, label=definition.label, unit=Unit.MINUTES.value, value=current.value,
                   previous=before.value, better=definition.better.value, basis=basis(current, Unit.MINUTES, of=of),
                   description=definition.description)

    tiles = (
        Kpi(key="backlog", label="Open cases now", unit=Unit.COUNT.value, value=backlog.value, live=True,
            basis="new, open, pending or on hold", description=metrics.definition("backlog").description),
        Kpi(key="unassigned", label="Unassigned now", unit=Unit.COUNT.value,
            value=float(sum(q.unassigned for q in queues)), live=True,
            basis=f"new or open with nobody on them, in {len(queues)} queues",
            description="New or open cases nobody is assigned to, in the queues below."),
        Kpi(key="sla_at_risk", label="SLA at risk now", unit=Unit.COUNT.value, value=float(risk.total), live=True,
            basis=f"{risk.overdue:,} past due, {risk.due_soon:,} due within {AT_RISK_HOURS} h",
            description=f"Open cases whose next SLA target is past due or due within {AT_RISK_HOURS} hours."),
        *figures,
        time_kpi("first_reply_median", "first replies"), time_kpi("first_reply_p90", "first replies"),
        time_kpi("resolution_median", "solved cases"), time_kpi("resolution_p90", "solved cases"),
    )
    charts_ = (
        _trend(session, "volume_trend", f"Cases opened per {trend_group(period)}", [("volume", "cases opened")],
               period, filters, now, value_title="cases opened", empty="No cases opened in this period"),
        _bar(session, "backlog_by_team", "backlog", "Open cases now, by team", live, filters, now, by="team",
             label=label, value_title="open cases", empty="No open cases right now", top=15),
        _bar(session, "sla_by_target", "sla_compliance", "SLA compliance by target", period, filters, now,
             by="target", label=label, value_title="targets met in time", category_title="target",
             empty="No SLA target came due in this period"),
        _trend(session, "first_reply_trend", f"First reply time per {trend_group(period)}",
               [("first_reply_median", "median"), ("first_reply_p90", "90th percentile")], period, filters, now,
               value_title="minutes", empty="No first replies in this period"),
    )
    time_rows = []
    for key in TIMES:
        current, before = times[key]
        change = None if current.value is None or before.value is None else current.value - before.value
        time_rows.append((metrics.definition(key).label, current.value, before.value, change, current.count))
    time_table = make_table("times", "Reply and resolution times, on the clock and in business hours",
                        "Minutes from opening to the first public agent reply (counted when it was given) and to "
                        "the last solve (counted when solved); business figures count the open hours of the case's "
                        "SLA calendar only.",
                        [("measure", "Measure", "text"), ("minutes", "This period", "minutes"),
                         ("minutes_before", "Before", "minutes"), ("change_minutes", "Change", "minutes"),
                         ("cases", "Cases", "count")], time_rows, empty="No replies or solves in this period")
    queue_table = make_table(
        "queues", "Live queues", "Open work in each queue now. Queues are filtered by team, tier and market (a "
        "queue serving every market is shown whole); the channel and topic filters do not apply here.",
        [("queue", "Queue", "text"), ("team", "Team", "text"), ("new", "New", "count"), ("open", "Open", "count"),
         ("pending", "Pending", "count"), ("on_hold", "On hold", "count"), ("unassigned", "Unassigned", "count")],
        [(q.queue.name, q.team_name, q.new, q.open, q.pending, q.on_hold, q.unassigned) for q in queues],
        links=[f"/console/queues/{q.queue.id}" for q in queues], empty="No active queue matches these filters")
    risk_table = make_table(
        "at_risk", "Cases about to breach",
        f"Open cases whose next SLA target is past due or due within {AT_RISK_HOURS} hours, soonest first"
        + (f" (the first {AT_RISK_SHOWN} of {risk.total:,})." if risk.total > AT_RISK_SHOWN else "."),
        [("case", "Case", "text"), ("topic", "Topic", "text"), ("team", "Team", "text"),
         ("market", "Market", "text"), ("target", "Target", "text"), ("due", "Due", "text")],
        [(r.reference or str(r.case_id), r.topic or NONE_LABEL["topic"], label.of("team", _key(r.team_id)), r.market,
          TARGET_LABELS.get(r.metric, r.metric), _due_words(r.due_at, now)) for r in risk.first],
        links=[f"/console/cases/{r.case_id}" for r in risk.first],
        empty=f"No open case has an SLA target due within {AT_RISK_HOURS} hours")
    return Panel(key="operations", title="Operations",
                 description="The work in hand now, how much came in and how fast it was answered and solved.",
                 kpis=tiles, charts=charts_, tables=(risk_table, queue_table, time_table))


def _key(value: Any) -> str | None:
    return None if value is None else str(value)


# ----------------------------------------------------------------------------------------------- quality


def low_ratings(session: Session, period: Period, filters: Filters) -> list[tuple[str, int]]:
    """Low ratings (1 or 2) given in the period by the reason the customer picked, most first."""
    rows = session.execute(
        select(CaseRating.reason, func.count()).join(CaseFact, CaseFact.case_id == CaseRating.case_id)
        .where(CaseFact.csat_rated_at >= period.since, CaseFact.csat_rated_at < period.until,
               CaseFact.csat_score <= LOW_RATING, *metrics.conditions(filters))
        .group_by(CaseRating.reason)).all()
    return sorted(((reason or "", int(n)) for reason, n in rows), key=lambda r: (-r[1], r[0]))


def low_rating_comments(session: Session, period: Period, filters: Filters, *,
                        per_reason: int = EXAMPLE_COMMENTS) -> list[Any]:
    """The latest comments of low ratings in the period, ``per_reason`` for each reason."""
    ranked = (select(CaseRating.reason.label("reason"), CaseFact.csat_score.label("score"),
                     CaseRating.comment.label("comment"), CaseFact.case_id.label("case_id"),
                     CaseFact.reference.label("reference"), CaseFact.topic.label("topic"),
                     CaseFact.market.label("market"), CaseFact.csat_rated_at.label("rated_at"),
                     func.row_number().over(partition_by=CaseRating.reason,
                                            order_by=(CaseFact.csat_rated_at.desc(), CaseFact.case_id.desc()))
                     .label("rank"))
              .join(CaseFact, CaseFact.case_id == CaseRating.case_id)
              .where(CaseFact.csat_rated_at >= period.since, CaseFact.csat_rated_at < period.until,
                     CaseFact.csat_score <= LOW_RATING, CaseRating.comment != "", *metrics.conditions(filters))
              .subquery())
    return list(session.execute(select(ranked).where(ranked.c.rank <= per_reason)
                                .order_by(ranked.c.reason, ranked.c.rank)).all())


def quality(session: Session, period: Period, filters: Filters, now: datetime) -> Panel:
    """CSAT and why ratings are low, customers' sentiment, repeat complaints and reopens."""
    label = names(session, agents=True)
    tiles = kpis(session, [("csat", "ratings", None), ("csat_mean", "ratings", None),
                           ("negative_sentiment_rate", "cases with a scored message", None),
                           ("sentiment_worsened_rate", "cases with a scored message", None),
                           ("repeat_rate", "solved cases", None), ("reopen_rate", "solved cases", None)],
                 period, filters, now)
    breakdowns = tuple(
        _bar(session, f"csat_by_{dim}", "csat", f"CSAT by {dim}", period, filters, now, by=dim, label=label,
             value_title="good ratings (4-5)", empty="No ratings in this period", top=charts.MAX_BARS,
             note=f"The {charts.MAX_BARS} {dim}s with the most ratings; the numbers and the CSV have them all.")
        for dim in CSAT_DIMENSIONS)
    reasons = low_ratings(session, period, filters)
    low_total = sum(n for _, n in reasons)
    comments = low_rating_comments(session, period, filters)
    repeats_by_topic = [v for v in _compute(session, "repeat_rate", period, filters, now, by="topic") if v.numerator]
    repeats_by_market = [v for v in _compute(session, "repeat_rate", period, filters, now, by="market") if v.numerator]

    def drivers_of(values: list[Value], by: str) -> list[tuple[str, float | None]]:
        ranked = sorted(values, key=lambda v: (-(v.numerator or 0), -(v.value or 0.0), v.group or ""))
        return [(label.of(by, v.group), float(v.numerator or 0)) for v in ranked]

    charts_ = (
        *breakdowns,
        _trend(session, "csat_trend", f"CSAT per {trend_group(period)}", [("csat", "CSAT")], period, filters, now,
               value_title="good ratings (4-5)", empty="No ratings in this period"),
        _counts_bar("low_rating_reasons", "Why ratings were low", [(REASON_LABELS.get(r, r), float(n))
                                                                   for r, n in reasons],
                    value_title="low ratings (1-2)", category_title="reason", empty="No low ratings in this period",
                    note=f"{low_total:,} ratings of 1 or 2, by the reason the customer picked."),
        _bar(session, "negative_by_topic", "negative_sentiment_rate", "Negative sentiment by topic", period, filters,
             now, by="topic", label=label, value_title="cases ending negative", top=charts.MAX_BARS,
             empty="No scored customer messages in this period",
             note="The share of cases whose last customer message was negative; the topics with most scored "
                  "cases first."),
        _counts_bar("repeats_by_topic", "Repeat complaints by topic", drivers_of(repeats_by_topic, "topic"),
                    value_title="repeated cases", category_title="topic",
                    empty="No repeat complaints in this period",
                    note="Solved cases reopened, or followed by the same customer on the same topic within "
                         f"{metrics.REPEAT_DAYS} days; the topics with most repeats first."),
        _counts_bar("repeats_by_market", "Repeat complaints by market", drivers_of(repeats_by_market, "market"),
                    value_title="repeated cases", category_title="market",
                    empty="No repeat complaints in this period"),
    )
    comment_table = make_table(
        "low_rating_comments", "What customers wrote with a low rating",
        f"The latest comments of ratings of 1 or 2, up to {EXAMPLE_COMMENTS} per reason.",
        [("reason", "Reason", "text"), ("score", "Rating", "text"), ("topic", "Topic", "text"),
         ("market", "Market", "text"), ("case", "Case", "text"), ("comment", "Comment", "text")],
        [(REASON_LABELS.get(c.reason or "", c.reason), c.score, c.topic or NONE_LABEL["topic"], c.market,
          c.reference or str(c.case_id), c.comment) for c in comments],
        links=[None] * len(comments), empty="No low rating came with a comment in this period")
    repeat_table = make_table(
        "repeat_topics", "Repeat rate by topic",
        "Repeated and solved cases per topic, of the cases first solved in the period; most repeats first.",
        [("topic", "Topic", "text"), ("repeated", "Repeated", "count"), ("solved", "Solved", "count"),
         ("repeat_rate", "Repeat rate", "ratio")],
        [(label.of("topic", v.group), v.numerator, v.denominator, v.value)
         for v in sorted(repeats_by_topic, key=lambda v: (-(v.numerator or 0), v.group or ""))],
        empty="No repeat complaints in this period")
    return Panel(key="quality", title="Quality",
                 description="How customers rate us and why, how they sound, and whether they had to come back.",
                 kpis=tuple(tiles), charts=charts_, tables=(comment_table, repeat_table))


# ----------------------------------------------------------------------------------------------- routing


def routing(session: Session, period: Period, filters: Filters, now: datetime) -> Panel:
    """Misroutes by team and topic, hops and escalations; the causes come from the routing report."""
    label = names(session)
    tiles = kpis(session, [("misroute_rate", "routed cases", None), ("hops_per_case", "routed cases", None),
                           ("escalation_rate", "cases Tier 1 handled", None)], period, filters, now)
    charts_ = (
        _bar(session, "misroute_by_team", "misroute_rate", "Misroute rate by the team routed to first", period,
             filters, now, by="first_team", label=label, value_title="routed cases misrouted", order="numerator",
             top=charts.MAX_BARS, category_title="team", empty="No routed cases in this period",
             note="Of the cases routing sent to each team first, the share that had to move to another team (or "
                  "whose topic was corrected); the teams with most misrouted cases first."),
        _bar(session, "misroute_by_topic", "misroute_rate", "Misroute rate by topic", period, filters, now,
             by="topic", label=label, value_title="routed cases misrouted", order="numerator", top=charts.MAX_BARS,
             empty="No routed cases in this period", note="The topics with most misrouted cases first."),
        _trend(session, "misroute_trend", f"Misroute rate per {trend_group(period)}",
               [("misroute_rate", "misroute rate")], period, filters, now, value_title="routed cases misrouted",
               empty="No routed cases in this period"),
        _bar(session, "escalation_by_team", "escalation_rate", "Escalation rate by the team routed to first",
             period, filters, now, by="first_team", label=label, value_title="escalated from Tier 1",
             order="numerator", top=charts.MAX_BARS, category_title="team",
             empty="No case was handled by Tier 1 in this period",
             note="Of the cases Tier 1 handled, by the team routing sent them to first; most escalations first."),
    )
    return Panel(key="routing", title="Routing", kpis=tuple(tiles), charts=charts_,
                 description="Whether cases reach the right team first time, and how often Tier 1 hands them up.",
                 links=(("Root causes and a replayed recovery plan: the routing report",
                         f"/console/routing?days={routing_days(period)}"),))


def routing_days(period: Period) -> int:
    """The routing report's window (days back from now) nearest the period's length."""
    return max(1, min(365, round((period.until - period.since).total_seconds() / 86400)))


@dataclass(frozen=True)
class Cause:
    title: str
    kind: str
    misrouted: int
    hours_lost: float
    examples: tuple[str, ...]


def _journey_matches(journey: analysis.Journey, filters: Filters, tiers: dict[int, str]) -> bool:
    topic = journey.final_topic
    return ((not filters.market or journey.market == filters.market)
            and (not filters.channel or journey.channel == filters.channel)
            and (filters.team is None or journey.final_team == filters.team)
            and (not filters.tier or tiers.get(journey.final_team or 0) == filters.tier)
            and (not filters.topic or (topic is not None and (topic == filters.topic
                                                              or topic.startswith(filters.topic + ".")))))


def causes(session: Session, period: Period, filters: Filters, *, limit: int = CAUSES_SHOWN) -> list[Cause]:
    """What sent the period's misrouted cases the wrong way, by the routing report's own reading of each
    journey (``routing.analysis.cause_of``), most misrouted cases first."""
    items = analysis.journeys(session, since=period.since, until=period.until)
    teams = {t.id: t for t in directory.list_teams(session)}
    tiers = {team_id: team.tier for team_id, team in teams.items()}
    items = [j for j in items if _journey_matches(j, filters, tiers)]

    def team_key(team_id: int | None) -> str:
        team = teams.get(team_id or 0)
        return team.key if team is not None else "(none)"

    scopes = catalogue.scope_labels(session, {(j.decision.catalogue_entry_id, j.decision.catalogue_version)
                                              for j in items if j.decision.catalogue_entry_id is not None
                                              and j.decision.catalogue_version is not None})

    def entry_scope(entry_id: int | None, version: int | None) -> str:
        return scopes.get((entry_id or 0, version or 0), "retired")

    base = analysis.baselines(items)
    found: dict[str, tuple[str, str, list[analysis.Journey], float]] = {}
    for journey in items:
        if not journey.misrouted:
            continue
        key, kind, title = analysis.cause_of(journey, team_key, entry_scope)
        _, _, cases, lost = found.get(key, (kind, title, [], 0.0))
        cases.append(journey)
        found[key] = (kind, title, cases, lost + analysis.time_lost(journey, base))
    ranked = sorted(found.items(), key=lambda kv: (-len(kv[1][2]), -kv[1][3], kv[0]))
    return [Cause(title=title, kind=kind, misrouted=len(cases), hours_lost=round(lost / 3600, 1),
                  examples=tuple(j.reference for j in cases[:analysis.EXAMPLES]))
            for _, (kind, title, cases, lost) in ranked[:limit]]


CAUSE_KINDS: dict[str, str] = {"rule": "Routing rule", "catalogue": "Catalogue entry", "model": "Topic model",
                               "catalogue_gap": "No catalogue entry", "explicit": "Queue named by the caller"}


def causes_table(found: Sequence[Cause]) -> Table:
    return make_table("causes", "What sent misrouted cases the wrong way",
                  "Each cause as the routing report reads it, with the misrouted cases it explains and the hours "
                  "they lost before reaching the right team.",
                  [("cause", "Cause", "text"), ("kind", "Kind", "text"), ("misrouted", "Misrouted", "count"),
                   ("hours_lost", "Hours lost", "mean"), ("examples", "Examples", "text")],
                  [(c.title, CAUSE_KINDS.get(c.kind, c.kind), c.misrouted, c.hours_lost, " ".join(c.examples))
                   for c in found], empty="No misrouted case in this period")


# ----------------------------------------------------------------------------------------------- appeals


def appeals(session: Session, period: Period, filters: Filters, now: datetime) -> Panel:
    """The overturn rate (the metric) and where appeals come from (the appeals report, by market only)."""
    markets = [filters.market] if filters.market else None
    report = appeal_insights.volume(session, since=period.since, until=period.until, market_codes=markets)
    before = appeal_insights.volume(session, since=period.before().since, until=period.before().until,
                                    market_codes=markets)
    policies = {p.key: p.name for p in appeal_repository.policies(session)}
    sources = {s.key: s.name for s in appeal_repository.sources(session)}
    total, earlier = report.total, before.total
    kpis = (
        kpi(session, "appeals_overturn_rate", period, filters, now, of="decided appeals"),
        Kpi(key="appeals_filed", label="Appeals filed", unit=Unit.COUNT.value, value=float(total.appeals),
            previous=float(earlier.appeals), better=metrics.Better.LOWER.value,
            basis=f"against {total.decisions or 0:,} decisions recorded",
            description="Appeals filed in the period against any enforcement decision."),
        Kpi(key="appeals_decided", label="Appeals decided", unit=Unit.COUNT.value, value=float(total.decided),
            previous=float(earlier.decided), basis=f"{total.overturned:,} overturned fully or partly",
            description="Appeals decided in the period, whenever they were filed."),
        Kpi(key="appeal_rate", label="Appeal rate", unit=Unit.RATIO.value, value=total.appeal_rate,
            previous=earlier.appeal_rate, better=metrics.Better.LOWER.value,
            basis=f"{total.appeals:,} of {total.decisions or 0:,} decisions",
            description="Appeals filed per enforcement decision recorded in the period."),
    )
    by_policy = [(policies.get(r.key, r.key), float(r.appeals)) for r in report.by["policy"] if r.appeals]
    pairs = list(report.worst_offenders)
    label = names(session)
    charts_ = (
        _bar(session, "overturn_by_market", "appeals_overturn_rate", "Overturn rate by market", period, filters,
             now, by="market", label=label, value_title="decided appeals overturned", category_title="market",
             empty="No appeal was decided in this period"),
        _trend(session, "overturn_trend", f"Overturn rate per {trend_group(period)}",
               [("appeals_overturn_rate", "overturn rate")], period, filters, now,
               value_title="decided appeals overturned", empty="No appeal was decided in this period"),
        _counts_bar("appeals_by_policy", "Appeals filed by policy", by_policy, value_title="appeals filed",
                    category_title="policy", empty="No appeals filed in this period"),
        _counts_bar("overturned_pairs", "Decisions overturned, by policy and detection source",
                    [(f"{policies.get(o.policy, o.policy)} · {sources.get(o.source, o.source)}", float(o.overturned))
                     for o in pairs], value_title="appeals overturned", category_title="policy · source",
                    empty="No decision was overturned in this period",
                    note="The pairs whose decisions appeals overturned most: fixing the rule or model behind the "
                         "top bars removes the most wrong decisions."),
    )
    pair_table = make_table(
        "pairs", "Policy and detection source pairs to look at first",
        "Pairs with at least one overturned decision, most overturns first, with example appeals.",
        [("policy", "Policy", "text"), ("source", "Detection source", "text"), ("decided", "Decided", "count"),
         ("overturned", "Overturned", "count"), ("overturn_rate", "Overturn rate", "ratio"),
         ("examples", "Examples", "text")],
        [(policies.get(o.policy, o.policy), sources.get(o.source, o.source), o.decided, o.overturned,
          o.overturn_rate, " ".join(o.examples)) for o in pairs], empty="No decision was overturned in this period")
    other = [name for name in filters.given() if name != "market"]
    notes = (f"Appeals filed, decided and by policy are counted by market only: the {', '.join(other)} "
             "filter applies to the overturn rate alone.",) if other else ()
    return Panel(key="appeals", title="Appeals", kpis=kpis, charts=charts_, tables=(pair_table,), notes=notes,
                 description="How many enforcement decisions are appealed, and how many appeals prove them wrong.",
                 links=(("Where appeals come from, in full: the appeals insights report",
                         "/console/appeals/insights"),))


# ----------------------------------------------------------------------------------------------- overview

OVERVIEW_KPIS: tuple[tuple[str, str, str], ...] = (
    ("volume", "cases", "operations"), ("sla_compliance", "targets", "operations"),
    ("first_reply_median", "first replies", "operations"), ("csat", "ratings", "quality"),
    ("repeat_rate", "solved cases", "quality"), ("misroute_rate", "routed cases", "routing"),
    ("escalation_rate", "cases Tier 1 handled", "routing"), ("appeals_overturn_rate", "decided appeals", "appeals"),
)


def overview(session: Session, period: Period, filters: Filters, now: datetime) -> Panel:
    """The headline figure of each dashboard, and the backlog now."""
    live = Period(now - timedelta(days=1), now)
    backlog = metrics.value(session, "backlog", live, filters, now=now)
    tiles = (Kpi(key="backlog", label="Open cases now", unit=Unit.COUNT.value, value=backlog.value, live=True,
                basis="new, open, pending or on hold", description=metrics.definition("backlog").description),
            *kpis(session, [(key, of, None) for key, of, _ in OVERVIEW_KPIS], period, filters, now))
    return Panel(key="overview", title="Insights", kpis=tiles,
                 description="The headline figures of the period against the period before.")


PANELS: dict[str, Callable[[Session, Period, Filters, datetime], Panel]] = {
    "operations": operations, "quality": quality, "routing": routing, "appeals": appeals,
}


# ----------------------------------------------------------------------------------------------- filters


def check_filter(session: Session, name: str, text: str) -> str | int | None:
    """One filter as typed (a market code, a team id, a tier, a channel, a topic key), checked against the
    directory; "" is no filter. Refused with ``Invalid`` naming the filter."""
    text = text.strip()
    if not text:
        return None
    if name == "market":
        try:
            return directory.market_by_code(session, text.upper(), field="market").code
        except Invalid:
            raise Invalid(f"there is no market {text[:8]!r}", field="market") from None
    if name == "team":
        if not re.fullmatch(r"\d{1,9}", text):
            raise Invalid("a team's id (a whole number)", field="team")
        team_id = int(text)
        if team_id not in {t.id for t in directory.list_teams(session)}:
            raise Invalid(f"there is no team {team_id}", field="team")
        return team_id
    if name == "tier":
        if text not in TIER_LABELS:
            raise Invalid(f"one of {', '.join(TIER_LABELS)}", field="tier")
        return text
    if name == "channel":
        if text not in CHANNEL_LABELS:
            raise Invalid(f"one of {', '.join(CHANNEL_LABELS)}", field="channel")
        return text
    if name == "topic":
        if len(text) > 200 or text not in {t.key for t in catalogue.list_topics(session)}:
            raise Invalid(f"there is no topic {text[:40]!r}", field="topic")
        return text
    raise Invalid(f"filter by {', '.join(metrics.FILTERS)}", field=name)


def filter_options(session: Session) -> dict[str, list[tuple[str, str]]]:
    """The choices of the filter bar: (value, words) per filter."""
    return {
        "market": [(m.code, f"{m.code} · {m.name}") for m in sorted(directory.list_markets(session),
                                                                   key=lambda m: m.code)],
        "team": [(str(t.id), t.name) for t in sorted(directory.list_teams(session), key=lambda t: t.name)],
        "tier": list(TIER_LABELS.items()),
        "channel": list(CHANNEL_LABELS.items()),
        "topic": [(t.key, t.key) for t in sorted(catalogue.list_topics(session), key=lambda t: t.key)],
    }
