"""CSAT survey pages: the customer's survey (a link that needs no login, in the help center's shell) and
the console page where feedback admins set each channel's survey and see how many come back.

The survey form is protected like every public form: ``public`` checks the double-submit CSRF token
(the cookie the page sets, echoed in a hidden field), so another site cannot post a rating in the
visitor's name. The link's token is the capability itself: whoever holds it may answer, exactly as
with an e-mailed survey anywhere, so a form token signed over it would add nothing an attacker
without the link could get past anyway. The page sends no Referer (the token must not leak to other
sites), is not cached and is not indexed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.cases.models import Channel
from trustdesk.core.errors import DomainError, Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.feedback import service as ratings
from trustdesk.feedback import surveys
from trustdesk.feedback.models import LowRatingReason, SurveyScale
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, public
from trustdesk.web.pages import FormDep, attempt, form_text, render_console, see_other, with_query
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
help_router = APIRouter(include_in_schema=False)

FeedbackAdmin = Annotated[Actor, Depends(PageRequires(Perm.FEEDBACK_ADMIN, in_house=True))]
Token = Annotated[str, Path(max_length=200)]
ChannelPath = Annotated[str, Path(max_length=32)]

BASE = "/console/feedback/surveys"
STATS_DAYS = 30
NOTICES: dict[str, str] = {"survey_saved": "Saved: surveys planned from now on follow the new settings."}
REASON_LABELS: dict[str, str] = {
    LowRatingReason.SLOW.value: "It took too long",
    LowRatingReason.NOT_RESOLVED.value: "My problem is not solved",
    LowRatingReason.UNHELPFUL.value: "The answer did not help",
    LowRatingReason.RUDE.value: "The way I was treated",
    LowRatingReason.POLICY.value: "I disagree with the rule itself",
    LowRatingReason.TRANSFERRED.value: "I was passed from team to team",
    LowRatingReason.OTHER.value: "Something else",
}
SCALE_LABELS: dict[str, str] = {SurveyScale.FIVE_POINT.value: "1 to 5 (very dissatisfied to very satisfied)",
                                SurveyScale.GOOD_BAD.value: "Good or bad"}
# The survey link is a secret: keep it out of other sites' logs, caches and search engines.
PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
SETTING_FIELDS = ("enabled", "delay_minutes", "response_window_hours", "scale")


# ---------------------------------------------------------------- the customer's survey (no login)


def _closed_page(request: Request, *, state: str, status_code: int) -> HTMLResponse:
    return render(request, "feedback/survey_closed.html", {"active": "", "state": state}, status_code=status_code,
                  headers=PRIVATE_HEADERS)


def _survey_page(request: Request, session: Session, token: str, *, now: Any, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None, thanks: bool = False, status_code: int = 200) -> HTMLResponse:
    try:
        shown = surveys.view(session, token, now=now)
    except NotFound:
        return _closed_page(request, state="unknown", status_code=404)
    if shown.state in ("expired", "cancelled"):
        return _closed_page(request, state=shown.state, status_code=410)
    if values is None:
        rating = shown.rating
        values = {"rating": "", "reason": "", "comment": ""}
        if rating is not None:
            good_bad = {5: "good", 1: "bad"}.get(rating.score, "")
            values = {"rating": good_bad if shown.survey.scale == SurveyScale.GOOD_BAD.value else str(rating.score),
                      "reason": rating.reason, "comment": rating.comment}
    return render(request, "feedback/survey.html", {
        "active": "", "shown": shown, "token": token, "values": values, "errors": errors or {},
        "thanks": thanks and shown.state == "answered", "five_point": surveys.FIVE_POINT_WORDS,
        "good_bad": shown.survey.scale == SurveyScale.GOOD_BAD.value, "reasons": REASON_LABELS,
        "max_comment": ratings.MAX_COMMENT,
    }, status_code=status_code, headers=PRIVATE_HEADERS)


@help_router.get("/survey/{token}", dependencies=[Depends(public)])
def survey_form(request: Request, token: Token, session: SessionDep, clock: ClockDep,
                thanks: Annotated[int, Query(ge=0, le=1)] = 0) -> HTMLResponse:
    return _survey_page(request, session, token, now=clock.now(), thanks=bool(thanks))


@help_router.post("/survey/{token}", dependencies=[Depends(public)])
def survey_answer(request: Request, token: Token, form: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    values = {"rating": form_text(form, "rating", max_chars=8), "reason": form_text(form, "reason", max_chars=32),
              "comment": form_text(form, "comment", max_chars=ratings.MAX_COMMENT + 100)}
    now = clock.now()
    try:
        _done, error = attempt(session, lambda: surveys.answer(session, token, rating=values["rating"] or None,
                                                               reason=values["reason"] or None,
                                                               comment=values["comment"], now=now))
    except NotFound:
        return _closed_page(request, state="unknown", status_code=404)
    if isinstance(error, surveys.LinkClosed):
        return _survey_page(request, session, token, now=now)  # shows why the link is closed (410)
    if error is not None:
        name = error.field if error.field in ("rating", "reason", "comment") else "form"
        if error.field == "score":
            name = "rating"
        return _survey_page(request, session, token, now=now, values=values, errors={name: error.detail},
                            status_code=error.status)
    return see_other(request, with_query(f"/survey/{token}", thanks=1))


# ---------------------------------------------------------------- the console: settings and figures


def _settings_page(request: Request, session: Session, actor: Actor, *, now: Any, failed: str = "",
                   values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                   status_code: int = 200) -> HTMLResponse:
    since = now - timedelta(days=STATS_DAYS)
    by_channel = {row.channel: row for row in surveys.stats(session, since=since, until=now + timedelta(seconds=1))}
    configs = surveys.all_settings(session)
    figures = [by_channel.get(c.channel, surveys.ChannelStats(channel=c.channel)) for c in configs]
    context: dict[str, Any] = {
        "rows": [{"config": c, "stats": f} for c, f in zip(configs, figures, strict=True)],
        "total": surveys.total(figures), "since": since, "days": STATS_DAYS,
        "failed": failed, "values": values or {}, "errors": errors or {}, "scales": SCALE_LABELS,
        "max_delay": surveys.MAX_DELAY_MINUTES, "max_window": surveys.MAX_WINDOW_HOURS,
        "unsurveyed": [c for c in Channel if c.value in surveys.UNSURVEYED],
    }
    if request.query_params.get("notice") in NOTICES:
        context["notice"] = NOTICES[request.query_params["notice"]]
    return render_console(request, session, actor, "feedback/surveys.html", context, active="surveys",
                          status_code=status_code)


@router.get(BASE)
def survey_settings(request: Request, session: SessionDep, clock: ClockDep, actor: FeedbackAdmin) -> HTMLResponse:
    return _settings_page(request, session, actor, now=clock.now())


def _whole_number(text: str, field: str) -> int:
    text = text.strip()
    if not text.lstrip("-").isdigit() or len(text) > 9:
        raise Invalid("enter a whole number", field=field)
    return int(text)


@router.post(BASE + "/{channel}")
def save_survey_settings(request: Request, channel: ChannelPath, form: FormDep, session: SessionDep,
                         clock: ClockDep, actor: FeedbackAdmin) -> Response:
    values = {"enabled": "1" if form_text(form, "enabled") else "",
              "delay_minutes": form_text(form, "delay_minutes", max_chars=20),
              "response_window_hours": form_text(form, "response_window_hours", max_chars=20),
              "scale": form_text(form, "scale", max_chars=20)}
    surveys.check_channel(channel)  # an unknown channel is the address's fault: 422 on the error page

    def work() -> surveys.SurveyConfig:
        return surveys.save_settings(session, channel, enabled=bool(values["enabled"]),
                                     delay_minutes=_whole_number(values["delay_minutes"], "delay_minutes"),
                                     response_window_hours=_whole_number(values["response_window_hours"],
                                                                         "response_window_hours"),
                                     scale=values["scale"], now=clock.now())

    _saved, error = attempt(session, work)
    if error is not None:
        return _settings_page(request, session, actor, now=clock.now(), failed=channel, values=values,
                              errors=_errors(error), status_code=error.status)
    return see_other(request, with_query(BASE, notice="survey_saved") + f"#channel-{channel}")


def _errors(error: DomainError) -> dict[str, str]:
    return {error.field if error.field in SETTING_FIELDS else "form": error.detail}
