"""The console's sentiment page (in-house feedback admins): the rules that flag cases whose customer sounds
very negative (list, create, edit, deactivate), the last 30 days' negative sentiment by market (the
``insights.metrics`` definitions, over the case facts) and the cases flagged lately."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.cases.models import Priority
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory import service as directory
from trustdesk.feedback import sentiment
from trustdesk.feedback.models import SentimentRule
from trustdesk.insights import metrics
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import FormDep, attempt, form_text, render_console, see_other, with_query

router = APIRouter(include_in_schema=False)
FeedbackAdmin = Annotated[Actor, Depends(PageRequires(Perm.FEEDBACK_ADMIN, in_house=True))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

BASE = "/console/feedback/sentiment"
DAYS = 30
FLAGS_SHOWN = 50
FORM_FIELDS = ("name", "threshold", "market", "topic_prefix", "tag", "raise_priority_to", "active")
NOTICES: dict[str, str] = {
    "rule_created": "Rule created: it fires on customer messages scored from now on.",
    "rule_saved": "Saved: the rule applies to customer messages scored from now on.",
    "rule_deactivated": "Deactivated: the rule flags no more cases. Cases it flagged keep their tag.",
}
PRIORITY_LABELS = {p.value: p.value.capitalize() for p in Priority}
METRICS = ("negative_sentiment_rate", "sentiment_worsened_rate")


def _values_of(rule: SentimentRule | None) -> dict[str, str]:
    if rule is None:
        return {"name": "", "threshold": "-0.6", "market": "", "topic_prefix": "", "tag": sentiment.DEFAULT_TAG,
                "raise_priority_to": "", "active": "1"}
    return {"name": rule.name, "threshold": f"{rule.threshold:g}", "market": rule.market or "",
            "topic_prefix": rule.topic_prefix or "", "tag": rule.tag, "raise_priority_to": rule.raise_priority_to or "",
            "active": "1" if rule.active else ""}


def _by_market(session: Session, now: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each market's figures of the sentiment metrics over the cases opened in the last DAYS days."""
    period = metrics.Period(now - timedelta(days=DAYS), now + timedelta(seconds=1))
    rows: dict[str, dict[str, Any]] = {}
    total: dict[str, Any] = {}
    for key in METRICS:
        for value in metrics.compute(session, key, period, by="market", now=now):
            rows.setdefault(value.group or "?", {"market": value.group or "?"})[key] = value
        total[key] = metrics.value(session, key, period, now=now)
    return sorted(rows.values(), key=lambda r: r["market"]), total


def _page(request: Request, session: Session, actor: Actor, *, now: Any, editing: SentimentRule | None = None,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    rows, total = _by_market(session, now)
    context: dict[str, Any] = {
        "rules": sentiment.list_rules(session), "editing": editing, "values": values or _values_of(editing),
        "errors": errors or {}, "days": DAYS, "rows": rows, "total": total,
        "definitions": {key: metrics.definition(key) for key in METRICS},
        "flags": sentiment.recent_flags(session, since=now - timedelta(days=DAYS), limit=FLAGS_SHOWN),
        "flags_shown": FLAGS_SHOWN, "now": now,
        "market_options": [("", "Every market")] + [(m.code, f"{m.code} · {m.name}")
                                                    for m in directory.list_markets(session, active_only=True)],
        "priority_options": [("", "Leave the priority as it is")] + [(k, f"Raise to {v}")
                                                                     for k, v in PRIORITY_LABELS.items()],
        "priority_labels": PRIORITY_LABELS,
    }
    if request.query_params.get("notice") in NOTICES:
        context["notice"] = NOTICES[request.query_params["notice"]]
    return render_console(request, session, actor, "feedback/sentiment.html", context, active="sentiment",
                          status_code=status_code)


@router.get(BASE)
def sentiment_page(request: Request, session: SessionDep, clock: ClockDep, actor: FeedbackAdmin,
                   edit: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> HTMLResponse:
    editing = sentiment.rule_by_id(session, edit) if edit is not None else None
    return _page(request, session, actor, now=clock.now(), editing=editing)


def _form(form: Any) -> dict[str, str]:
    return {"name": form_text(form, "name", max_chars=sentiment.MAX_NAME + 50),
            "threshold": form_text(form, "threshold", max_chars=30).strip(),
            "market": form_text(form, "market", max_chars=20).strip(),
            "topic_prefix": form_text(form, "topic_prefix", max_chars=250).strip(),
            "tag": form_text(form, "tag", max_chars=100).strip(),
            "raise_priority_to": form_text(form, "raise_priority_to", max_chars=20).strip(),
            "active": "1" if form_text(form, "active") else ""}


def _changes(values: dict[str, str]) -> dict[str, Any]:
    try:
        threshold: Any = float(values["threshold"])
    except ValueError:
        raise Invalid("enter a number such as -0.6", field="threshold") from None
    return {"name": values["name"], "threshold": threshold, "market": values["market"] or None,
            "topic_prefix": values["topic_prefix"] or None, "tag": values["tag"],
            "raise_priority_to": values["raise_priority_to"] or None, "active": bool(values["active"])}


def _errors(error: DomainError) -> dict[str, str]:
    return {error.field if error.field in FORM_FIELDS else "form": error.detail}


@router.post(BASE + "/rules")
def create_rule(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                actor: FeedbackAdmin) -> Response:
    values = _form(form)
    _rule, error = attempt(session, lambda: sentiment.create_rule(session, **_changes(values), now=clock.now()))
    if error is not None:
        return _page(request, session, actor, now=clock.now(), values=values, errors=_errors(error),
                     status_code=error.status)
    return see_other(request, with_query(BASE, notice="rule_created"))


@router.post(BASE + "/rules/{rule_id}")
def save_rule(request: Request, rule_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
              actor: FeedbackAdmin) -> Response:
    rule = sentiment.rule_by_id(session, rule_id, for_update=True)
    values = _form(form)
    _saved, error = attempt(session, lambda: sentiment.update_rule(session, rule, _changes(values)))
    if error is not None:
        session.refresh(rule)
        return _page(request, session, actor, now=clock.now(), editing=rule, values=values, errors=_errors(error),
                     status_code=error.status)
    return see_other(request, with_query(BASE, notice="rule_saved") + f"#rule-{rule.id}")


@router.post(BASE + "/rules/{rule_id}/deactivate")
def deactivate_rule(request: Request, rule_id: RowId, session: SessionDep, actor: FeedbackAdmin) -> Response:
    sentiment.deactivate_rule(session, sentiment.rule_by_id(session, rule_id, for_update=True))
    return see_other(request, with_query(BASE, notice="rule_deactivated") + f"#rule-{rule_id}")
