"""Console page of the weekly report's delivery: who receives which market's report, when, by e-mail or
webhook, and the last week each sent; insights admins add, pause, resume and remove schedules. In-house
staff with insights.read see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.core import mail
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.webhooks import list_endpoints
from trustdesk.insights import panels, schedules
from trustdesk.insights.models import DeliveryChannel
from trustdesk.insights.schedules import ScheduleSpec
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import FormDep, attempt, form_text, render_console, see_other

router = APIRouter(include_in_schema=False)

Reader = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_READ, in_house=True))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_ADMIN, in_house=True))]
ScheduleId = Annotated[int, Path(ge=1, le=MAX_ID)]

BASE = "/console/insights/report/schedules"
DONE = {"added": "Scheduled: the report goes out on its day after each week closes.",
        "paused": "Paused: nothing is sent until it is resumed (then only the latest week).",
        "resumed": "Resumed: the latest closed week goes out at the next sending time.",
        "removed": "Removed."}
FIELDS = ("channel", "recipient", "market", "weekday", "hour")


def _int(text: str, name: str, default: int) -> int:
    text = text.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise Invalid(f"{text[:10]!r} is not a whole number", field=name) from None


def _page(request: Request, session: Session, actor: Actor, *, values: dict[str, str] | None = None,
          error: DomainError | None = None) -> HTMLResponse:
    rows = schedules.list_all(session)
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "rows": [(row, schedules.describe(row)) for row in rows], "base": BASE,
        "can_admin": actor.can(Perm.INSIGHTS_ADMIN), "mail_enabled": mail.enabled(),
        "endpoints": [(e.key, e.key + ("" if e.is_active else " (paused)")) for e in list_endpoints(session)],
        "market_options": panels.filter_options(session)["market"],
        "weekday_options": [(str(i), name) for i, name in enumerate(schedules.WEEKDAYS)],
        "hour_options": [(str(h), f"{h:02d}:00 UTC") for h in range(24)],
        "channel_options": [(DeliveryChannel.EMAIL.value, "E-mail"), (DeliveryChannel.WEBHOOK.value, "Webhook")],
        "values": values or {"channel": "email", "weekday": "0", "hour": "7"},
        "errors": {error.field or "form": error.detail} if error is not None else {},
    }
    if done in DONE:
        context["notice"] = DONE[done]
    return render_console(request, session, actor, "insights/schedules.html", context, active="insights",
                          status_code=error.status if error is not None else 200)


@router.get(BASE)
def schedules_page(request: Request, session: SessionDep, actor: Reader) -> HTMLResponse:
    return _page(request, session, actor)


@router.post(BASE)
def add_schedule(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, actor: Admin) -> Response:
    values = {name: form_text(form, name, max_chars=400) for name in FIELDS}

    def work() -> Any:
        spec = ScheduleSpec(channel=values["channel"], recipient=values["recipient"],
                            market=values["market"] or None, weekday=_int(values["weekday"], "weekday", 0),
                            hour=_int(values["hour"], "hour", 7))
        return schedules.create(session, spec, created_by_user_id=actor.user_id, now=clock.now())

    _row, error = attempt(session, work)
    if error is not None:
        return _page(request, session, actor, values=values, error=error)
    return see_other(request, f"{BASE}?done=added")


@router.post(f"{BASE}/{{schedule_id}}/pause")
def pause_schedule(request: Request, schedule_id: ScheduleId, session: SessionDep, actor: Admin) -> Response:
    schedules.set_active(schedules.by_id(session, schedule_id, for_update=True), False)
    return see_other(request, f"{BASE}?done=paused")


@router.post(f"{BASE}/{{schedule_id}}/resume")
def resume_schedule(request: Request, schedule_id: ScheduleId, session: SessionDep, actor: Admin) -> Response:
    schedules.set_active(schedules.by_id(session, schedule_id, for_update=True), True)
    return see_other(request, f"{BASE}?done=resumed")


@router.post(f"{BASE}/{{schedule_id}}/remove")
def remove_schedule(request: Request, schedule_id: ScheduleId, session: SessionDep, actor: Admin) -> Response:
    schedules.delete(session, schedules.by_id(session, schedule_id, for_update=True))
    return see_other(request, f"{BASE}?done=removed")
