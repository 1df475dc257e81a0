"""Console pages of appeals: the queue, one appeal with its decision, statement of reasons and the decide
form, second reviews (blind) and calibration, each market's readiness and launch, and a party's
standing under DSA Art. 23 (warnings, suspensions).

In-house staff only (a vendor's agents never see enforcement decisions). Handlers are thin: they read
the form, call the service in a savepoint (``_attempt``) and render; a refusal is shown next to its
field with what the person typed. What the pages read comes from ``page_queries``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from trustdesk.appeals import access, markets, misuse, quality, service
from trustdesk.appeals import page_queries as queries
from trustdesk.appeals.models import Appeal, AppealStatus, Outcome, QaReview, QaStatus
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Conflict, DomainError, Forbidden, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep
from trustdesk.web.pages import FormDep, form_list, form_text, render_console, see_other, with_query

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

Reader = Annotated[Actor, Depends(PageRequires(Perm.APPEALS_READ, in_house=True))]
Decider = Annotated[Actor, Depends(PageRequires(Perm.APPEALS_DECIDE, in_house=True))]
QaReviewer = Annotated[Actor, Depends(PageRequires(Perm.APPEALS_QA, in_house=True))]
AppealsAdmin = Annotated[Actor, Depends(PageRequires(Perm.APPEALS_ADMIN, in_house=True))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
MarketCode = Annotated[str, Path(min_length=2, max_length=8, pattern=r"^[A-Za-z0-9_-]+$")]
ShortText = Annotated[str, Query(max_length=100)]

BASE = "/console/appeals"
# The fixed texts shown after a redirect (the address picks one; it never carries text of its own).
NOTICES: dict[str, str] = {
    "decided": "Decision recorded: the appellant has been sent the letter below and the case is solved.",
    "qa_submitted": "Second review recorded.",
    "calibrated": "Calibration recorded: both reviewers can read the agreed outcome.",
    "market_opened": "The market takes appeals from now on.",
    "market_closed": "The market no longer takes new appeals; open appeals are still decided.",
    "warned": "Warning recorded.",
    "suspended": "Suspension recorded: new appeals from this party are refused until it ends.",
}
DECIDE_FIELDS = ("outcome", "lifted_measures", "reasons", "manifestly_unfounded")
QA_WINDOW = timedelta(days=28)


# ---------------------------------------------------------------- helpers


def _attempt(session: Session, work: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """``web.pages.attempt`` that also keeps a Forbidden from the rules (not the original decider, not
    qualified) to show on the form: nothing of the refused change is kept either way."""
    try:
        with session.begin_nested():
            return work(), None
    except (Invalid, Conflict, Forbidden) as error:
        return None, error


def _errors(error: DomainError, fields: tuple[str, ...]) -> dict[str, str]:
    name = error.field or "form"
    name = name.split(".")[0].split("[")[0]
    return {name if name in fields else "form": error.detail}


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def _render(request: Request, session: Session, actor: Actor, name: str, context: dict[str, Any], *,
            active: str = "appeals", status_code: int = 200) -> HTMLResponse:
    mine = _notice(request)
    if mine:
        context = {"notice": mine, **context}
    context.setdefault("labels", LABELS)
    return render_console(request, session, actor, name, context, active=active, status_code=status_code)


def _checked(form: FormData, name: str) -> bool:
    return form_text(form, name, max_chars=10) in ("1", "on", "true")


def _outcome(value: str, *, field: str = "outcome") -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise Invalid("choose an outcome: upheld, overturned or partially overturned", field=field) from None


LABELS: dict[str, Any] = {
    "outcome": queries.OUTCOME_LABELS, "outcome_hint": queries.OUTCOME_HINTS,
    "appeal_status": queries.APPEAL_STATUS_LABELS, "decision_status": queries.DECISION_STATUS_LABELS,
    "reason": queries.REASON_LABELS, "source_kind": queries.SOURCE_KIND_LABELS,
    "item_kind": queries.ITEM_KIND_LABELS, "measure": queries.MEASURE_LABELS,
}


# ---------------------------------------------------------------- the queue


@router.get(BASE)
def appeal_queue(request: Request, session: SessionDep, actor: Reader, status: ShortText = "open",
                 market: ShortText = "", policy: ShortText = "",
                 page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    options = queries.filter_options(session)
    status = status if status in queries.APPEAL_STATUS_LABELS else AppealStatus.OPEN.value
    market = market.upper() if market.upper() in {code for code, _ in options["markets"]} else ""
    policy = policy if policy in {key for key, _ in options["policies"]} else ""
    result = queries.queue(session, queries.QueueFilters(status=status, market=market, policy=policy, page=page))
    params = {"status": status, "market": market, "policy": policy}
    blind = access.blind_appeal_ids(session, actor, [row.appeal.id for row in result.rows])
    return _render(request, session, actor, "appeals/queue.html", {
        "result": result, "params": params, "options": options, "blind": blind,
        "filtered": bool(market or policy or status != AppealStatus.OPEN.value),
        "next_url": with_query(BASE, **params, page=page + 1) if result.has_next else None,
        "prev_url": with_query(BASE, **params, page=page - 1 if page > 2 else None) if page > 1 else None,
    })


# ---------------------------------------------------------------- second reviews (before /{id})


def _qa_context(session: Session, actor: Actor, *, now: Any) -> dict[str, Any]:
    return {
        "pending": queries.qa_rows(session, QaStatus.PENDING),
        "disagreed": queries.qa_rows(session, QaStatus.DISAGREED),
        "figures": quality.figures(session, since=now - QA_WINDOW, until=now),
        "can_calibrate": actor.can(Perm.APPEALS_ADMIN),
        "outcomes": list(queries.OUTCOME_LABELS.items()),
        "calibration": {}, "calibration_errors": {},
    }


@router.get(f"{BASE}/qa")
def qa_list(request: Request, session: SessionDep, clock: ClockDep, actor: QaReviewer) -> HTMLResponse:
    return _render(request, session, actor, "appeals/qa.html", _qa_context(session, actor, now=clock.now()),
                   active="appeals-qa")


def _review(session: Session, actor: Actor, review_id: int) -> QaReview:
    """The second review, its appeal through the access gate (404 for what the actor may not see)."""
    review = queries.qa_review_by_id(session, review_id)
    access.appeal_for(session, actor, review.appeal_id, permission=Perm.APPEALS_QA)
    return review


def _qa_review_page(request: Request, session: Session, actor: Actor, review: QaReview, *,
                    values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    appeal = session.get(Appeal, review.appeal_id)
    assert appeal is not None
    done = review.status != QaStatus.PENDING.value
    view = queries.appeal_view(session, appeal, actor, blind=not done)
    return _render(request, session, actor, "appeals/qa_review.html", {
        "review": review, "view": view, "done": done, "values": values, "errors": errors,
        "why_not": None if done else queries.why_not_review(session, review, appeal, actor),
        "outcomes": list(queries.OUTCOME_LABELS.items()),
        "reviewer": queries.user_display(session, review.reviewer_user_id),
        "calibrator": queries.user_display(session, review.calibrated_by_user_id),
    }, active="appeals-qa", status_code=status_code)


@router.get(f"{BASE}/qa/{{review_id}}")
def qa_review(request: Request, review_id: RowId, session: SessionDep, actor: QaReviewer) -> HTMLResponse:
    review = _review(session, actor, review_id)
    return _qa_review_page(request, session, actor, review, values={"outcome": "", "notes": ""}, errors={})


@router.post(f"{BASE}/qa/{{review_id}}")
def submit_qa_review(request: Request, review_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                     actor: QaReviewer) -> Response:
    review = _review(session, actor, review_id)
    values = {"outcome": form_text(form, "outcome", max_chars=40), "notes": form_text(form, "notes", max_chars=6000)}
    _done, error = _attempt(session, lambda: quality.submit(
        session, review, outcome=_outcome(values["outcome"]), notes=values["notes"], actor=actor, now=clock.now()))
    if error is not None:
        return _qa_review_page(request, session, actor, review, values=values,
                               errors=_errors(error, ("outcome", "notes")), status_code=error.status)
    return see_other(request, f"{BASE}/qa/{review.id}?notice=qa_submitted")


@router.post(f"{BASE}/qa/{{review_id}}/calibrate")
def calibrate(request: Request, review_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
              actor: AppealsAdmin) -> Response:
    review = _review(session, actor, review_id)
    values = {"outcome": form_text(form, "outcome", max_chars=40), "note": form_text(form, "note", max_chars=6000)}
    _done, error = _attempt(session, lambda: quality.calibrate(
        session, review, outcome=_outcome(values["outcome"]), note=values["note"], actor=actor, now=clock.now()))
    if error is not None:
        context = _qa_context(session, actor, now=clock.now())
        context.update(calibration={"review_id": review.id, **values},
                       calibration_errors=_errors(error, ("outcome", "note")))
        return _render(request, session, actor, "appeals/qa.html", context, active="appeals-qa",
                       status_code=error.status)
    return see_other(request, f"{BASE}/qa?notice=calibrated")


# ---------------------------------------------------------------- markets (before /{id})


def _markets_page(request: Request, session: Session, actor: Actor, settings: Settings, *, now: Any,
                  refused: tuple[str, DomainError] | None = None) -> HTMLResponse:
    return _render(request, session, actor, "appeals/markets.html", {
        "rows": queries.market_rows(session, settings=settings, now=now),
        "refused_market": refused[0] if refused else None, "refused": refused[1] if refused else None,
    }, active="appeals-markets", status_code=refused[1].status if refused else 200)


@router.get(f"{BASE}/markets")
def market_list(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                actor: AppealsAdmin) -> HTMLResponse:
    return _markets_page(request, session, actor, settings, now=clock.now())


@router.post(f"{BASE}/markets/{{code}}/open")
def open_market(request: Request, code: MarketCode, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                actor: AppealsAdmin) -> Response:
    market = queries.market_by_code(session, code)
    _done, error = _attempt(session, lambda: markets.open_market(session, market, actor=actor, settings=settings,
                                                                 now=clock.now()))
    if error is not None:
        return _markets_page(request, session, actor, settings, now=clock.now(), refused=(market.code, error))
    return see_other(request, f"{BASE}/markets?notice=market_opened#market-{market.code}")


@router.post(f"{BASE}/markets/{{code}}/close")
def close_market(request: Request, code: MarketCode, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                 actor: AppealsAdmin) -> Response:
    market = queries.market_by_code(session, code)
    _done, error = _attempt(session, lambda: markets.close_market(session, market, actor=actor, now=clock.now()))
    if error is not None:
        return _markets_page(request, session, actor, settings, now=clock.now(), refused=(market.code, error))
    return see_other(request, f"{BASE}/markets?notice=market_closed#market-{market.code}")


# ---------------------------------------------------------------- parties: Art. 23 (before /{id})


def _party_page(request: Request, session: Session, actor: Actor, party_id: int, *, now: Any,
                values: dict[str, str] | None = None, errors: dict[str, str] | None = None, form: str = "",
                status_code: int = 200) -> HTMLResponse:
    party = access.party_for(session, actor, party_id)
    state = misuse.status(session, party, now=now)
    from trustdesk.appeals import repository

    measures = list(repository.misuse_measures(session, party.id))
    settings_row = repository.market_settings(session, party.market_id)
    return _render(request, session, actor, "appeals/party.html", {
        "party": party, "state": state, "measures": measures, "market_settings": settings_row,
        "issuers": queries.measure_issuers(session, {m.issued_by_user_id for m in measures}),
        "values": values or {"reasons": "", "days": ""}, "errors": errors or {}, "form": form,
    }, status_code=status_code)


@router.get(f"{BASE}/parties/{{party_id}}")
def party_page(request: Request, party_id: RowId, session: SessionDep, clock: ClockDep,
               actor: AppealsAdmin) -> HTMLResponse:
    return _party_page(request, session, actor, party_id, now=clock.now())


@router.post(f"{BASE}/parties/{{party_id}}/warn")
def warn_party(request: Request, party_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
               actor: AppealsAdmin) -> Response:
    party = access.party_for(session, actor, party_id)
    values = {"reasons": form_text(form, "reasons", max_chars=5000), "days": ""}
    _done, error = _attempt(session, lambda: misuse.warn(session, party, reasons=values["reasons"], actor=actor,
                                                         now=clock.now()))
    if error is not None:
        return _party_page(request, session, actor, party_id, now=clock.now(), values=values,
                           errors=_errors(error, ("reasons",)), form="warn", status_code=error.status)
    return see_other(request, f"{BASE}/parties/{party.id}?notice=warned")


@router.post(f"{BASE}/parties/{{party_id}}/suspend")
def suspend_party(request: Request, party_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                  actor: AppealsAdmin) -> Response:
    party = access.party_for(session, actor, party_id)
    values = {"reasons": form_text(form, "reasons", max_chars=5000), "days": form_text(form, "days", max_chars=6)}

    def work() -> Any:
        days = values["days"].strip()
        if not re.fullmatch(r"[0-9]{1,4}", days):  # str.isdigit() takes "²", which int() refuses
            raise Invalid("give the length of the suspension in whole days", field="days")
        return misuse.suspend(session, party, reasons=values["reasons"], days=int(days), actor=actor, now=clock.now())

    _done, error = _attempt(session, work)
    if error is not None:
        return _party_page(request, session, actor, party_id, now=clock.now(), values=values,
                           errors=_errors(error, ("reasons", "days")), form="suspend", status_code=error.status)
    return see_other(request, f"{BASE}/parties/{party.id}?notice=suspended")


# ---------------------------------------------------------------- one appeal


def _decide_values(form: FormData | None) -> dict[str, Any]:
    if form is None:
        return {"outcome": "", "lifted_measures": [], "reasons": "", "manifestly_unfounded": False}
    return {"outcome": form_text(form, "outcome", max_chars=40),
            "lifted_measures": form_list(form, "lifted_measures"),
            "reasons": form_text(form, "reasons", max_chars=service.MAX_REASONS_CHARS + 1000),
            "manifestly_unfounded": _checked(form, "manifestly_unfounded")}


def _appeal_page(request: Request, session: Session, actor: Actor, appeal: Appeal, *, values: dict[str, Any],
                 errors: dict[str, str], preview: str | None = None, status_code: int = 200) -> HTMLResponse:
    view = queries.appeal_view(session, appeal, actor)
    return _render(request, session, actor, "appeals/appeal.html", {
        "view": view, "values": values, "errors": errors, "preview": preview,
        "outcomes": list(queries.OUTCOME_LABELS.items()), "min_reasons": service.MIN_REASONS_CHARS,
        "max_reasons": service.MAX_REASONS_CHARS, "can_admin": actor.can(Perm.APPEALS_ADMIN),
        "can_decide_perm": actor.can(Perm.APPEALS_DECIDE),
    }, status_code=status_code)


@router.get(f"{BASE}/{{appeal_id}}")
def appeal_page(request: Request, appeal_id: RowId, session: SessionDep, actor: Reader) -> Response:
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEALS_READ)
    blind = access.blind_review_for(session, actor, appeal)
    if blind is not None:  # the second reviewer reads it blind, on the review's own page
        return see_other(request, f"{BASE}/qa/{blind.id}")
    return _appeal_page(request, session, actor, appeal, values=_decide_values(None), errors={})


@router.post(f"{BASE}/{{appeal_id}}/decide")
def decide(request: Request, appeal_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
           settings: SettingsDep, actor: Decider) -> Response:
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEALS_DECIDE, for_update=True)
    values = _decide_values(form)
    if form_text(form, "action", max_chars=20) == "preview":
        preview = queries.letter_preview(session, appeal, outcome=values["outcome"], reasons=values["reasons"],
                                         lifted=values["lifted_measures"])
        errors = {} if preview else {"outcome": "choose an outcome to preview its letter"}
        return _appeal_page(request, session, actor, appeal, values=values, errors=errors, preview=preview,
                            status_code=200 if preview else 422)

    def work() -> Appeal:
        outcome = _outcome(values["outcome"])
        lifted = values["lifted_measures"] if outcome is Outcome.PARTIALLY_OVERTURNED else []
        return service.decide_appeal(session, appeal, service.Verdict(
            outcome=outcome, reasons=values["reasons"], lifted_measures=lifted,
            manifestly_unfounded=values["manifestly_unfounded"]), actor=actor, settings=settings, now=clock.now())

    _done, error = _attempt(session, work)
    if error is not None:
        session.refresh(appeal)  # the savepoint rolled back what the refused decision had set
        return _appeal_page(request, session, actor, appeal, values=values, errors=_errors(error, DECIDE_FIELDS),
                            status_code=error.status)
    return see_other(request, f"{BASE}/{appeal.id}?notice=decided")
