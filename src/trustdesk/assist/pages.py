"""Console: the suggested replies on a case (loaded into the case page by htmx, or a page of
their own without JavaScript), using one, and the acceptance rate per team."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustdesk.assist import macros, service, suggestions, template_pages
from trustdesk.cases.access import case_for
from trustdesk.cases.models import Party, Status
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep
from trustdesk.web.pages import FormDep, form_text, is_htmx, render_console
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Replier = Annotated[Actor, Depends(PageRequires(Perm.CASE_REPLY))]
Lead = Annotated[Actor, Depends(PageRequires(Perm.TEMPLATES_EDIT))]
SOURCE_LABELS = {suggestions.Source.CASE: "Resolved case", suggestions.Source.ARTICLE: "Article",
                 suggestions.Source.TEMPLATE: "Template", suggestions.Source.DRAFT: "Draft"}
WINDOWS = (7, 28, 90)


@router.get("/console/cases/{case_id}/suggestions")
def case_suggestions(request: Request, case_id: RowId, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                     actor: Replier) -> HTMLResponse:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY)
    closed = case.status == Status.CLOSED.value
    shown = None if closed else service.suggest_for_case(session, case, actor=actor, settings=settings,
                                                         now=clock.now(), commit=session.commit)
    context = {"case": case, "shown": shown, "closed": closed, "labels": SOURCE_LABELS}
    if is_htmx(request):
        return render(request, "assist/_suggestions.html", context)
    return render_console(request, session, actor, "assist/suggestions.html", context, active="")


@router.post("/console/cases/{case_id}/suggestions/{set_id}/use")
def use_suggestion(request: Request, case_id: RowId, set_id: RowId, form: FormDep, session: SessionDep,
                   clock: ClockDep, settings: SettingsDep, actor: Replier) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY, for_update=True)
    raw = form_text(form, "rank", max_chars=3)
    if not raw.isdigit():
        raise Invalid("choose a suggestion", field="rank")
    chosen = suggestions.use(session, case, set_id, int(raw), actor=actor, now=clock.now())
    template_id = macros.template_id_of(session, chosen.ref) if chosen.source == suggestions.Source.TEMPLATE else None
    if is_htmx(request) and template_id is not None:
        # A template rides in the reply form, as from the picker: its use and actions count on send.
        template = macros.template_for(session, actor, template_id)
        shown = macros.render_for_case(session, template, case, actor=actor, settings=settings)
        return template_pages.inserted(request, session, case, template, shown, chosen.text)
    if is_htmx(request):
        return render(request, "assist/_reply_body.html", {"text": chosen.text})
    party = session.get(Party, case.party_id)
    return render_console(request, session, actor, "assist/use.html",
                          {"case": case, "chosen": chosen, "party": party, "labels": SOURCE_LABELS}, active="")


@router.get("/console/assist/acceptance")
def acceptance_page(request: Request, session: SessionDep, clock: ClockDep, actor: Lead,
                    days: Annotated[int, Query(ge=1, le=365)] = 28) -> HTMLResponse:
    until = clock.now()
    rows = suggestions.acceptance(session, since=until - timedelta(days=days), until=until,
                                  teams=suggestions.visible_teams(session, actor))
    shown, used = sum(r.shown for r in rows), sum(r.used for r in rows)
    return render_console(request, session, actor, "assist/acceptance.html",
                          {"rows": rows, "days": days, "windows": WINDOWS, "shown": shown, "used": used,
                           "labels": SOURCE_LABELS}, active="assist")
