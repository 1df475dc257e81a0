"""The weekly insight report: what drove contacts, why customers were unhappy, what spiked, what came back,
how routing and the SLAs did, what self-help missed, and where the OKRs stand, for one market or all.

**The week** runs Monday 00:00 to the next Monday 00:00 in the market's own time zone (``Market.time_zone``),
so a Spanish lead reads the Spanish week, the one the emerging issues are judged on (local days); for every
market together it is the UTC week. Each figure is the same metric the dashboards show
(``insights.panels``, ``insights.metrics``) over that week, next to the week before.

The report is one HTML document (inline CSS and the charts' inline SVG, A4 and print-friendly:
``to_html``), and the same document printed by WeasyPrint (``to_pdf``); the console shows its body
(``body_html``). ``trustdesk report weekly`` writes either to a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from trustdesk import __version__
from trustdesk.core.errors import Invalid
from trustdesk.directory import service as directory
from trustdesk.insights import metrics, okrs, panels
from trustdesk.insights.metrics import Filters, Period
from trustdesk.insights.models import EmergingIssue
from trustdesk.insights.panels import Kpi, PanelChart, Table
from trustdesk.knowledge import gaps
from trustdesk.text.embeddings import Embedder

GAPS_SHOWN = 5
GAPS_JUDGED = 20  # the largest groups of questions put to the knowledge search (each costs a few searches)
CAUSES_SHOWN = 5
DRIVERS_SHOWN = 10
DEFAULT_THRESHOLD = 0.55  # the knowledge search's confidence for an answer (Settings.kb_answer_threshold)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    kpis: tuple[Kpi, ...] = ()
    charts: tuple[PanelChart, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeeklyReport:
    market: str | None  # None: every market
    zone: str  # the time zone the week is counted in
    week_start: date  # Monday
    since: datetime  # the week in UTC: [since, until)
    until: datetime
    generated_at: datetime
    sections: tuple[Section, ...]
    objectives: list[Any] | None = field(default=None)  # okrs.ObjectiveProgress

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    @property
    def scope(self) -> str:
        return self.market or "every market"

    @property
    def title(self) -> str:
        return f"Weekly insight report · {self.scope} · week of {self.week_start:%d %B %Y}"

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    @property
    def charts(self) -> list[PanelChart]:
        return [c for s in self.sections for c in s.charts]


# ---------------------------------------------------------------- the week


def week_start(day: date) -> date:
    """The Monday of the week ``day`` falls in."""
    return day - timedelta(days=day.weekday())


def zone_of(session: Session, market: str | None) -> tzinfo:
    if market is None:
        return UTC
    return ZoneInfo(directory.market_by_code(session, market).time_zone)


def last_complete_week(now: datetime, zone: tzinfo) -> date:
    """The Monday of the last week that has ended (in ``zone``)."""
    return week_start(now.astimezone(zone).date()) - timedelta(days=7)


def check_market(session: Session, market: str | None) -> str | None:
    text = (market or "").strip().upper()
    if not text:
        return None
    try:
        return directory.market_by_code(session, text, field="market").code
    except Invalid:
        raise Invalid(f"there is no market {text[:8]!r}", field="market") from None


def week_period(start: date, zone: tzinfo) -> Period:
    since = datetime.combine(start, time(), tzinfo=zone)
    until = datetime.combine(start + timedelta(days=7), time(), tzinfo=zone)
    return Period(since.astimezone(UTC), until.astimezone(UTC))


# ---------------------------------------------------------------- the sections


def emerging_issues(session: Session, *, market: str | None, first: date, last: date) -> list[EmergingIssue]:
    """The emerging issues active on any day of [first, last], earliest first."""
    query = select(EmergingIssue).where(EmergingIssue.started_on <= last,
                                        or_(EmergingIssue.ended_on.is_(None), EmergingIssue.ended_on >= first))
    if market is not None:
        query = query.where(EmergingIssue.market == market)
    return list(session.scalars(query.order_by(EmergingIssue.started_on, EmergingIssue.topic, EmergingIssue.id)))


def _emerging_section(session: Session, market: str | None, first: date, last: date) -> Section:
    found = emerging_issues(session, market=market, first=first, last=last)
    table = panels.make_table(
        "emerging", "Emerging issues of the week",
        "Topics whose daily cases in a market were improbably high against their own recent baseline, on any "
        "day of the week; peak is the busiest day's cases against the baseline's expectation.",
        [("topic", "Topic", "text"), ("market", "Market", "text"), ("started", "Started", "text"),
         ("ended", "Ended", "text"), ("peak", "Peak day", "count"), ("expected", "Expected", "mean"),
         ("cases", "Cases", "count")],
        [(i.topic, i.market, i.started_on.isoformat(), i.ended_on.isoformat() if i.ended_on else "ongoing",
          i.peak_observed, i.expected, i.total_cases) for i in found],
        empty="No emerging issue this week")
    return Section("emerging", "Emerging issues", "What spiked, and whether it is over.", tables=(table,))


def _gap_section(session: Session, market: str | None, period: Period, *, threshold: float,
                 embedder: Embedder | None) -> Section:
    mined = gaps.mine(session, now=period.until, days=7, market=market, threshold=threshold, embedder=embedder,
                      params=gaps.Params(judged=GAPS_JUDGED))
    missed = [c for c in mined.clusters if c.verdict in (gaps.Verdict.GAP, gaps.Verdict.INEFFECTIVE)][:GAPS_SHOWN]
    verdicts = {gaps.Verdict.GAP: "No confident article", gaps.Verdict.INEFFECTIVE: "Article not working"}
    table = panels.make_table(
        "gaps", "What self-help missed",
        "Groups of this week's customer questions, ranked as the knowledge-base gaps page ranks them: no "
        "confident article for most of the group, or an article that answers it while the cases keep coming.",
        [("verdict", "Finding", "text"), ("question", "Typical question", "text"), ("cases", "Cases", "count"),
         ("previous", "Week before", "count"), ("article", "Closest article", "text")],
        [(verdicts[c.verdict], c.question[:160], c.size, c.previous, c.article.title if c.article else "none")
         for c in missed], empty="Self-help answered every group of questions this week")
    notes: tuple[str, ...] = (f"The largest groups of questions (up to {GAPS_JUDGED}) were put to the knowledge "
                              "search; the knowledge base's gaps page judges them all.",)
    if mined.sampled:
        notes += (f"Estimated from {mined.mined:,} of {mined.cases:,} cases (a fixed sample; counts scaled).",)
    return Section("gaps", "Self-service gaps", "Questions customers asked a person that self-help should answer.",
                   tables=(table,), notes=notes)


def _week(session: Session, market: str | None, week_start: date) -> tuple[str | None, tzinfo, Period]:
    if week_start.weekday() != 0:
        raise Invalid(f"a week starts on a Monday; {week_start.isoformat()} is a {week_start:%A}", field="week")
    market = check_market(session, market)
    zone = zone_of(session, market)
    return market, zone, week_period(week_start, zone)


def gaps_section(session: Session, *, market: str | None, week_start: date, threshold: float = DEFAULT_THRESHOLD,
                 embedder: Embedder | None = None) -> Section:
    """The self-service gaps of the week alone (the console page loads them after the rest: the knowledge
    search they are put to is the report's slowest part)."""
    market, _zone, period = _week(session, market, week_start)
    return _gap_section(session, market, period, threshold=threshold, embedder=embedder)


def weekly(session: Session, *, market: str | None, week_start: date, now: datetime,
           threshold: float = DEFAULT_THRESHOLD, embedder: Embedder | None = None,
           with_gaps: bool = True) -> WeeklyReport:
    """The report of the week starting on Monday ``week_start`` (in the market's zone; UTC for every market).
    ``threshold`` and ``embedder``: how the self-service gaps are mined (``knowledge.gaps.mine``);
    ``with_gaps`` False leaves that section out (see ``gaps_section``)."""
    market, zone, period = _week(session, market, week_start)
    filters = Filters(market=market)
    drivers = panels.drivers(session, period, filters, now, top=DRIVERS_SHOWN)
    quality = panels.quality(session, period, filters, now)
    routing = panels.routing(session, period, filters, now)
    operations = panels.operations(session, period, filters, now)
    sections = [
        Section("drivers", "Top contact drivers", "What customers contacted us about most, against the week before.",
                kpis=drivers.kpis, charts=drivers.charts, tables=(drivers.table("drivers_rising"),)),
        Section("csat", "CSAT drivers", "How customers rated us, and the topics and reasons behind low ratings.",
                kpis=(quality.kpi("csat"), quality.kpi("csat_mean")),
                charts=(quality.chart("csat_by_topic"), quality.chart("low_rating_reasons")),
                tables=(_unhappy_topics(session, period, filters, now),
                        quality.table("low_rating_comments"))),
        _emerging_section(session, market, week_start, week_start + timedelta(days=6)),
        Section("repeats", "Repeat complaints", "Customers who had to come back on the same topic.",
                kpis=(quality.kpi("repeat_rate"), quality.kpi("reopen_rate")),
                charts=(quality.chart("repeats_by_topic"),) + (() if market else (quality.chart("repeats_by_market"),)),
                tables=(quality.table("repeat_topics"),)),
        Section("routing", "Routing quality", "Whether cases reached the right team first time, and why not.",
                kpis=routing.kpis, charts=(routing.chart("misroute_by_team"), routing.chart("misroute_by_topic")),
                tables=(panels.causes_table(panels.causes(session, period, filters, limit=CAUSES_SHOWN)),)),
        Section("sla", "Service levels", "Targets met in time, and how long first replies and resolutions took.",
                kpis=(operations.kpi("sla_compliance"), operations.kpi("first_reply_median"),
                      operations.kpi("first_reply_p90"), operations.kpi("resolution_median"),
                      operations.kpi("resolution_p90")),
                charts=(operations.chart("sla_by_target"),), tables=(operations.table("times"),)),
    ]
    if with_gaps:
        sections.append(_gap_section(session, market, period, threshold=threshold, embedder=embedder))
    return WeeklyReport(market=market, zone=str(zone), week_start=week_start, since=period.since,
                        until=period.until, generated_at=now, sections=tuple(sections),
                        objectives=okr_objectives(session, now))


def _unhappy_topics(session: Session, period: Period, filters: Filters, now: datetime) -> Table:
    """The topics with most ratings that were not good (1-3), with their CSAT."""
    values = [v for v in metrics.compute(session, "csat", period, filters, by="topic", now=now) if v.denominator]
    values.sort(key=lambda v: (-((v.denominator or 0) - (v.numerator or 0)), v.value or 0.0, v.group or ""))
    return panels.make_table(
        "unhappy_topics", "Topics with the most unhappy ratings",
        "Ratings of 1 to 3 per topic this week, most first, with the topic's CSAT (good ratings, 4 or 5, of all).",
        [("topic", "Topic", "text"), ("not_good", "Not good (1-3)", "count"), ("ratings", "Ratings", "count"),
         ("csat", "CSAT", "ratio")],
        [(v.group or panels.NONE_LABEL["topic"], (v.denominator or 0) - (v.numerator or 0), v.denominator, v.value)
         for v in values[:DRIVERS_SHOWN]], empty="No ratings this week")


def okr_objectives(session: Session, now: datetime) -> list[Any]:
    """The OKRs that are running or ended within the last quarter, judged now."""
    horizon = now.date() - timedelta(days=92)
    return [o for o in okrs.progress_all(session, now=now) if o.objective.period_end >= horizon]


# ---------------------------------------------------------------- HTML and PDF


def body_html(report: WeeklyReport, *, gaps_url: str | None = None) -> str:
    """The report's sections as HTML (the console page shows them inside its own layout; ``gaps_url``: where
    it loads the self-service gaps from, when they were left out)."""
    from trustdesk.web.templating import templates

    return str(templates.env.get_template("insights/_report_body.html").render(
        report=report, figure=panels.figure, gaps_url=gaps_url))


def section_html(section: Section) -> str:
    from trustdesk.web.templating import templates

    return str(templates.env.get_template("insights/_report_section.html").render(section=section))


def to_html(report: WeeklyReport) -> str:
    """A standalone HTML document: inline CSS, inline SVG charts, A4 and print-friendly."""
    from trustdesk.web.templating import templates

    return str(templates.env.get_template("insights/report.html").render(
        report=report, body=body_html(report), version=__version__))


def to_pdf(report: WeeklyReport) -> bytes:
    import weasyprint

    return bytes(weasyprint.HTML(string=to_html(report)).write_pdf())


def filename(report: WeeklyReport) -> str:
    scope = re.sub(r"[^A-Za-z0-9]+", "-", report.market or "all-markets")
    return f"insights-weekly-{scope}-{report.week_start.isoformat()}"
