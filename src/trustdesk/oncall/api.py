"""JSON routes of oncall: schedules and who is on call, overrides, swaps, feeds, escalation ladders,
escalations and their acknowledgement, pages, crises and webhook endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime

from trustdesk.cases.access import case_for
from trustdesk.core import webhooks
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.oncall import crises, escalations, ladders, metrics, paging, rotation, schedules
from trustdesk.oncall.models import Crisis, OncallFeed, OncallSchedule
from trustdesk.oncall.schemas import (
    KEY,
    CrisisEventOut,
    CrisisIn,
    CrisisLinkIn,
    CrisisOut,
    CrisisUpdateIn,
    EscalateIn,
    EscalationOut,
    FeedOut,
    FinalScheduleOut,
    GapOut,
    LadderIn,
    LadderOut,
    LayerOut,
    OncallMetricsOut,
    OncallNowOut,
    OverrideIn,
    OverrideOut,
    PageOut,
    ResolveIn,
    ScheduleIn,
    ScheduleOut,
    ShiftOut,
    SwapIn,
    SwapOut,
    WebhookIn,
    WebhookOut,
    WebhookSecretOut,
)
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep, public

router = APIRouter(tags=["oncall"])
Reader = Annotated[Actor, Depends(Requires(Perm.ONCALL_READ))]
# Crises and ending escalations are the platform's own incident work: in-house staff only.
Responder = Annotated[Actor, Depends(Requires(Perm.ONCALL_RESPOND, in_house=True))]
CrisisReader = Annotated[Actor, Depends(Requires(Perm.ONCALL_READ, in_house=True))]
Admin = Annotated[Actor, Depends(Requires(Perm.ONCALL_ADMIN, in_house=True))]
Swapper = Annotated[Actor, Depends(Requires(Perm.ONCALL_RESPOND, Perm.ONCALL_ADMIN, in_house=True))]
Escalator = Annotated[Actor, Depends(Requires(Perm.CASE_ESCALATE))]
CaseReader = Annotated[Actor, Depends(Requires(Perm.CASE_READ))]
Anyone = Annotated[Actor, Depends(Requires(Perm.SELF))]
HookAdmin = Annotated[Actor, Depends(Requires(Perm.WEBHOOKS_ADMIN, in_house=True))]
Key = Annotated[str, Path(pattern=KEY)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


# ---------------------------------------------------------------- schedules


def _layer_specs(body: ScheduleIn) -> list[schedules.LayerSpec]:
    return [schedules.LayerSpec(name=layer.name, time_zone=layer.time_zone, starts_at=layer.starts_at,
                                handoff=layer.handoff, participants=list(layer.participants),
                                restrictions=[r.model_dump() for r in layer.restrictions], ends_at=layer.ends_at)
            for layer in body.layers]


def _schedule_out(session: SessionDep, row: OncallSchedule) -> ScheduleOut:
    out = ScheduleOut.model_validate(row)
    out.layers = [LayerOut.model_validate(layer) for layer in schedules.layers_of(session, row.id)]
    return out


@router.get("/oncall/schedules", response_model=list[ScheduleOut], summary="Oncall schedules")
def list_schedules(session: SessionDep, actor: Reader) -> list[ScheduleOut]:
    return [_schedule_out(session, s) for s in schedules.list_schedules(session)]


@router.post("/oncall/schedules", response_model=ScheduleOut, status_code=201, summary="Add a schedule")
def create_schedule(body: ScheduleIn, session: SessionDep, clock: ClockDep, actor: Admin) -> ScheduleOut:
    row = schedules.create_schedule(session, key=body.key, name=body.name, team_key=body.team,
                                    time_zone=body.time_zone, description=body.description,
                                    layers=_layer_specs(body), now=clock.now())
    return _schedule_out(session, row)


@router.get("/oncall/schedules/{key}", response_model=ScheduleOut, summary="One schedule with its layers")
def get_schedule(key: Key, session: SessionDep, actor: Reader) -> ScheduleOut:
    return _schedule_out(session, schedules.schedule_by_key(session, key))


@router.put("/oncall/schedules/{key}", response_model=ScheduleOut, summary="Change a schedule and its layers")
def update_schedule(key: Key, body: ScheduleIn, session: SessionDep, clock: ClockDep, actor: Admin) -> ScheduleOut:
    row = schedules.schedule_by_key(session, key)
    if body.key != key:
        raise Invalid(f"the key is {key}; a schedule's key never changes", field="key")
    schedules.update_schedule(session, row, name=body.name, team_key=body.team, time_zone=body.time_zone,
                              description=body.description, layers=_layer_specs(body), now=clock.now())
    return _schedule_out(session, row)


def _shift_out(shift: rotation.Shift, names: dict[int, str]) -> ShiftOut:
    return ShiftOut(starts_at=shift.starts_at, ends_at=shift.ends_at, user_id=int(shift.who),
                    name=names.get(int(shift.who), shift.who), source=shift.source)


@router.get("/oncall/schedules/{key}/final", response_model=FinalScheduleOut,
            summary="The final schedule (layers, swaps, overrides) with gaps, coverage and fairness")
def final_schedule(key: Key, session: SessionDep, clock: ClockDep, actor: Reader,
                   since: AwareDatetime | None = None, until: AwareDatetime | None = None) -> FinalScheduleOut:
    now = clock.now()
    start = since or now
    end = until or start + timedelta(days=14)
    row = schedules.schedule_by_key(session, key)
    rep = schedules.report(session, row, start=start, end=end, now=now)
    names = schedules.user_names(session, [int(s.who) for s in rep.shifts] + ([int(rep.next.who)] if rep.next else []))
    return FinalScheduleOut(
        schedule=row.key, since=start, until=end, shifts=[_shift_out(s, names) for s in rep.shifts],
        gaps=[GapOut(starts_at=a, ends_at=b) for a, b in rep.gaps], coverage=round(rep.coverage, 6),
        fairness=round(rep.fairness, 6),
        hours={str(k): round(v.total_seconds() / 3600, 4) for k, v in rep.load.items()},
        now=_shift_out(rep.now, names) if rep.now else None, next=_shift_out(rep.next, names) if rep.next else None)


@router.get("/oncall/now", response_model=list[OncallNowOut], summary="Who is on call for a team at a time")
def oncall_now(session: SessionDep, clock: ClockDep, actor: Reader,
               team: Annotated[str, Query(pattern=KEY)], at: AwareDatetime | None = None) -> list[OncallNowOut]:
    answers = schedules.who_is_oncall(session, team_key=team, at=at or clock.now())
    names = schedules.user_names(session, [u for _, u in answers if u is not None])
    return [OncallNowOut(schedule=s.key, user_id=u, name=names.get(u) if u is not None else None)
            for s, u in answers]


@router.get("/oncall/schedules/{key}/overrides", response_model=list[OverrideOut], summary="Overrides from now on")
def list_overrides(key: Key, session: SessionDep, clock: ClockDep, actor: Reader) -> list[OverrideOut]:
    row = schedules.schedule_by_key(session, key)
    return [OverrideOut.model_validate(o) for o in schedules.overrides_of(session, row.id, since=clock.now())]


@router.post("/oncall/schedules/{key}/overrides", response_model=OverrideOut, status_code=201,
             summary="Someone covers a period (no one: the period is left uncovered)")
def add_override(key: Key, body: OverrideIn, session: SessionDep, clock: ClockDep, actor: Admin) -> OverrideOut:
    row = schedules.schedule_by_key(session, key)
    return OverrideOut.model_validate(schedules.add_override(
        session, row, starts_at=body.starts_at, ends_at=body.ends_at, user_id=body.user_id, reason=body.reason,
        actor=actor, now=clock.now()))


@router.delete("/oncall/schedules/{key}/overrides/{override_id}", status_code=204, summary="Remove an override")
def remove_override(key: Key, override_id: Id, session: SessionDep, actor: Admin) -> None:
    schedules.remove_override(session, schedules.schedule_by_key(session, key), override_id)


@router.get("/oncall/schedules/{key}/swaps", response_model=list[SwapOut], summary="Shift swaps from now on")
def list_swaps(key: Key, session: SessionDep, clock: ClockDep, actor: Reader) -> list[SwapOut]:
    row = schedules.schedule_by_key(session, key)
    return [SwapOut.model_validate(s) for s in schedules.swaps_of(session, row.id, since=clock.now())]


@router.post("/oncall/schedules/{key}/swaps", response_model=SwapOut, status_code=201,
             summary="Record a shift swap (one of the two people, or a schedule administrator)")
def add_swap(key: Key, body: SwapIn, session: SessionDep, clock: ClockDep, actor: Swapper) -> SwapOut:
    row = schedules.schedule_by_key(session, key)
    return SwapOut.model_validate(schedules.add_swap(
        session, row, starts_at=body.starts_at, ends_at=body.ends_at, giver_id=body.giver_id,
        taker_id=body.taker_id, reason=body.reason, actor=actor, now=clock.now()))


# ---------------------------------------------------------------- iCalendar feeds


def _feed_out(row: OncallFeed, settings: SettingsDep, token: str | None = None) -> FeedOut:
    out = FeedOut.model_validate(row)
    if token is not None:
        out.url = f"{settings.base_url.rstrip('/')}/api/v1/oncall/feeds/{token}.ics"
    return out


@router.post("/oncall/schedules/{key}/feeds", response_model=FeedOut, status_code=201,
             summary="A secret iCalendar feed URL for the schedule (shown once)")
def create_schedule_feed(key: Key, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                         actor: Admin) -> FeedOut:
    row, token = schedules.create_feed(session, schedule=schedules.schedule_by_key(session, key), user_id=None,
                                       actor=actor, now=clock.now())
    return _feed_out(row, settings, token)


@router.post("/oncall/me/feeds", response_model=FeedOut, status_code=201,
             summary="A secret iCalendar feed URL of my own shifts on every schedule (shown once)")
def create_my_feed(session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Reader) -> FeedOut:
    row, token = schedules.create_feed(session, schedule=None, user_id=actor.user_id, actor=actor, now=clock.now())
    return _feed_out(row, settings, token)


@router.get("/oncall/me/feeds", response_model=list[FeedOut], summary="My feeds that still work")
def list_my_feeds(session: SessionDep, settings: SettingsDep, actor: Reader) -> list[FeedOut]:
    return [_feed_out(f, settings) for f in schedules.feeds_of(session, user_id=actor.user_id)]


@router.delete("/oncall/feeds/{feed_id}", status_code=204, summary="Revoke a feed: its URL stops working")
def revoke_feed(feed_id: Id, session: SessionDep, clock: ClockDep, actor: Reader) -> None:
    schedules.revoke_feed(session, feed_id, actor=actor, now=clock.now())


@router.get("/oncall/feeds/{token}.ics", dependencies=[Depends(public)], response_class=Response,
            summary="The iCalendar feed behind a secret URL (the token is the credential)")
def feed(token: Annotated[str, Path(min_length=8, max_length=100)], session: SessionDep, clock: ClockDep) -> Response:
    body = schedules.feed_calendar(session, token, now=clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"cache-control": "private, max-age=300"})


# ---------------------------------------------------------------- ladders


@router.get("/oncall/ladders", response_model=list[LadderOut], summary="Escalation ladders in the order tried")
def list_ladders(session: SessionDep, actor: Reader) -> list[LadderOut]:
    return [LadderOut.model_validate(row) for row in ladders.list_ladders(session)]


@router.post("/oncall/ladders", response_model=LadderOut, status_code=201, summary="Add an escalation ladder")
def create_ladder(body: LadderIn, session: SessionDep, clock: ClockDep, actor: Admin) -> LadderOut:
    return LadderOut.model_validate(ladders.save_ladder(session, create=True, now=clock.now(), **body.model_dump()))


@router.get("/oncall/ladders/{key}", response_model=LadderOut, summary="One escalation ladder")
def get_ladder(key: Key, session: SessionDep, actor: Reader) -> LadderOut:
    return LadderOut.model_validate(ladders.ladder_by_key(session, key))


@router.put("/oncall/ladders/{key}", response_model=LadderOut,
            summary="Change a ladder: a new version; running escalations keep the copy they started with")
def update_ladder(key: Key, body: LadderIn, session: SessionDep, clock: ClockDep, actor: Admin) -> LadderOut:
    if body.key != key:
        raise Invalid(f"the key is {key}; a ladder's key never changes", field="key")
    return LadderOut.model_validate(ladders.save_ladder(session, create=False, now=clock.now(), **body.model_dump()))


# ---------------------------------------------------------------- escalations and pages


@router.post("/cases/{case_id}/escalate", response_model=EscalationOut, status_code=201,
             summary="Escalate a case by hand, with a reason (the ladder that applies, or the one named)")
def escalate(case_id: Id, body: EscalateIn, session: SessionDep, clock: ClockDep, actor: Escalator) -> EscalationOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_ESCALATE, for_update=True)
    row = escalations.start(session, case.id, trigger="manual", reason=body.reason, actor=actor, now=clock.now(),
                            ladder_key=body.ladder)
    assert row is not None  # a person's escalation either starts or is refused with a reason
    return EscalationOut.model_validate(row)


@router.get("/cases/{case_id}/escalations", response_model=list[EscalationOut], summary="The case's escalations")
def case_escalations(case_id: Id, session: SessionDep, actor: CaseReader) -> list[EscalationOut]:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    return [EscalationOut.model_validate(e) for e in escalations.escalations_of(session, case.id)]


@router.post("/escalations/{escalation_id}/acknowledge", response_model=EscalationOut,
             summary="Take it: every pending step stops (someone paged for it, or an oncall responder)")
def acknowledge(escalation_id: Id, session: SessionDep, clock: ClockDep, actor: Anyone) -> EscalationOut:
    row = escalations.escalation_by_id(session, escalation_id, for_update=True)
    case_for(session, actor, row.case_id, permission=Perm.CASE_READ)  # out of scope: as if it did not exist
    return EscalationOut.model_validate(escalations.acknowledge_as(session, actor, row, now=clock.now(), via="api"))


@router.post("/escalations/{escalation_id}/resolve", response_model=EscalationOut,
             summary="End an escalation (the case ends it by itself when solved)")
def resolve(escalation_id: Id, body: ResolveIn, session: SessionDep, clock: ClockDep,
            actor: Responder) -> EscalationOut:
    row = escalations.escalation_by_id(session, escalation_id, for_update=True)
    case_for(session, actor, row.case_id, permission=Perm.CASE_READ)
    return EscalationOut.model_validate(escalations.resolve(session, row, actor=actor, now=clock.now(),
                                                            reason=body.reason))


@router.get("/oncall/me/pages", response_model=list[PageOut], summary="Pages sent to me, newest first")
def my_pages(session: SessionDep, actor: Anyone, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[PageOut]:
    return [PageOut.model_validate(p) for p in paging.pages_of_user(session, actor.user_id, limit=limit)]


@router.get("/oncall/metrics", response_model=OncallMetricsOut,
            summary="Escalation rate (T1 -> T2, -> oncall), escalations by trigger, time to acknowledge, oncall load")
def oncall_metrics(session: SessionDep, clock: ClockDep, actor: Reader, since: AwareDatetime | None = None,
                   until: AwareDatetime | None = None) -> OncallMetricsOut:
    end = until or clock.now()
    return OncallMetricsOut(**metrics.figures(session, since=since or end - timedelta(days=28), until=end).as_dict())


# ---------------------------------------------------------------- crises


def _crisis_out(session: SessionDep, row: Crisis) -> CrisisOut:
    out = CrisisOut.model_validate(row)
    out.case_ids = [c.id for c in crises.linked_cases(session, row.id)]
    out.timeline = [CrisisEventOut.model_validate(e) for e in crises.timeline(session, row.id)]
    return out


@router.post("/cases/{case_id}/crisis", response_model=CrisisOut, status_code=201,
             summary="Escalate a case to a crisis: severity, owner, timeline; the oncall is paged")
def declare_crisis(case_id: Id, body: CrisisIn, session: SessionDep, clock: ClockDep, actor: Responder) -> CrisisOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ, for_update=True)
    row = crises.declare(session, case.id, title=body.title, severity=body.severity, summary=body.summary,
                         owner_id=body.owner_id or actor.user_id, actor=actor, now=clock.now())
    return _crisis_out(session, row)


@router.get("/crises", response_model=list[CrisisOut], summary="Crises, newest first")
def list_crises(session: SessionDep, actor: CrisisReader, open_only: bool = False) -> list[CrisisOut]:
    return [CrisisOut.model_validate(c) for c in crises.list_crises(session, open_only=open_only)]


@router.get("/crises/{crisis_id}", response_model=CrisisOut, summary="A crisis with its cases and timeline")
def get_crisis(crisis_id: Id, session: SessionDep, actor: CrisisReader) -> CrisisOut:
    return _crisis_out(session, crises.crisis_by_id(session, crisis_id))


@router.post("/crises/{crisis_id}/updates", response_model=CrisisOut,
             summary="A status update (it may change the status, severity or owner)")
def update_crisis(crisis_id: Id, body: CrisisUpdateIn, session: SessionDep, clock: ClockDep,
                  actor: Responder) -> CrisisOut:
    row = crises.post_update(session, crises.crisis_by_id(session, crisis_id), body=body.body, status=body.status,
                             severity=body.severity, owner_id=body.owner_id, actor=actor, now=clock.now())
    return _crisis_out(session, row)


@router.post("/crises/{crisis_id}/cases", response_model=CrisisOut, summary="Link another case to the crisis")
def link_case(crisis_id: Id, body: CrisisLinkIn, session: SessionDep, clock: ClockDep, actor: Responder) -> CrisisOut:
    row = crises.crisis_by_id(session, crisis_id)
    case = case_for(session, actor, body.case_id, permission=Perm.CASE_READ)
    crises.link_case(session, row, case.id, actor=actor, now=clock.now())
    return _crisis_out(session, row)


# ---------------------------------------------------------------- webhook endpoints


@router.get("/webhooks", response_model=list[WebhookOut], summary="Webhook endpoints (secrets not shown)")
def list_webhooks(session: SessionDep, actor: HookAdmin) -> list[WebhookOut]:
    return [WebhookOut.model_validate(e) for e in webhooks.list_endpoints(session)]


def _with_secret(row: webhooks.WebhookEndpoint) -> WebhookSecretOut:
    return WebhookSecretOut.model_validate(row)


@router.post("/webhooks", response_model=WebhookSecretOut, status_code=201,
             summary="Add a receiver; the answer holds its signing secret (Standard Webhooks)")
def create_webhook(body: WebhookIn, session: SessionDep, clock: ClockDep, actor: HookAdmin) -> WebhookSecretOut:
    row = webhooks.create_endpoint(session, key=body.key, url=body.url, event_types=body.event_types,
                                   description=body.description, now=clock.now())
    row.is_active = body.is_active
    return _with_secret(row)


@router.put("/webhooks/{key}", response_model=WebhookOut, summary="Change a receiver's URL, events or state")
def update_webhook(key: Key, body: WebhookIn, session: SessionDep, clock: ClockDep, actor: HookAdmin) -> WebhookOut:
    row = webhooks.update_endpoint(session, webhooks.endpoint_by_key(session, key), url=body.url,
                                   event_types=body.event_types, description=body.description,
                                   is_active=body.is_active, now=clock.now())
    return WebhookOut.model_validate(row)


@router.post("/webhooks/{key}/rotate-secret", response_model=WebhookSecretOut,
             summary="A new signing secret (the old one stops working at once)")
def rotate_secret(key: Key, session: SessionDep, clock: ClockDep, actor: HookAdmin) -> WebhookSecretOut:
    return _with_secret(webhooks.rotate_secret(webhooks.endpoint_by_key(session, key), now=clock.now()))
