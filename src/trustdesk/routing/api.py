"""JSON routes of routing: a case's decision, rule sets (draft, simulate, publish), models
(train, activate, roll back), the misroute report, and each user's notifications."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime

from trustdesk.cases.access import case_for
from trustdesk.core import notifications
from trustdesk.core.db import MAX_ID
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.routing import analysis, registry, service, simulation, views
from trustdesk.routing.schemas import DecisionOut, ModelOut, NotificationOut, RuleSetIn, RuleSetOut, TrainIn
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep

router = APIRouter(tags=["routing"])
Version = Annotated[int, Path(ge=1, le=MAX_ID)]


Reader = Annotated[Actor, Depends(Requires(Perm.ROUTING_READ, in_house=True))]
Admin = Annotated[Actor, Depends(Requires(Perm.ROUTING_ADMIN, in_house=True))]
CaseReader = Annotated[Actor, Depends(Requires(Perm.CASE_READ))]
Anyone = Annotated[Actor, Depends(Requires(Perm.SELF))]


@router.get("/cases/{case_id}/routing", response_model=DecisionOut,
            summary="Why the case went where it went: source, rules, catalogue entry, model, confidence, top-3")
def case_routing(case_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep,
                 actor: CaseReader) -> DecisionOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    return views.decision_out(session, service.decision_for_case(session, case.id),
                              redact=actor.vendor_id is not None)


# ---------------------------------------------------------------- rules


@router.get("/routing/rules", response_model=list[RuleSetOut], summary="Every rule set version, newest first")
def list_rule_sets(session: SessionDep, actor: Reader) -> list[RuleSetOut]:
    return [RuleSetOut.model_validate(r) for r in service.rule_sets(session)]


@router.post("/routing/rules", response_model=RuleSetOut, status_code=201,
             summary="Save the whole ordered rule set as a new draft version")
def save_rules(body: RuleSetIn, session: SessionDep, clock: ClockDep, actor: Admin) -> RuleSetOut:
    return RuleSetOut.model_validate(service.save_draft(session, body.rules, author=actor, now=clock.now(),
                                                        note=body.note))


@router.post("/routing/rules/{version}/simulate", response_model=dict[str, Any],
             summary="What the draft would change over the last N days of cases, and the misroutes it would fix")
def simulate_rules(version: Version, session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Admin,
                   days: Annotated[int, Query(ge=1, le=90)] = 14) -> dict[str, Any]:
    return simulation.simulate(session, service.rule_set_by_version(session, version), days=days, now=clock.now(),
                               settings=settings)


@router.post("/routing/rules/{version}/publish", response_model=RuleSetOut,
             summary="Route with this draft from now on (the set in force is retired)")
def publish_rules(version: Version, session: SessionDep, clock: ClockDep, actor: Admin) -> RuleSetOut:
    rule_set = service.publish(session, service.rule_set_by_version(session, version), publisher=actor,
                               now=clock.now())
    return RuleSetOut.model_validate(rule_set)


# ---------------------------------------------------------------- models


@router.get("/routing/models", response_model=list[ModelOut], summary="Trained topic models, newest first")
def list_models(session: SessionDep, actor: Reader) -> list[ModelOut]:
    return [ModelOut.model_validate(m) for m in registry.models(session)]


@router.post("/routing/models", response_model=ModelOut, status_code=201,
             summary="Train a new model version from closed cases (final topics); optionally activate it")
def train_model(body: TrainIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                actor: Admin) -> ModelOut:
    model = registry.train(session, settings=settings, now=clock.now(), trained_by=actor.email or str(actor.user_id),
                           days=body.days, use_embeddings=body.embeddings)
    if body.activate:
        registry.activate(session, model, settings=settings, now=clock.now())
    return ModelOut.model_validate(model)


@router.post("/routing/models/{version}/activate", response_model=ModelOut, summary="Route with this model")
def activate_model(version: Version, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                   actor: Admin) -> ModelOut:
    model = registry.activate(session, registry.model_by_version(session, version), settings=settings,
                              now=clock.now())
    return ModelOut.model_validate(model)


@router.post("/routing/models/rollback", response_model=ModelOut,
             summary="Re-activate the model that was active before the current one")
def rollback_model(session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Admin) -> ModelOut:
    return ModelOut.model_validate(registry.rollback(session, settings=settings, now=clock.now()))


# ---------------------------------------------------------------- the report


@router.get("/routing/report", response_model=dict[str, Any],
            summary="Misroute rate, hops, time lost, breakdowns, confusion matrix, causes and the recovery plan")
def routing_report(session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Reader,
                   days: Annotated[int, Query(ge=1, le=365)] = 28, until: AwareDatetime | None = None,
                   ) -> dict[str, Any]:
    end = until or clock.now()
    return analysis.report(session, since=end - timedelta(days=days), until=end, settings=settings)


# ---------------------------------------------------------------- notifications


@router.get("/notifications", response_model=list[NotificationOut], summary="Your notifications, newest first")
def list_notifications(session: SessionDep, actor: Anyone, unread: bool = False) -> list[NotificationOut]:
    rows = notifications.inbox(session, actor.user_id, unread_only=unread)
    return [NotificationOut.model_validate(n) for n in rows]


@router.post("/notifications/{notification_id}/read", response_model=dict[str, int], summary="Mark one read")
def read_notification(notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, clock: ClockDep,
                      actor: Anyone) -> dict[str, int]:
    return {"marked": notifications.mark_read(session, actor.user_id, notification_id, now=clock.now())}


@router.post("/notifications/read", response_model=dict[str, int], summary="Mark all your notifications read")
def read_all_notifications(session: SessionDep, clock: ClockDep, actor: Anyone) -> dict[str, int]:
    return {"marked": notifications.mark_read(session, actor.user_id, None, now=clock.now())}
