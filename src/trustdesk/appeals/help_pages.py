"""Help-center pages of appeals: the decisions the platform took about the signed-in customer, each with
its statement of reasons in plain words and, while the window runs, the in-app appeal form (DSA Art. 20).

Filing an appeal opens a case through the appeal form, so the customer follows it (and reads the
reasoned decision) on the case page the help center already has.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.appeals import access, service
from trustdesk.appeals import page_queries as queries
from trustdesk.appeals.models import AppealReason, EnforcementDecision
from trustdesk.core.errors import Conflict, Forbidden, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep
from trustdesk.web.pages import FormDep, form_text, render_help, see_other

help_router = APIRouter(include_in_schema=False)
Appellant = Annotated[Actor, Depends(PageRequires(Perm.APPEAL_FILE))]
ExternalId = Annotated[str, Path(min_length=1, max_length=100)]

FIELDS = ("reason", "statement")


def _context(request: Request, extra: dict[str, Any]) -> dict[str, Any]:
    return {"reason_labels": queries.REASON_LABELS, "status_labels": queries.DECISION_STATUS_LABELS,
            "appeal_status_labels": queries.APPEAL_STATUS_LABELS, "outcome_labels": queries.OUTCOME_LABELS,
            "redress_labels": queries.REDRESS_LABELS, "item_kind_labels": queries.ITEM_KIND_LABELS, **extra}


@help_router.get("/help/decisions")
def my_decisions(request: Request, session: SessionDep, clock: ClockDep, actor: Appellant) -> HTMLResponse:
    rows = queries.customer_decisions(session, actor.user_id, now=clock.now())
    return render_help(request, "appeals/help_decisions.html", _context(request, {"rows": rows}),
                       active="decisions")


def _form_page(request: Request, session: Session, decision: EnforcementDecision, *, now: Any,
               values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    row = queries.customer_decision(session, decision, now=now)
    return render_help(request, "appeals/help_appeal.html", _context(request, {
        "row": row, "values": values, "errors": errors, "max_statement": service.MAX_STATEMENT_CHARS,
        "reasons": list(queries.REASON_LABELS.items()),
    }), active="decisions", status_code=status_code)


@help_router.get("/help/decisions/{external_id}/appeal")
def appeal_form(request: Request, external_id: ExternalId, session: SessionDep, clock: ClockDep,
                actor: Appellant) -> HTMLResponse:
    decision = access.own_decision_for(session, actor, external_id)
    return _form_page(request, session, decision, now=clock.now(), values={"reason": "", "statement": ""},
                      errors={})


@help_router.post("/help/decisions/{external_id}/appeal")
def file_appeal(request: Request, external_id: ExternalId, form: FormDep, session: SessionDep, clock: ClockDep,
                settings: SettingsDep, actor: Appellant) -> Response:
    decision = access.own_decision_for(session, actor, external_id)
    values = {"reason": form_text(form, "reason", max_chars=40),
              "statement": form_text(form, "statement", max_chars=service.MAX_STATEMENT_CHARS + 1000)}
    now = clock.now()
    try:
        with session.begin_nested():
            try:
                reason = AppealReason(values["reason"])
            except ValueError:
                raise Invalid("choose why you think the decision is wrong", field="reason") from None
            filed = service.file_appeal(session, service.NewAppeal(
                decision=decision, reason=reason, statement=values["statement"],
                language=queries.appeal_language(session, decision)), actor=actor, settings=settings, now=now)
    except (Invalid, Conflict, Forbidden) as error:
        name = error.field if error.field in FIELDS else "form"
        return _form_page(request, session, decision, now=now, values=values, errors={name: error.detail},
                          status_code=error.status)
    return see_other(request, f"/help/cases/{filed.case.reference}?notice=case_created")
