"""JSON routes of OKRs under ``/api/v1/okrs``: objectives with their key results and live progress (insights.read),
setting them up, changing, archiving them and their key results (insights.admin). In-house staff only, like
the dashboards: the figures count every vendor's work.

Progress is computed on every read from the metric definitions (``insights.okrs``), never stored. Writes may
send ``If-Match`` with the objective's ETag; a stale one is refused with 412.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import PreconditionFailed
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.insights import okrs
from trustdesk.insights.models import Objective
from trustdesk.insights.okr_schemas import (
    KeyResultIn,
    KeyResultOut,
    KeyResultPatch,
    ObjectiveIn,
    ObjectiveList,
    ObjectiveOut,
    ObjectivePatch,
    ProgressOut,
)
from trustdesk.web.deps import ClockDep, Requires, SessionDep
from trustdesk.web.responses import ModelResponse

router = APIRouter(prefix="/okrs", tags=["insights"])
Reader = Annotated[Actor, Depends(Requires(Perm.INSIGHTS_READ, in_house=True))]
Admin = Annotated[Actor, Depends(Requires(Perm.INSIGHTS_ADMIN, in_house=True))]
ObjectiveId = Annotated[int, Path(ge=1, le=MAX_ID)]
KeyResultId = Annotated[int, Path(ge=1, le=MAX_ID)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200)]
PAGE = "/console/insights/okrs"


def etag(objective: Objective) -> str:
    """The objective's version: when it (or one of its key results) last changed."""
    return f'"{objective.id}-{round(objective.updated_at.timestamp() * 1_000_000)}"'


def _check_version(objective: Objective, if_match: str | None) -> None:
    if if_match is None:
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and etag(objective) not in tags:
        raise PreconditionFailed("the objective changed since you read it: read it again and retry",
                                 field="If-Match", current_etag=etag(objective))


def _key_result_out(result: okrs.KeyResultProgress) -> KeyResultOut:
    kr, value = result.key_result, result.value
    return KeyResultOut(
        id=kr.id, objective_id=kr.objective_id, title=kr.title, metric=kr.metric,
        metric_label=result.definition.label, unit=result.definition.unit.value, filters=dict(kr.filters),
        filter_text=result.filter_text, direction=kr.direction, baseline=kr.baseline, target=kr.target,
        position=kr.position, current=None if result.current is None else round(result.current, 6),
        numerator=value.numerator if value else None, denominator=value.denominator if value else None,
        count=value.count if value else 0, current_text=result.current_text, target_text=result.target_text,
        baseline_text=result.baseline_text,
        progress=ProgressOut(status=result.status.value, status_label=result.label,
                             progress=None if result.progress is None else round(result.progress, 6),
                             expected=round(result.expected, 6)))


def objective_out(judged: okrs.ObjectiveProgress) -> ObjectiveOut:
    o = judged.objective
    return ObjectiveOut(
        id=o.id, title=o.title, description=o.description, owner_user_id=o.owner_user_id,
        owner_name=judged.owner_name, period_start=o.period_start, period_end=o.period_end, archived=o.archived,
        created_at=o.created_at, updated_at=o.updated_at,
        progress=ProgressOut(status=judged.status.value, status_label=judged.label,
                             progress=None if judged.progress is None else round(judged.progress, 6),
                             expected=round(judged.expected, 6)),
        key_results=[_key_result_out(r) for r in judged.key_results], url=f"{PAGE}#objective-{o.id}")


def _one(session: Session, objective: Objective, now: datetime, *, status_code: int = 200) -> ModelResponse:
    headers = {"ETag": etag(objective)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/okrs/{objective.id}"
    return ModelResponse(objective_out(okrs.progress(session, objective, now)), status_code=status_code,
                         headers=headers)


@router.get("", response_model=ObjectiveList,
            summary="Objectives (current and upcoming first), each key result with its progress computed now")
def list_objectives(session: SessionDep, clock: ClockDep, actor: Reader,
                    include_archived: Annotated[bool, Query()] = False) -> ModelResponse:
    now = clock.now()
    return ModelResponse(ObjectiveList(as_of=now, items=[
        objective_out(o) for o in okrs.progress_all(session, now=now, include_archived=include_archived)]))


@router.get("/{objective_id}", response_model=ObjectiveOut, summary="One objective with its progress now")
def get_objective(objective_id: ObjectiveId, session: SessionDep, clock: ClockDep, actor: Reader) -> ModelResponse:
    return _one(session, okrs.objective_by_id(session, objective_id), clock.now())


@router.post("", response_model=ObjectiveOut, status_code=201,
             summary="Set an objective with its key results (each bound to a metric, a filter and a target)")
def create_objective(body: ObjectiveIn, session: SessionDep, clock: ClockDep, actor: Admin) -> ModelResponse:
    now = clock.now()
    objective = okrs.create_objective(
        session, title=body.title, description=body.description, owner_user_id=body.owner_user_id,
        period_start=body.period_start, period_end=body.period_end,
        key_results=[kr.spec() for kr in body.key_results], now=now)
    return _one(session, objective, now, status_code=201)


@router.patch("/{objective_id}", response_model=ObjectiveOut,
              summary="Change an objective's fields (archived: false restores it)")
def update_objective(objective_id: ObjectiveId, body: ObjectivePatch, session: SessionDep, clock: ClockDep,
                     actor: Admin, if_match: IfMatch = None) -> ModelResponse:
    now = clock.now()
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    _check_version(objective, if_match)
    okrs.update_objective(session, objective, body.changes(), now=now)
    return _one(session, objective, now)


@router.post("/{objective_id}/archive", response_model=ObjectiveOut,
             summary="Archive an objective: it leaves the list, the overview and the report (kept, restorable)")
def archive_objective(objective_id: ObjectiveId, session: SessionDep, clock: ClockDep, actor: Admin,
                      if_match: IfMatch = None) -> ModelResponse:
    now = clock.now()
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    _check_version(objective, if_match)
    okrs.archive_objective(session, objective, now=now)
    return _one(session, objective, now)


def _key_result(session: Session, objective: Objective, key_result_id: int, now: datetime, *,
                status_code: int = 200) -> ModelResponse:
    kr = okrs.key_result_in(session, objective, key_result_id)
    headers = {"ETag": etag(objective)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/okrs/{objective.id}/key-results/{kr.id}"
    return ModelResponse(_key_result_out(okrs.key_result_progress(session, objective, kr, now=now)),
                         status_code=status_code, headers=headers)


@router.post("/{objective_id}/key-results", response_model=KeyResultOut, status_code=201,
             summary="Add a key result to an objective")
def add_key_result(objective_id: ObjectiveId, body: KeyResultIn, session: SessionDep, clock: ClockDep,
                   actor: Admin, if_match: IfMatch = None) -> ModelResponse:
    now = clock.now()
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    _check_version(objective, if_match)
    kr = okrs.add_key_result(session, objective, body.spec(), now=now)
    return _key_result(session, objective, kr.id, now, status_code=201)


@router.patch("/{objective_id}/key-results/{key_result_id}", response_model=KeyResultOut,
              summary="Change a key result (checked whole: a new metric must accept the filter kept)")
def update_key_result(objective_id: ObjectiveId, key_result_id: KeyResultId, body: KeyResultPatch,
                      session: SessionDep, clock: ClockDep, actor: Admin, if_match: IfMatch = None) -> ModelResponse:
    now = clock.now()
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    _check_version(objective, if_match)
    kr = okrs.key_result_in(session, objective, key_result_id, for_update=True)
    okrs.update_key_result(session, objective, kr, body.changes(), now=now)
    return _key_result(session, objective, kr.id, now)


@router.delete("/{objective_id}/key-results/{key_result_id}", status_code=204, summary="Delete a key result")
def delete_key_result(objective_id: ObjectiveId, key_result_id: KeyResultId, session: SessionDep,
                      clock: ClockDep, actor: Admin, if_match: IfMatch = None) -> Response:
    objective = okrs.objective_by_id(session, objective_id, for_update=True)
    _check_version(objective, if_match)
    kr = okrs.key_result_in(session, objective, key_result_id, for_update=True)
    okrs.delete_key_result(session, objective, kr, now=clock.now())
    return Response(status_code=204, headers={"ETag": etag(objective)})
