"""Console page of emerging issues: the active ones and those that ended recently, each with its figures, its
owner, example cases and a chart of its daily cases against the expected (with the CSV behind the chart);
leads acknowledge or end them here. In-house staff with insights.read; acting needs insights.admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm
from trustdesk.directory import catalogue
from trustdesk.directory.models import Market, Team, Topic
from trustdesk.insights import charts, emerging
from trustdesk.insights.models import EmergingCheck, EmergingIssue, IssueStatus
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import FormDep, attempt, form_text, render_console, see_other, with_query

router = APIRouter(include_in_schema=False)

Reader = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_READ, in_house=True))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_ADMIN, in_house=True))]
IssueId = Annotated[int, Path(ge=1, le=MAX_ID)]
Days = Annotated[int, Query(ge=1, le=400)]

BASE = emerging.PAGE
DEFAULT_DAYS = 30
CHARTED = 12  # issues shown with their chart; the rest keep their CSV
DONE = {"acknowledged": "Acknowledged: the issue stays active and keeps counting; nobody is alerted again.",
        "ended": "Ended. A new spike of this topic in this market opens a new issue, with a new alert."}


@dataclass
class IssueView:
    issue: EmergingIssue
    topic_name: str
    market_name: str
    first: EmergingCheck | None
    chance: str
    team: str | None
    owners: list[str]
    acknowledged_by: str | None
    examples: list[tuple[int, str]]  # case id, reference
    figures: list[emerging.DayFigure]
    chart: charts.Chart | None
    csv_url: str

    @property
    def active(self) -> bool:
        return self.issue.status == IssueStatus.ACTIVE.value


def issue_chart(issue: EmergingIssue, figures: list[emerging.DayFigure], *, topic_name: str = "") -> charts.Chart:
    """The pair's daily cases against the detector's expected (``emerging.daily_figures``)."""
    rows: list[tuple[str, str, float | None]] = []
    for f in figures:
        rows.append((f.day.isoformat(), "cases", f.observed))
        rows.append((f.day.isoformat(), "expected", round(f.expected, 2) if f.expected is not None else None))
    what = topic_name or issue.topic
    judged = [f.expected for f in figures if f.expected is not None]
    usual = f"about {sum(judged) / len(judged):.1f} a day expected" if judged else "no day judged yet"
    flagged = ", ".join(f"{f.day:%d %b}" for f in figures if f.flagged) or "no day"
    description = (f"Cases a day of {what} in {issue.market}, {figures[0].day:%d %b} to {figures[-1].day:%d %b}: "
                   f"{usual}; the most on one day {max(f.observed for f in figures)}; flagged: {flagged}.")
    return charts.line(f"emerging-{issue.id}", f"{what} in {issue.market}: cases a day against expected", rows,
                       value_title="cases", description=description)


def _views(session: Session, found: list[EmergingIssue], *, now: datetime) -> list[IssueView]:
    topics = {t.key: t for t in session.scalars(select(Topic).where(Topic.key.in_({i.topic for i in found})))}
    markets = {m.code: m.name for m in session.scalars(select(Market))}
    teams = {t.id: t.name for t in session.scalars(select(Team).where(
        Team.id.in_({i.owner_team_id for i in found if i.owner_team_id is not None})))}
    user_ids = {int(u) for i in found for u in i.owner_user_ids} | {
        i.acknowledged_by_user_id for i in found if i.acknowledged_by_user_id is not None}
    names = {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    references = emerging.references(session, [c for i in found for c in i.example_case_ids])
    firsts = emerging.first_day_checks(session, found)
    views = []
    for index, issue in enumerate(found):
        topic = topics.get(issue.topic)
        name = catalogue.topic_name(topic, "en") if topic is not None else issue.topic
        figures = emerging.daily_figures(session, issue, now=now)
        chart = issue_chart(issue, figures, topic_name=name) if index < CHARTED else None
        views.append(IssueView(
            issue=issue, topic_name=name, market_name=markets.get(issue.market, issue.market),
            first=firsts.get(issue.id), chance=emerging.chance_in_words(issue.p_value),
            team=teams.get(issue.owner_team_id) if issue.owner_team_id is not None else None,
            owners=[names.get(int(u), f"user {u}") for u in issue.owner_user_ids],
            acknowledged_by=names.get(issue.acknowledged_by_user_id) if issue.acknowledged_by_user_id else None,
            examples=[(int(c), references.get(int(c)) or f"case {c}") for c in issue.example_case_ids],
            figures=figures, chart=chart, csv_url=f"{BASE}/{issue.id}.csv"))
    return views


def _page(request: Request, session: Session, actor: Actor, *, now: datetime, days: int,
          refused: tuple[int, str, DomainError, str] | None = None) -> HTMLResponse:
    found = emerging.issues(session, now=now, days=days)
    views = _views(session, found, now=now)
    context: dict[str, Any] = {
        "active_views": [v for v in views if v.active], "ended_views": [v for v in views if not v.active],
        "days": days, "day_links": [(d, f"Last {d} days", with_query(BASE, days=d)) for d in (7, 30, 90)],
        "can_act": actor.can(Perm.INSIGHTS_ADMIN), "method": emerging,
        "refused": {"issue_id": refused[0], "form": refused[1], "errors": {refused[2].field or "note":
                                                                            refused[2].detail},
                    "note": refused[3]} if refused else None,
    }
    done = request.query_params.get("done", "")
    if done in DONE:
        context["notice"] = DONE[done]
    return render_console(request, session, actor, "insights/emerging.html", context, active="insights-emerging",
                          status_code=refused[2].status if refused else 200)


@router.get(BASE)
def emerging_page(request: Request, session: SessionDep, clock: ClockDep, actor: Reader,
                  days: Days = DEFAULT_DAYS) -> HTMLResponse:
    return _page(request, session, actor, now=clock.now(), days=days)


@router.get(f"{BASE}/{{issue_id}}.csv")
def issue_csv(issue_id: IssueId, session: SessionDep, clock: ClockDep, actor: Reader) -> Response:
    issue = emerging.issue_by_id(session, issue_id)
    chart = issue_chart(issue, emerging.daily_figures(session, issue, now=clock.now()))
    filename = f"emerging-issue-{issue.id}-{issue.market}-{issue.topic}.csv"
    return Response(charts.to_csv(chart).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


@router.post(f"{BASE}/{{issue_id}}/acknowledge")
def acknowledge(request: Request, issue_id: IssueId, form: FormDep, session: SessionDep, clock: ClockDep,
                actor: Admin) -> Response:
    issue = emerging.issue_by_id(session, issue_id, for_update=True)
    note = form_text(form, "note", max_chars=emerging.NOTE_CHARS + 1)
    _done, error = attempt(session, lambda: emerging.acknowledge(session, issue, actor=actor, note=note,
                                                                 now=clock.now()))
    if error is not None:
        return _page(request, session, actor, now=clock.now(), days=DEFAULT_DAYS,
                     refused=(issue.id, "acknowledge", error, note))
    return see_other(request, f"{BASE}?done=acknowledged#issue-{issue.id}")


@router.post(f"{BASE}/{{issue_id}}/end")
def end_issue(request: Request, issue_id: IssueId, form: FormDep, session: SessionDep, clock: ClockDep,
              actor: Admin) -> Response:
    issue = emerging.issue_by_id(session, issue_id, for_update=True)
    note = form_text(form, "note", max_chars=emerging.NOTE_CHARS + 1)
    _done, error = attempt(session, lambda: emerging.end_by_hand(session, issue, actor=actor, note=note,
                                                                 now=clock.now()))
    if error is not None:
        return _page(request, session, actor, now=clock.now(), days=DEFAULT_DAYS,
                     refused=(issue.id, "end", error, note))
    return see_other(request, f"{BASE}?done=ended#issue-{issue.id}")
