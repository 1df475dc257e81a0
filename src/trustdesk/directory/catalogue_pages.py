"""Console pages of the service catalogue: who owns what (now or at any time), entries in force,
and the changes waiting for a second person's approval."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.cases.models import Channel, PartyKind
from trustdesk.core.clock import parse_time
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import PRINTABLE
from trustdesk.directory import catalogue, page_queries, service, views
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import FormDep, form_text, render_console, see_other, with_query

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, Depends(PageRequires(Perm.CATALOGUE_READ, in_house=True))]
Approver = Annotated[Actor, Depends(PageRequires(Perm.CATALOGUE_APPROVE, in_house=True))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Text = Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)]


def _page(request: Request, session: Session, actor: Actor, now: datetime, *, question: dict[str, str],
          decision_error: str | None = None, status_code: int = 200) -> HTMLResponse:
    topics = catalogue.list_topics(session)
    in_force = catalogue.in_force(session, at=now)
    entries = views.catalogue_outs(session, in_force)
    drafts = views.catalogue_outs(session, catalogue.drafts(session))
    people = page_queries.user_names(session, (
        uid for row in entries + drafts for uid in (row.contact_user_id, row.escalation_user_id, row.author_user_id)))
    answer, errors = None, {}
    if question.get("market"):
        try:
            at = parse_time(question["at"], field="at") if question.get("at") else now
            market = service.market_by_code(session, question["market"])
            topic = question.get("topic") or None
            ownership = catalogue.who_owns(session, topic=topic, market=market,
                                           channel=question.get("channel") or None,
                                           party_kind=question.get("party_kind") or None, at=at)
            answer = views.owner_out(session, ownership, market=market, channel=question.get("channel") or None,
                                     party_kind=question.get("party_kind") or None, at=at)
            people |= page_queries.user_names(session, (
                uid for row in answer.considered for uid in (row.contact_user_id, row.escalation_user_id)))
        except DomainError as error:
            errors[error.field or "market"] = error.detail
            status_code = 422
    context: dict[str, Any] = {
        "question": question, "answer": answer, "errors": errors, "entries": entries, "drafts": drafts,
        "people": people, "topic_names": {t.key: catalogue.topic_name(t, "en") for t in topics},
        "topic_options": [(t.key, f"{'— ' * (t.depth - 1)}{catalogue.topic_name(t, 'en')}") for t in topics
                          if t.is_active],
        "market_options": [(m.code, f"{m.code} · {m.name}") for m in service.list_markets(session, active_only=True)],
        "channel_options": [(c.value, c.value.replace("_", " ")) for c in Channel],
        "party_options": [(p.value, p.value) for p in PartyKind],
        "overdue": {v.entry_id for v in in_force if catalogue.review_overdue(v, now=now)},
        "can_approve": actor.can(Perm.CATALOGUE_APPROVE), "me": actor.user_id, "decision_error": decision_error,
    }
    return render_console(request, session, actor, "directory/catalogue.html", context, active="catalogue",
                          status_code=status_code)


@router.get("/console/catalogue")
def catalogue_page(request: Request, session: SessionDep, clock: ClockDep, actor: Reader,
                   market: Text = None, topic: Text = None, channel: Text = None, party_kind: Text = None,
                   at: Text = None) -> HTMLResponse:
    question = {k: v or "" for k, v in {"market": market, "topic": topic, "channel": channel,
                                        "party_kind": party_kind, "at": at}.items()}
    return _page(request, session, actor, clock.now(), question=question)


def _decide(request: Request, session: Session, actor: Actor, now: datetime, version_id: int, *, approve: bool,
            note: str) -> Response:
    try:
        with session.begin_nested():
            draft = catalogue.draft_by_id(session, version_id)
            if approve:
                catalogue.approve(session, draft, approver=actor, now=now, note=note or None)
            else:
                catalogue.reject(session, draft, approver=actor, now=now, note=note)
    except DomainError as error:
        return _page(request, session, actor, now, question={}, decision_error=error.detail,
                     status_code=error.status)
    return see_other(request, with_query("/console/catalogue", notice="approved" if approve else "rejected"))


@router.post("/console/catalogue/versions/{version_id}/approve")
def approve_version(request: Request, version_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                    actor: Approver) -> Response:
    return _decide(request, session, actor, clock.now(), version_id, approve=True,
                   note=form_text(form, "note", max_chars=1000).strip())


@router.post("/console/catalogue/versions/{version_id}/reject")
def reject_version(request: Request, version_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                   actor: Approver) -> Response:
    return _decide(request, session, actor, clock.now(), version_id, approve=False,
                   note=form_text(form, "note", max_chars=1000).strip())
