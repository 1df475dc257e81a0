"""Console pages of QA and coaching: the review queue, scoring a case beside its conversation, scorecards
and sampling rules, calibration sessions (blind), agent QA scores with coaching, and the agent's own
"My coaching" page.

QA is the platform's own work: its pages are in-house only (a vendor's staff are refused whatever their
role). An agent, vendor or not, reads their own reviews and notes on ``/console/me/coaching``. Handlers are
thin: read the form, call ``feedback.qa`` in a savepoint, render; a refusal is shown next to its field.
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

from trustdesk.cases.access import case_by_reference_for, case_for
from trustdesk.cases.models import Case
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory import service as directory
from trustdesk.feedback import qa
from trustdesk.feedback import qa_queries as queries
from trustdesk.feedback.models import QaCalibration, QaEvaluation, QaScorecard
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import FormDep, form_list, form_text, parse_id, render_console, see_other, with_query

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

Reviewer = Annotated[Actor, Depends(PageRequires(Perm.QA_REVIEW, in_house=True))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.QA_ADMIN, in_house=True))]
Coach = Annotated[Actor, Depends(PageRequires(Perm.QA_COACH, in_house=True))]
Self = Annotated[Actor, Depends(PageRequires(Perm.SELF))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
ScorecardKey = Annotated[str, Path(min_length=1, max_length=64, pattern=qa.SLUG.pattern)]
ShortText = Annotated[str, Query(max_length=64)]

BASE = "/console/qa"
PERIODS = (7, 28, 90)
DEFAULT_DAYS = 28
BLANK_CRITERIA_ROWS = 3
MAX_FORM_ROWS = qa.MAX_CRITERIA + 10
NOTICES: dict[str, str] = {
    "evaluated": "Review recorded: the agent sees it on their coaching page.",
    "scorecard_created": "Scorecard created: sampling rules and reviews can use it now.",
    "version_saved": "New version saved: reviews from now on use it; earlier reviews keep the version they used.",
    "rule_saved": "Sampling rule saved: it applies from the next weekly sample.",
    "calibration_opened": "Calibration session opened: each reviewer scores the case blind.",
    "calibration_scored": "Your score is in. You can now compare it with the other reviewers' scores.",
    "calibration_closed": "Session closed: the agreement and the criteria the reviewers disagree on are below.",
    "note_written": "Coaching note sent: the agent sees it on their coaching page.",
    "acknowledged": "Acknowledged: your coach can see you have read it.",
}
ANSWER_CHOICES = (("met", "Met"), ("not_met", "Not met"))


# ---------------------------------------------------------------- helpers


def _attempt(session: Session, work: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """Run the rule in a savepoint; a refusal (including Forbidden: one's own case) comes back to show."""
    try:
        with session.begin_nested():
            return work(), None
    except (Invalid, Conflict, Forbidden, NotFound) as error:
        return None, error


def _render(request: Request, session: Session, actor: Actor, name: str, context: dict[str, Any], *,
            active: str, status_code: int = 200) -> HTMLResponse:
    mine = NOTICES.get(request.query_params.get("notice", ""))
    context = {"notice": mine, **context} if mine else dict(context)
    context.setdefault("reason_labels", queries.REASON_LABELS)
    context.setdefault("can_admin", actor.can(Perm.QA_ADMIN) and actor.vendor_id is None)
    context.setdefault("can_coach", actor.can(Perm.QA_COACH) and actor.vendor_id is None)
    context.setdefault("can_review", actor.can(Perm.QA_REVIEW) and actor.vendor_id is None)
    return render_console(request, session, actor, name, context, active=active, status_code=status_code)


def _checked(form: FormData, name: str) -> bool:
    return form_text(form, name, max_chars=10) in ("1", "on", "true")


def _number(text: str) -> Any:
    """A number typed in a form, or the text itself (the rule refuses it, naming its field)."""
    text = text.strip().replace(",", ".")
    if not re.fullmatch(r"-?[0-9]{1,6}(\.[0-9]{1,4})?", text):
        return text or None
    value = float(text)
    return int(value) if value.is_integer() else value


def _answer_values(form: FormData | None, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    if form is None:
        return {"met": {}, "comments": {}, "comment": ""}
    return {"met": {c["key"]: form_text(form, f"met-{c['key']}", max_chars=10) for c in criteria},
            "comments": {c["key"]: form_text(form, f"comment-{c['key']}", max_chars=qa.MAX_ANSWER_COMMENT + 100)
                         for c in criteria},
            "comment": form_text(form, "comment", max_chars=qa.MAX_COMMENT + 100)}


def _answers(values: dict[str, Any], criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """Every criterion the form answered (a missing one is refused by the rule, naming it)."""
    return {c["key"]: {"met": values["met"][c["key"]] == "met", "comment": values["comments"].get(c["key"], "")}
            for c in criteria if values["met"].get(c["key"]) in ("met", "not_met")}


def _unanswered(values: dict[str, Any], criteria: list[dict[str, Any]]) -> dict[str, str]:
    return {f"c-{c['key']}": "choose met or not met" for c in criteria
            if values["met"].get(c["key"]) not in ("met", "not_met")}


def _answer_errors(error: DomainError) -> dict[str, str]:
    """``answers.<key>[.met]`` -> the criterion's fieldset; ``answers.<key>.comment`` -> its comment box."""
    name = error.field or "form"
    parts = name.split(".")
    if parts[0] == "answers" and len(parts) >= 2:
        return {(f"comment-{parts[1]}" if parts[-1] == "comment" else f"c-{parts[1]}"): error.detail}
    return {name if name == "comment" else "form": error.detail}


def _period(days: int) -> int:
    return days if days in PERIODS else DEFAULT_DAYS


# ---------------------------------------------------------------- the review queue


@router.get(BASE)
def review_queue(request: Request, session: SessionDep, actor: Reviewer, reason: ShortText = "") -> HTMLResponse:
    reason = reason if reason in queries.REASON_LABELS else ""
    rows = queries.queue(session, reason=reason)
    return _render(request, session, actor, "feedback/qa_queue.html", {
        "rows": rows, "reason": reason, "by_reason": queries.open_by_reason(session),
        "total": queries.open_count(session, reason), "limit": queries.QUEUE_LIMIT,
    }, active="qa")


# ---------------------------------------------------------------- scoring one case


def _case_context(session: Session, actor: Actor, case: Case, card: QaScorecard | None) -> dict[str, Any]:
    sample = qa.sample_of(session, case.id)
    agent_id = qa.solver_of(session, case, sample)
    reviews = qa.evaluations_of_case(session, case.id)
    mine = next((e for e in reviews if e.reviewer_user_id == actor.user_id), None)
    why_not = None
    if case.status not in qa.REVIEWABLE:
        why_not = "The case is not solved yet: a case is reviewed once it is solved."
    elif actor.agent_id is not None and actor.agent_id == agent_id:
        why_not = "You solved this case, so someone else reviews it."
    shown = reviews if (mine is not None or why_not is not None) else []
    rows = queries.evaluation_rows(session, shown)
    agent_name, vendor = queries.agent_heading(session, agent_id) if agent_id is not None else ("nobody", "")
    return {
        "case": case, "fact": queries.case_fact(session, case.id), "sample": sample, "card": card,
        "messages": queries.public_messages(session, case.id), "agent_id": agent_id, "agent_name": agent_name,
        "vendor": vendor, "mine": mine, "why_not": why_not, "reviews": rows,
        "hidden_reviews": len(reviews) - len(shown),
        "notes": queries.notes_by_evaluation(session, [r.evaluation.id for r in rows]),
        "scorecards": qa.scorecards(session), "choices": ANSWER_CHOICES,
    }


def _card_for(session: Session, case_id: int, wanted: str) -> QaScorecard | None:
    sample = qa.sample_of(session, case_id)
    key = wanted or (sample.scorecard_key if sample is not None else "")
    if not key:
        return None
    try:
        return qa.active_scorecard(session, key)
    except NotFound:
        return None


def _case_page(request: Request, session: Session, actor: Actor, case: Case, card: QaScorecard | None, *,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               note: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    context = _case_context(session, actor, case, card)
    context.update(values=values or _answer_values(None, card.criteria if card else []), errors=errors or {},
                   note=note or {"evaluation_id": None, "body": "", "errors": {}})
    return _render(request, session, actor, "feedback/qa_case.html", context, active="qa", status_code=status_code)


@router.get(BASE + "/cases/{case_id}")
def review_case(request: Request, case_id: RowId, session: SessionDep, actor: Reviewer,
                scorecard: ShortText = "") -> HTMLResponse:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    return _case_page(request, session, actor, case, _card_for(session, case.id, scorecard))


@router.post(BASE + "/cases/{case_id}")
def submit_review(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                  actor: Reviewer) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ, for_update=True)
    card = _card_for(session, case.id, form_text(form, "scorecard_key", max_chars=64))
    if card is None:
        return _case_page(request, session, actor, case, None, errors={"scorecard_key": "choose a scorecard"},
                          status_code=422)
    values = _answer_values(form, card.criteria)
    if str(card.id) != form_text(form, "scorecard_id", max_chars=20):
        return _case_page(request, session, actor, case, card, values=values, errors={
            "form": "The scorecard has a new version since you opened the page: check the criteria and submit "
                    "again."}, status_code=409)
    missing = _unanswered(values, card.criteria)
    if missing:
        return _case_page(request, session, actor, case, card, values=values, errors=missing, status_code=422)
    _done, error = _attempt(session, lambda: qa.evaluate(session, case, reviewer=actor, scorecard=card,
                                                         answers=_answers(values, card.criteria),
                                                         comment=values["comment"], now=clock.now()))
    if error is not None:
        return _case_page(request, session, actor, case, card, values=values, errors=_answer_errors(error),
                          status_code=error.status)
    return see_other(request, f"{BASE}/cases/{case.id}?notice=evaluated")


def _evaluation(session: Session, form: FormData) -> QaEvaluation | None:
    evaluation_id = parse_id(form_text(form, "evaluation_id", max_chars=20))
    if evaluation_id is None:
        return None
    try:
        return qa.evaluation_by_id(session, evaluation_id)
    except NotFound:
        return None


@router.post(BASE + "/cases/{case_id}/notes")
def coach_on_review(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                    actor: Coach) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    evaluation = _evaluation(session, form)
    body = form_text(form, "body", max_chars=qa.MAX_NOTE + 100)
    card = _card_for(session, case.id, "")
    if evaluation is None or evaluation.case_id != case.id or evaluation.agent_id is None:
        raise NotFound("no review of this case to coach on", field="evaluation_id")
    agent_id = evaluation.agent_id
    _done, error = _attempt(session, lambda: qa.write_note(session, agent_id=agent_id, body=body,
                                                           evaluation_id=evaluation.id, author=actor,
                                                           now=clock.now()))
    if error is not None:
        return _case_page(request, session, actor, case, card, note={
            "evaluation_id": evaluation.id, "body": body,
            "errors": {error.field if error.field == "body" else "form": error.detail}}, status_code=error.status)
    return see_other(request, f"{BASE}/cases/{case.id}?notice=note_written#review-{evaluation.id}")


# ---------------------------------------------------------------- scorecards and sampling rules


def _criteria_values(card: QaScorecard | None) -> list[dict[str, str]]:
    rows = [{"key": c["key"], "label": c["label"], "weight": f"{c['weight']:g}",
             "auto_fail": "1" if c["auto_fail"] else "", "guidance": c.get("guidance", "")}
            for c in (card.criteria if card is not None else [])]
    blank = {"key": "", "label": "", "weight": "", "auto_fail": "", "guidance": ""}
    return rows + [dict(blank) for _ in range(BLANK_CRITERIA_ROWS if rows else 5)]


def _criteria_form(form: FormData) -> tuple[list[dict[str, Any]], list[int], list[dict[str, str]]]:
    """The criteria typed (blank rows skipped), the form row of each, and every row as typed."""
    count = parse_id(form_text(form, "rows", max_chars=4)) or 0
    raw: list[dict[str, Any]] = []
    index_of: list[int] = []
    echoed: list[dict[str, str]] = []
    for row in range(min(count, MAX_FORM_ROWS)):
        typed = {name: form_text(form, f"c-{row}-{name}", max_chars=qa.MAX_GUIDANCE + 100)
                 for name in ("key", "label", "weight", "guidance")}
        typed["auto_fail"] = "1" if _checked(form, f"c-{row}-auto_fail") else ""
        echoed.append(typed)
        if not any(typed[name].strip() for name in ("key", "label", "weight", "guidance")):
            continue
        item: dict[str, Any] = {"key": typed["key"].strip(), "label": typed["label"],
                                "auto_fail": bool(typed["auto_fail"]), "guidance": typed["guidance"]}
        if typed["weight"].strip() or not item["auto_fail"]:
            item["weight"] = _number(typed["weight"])
        raw.append(item)
        index_of.append(row)
    return raw, index_of, echoed


def _criteria_errors(error: DomainError, index_of: list[int]) -> dict[str, str]:
    name = error.field or "form"
    match = re.fullmatch(r"criteria\.(\d+)(?:\.(\w+))?", name)
    if match and int(match.group(1)) < len(index_of):
        row = index_of[int(match.group(1))]
        return {f"c-{row}-{match.group(2) or 'key'}": error.detail}
    return {name if name in ("key", "name", "pass_mark", "criteria") else "form": error.detail}


def _scorecards_page(request: Request, session: Session, actor: Actor, *, editing: str = "",
                     values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                     rule: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    cards = qa.scorecards(session)
    forms: dict[str, dict[str, Any]] = {c.key: {"name": c.name, "pass_mark": f"{c.pass_mark:g}",
                                                 "criteria": _criteria_values(c)} for c in cards}
    forms["new"] = {"key": "", "name": "", "pass_mark": "80", "criteria": _criteria_values(None)}
    if editing and values is not None:
        forms[editing] = values
    rules = qa.sampling_rules(session)
    teams = directory.list_teams(session)
    return _render(request, session, actor, "feedback/qa_scorecards.html", {
        "cards": cards, "versions": {c.key: qa.versions_of(session, c.key) for c in cards}, "forms": forms,
        "editing": editing, "errors": errors or {}, "rules": rules,
        "team_names": {t.id: t.name for t in teams}, "teams": teams,
        "rule": rule or {"values": {"team_id": "", "scorecard_key": cards[0].key if cards else "",
                                    "percent_per_agent": "5", "min_per_agent": "1", "include_low_csat": "1",
                                    "include_escalated": "1"}, "errors": {}},
    }, active="qa-scorecards", status_code=status_code)


@router.get(BASE + "/scorecards")
def scorecard_list(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    return _scorecards_page(request, session, actor)


@router.post(BASE + "/scorecards")
def create_scorecard(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                     actor: Admin) -> Response:
    raw, index_of, echoed = _criteria_form(form)
    values: dict[str, Any] = {"key": form_text(form, "key", max_chars=100),
                              "name": form_text(form, "name", max_chars=400),
                              "pass_mark": form_text(form, "pass_mark", max_chars=20), "criteria": echoed}
    card, error = _attempt(session, lambda: qa.create_scorecard(
        session, key=values["key"].strip(), name=values["name"], criteria=raw,
        pass_mark=_number(values["pass_mark"]), actor=actor, now=clock.now()))
    if error is not None or card is None:
        assert error is not None
        return _scorecards_page(request, session, actor, editing="new", values=values,
                                errors=_criteria_errors(error, index_of), status_code=error.status)
    return see_other(request, f"{BASE}/scorecards?notice=scorecard_created#card-{card.key}")


@router.post(BASE + "/scorecards/{key}/versions")
def revise_scorecard(request: Request, key: ScorecardKey, form: FormDep, session: SessionDep, clock: ClockDep,
                     actor: Admin) -> Response:
    qa.active_scorecard(session, key, field="key")
    raw, index_of, echoed = _criteria_form(form)
    values: dict[str, Any] = {"name": form_text(form, "name", max_chars=400),
                              "pass_mark": form_text(form, "pass_mark", max_chars=20), "criteria": echoed}
    _card, error = _attempt(session, lambda: qa.revise_scorecard(
        session, key, name=values["name"], criteria=raw, pass_mark=_number(values["pass_mark"]), actor=actor,
        now=clock.now()))
    if error is not None:
        return _scorecards_page(request, session, actor, editing=key, values=values,
                                errors=_criteria_errors(error, index_of), status_code=error.status)
    return see_other(request, f"{BASE}/scorecards?notice=version_saved#card-{key}")


@router.post(BASE + "/sampling-rules")
def save_sampling_rule(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                       actor: Admin) -> Response:
    values = {"team_id": form_text(form, "team_id", max_chars=20),
              "scorecard_key": form_text(form, "scorecard_key", max_chars=64),
              "percent_per_agent": form_text(form, "percent_per_agent", max_chars=20),
              "min_per_agent": form_text(form, "min_per_agent", max_chars=20),
              "include_low_csat": "1" if _checked(form, "include_low_csat") else "",
              "include_escalated": "1" if _checked(form, "include_escalated") else ""}

    def work() -> Any:
        team_id = parse_id(values["team_id"]) if values["team_id"] else None
        if values["team_id"] and team_id is None:
            raise Invalid("choose a team", field="team_id")
        minimum = values["min_per_agent"].strip()
        return qa.save_sampling_rule(session, team_id=team_id, scorecard_key=values["scorecard_key"],
                                     percent_per_agent=_number(values["percent_per_agent"]),
                                     min_per_agent=int(minimum) if re.fullmatch(r"[0-9]{1,4}", minimum) else minimum,
                                     include_low_csat=bool(values["include_low_csat"]),
                                     include_escalated=bool(values["include_escalated"]), actor=actor,
                                     now=clock.now())

    _rule, error = _attempt(session, work)
    if error is not None:
        name = error.field if error.field in values else "form"
        return _scorecards_page(request, session, actor, rule={"values": values, "errors": {name: error.detail}},
                                status_code=error.status)
    return see_other(request, f"{BASE}/scorecards?notice=rule_saved#rules-title")


# ---------------------------------------------------------------- calibration


def _calibrations_page(request: Request, session: Session, actor: Actor, *, values: dict[str, Any] | None = None,
                       errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    cards = qa.scorecards(session)
    return _render(request, session, actor, "feedback/qa_calibrations.html", {
        "rows": queries.calibration_rows(session, qa.calibrations(session)), "scorecards": cards,
        "reviewers": queries.possible_reviewers(session), "errors": errors or {},
        "values": values or {"reference": "", "scorecard_key": cards[0].key if cards else "", "reviewers": [],
                             "title": ""},
    }, active="qa-calibrations", status_code=status_code)


@router.get(BASE + "/calibrations")
def calibration_list(request: Request, session: SessionDep, actor: Reviewer) -> HTMLResponse:
    return _calibrations_page(request, session, actor)


@router.post(BASE + "/calibrations")
def open_calibration(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                     actor: Admin) -> Response:
    values: dict[str, Any] = {"reference": form_text(form, "reference", max_chars=40).strip(),
                              "scorecard_key": form_text(form, "scorecard_key", max_chars=64),
                              "reviewers": form_list(form, "reviewers"),
                              "title": form_text(form, "title", max_chars=400)}

    def work() -> QaCalibration:
        if not values["reference"]:
            raise Invalid("enter the case's reference, e.g. ID-2026-000123", field="reference")
        case = case_by_reference_for(session, actor, values["reference"], permission=Perm.CASE_READ)
        ids = [parse_id(v) for v in values["reviewers"]]
        return qa.open_calibration(session, case, scorecard_key=values["scorecard_key"],
                                   reviewer_user_ids=[i for i in ids if i is not None], title=values["title"],
                                   actor=actor, now=clock.now())

    calibration, error = _attempt(session, work)
    if error is not None or calibration is None:
        assert error is not None
        name = (error.field or "form").split(".")[0]
        name = {"reviewer_user_ids": "reviewers"}.get(name, name)
        return _calibrations_page(request, session, actor, values=values, status_code=error.status,
                                  errors={name if name in values else "form": error.detail})
    return see_other(request, f"{BASE}/calibrations/{calibration.id}?notice=calibration_opened")


def _calibration_page(request: Request, session: Session, actor: Actor, calibration: QaCalibration, *,
                      values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                      status_code: int = 200) -> HTMLResponse:
    view = qa.calibration_view(session, calibration, actor)
    case = session.get(Case, calibration.case_id)
    assert case is not None
    row = queries.calibration_rows(session, [calibration])[0]
    names = queries.user_display(session, qa.reviewer_ids(calibration))
    by_reviewer = {e.reviewer_user_id: e for e in view.visible}
    return _render(request, session, actor, "feedback/qa_calibration.html", {
        "view": view, "c": calibration, "row": row, "case": case, "card": view.scorecard,
        "messages": queries.public_messages(session, case.id), "names": names, "by_reviewer": by_reviewer,
        "reviewer_ids": qa.reviewer_ids(calibration), "values": values or _answer_values(None, []),
        "errors": errors or {}, "choices": ANSWER_CHOICES,
        "may_score": view.is_reviewer and view.mine is None and calibration.status == qa.CalibrationStatus.OPEN.value,
    }, active="qa-calibrations", status_code=status_code)


@router.get(BASE + "/calibrations/{calibration_id}")
def calibration_page(request: Request, calibration_id: RowId, session: SessionDep, actor: Reviewer) -> HTMLResponse:
    return _calibration_page(request, session, actor, qa.calibration_by_id(session, calibration_id))


@router.post(BASE + "/calibrations/{calibration_id}/score")
def score_calibration(request: Request, calibration_id: RowId, form: FormDep, session: SessionDep,
                      clock: ClockDep, actor: Reviewer) -> Response:
    calibration = qa.calibration_by_id(session, calibration_id, for_update=True)
    card = session.get(QaScorecard, calibration.scorecard_id)
    assert card is not None
    values = _answer_values(form, card.criteria)
    missing = _unanswered(values, card.criteria)
    if missing:
        return _calibration_page(request, session, actor, calibration, values=values, errors=missing,
                                 status_code=422)
    _done, error = _attempt(session, lambda: qa.submit_calibration(
        session, calibration, reviewer=actor, answers=_answers(values, card.criteria), comment=values["comment"],
        now=clock.now()))
    if error is not None:
        return _calibration_page(request, session, actor, calibration, values=values,
                                 errors=_answer_errors(error), status_code=error.status)
    return see_other(request, f"{BASE}/calibrations/{calibration.id}?notice=calibration_scored")


@router.post(BASE + "/calibrations/{calibration_id}/close")
def close_calibration(request: Request, calibration_id: RowId, session: SessionDep, clock: ClockDep,
                      actor: Admin) -> Response:
    calibration = qa.calibration_by_id(session, calibration_id, for_update=True)
    _done, error = _attempt(session, lambda: qa.close_calibration(session, calibration, actor=actor,
                                                                  now=clock.now()))
    if error is not None:
        return _calibration_page(request, session, actor, calibration, errors={"close": error.detail},
                                 status_code=error.status)
    return see_other(request, f"{BASE}/calibrations/{calibration.id}?notice=calibration_closed")


# ---------------------------------------------------------------- agent QA scores and coaching


@router.get(BASE + "/agents")
def agent_scores(request: Request, session: SessionDep, clock: ClockDep, actor: Reviewer,
                 days: Annotated[int, Query(ge=1, le=400)] = DEFAULT_DAYS) -> HTMLResponse:
    days = _period(days)
    until = clock.now()
    since = until - timedelta(days=days)
    rows = queries.agent_rows(session, qa.agent_scores(session, since=since, until=until))
    return _render(request, session, actor, "feedback/qa_agents.html", {
        "rows": rows, "days": days, "periods": PERIODS, "since": since, "until": until,
        "total": sum(r.score.evaluations for r in rows),
    }, active="qa-agents")


def _agent_page(request: Request, session: Session, actor: Actor, agent_id: int, *, now: Any,
                note: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    agent = qa.agent_of(session, agent_id)
    name, vendor = queries.agent_heading(session, agent.id)
    since = now - timedelta(days=DEFAULT_DAYS)
    reviews = queries.evaluation_rows(session, qa.evaluations_of_agent(session, agent.id, limit=50))
    return _render(request, session, actor, "feedback/qa_agent.html", {
        "agent": agent, "name": name, "vendor": vendor, "days": DEFAULT_DAYS,
        "figures": qa.agent_score(session, agent.id, since=since, until=now), "reviews": reviews,
        "notes": queries.note_rows(session, qa.notes_for_agent(session, agent.id)),
        "note": note or {"evaluation_id": "", "body": "", "errors": {}},
    }, active="qa-agents", status_code=status_code)


@router.get(BASE + "/agents/{agent_id}")
def agent_page(request: Request, agent_id: RowId, session: SessionDep, clock: ClockDep,
               actor: Reviewer) -> HTMLResponse:
    return _agent_page(request, session, actor, agent_id, now=clock.now())


@router.post(BASE + "/agents/{agent_id}/notes")
def coach_agent(request: Request, agent_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                actor: Coach) -> Response:
    qa.agent_of(session, agent_id)
    values = {"evaluation_id": form_text(form, "evaluation_id", max_chars=20),
              "body": form_text(form, "body", max_chars=qa.MAX_NOTE + 100)}

    def work() -> Any:
        evaluation_id = parse_id(values["evaluation_id"]) if values["evaluation_id"] else None
        if values["evaluation_id"] and evaluation_id is None:
            raise Invalid("choose one of the agent's reviews, or none", field="evaluation_id")
        return qa.write_note(session, agent_id=agent_id, body=values["body"], evaluation_id=evaluation_id,
                             author=actor, now=clock.now())

    _note, error = _attempt(session, work)
    if error is not None:
        name = error.field if error.field in values else "form"
        return _agent_page(request, session, actor, agent_id, now=clock.now(),
                           note={**values, "errors": {name: error.detail}}, status_code=error.status)
    return see_other(request, f"{BASE}/agents/{agent_id}?notice=note_written#notes-title")


# ---------------------------------------------------------------- the agent's own page


@router.get("/console/me/coaching")
def my_coaching(request: Request, session: SessionDep, clock: ClockDep, actor: Self) -> HTMLResponse:
    if actor.agent_id is None:
        raise Forbidden("reviews and coaching notes are about an agent's work: you are not an agent")
    now = clock.now()
    reviews = queries.evaluation_rows(session, qa.evaluations_of_agent(session, actor.agent_id, limit=100))
    notes = queries.note_rows(session, qa.notes_for_agent(session, actor.agent_id))
    return _render(request, session, actor, "feedback/qa_coaching.html", {
        "figures": qa.agent_score(session, actor.agent_id, since=now - timedelta(days=DEFAULT_DAYS), until=now),
        "days": DEFAULT_DAYS, "reviews": reviews, "notes": notes,
        "unread": sum(1 for n in notes if n.note.acknowledged_at is None),
    }, active="coaching")


@router.post("/console/me/coaching/{note_id}/acknowledge")
def acknowledge(request: Request, note_id: RowId, session: SessionDep, clock: ClockDep, actor: Self) -> Response:
    note = qa.note_for(session, actor, note_id)
    qa.acknowledge_note(session, note, actor=actor, now=clock.now())
    return see_other(request, with_query("/console/me/coaching", notice="acknowledged") + f"#note-{note.id}")
