"""Console dashboards: the overview and four dashboards (operations, quality, routing, appeals), each chart's
CSV, the routing causes (loaded after the page) and the weekly report.

In-house staff with insights.read (a vendor's lead holds the permission by role, yet the dashboards count
every vendor's work: refused). Handlers are thin: they read the period and filters from the address, call
``insights.panels`` and render. A period is whole UTC days, both ends included; a preset ("last 7 days")
is the complete days before today, so it compares like with like against the days before it (today so
far is in the live figures of the operations dashboard).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.core.db import read_only, release
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.insights import facts, panels, report
from trustdesk.insights.metrics import FILTERS, MAX_PERIOD_DAYS, Filters, Period
from trustdesk.insights.panels import Panel, PanelChart, Table
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, state
from trustdesk.web.pages import is_htmx, render_console, with_query
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_READ, in_house=True))]
Text = Annotated[str, Query(max_length=200)]
FromDay = Annotated[str, Query(alias="from", max_length=100)]
ToDay = Annotated[str, Query(alias="to", max_length=100)]
ChartKey = Annotated[str, Query(max_length=64)]

BASE = "/console/insights"
PRESETS: dict[str, int] = {"7": 7, "28": 28, "90": 90}
PRESET_LABELS = {"7": "Last 7 days", "28": "Last 28 days", "90": "Last 90 days"}
DEFAULT_PRESET = "28"
CUSTOM = "custom"
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
DASHBOARDS: dict[str, tuple[str, str]] = {
    "operations": ("Operations", "Backlog and work about to breach now; volume, reply and resolution times and SLA "
                                 "compliance over the period."),
    "quality": ("Quality", "CSAT and why ratings are low, how customers sound, repeat complaints and reopens."),
    "routing": ("Routing", "Misroutes by team and topic, hops and escalations; the causes as the routing report "
                           "reads them."),
    "appeals": ("Appeals", "Appeals filed and decided, the overturn rate by market, and the policy and detection "
                           "source pairs appeals prove wrong most."),
}
FIELD_IDS = {"from": "f-from", "to": "f-to", **{name: f"f-{name}" for name in FILTERS}}


# ---------------------------------------------------------------- the period and the filters


@dataclass
class Selection:
    """What the address asked for, as typed (to show again), checked; problems next to their fields."""

    preset: str
    first: str
    last: str
    values: dict[str, str]
    period: Period | None = None
    filters: Filters = field(default_factory=Filters)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def first_day(self) -> date:
        assert self.period is not None
        return self.period.since.date()

    @property
    def last_day(self) -> date:
        assert self.period is not None
        return (self.period.until - timedelta(days=1)).date()

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def before(self) -> tuple[date, date]:
        assert self.period is not None
        earlier = self.period.before()
        return earlier.since.date(), (earlier.until - timedelta(days=1)).date()

    def query(self, **extra: str) -> dict[str, str]:
        """The address's parameters: a preset by name, else the days; the filters; and ``extra``."""
        days = {"period": self.preset} if self.preset in PRESETS else {"from": self.first, "to": self.last}
        return {**days, **{k: v for k, v in self.values.items() if v}, **extra}


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    text = text.strip()
    if not text:
        errors[name] = f"enter the {'first' if name == 'from' else 'last'} day, as YYYY-MM-DD"
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = f"{text[:20]!r} is not a day: write it as YYYY-MM-DD, e.g. 2026-03-01"
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        errors[name] = f"choose a day from {FIRST_DAY} to {LAST_DAY}"
        return None
    return day


def selection(session: Session, *, preset: str, first: str, last: str, raw: dict[str, str],
              today: date) -> Selection:
    """The period (a preset counted back from yesterday, or the days typed) and the filters, checked."""
    if preset not in PRESETS:
        preset = CUSTOM if (first.strip() or last.strip() or preset == CUSTOM) else DEFAULT_PRESET
    values = {name: raw.get(name, "").strip() for name in FILTERS}
    if values["market"]:
        values["market"] = values["market"].upper()
    if preset in PRESETS:
        start, end = today - timedelta(days=PRESETS[preset]), today - timedelta(days=1)
        chosen = Selection(preset, start.isoformat(), end.isoformat(), values)
    else:
        chosen = Selection(CUSTOM, first.strip(), last.strip(), values)
        start_day, end_day = _day(first, "from", chosen.errors), _day(last, "to", chosen.errors)
        start, end = start_day or today, end_day or today
        if start_day and end_day and end_day < start_day:
            chosen.errors["to"] = "the last day comes on or after the first"
        elif start_day and end_day and (end_day - start_day).days + 1 > MAX_PERIOD_DAYS:
            chosen.errors["from"] = f"choose a period of at most {MAX_PERIOD_DAYS} days"
    if not chosen.errors:
        chosen.period = Period(datetime.combine(start, time(), tzinfo=UTC),
                               datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC))
    checked: dict[str, Any] = {}
    for name in FILTERS:
        try:
            checked[name] = panels.check_filter(session, name, values[name])
        except Invalid as error:
            chosen.errors[name] = error.detail
    if not chosen.errors:
        chosen.filters = Filters(**checked)
    return chosen


def _selection(request: Request, session: Session, now: datetime, period: str, first: str, last: str,
               market: str, team: str, tier: str, channel: str, topic: str) -> Selection:
    return selection(session, preset=period, first=first, last=last, today=now.date(),
                     raw={"market": market, "team": team, "tier": tier, "channel": channel, "topic": topic})


def _emerging_url(request: Request) -> str | None:
    """The emerging issues page, once it is served."""
    path = f"{BASE}/emerging"
    return path if any(getattr(r, "path", "") == path for r in request.app.routes) else None


def _render(request: Request, session: Session, actor: Actor, name: str, chosen: Selection, *, active: str,
            context: dict[str, Any]) -> HTMLResponse:
    path = request.url.path
    keep = {k: v for k, v in chosen.values.items() if v}
    extra = {k: v for k, v in context.get("extra_query", {}).items() if v}
    ctx: dict[str, Any] = {
        "chosen": chosen, "options": panels.filter_options(session), "field_ids": FIELD_IDS,
        "preset_links": [(key, text, with_query(path, period=key, **keep, **extra))
                         for key, text in PRESET_LABELS.items()],
        "clear_url": with_query(path, **(  # the same period, no filters
            {"period": chosen.preset} if chosen.preset in PRESETS else {"from": chosen.first, "to": chosen.last})),
        "dashboards": DASHBOARDS, "emerging_url": _emerging_url(request), "stale": facts.stale_count(session),
        "figure": panels.figure, "tier_labels": panels.TIER_LABELS, "channel_labels": panels.CHANNEL_LABELS,
        **context,
    }
    return render_console(request, session, actor, name, ctx, active=active,
                          status_code=422 if chosen.errors else 200)


def _csv_urls(dashboard: str, chosen: Selection, items: list[PanelChart | Table]) -> dict[str, str]:
    return {i.key: with_query(f"{BASE}/{dashboard}/{i.key}.csv", **chosen.query()) for i in items}


def _filename(dashboard: str, key: str, chosen: Selection) -> str:
    market = f"-{chosen.filters.market}" if chosen.filters.market else ""
    return (f"insights-{dashboard}-{key}-{chosen.first_day.isoformat()}-to-{chosen.last_day.isoformat()}"
            f"{market}.csv")


def _download(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- the overview


@router.get(BASE)
def overview_page(request: Request, session: SessionDep, clock: ClockDep, actor: Reader, period: Text = "",
                  first: FromDay = "", last: ToDay = "", market: Text = "", team: Text = "", tier: Text = "",
                  channel: Text = "", topic: Text = "") -> HTMLResponse:
    now = clock.now()
    chosen = _selection(request, session, now, period, first, last, market, team, tier, channel, topic)
    context: dict[str, Any] = {"overview": None, "drivers": None, "objectives": report.okr_objectives(session, now)}
    if chosen.period is not None and not chosen.errors:
        head = panels.overview(session, chosen.period, chosen.filters, now)
        drivers = panels.drivers(session, chosen.period, chosen.filters, now)
        sections = {key: [k for k in head.kpis if any(key == where and k.key == metric
                                                      for metric, _, where in panels.OVERVIEW_KPIS)]
                    for key in DASHBOARDS}
        sections["operations"] = [head.kpi("backlog"), *sections["operations"]]
        context.update(overview=head, drivers=drivers, sections=sections,
                       dashboard_urls={key: with_query(f"{BASE}/{key}", **chosen.query()) for key in DASHBOARDS},
                       csv_urls=_csv_urls("overview", chosen, [*drivers.charts, *drivers.tables]),
                       report_url=with_query(f"{BASE}/report", market=chosen.filters.market or ""))
    return _render(request, session, actor, "insights/overview.html", chosen, active="insights", context=context)


@router.get(f"{BASE}/overview/{{key}}.csv")
def overview_csv(session: SessionDep, clock: ClockDep, actor: Reader, request: Request, key: str,
                 period: Text = "", first: FromDay = "", last: ToDay = "", market: Text = "", team: Text = "",
                 tier: Text = "", channel: Text = "", topic: Text = "") -> Response:
    now = clock.now()
    chosen = _checked(request, session, now, period, first, last, market, team, tier, channel, topic)
    assert chosen.period is not None
    return _item_csv(panels.drivers(session, chosen.period, chosen.filters, now), "overview", key, chosen)


def _checked(request: Request, session: Session, now: datetime, period: str, first: str, last: str, market: str,
             team: str, tier: str, channel: str, topic: str) -> Selection:
    """The selection of a download: a bad field is a 422 naming it (there is no form to show it on)."""
    chosen = _selection(request, session, now, period, first, last, market, team, tier, channel, topic)
    if chosen.errors:
        name, message = next(iter(chosen.errors.items()))
        raise Invalid(message, field=name)
    return chosen


def _item_csv(panel: Panel, dashboard: str, key: str, chosen: Selection) -> Response:
    item = panel.item(key)
    if item is None:
        raise NotFound(f"the {dashboard} dashboard has no chart or table {key[:64]!r}")
    return _download(item.csv(), _filename(dashboard, key, chosen))


# ---------------------------------------------------------------- the four dashboards


def _dashboard_page(dashboard: str) -> Callable[..., HTMLResponse]:
    build = panels.PANELS[dashboard]

    def page(request: Request, session: SessionDep, clock: ClockDep, actor: Reader, period: Text = "",
             first: FromDay = "", last: ToDay = "", market: Text = "", team: Text = "", tier: Text = "",
             channel: Text = "", topic: Text = "", csat_by: Annotated[str, Query(max_length=16)] = "topic",
             ) -> HTMLResponse:
        now = clock.now()
        chosen = _selection(request, session, now, period, first, last, market, team, tier, channel, topic)
        title, description = DASHBOARDS[dashboard]
        context: dict[str, Any] = {"dashboard": dashboard, "title": title, "description": description,
                                   "panel": None}
        if dashboard == "quality":
            csat_by = csat_by if csat_by in panels.CSAT_DIMENSIONS else "topic"
            context["extra_query"] = {"csat_by": csat_by if csat_by != "topic" else ""}
        if chosen.period is not None and not chosen.errors:
            panel = build(session, chosen.period, chosen.filters, now)
            shown = list(panel.charts)
            if dashboard == "quality":  # one CSAT breakdown at a time, chosen by the tabs above it
                shown = [c for c in shown if not c.key.startswith("csat_by_") or c.key == f"csat_by_{csat_by}"]
                context["csat_tabs"] = [
                    (dim, f"By {dim}", with_query(request.url.path, **chosen.query(csat_by=dim)))
                    for dim in panels.CSAT_DIMENSIONS]
                context["csat_by"] = csat_by
            context.update(panel=panel, shown=shown,
                           csv_urls=_csv_urls(dashboard, chosen, [*panel.charts, *panel.tables, *_causes_items()]))
            if dashboard == "routing":
                context["causes_url"] = with_query(f"{BASE}/routing/causes", **chosen.query())
        return _render(request, session, actor, "insights/dashboard.html", chosen, active=f"insights-{dashboard}",
                       context=context)

    page.__name__ = f"{dashboard}_page"
    return page


def _causes_items() -> list[PanelChart | Table]:
    return [panels.causes_table([])]


def _dashboard_csv(dashboard: str) -> Callable[..., Response]:
    build = panels.PANELS[dashboard]

    def download(request: Request, session: SessionDep, clock: ClockDep, actor: Reader, key: str,
                 period: Text = "", first: FromDay = "", last: ToDay = "", market: Text = "", team: Text = "",
                 tier: Text = "", channel: Text = "", topic: Text = "") -> Response:
        now = clock.now()
        chosen = _checked(request, session, now, period, first, last, market, team, tier, channel, topic)
        assert chosen.period is not None
        if dashboard == "routing" and key == "causes":
            table = panels.causes_table(panels.causes(session, chosen.period, chosen.filters))
            return _download(table.csv(), _filename(dashboard, key, chosen))
        return _item_csv(build(session, chosen.period, chosen.filters, now), dashboard, key, chosen)

    download.__name__ = f"{dashboard}_csv"
    return download


for _name in DASHBOARDS:
    router.add_api_route(f"{BASE}/{_name}", _dashboard_page(_name), methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(f"{BASE}/{_name}/{{key}}.csv", _dashboard_csv(_name), methods=["GET"])


@router.get(f"{BASE}/routing/causes")
def routing_causes(request: Request, session: SessionDep, clock: ClockDep, actor: Reader, period: Text = "",
                   first: FromDay = "", last: ToDay = "", market: Text = "", team: Text = "", tier: Text = "",
                   channel: Text = "", topic: Text = "") -> HTMLResponse:
    """The causes of the period's misroutes, as a fragment the routing dashboard loads after itself."""
    now = clock.now()
    chosen = _checked(request, session, now, period, first, last, market, team, tier, channel, topic)
    assert chosen.period is not None
    table = panels.causes_table(panels.causes(session, chosen.period, chosen.filters))
    context = {"table": table, "csv_url": with_query(f"{BASE}/routing/causes.csv", **chosen.query()),
               "routing_url": f"/console/routing?days={panels.routing_days(chosen.period)}", "chosen": chosen,
               "figure": panels.figure}
    if is_htmx(request):
        return render(request, "insights/_causes.html", context)
    return render_console(request, session, actor, "insights/causes.html", context, active="insights-routing")


# ---------------------------------------------------------------- the weekly report


@router.get(f"{BASE}/report")
def weekly_report(request: Request, session: SessionDep, clock: ClockDep, actor: Reader, week: Text = "",
                  market: Text = "", as_format: Annotated[str, Query(alias="format", pattern=r"^(page|html|pdf)$")]
                  = "page") -> Response:
    """Pick a week and a market; read the report as a page, or download it as HTML or PDF."""
    now = clock.now()
    errors: dict[str, str] = {}
    code: str | None = None
    try:
        code = report.check_market(session, market)
    except Invalid as error:
        errors["market"] = error.detail
    start = report.last_complete_week(now, report.zone_of(session, code) if code else UTC)
    if week.strip():
        try:
            start = report.week_start(date.fromisoformat(week.strip()))
        except ValueError:
            errors["week"] = f"{week.strip()[:20]!r} is not a day: write it as YYYY-MM-DD"
    options = panels.filter_options(session)["market"]
    context: dict[str, Any] = {"week": week.strip() if errors.get("week") else start.isoformat(),
                               "market": code or market.strip().upper(), "market_options": options,
                               "errors": errors, "report": None, "report_page": True, "chosen": None,
                               "dashboards": DASHBOARDS, "emerging_url": _emerging_url(request)}
    if not errors:
        release(session)
        with read_only(state(request).factory) as reader:  # seconds of reading: no write lock held meanwhile
            built = report.weekly(reader, market=code, week_start=start, now=now, with_gaps=as_format != "page")
            stem = report.filename(built)
            if as_format == "pdf":
                return Response(report.to_pdf(built), media_type="application/pdf",
                                headers={"content-disposition": f'attachment; filename="{stem}.pdf"'})
            if as_format == "html":
                return Response(report.to_html(built).encode("utf-8"), media_type="text/html; charset=utf-8",
                                headers={"content-disposition": f'attachment; filename="{stem}.html"'})
            gaps_url = with_query(f"{BASE}/report/gaps", week=start.isoformat(), market=code or "")
            context.update(report=built, body=report.body_html(built, gaps_url=gaps_url))
        context.update(pdf_url=with_query(f"{BASE}/report", week=start.isoformat(), market=code or "", format="pdf"),
                       html_url=with_query(f"{BASE}/report", week=start.isoformat(), market=code or "",
                                           format="html"))
    return render_console(request, session, actor, "insights/report_page.html", context, active="insights",
                          status_code=422 if errors else 200)


@router.get(f"{BASE}/report/gaps")
def weekly_report_gaps(request: Request, session: SessionDep, actor: Reader, week: Text = "",
                       market: Text = "") -> HTMLResponse:
    """The weekly report's self-service gaps, as the fragment the report page loads after itself (or, opened
    on its own, as a page)."""
    try:
        start = report.week_start(date.fromisoformat(week.strip()))
    except ValueError:
        raise Invalid(f"{week.strip()[:20]!r} is not a day: write it as YYYY-MM-DD", field="week") from None
    release(session)
    with read_only(state(request).factory) as reader:  # the knowledge search takes seconds: no write lock held
        fragment = report.section_html(report.gaps_section(reader, market=market, week_start=start))
    if is_htmx(request):
        return HTMLResponse(fragment)
    return render_console(request, session, actor, "insights/report_gaps.html",
                          {"fragment": fragment, "week": start.isoformat(), "market": market.strip().upper(),
                           "report_url": with_query(f"{BASE}/report", week=start.isoformat(),
                                                    market=market.strip().upper())}, active="insights")
