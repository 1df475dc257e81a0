"""Console pages of OKRs: the objectives with each key result's progress computed now, and the form that sets an
objective up (or changes it) with its key results, each bound to a metric definition, a filter, a direction
and a target. In-house staff with insights.read read them; insights.admin sets them up, archives and restores.

Handlers are thin: they read the form as typed, call ``insights.okrs`` in a savepoint and render; a refusal is
shown next to its field (a key result's next to its row), with everything typed kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Conflict, DomainError, Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.insights import metrics, okrs, panels
from trustdesk.insights.metrics import FILTERS
from trustdesk.insights.models import Direction, KeyResult, Objective
from trustdesk.insights.pages import DASHBOARDS
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep
from trustdesk.web.pages import FormDep, form_text, parse_id, render_console, see_other, with_query

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

Reader = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_READ, in_house=True))]
Admin = Annotated[Actor, Depends(PageRequires(Perm.INSIGHTS_ADMIN, in_house=True))]
ObjectiveId = Annotated[int, Path(ge=1, le=MAX_ID)]

BASE = "/console/insights/okrs"
BLANK_ROWS = 2  # empty key result rows offered below the existing ones
MAX_ROWS = okrs.MAX_KEY_RESULTS + BLANK_ROWS
KR_FIELDS = ("title", "metric", *FILTERS, "direction", "target", "baseline")
OBJECTIVE_FIELDS = ("title", "description", "owner_user_id", "period_start", "period_end")
NOTICES: dict[str, str] = {
    "okr_created": "Objective set: its key results' progress is computed from the metrics as the period runs.",
    "okr_saved": "Saved: the progress below is computed with the changes.",
    "okr_archived": "Archived: it has left the list, the overview and the weekly report. Restore it from the "
                    "archived objectives.",
    "okr_restored": "Restored: it is back in the list, the overview and the weekly report.",
}
DIRECTION_OPTIONS = [(Direction.AT_LEAST.value, "At least (the target is a floor)"),
                     (Direction.AT_MOST.value, "At most (the target is a ceiling)")]
STATUS_CHIPS = {okrs.Status.MET: "status-solved", okrs.Status.ON_TRACK: "status-pending",
                okrs.Status.AT_RISK: "status-new", okrs.Status.OFF_TRACK: "status-open",
                okrs.Status.MISSED: "status-open", okrs.Status.NOT_MET: "status-on_hold",
                okrs.Status.NO_DATA: "status-closed", okrs.Status.NOT_STARTED: "status-closed"}


# ---------------------------------------------------------------- helpers


def _attempt(session: Session, work: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """Run the rule in a savepoint; a refusal leaves nothing half-written and comes back to show."""
    try:
        with session.begin_nested():
            return work(), None
    except (Invalid, Conflict, NotFound) as error:
        return None, error


def _filter_labels(options: dict[str, list[tuple[str, str]]]) -> dict[str, dict[str, str]]:
    labels = {name: dict(pairs) for name, pairs in options.items()}
    labels["market"] = {code: code for code, _ in options["market"]}  # "market US", not "market US · United ..."
    return labels


def _context(session: Session, actor: Actor, request: Request) -> dict[str, Any]:
    """What every OKR page shows: the insight sub-navigation, the filter words, who may change them."""
    options = panels.filter_options(session)
    labels = _filter_labels(options)
    emerging = "/console/insights/emerging"
    return {"chosen": None, "dashboards": DASHBOARDS, "options": options, "status_chips": STATUS_CHIPS,
            "emerging_url": emerging if any(getattr(r, "path", "") == emerging for r in request.app.routes)
            else None, "filter_text": lambda filters: okrs.filter_words(filters, labels),
            "can_admin": actor.can(Perm.INSIGHTS_ADMIN) and actor.vendor_id is None}


def _render(request: Request, session: Session, actor: Actor, name: str, context: dict[str, Any], *,
            status_code: int = 200) -> HTMLResponse:
    ctx = {**_context(session, actor, request), **context}
    mine = NOTICES.get(request.query_params.get("notice", ""))
    if mine:
        ctx["notice"] = mine
    return render_console(request, session, actor, name, ctx, active="insights-okrs", status_code=status_code)


def _number(text: str) -> Any:
    """A number typed in the form ("0.8", "80%", "1,5"), or the text itself (the rule refuses it by name)."""
    raw = text.strip().replace(",", ".")
    percent = raw.endswith("%")
    digits = raw.removesuffix("%").strip()
    if not re.fullmatch(r"-?[0-9]{1,9}(\.[0-9]{1,6})?", digits):
        return raw or None
    value = float(digits)
    return value / 100 if percent else value


def _day(text: str, name: str) -> date:
    text = text.strip()
    if not text:
        raise Invalid(f"enter the {'first' if name == 'period_start' else 'last'} day, as YYYY-MM-DD", field=name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text[:20]!r} is not a day: write it as YYYY-MM-DD, e.g. 2026-04-01", field=name) from None


def _owner(text: str) -> int | None:
    if not text.strip():
        return None
    owner = parse_id(text)
    if owner is None:
        raise Invalid("choose a member of staff, or nobody", field="owner_user_id")
    return owner


def quarter_of(day: date) -> tuple[date, date]:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(first.year + (first.month + 2) // 12, (first.month + 2) % 12 + 1, 1)
    return first, following - timedelta(days=1)


# ---------------------------------------------------------------- the form's values


def _row_values(kr: KeyResult | None) -> dict[str, str]:
    if kr is None:
        return {"id": "", "remove": "", **dict.fromkeys(KR_FIELDS, "")}
    return {"id": str(kr.id), "remove": "", "title": kr.title, "metric": kr.metric,
            **{name: str(kr.filters.get(name) or "") for name in FILTERS}, "direction": kr.direction,
            "target": f"{kr.target:g}", "baseline": "" if kr.baseline is None else f"{kr.baseline:g}"}


def _values(objective: Objective | None, key_results: Sequence[KeyResult], *, today: date) -> dict[str, Any]:
    rows = [_row_values(kr) for kr in key_results]
    rows += [_row_values(None) for _ in range(max(BLANK_ROWS, 3 - len(rows)))]
    if objective is None:
        start, end = quarter_of(today)
        return {"title": "", "description": "", "owner_user_id": "", "period_start": start.isoformat(),
                "period_end": end.isoformat(), "rows": rows}
    return {"title": objective.title, "description": objective.description,
            "owner_user_id": str(objective.owner_user_id or ""), "period_start": objective.period_start.isoformat(),
            "period_end": objective.period_end.isoformat(), "rows": rows}


def _typed(form: FormData) -> dict[str, Any]:
    """The form as typed, to show again when refused."""
    count = min(parse_id(form_text(form, "rows", max_chars=4)) or 0, MAX_ROWS)
    rows = []
    for i in range(count):
        row = {name: form_text(form, f"kr-{i}-{name}", max_chars=okrs.TITLE_CHARS + 50) for name in KR_FIELDS}
        row["id"] = form_text(form, f"kr-{i}-id", max_chars=12)
        row["remove"] = "1" if form_text(form, f"kr-{i}-remove", max_chars=4) in ("1", "on") else ""
        rows.append(row)
    return {"title": form_text(form, "title", max_chars=okrs.TITLE_CHARS + 50),
            "description": form_text(form, "description", max_chars=okrs.DESCRIPTION_CHARS + 50),
            "owner_user_id": form_text(form, "owner_user_id", max_chars=12),
            "period_start": form_text(form, "period_start", max_chars=40),
            "period_end": form_text(form, "period_end", max_chars=40), "rows": rows}


def _blank(row: dict[str, str]) -> bool:
    return not any(row[name].strip() for name in ("title", "metric", "target", "baseline"))


def _spec(row: dict[str, str]) -> okrs.KeyResultSpec:
    return okrs.KeyResultSpec(title=row["title"], metric=row["metric"], target=_number(row["target"]),
                              filters={name: row[name] for name in FILTERS if row[name].strip()},
                              direction=row["direction"] or None, baseline=_number(row["baseline"]))


def _errors(error: DomainError, index_of: Sequence[int] = ()) -> dict[str, str]:
    """A refusal next to its field: ``key_results[2].filters.team`` (the third key result sent) or
    ``rows[4].target`` (form row 4) -> ``kr-<row>-<field>``; an objective's field by its name."""
    name = error.field or "form"
    match = re.fullmatch(r"(key_results|rows)\[(\d+)\]\.(?:filters\.)?(\w+)", name)
    if match:
        index = int(match.group(2))
        row = index if match.group(1) == "rows" else (index_of[index] if index < len(index_of) else None)
        if row is not None and match.group(3) in KR_FIELDS:
            return {f"kr-{row}-{match.group(3)}": error.detail}
    return {name if name in OBJECTIVE_FIELDS else "form": error.detail}


def _in_row(row: int, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Name a key result's refusal after its form row (``metric`` -> ``rows[3].metric``)."""
    try:
        return work(*args, **kwargs)
    except (Invalid, NotFound) as error:
        raise Invalid(error.detail, field=f"rows[{row}].{error.field or 'title'}") from None


# ---------------------------------------------------------------- the list


@router.get(BASE)
def okr_list(request: Request, session: SessionDep, clock: ClockDep, actor: Reader,
             archived: Annotated[bool, Query()] = False) -> HTMLResponse:
    now = clock.now()
    judged = okrs.progress_all(session, now=now, include_archived=archived)
    return _render(request, session, actor, "insights/okrs.html", {
        "objectives": [o for o in judged if not o.objective.archived],
        "archived_objectives": [o for o in judged if o.objective.archived], "show_archived": archived,
        "now": now, "archived_url": with_query(BASE, archived=1), "current_url": BASE,
    })


# ---------------------------------------------------------------- the form


def _form_page(request: Request, session: Session, actor: Actor, *, objective: Objective | None,
               values: dict[str, Any], errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    owners = [(str(u.id), u.display_name) for u in okrs.possible_owners(session)]
    metric_options = [(d.key, d.label) for d in metrics.DEFINITIONS.values()]
    return _render(request, session, actor, "insights/okr_form.html", {
        "objective": objective, "editing": objective is not None, "values": values, "errors": errors or {},
        "owner_options": owners,
        "metric_options": metric_options, "definitions": list(metrics.DEFINITIONS.values()),
        "direction_options": DIRECTION_OPTIONS, "filters": FILTERS,
        "action": f"{BASE}/{objective.id}" if objective is not None else BASE,
    }, status_code=status_code)


@router.get(f"{BASE}/new")
def new_objective(request: Request, session: SessionDep, clock: ClockDep, actor: Admin) -> HTMLResponse:
    return _form_page(request, session, actor, objective=None, values=_values(None, [], today=clock.now().date()))


@router.post(BASE)
def create_objective(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                     actor: Admin) -> Response:
    values = _typed(form)
    index_of = [i for i, row in enumerate(values["rows"]) if not _blank(row)]

    def work() -> Objective:
        return okrs.create_objective(
            session, title=values["title"], description=values["description"],
            owner_user_id=_owner(values["owner_user_id"]), period_start=_day(values["period_start"], "period_start"),
            period_end=_day(values["period_end"], "period_end"),
            key_results=[_spec(values["rows"][i]) for i in index_of], now=clock.now())

    objective, error = _attempt(session, work)
    if error is not None or objective is None:
        assert error is not None
        return _form_page(request, session, actor, objective=None, values=values,
                          errors=_errors(error, index_of), status_code=error.status)
    return see_other(request, f"{BASE}?notice=okr_created#objective-{objective.id}")


@router.get(f"{BASE}/{{objective_id}}/edit")
def edit_objective(request: Request, objective_id: ObjectiveId, session: SessionDep, clock: ClockDep,
                   actor: Admin) -> HTMLResponse:
    objective = okrs.objective_by_id(session, objective_id)
    key_results = okrs.key_results_of(session, [objective.id])[objective.id]
    return _form_page(request, session, actor, objective=objective,
                      values=_values(objective, key_results, today=clock.now().date()))


@router.post(f"{BASE}/{{objective_id}}")
def save_objective(request: Request, objective_id: ObjectiveId, form: FormDep, session: SessionDep,
                   clock: ClockDep, actor: Admin) -> Response:
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    values = _typed(form)
    now = clock.now()

    def work() -> Objective:
        okrs.update_objective(session, objective, {
            "title": values["title"], "description": values["description"],
            "owner_user_id": _owner(values["owner_user_id"]),
            "period_start": _day(values["period_start"], "period_start"),
            "period_end": _day(values["period_end"], "period_end")}, now=now)
        rows = list(enumerate(values["rows"]))
        kept: list[tuple[int, dict[str, str], KeyResult]] = []
        for i, row in rows:  # removals first, so a full objective can swap a key result in one save
            if not row["id"]:
                continue
            kr_id = parse_id(row["id"])
            kr = _in_row(i, okrs.key_result_in, session, objective, kr_id or 0, for_update=True)
            if row["remove"]:
                okrs.delete_key_result(session, objective, kr, now=now)
            else:
                kept.append((i, row, kr))
        for i, row, kr in kept:
            spec = _spec(row)
            _in_row(i, okrs.update_key_result, session, objective, kr, {
                "title": spec.title, "metric": spec.metric, "filters": dict(spec.filters),
                "direction": spec.direction, "target": spec.target, "baseline": spec.baseline}, now=now)
        for i, row in rows:
            if not row["id"] and not _blank(row):
                _in_row(i, okrs.add_key_result, session, objective, _spec(row), now=now)
        return objective

    _done, error = _attempt(session, work)
    if error is not None:
        session.refresh(objective)
        return _form_page(request, session, actor, objective=objective, values=values, errors=_errors(error),
                          status_code=error.status)
    return see_other(request, f"{BASE}?notice=okr_saved#objective-{objective.id}")


@router.post(f"{BASE}/{{objective_id}}/archive")
def archive_objective(request: Request, objective_id: ObjectiveId, session: SessionDep, clock: ClockDep,
                      actor: Admin) -> Response:
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    okrs.archive_objective(session, objective, now=clock.now())
    return see_other(request, f"{BASE}?notice=okr_archived")


@router.post(f"{BASE}/{{objective_id}}/restore")
def restore_objective(request: Request, objective_id: ObjectiveId, session: SessionDep, clock: ClockDep,
                      actor: Admin) -> Response:
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    okrs.update_objective(session, objective, {"archived": False}, now=clock.now())
    return see_other(request, f"{BASE}?notice=okr_restored#objective-{objective.id}")
