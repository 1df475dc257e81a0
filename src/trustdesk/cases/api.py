"""JSON routes of cases: parse, authorize, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from trustdesk.cases import assignment, repository, service, views
from trustdesk.cases.access import case_for, scope_for
from trustdesk.cases.models import Case, Channel, Priority, Status
from trustdesk.cases.schemas import (
    AssignIn,
    AttachmentIn,
    AttachmentOut,
    CaseCreate,
    CaseDetailOut,
    CaseOut,
    CasePage,
    CaseUpdate,
    CustomerCaseDetailOut,
    CustomerCasePage,
    EventOut,
    InternalRequestIn,
    LinkIn,
    MergeIn,
    MessageIn,
    MessageOut,
    NoteIn,
    RequestTypeOut,
    RerouteIn,
    StatusIn,
)
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Forbidden, Invalid, PreconditionFailed, PreconditionRequired
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import PRINTABLE
from trustdesk.directory import service as directory
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep
from trustdesk.web.responses import ModelResponse, once_per_key

router = APIRouter(tags=["cases"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _detail_response(session: Any, case: Case, actor: Actor) -> ModelResponse:
    headers = {"ETag": views.etag(case)} if actor.is_agent else {}
    return ModelResponse(views.case_detail(session, case, actor), headers=headers)


def _created_response(session: Any, opened: service.Opened, actor: Actor) -> ModelResponse:
    headers = {"Location": f"/api/v1/cases/{opened.case.id}"}
    if actor.is_agent:
        headers["ETag"] = views.etag(opened.case)
    return ModelResponse(views.opened_detail(session, opened, actor), status_code=201, headers=headers)


@router.post("/cases", status_code=201, response_model=CaseDetailOut | CustomerCaseDetailOut,
             summary="Open a case from any channel")
def create_case(body: CaseCreate, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                actor: Annotated[Actor, Depends(Requires(Perm.CASE_SUBMIT, Perm.CASE_INTAKE))],
                idempotency_key: IdempotencyKey = None) -> Response:
    now = clock.now()

    def work() -> Response:
        market = directory.market_by_code(session, body.market)
        if body.channel is Channel.INTERNAL_FORM:
            raise Invalid("internal requests go through /api/v1/internal-requests", field="channel")
        if body.channel is Channel.APPEAL_FORM:  # the appeal's rules (window, one open, Art. 23) live there
            raise Invalid("appeals go through /api/v1/appeals, against the decision they contest", field="channel")
        if actor.can(Perm.CASE_INTAKE):
            if body.party is None:
                raise Invalid("intake on behalf of a party needs the party", field="party")
            party = service.upsert_party(session, market, body.party, now=now)
        elif actor.is_agent:
            raise Forbidden("opening cases on behalf of a party needs the cases.intake permission")
        else:
            if body.party is not None:
                raise Invalid("customers open cases for themselves; leave party out", field="party")
            if body.queue_id is not None or body.topic is not None:
                raise Invalid("customers cannot choose a queue or topic", field="queue_id")
            party = service.party_for_customer(session, actor, market, now=now)
        queue = directory.queue_by_id(session, body.queue_id) if body.queue_id is not None else None
        opened = service.open_case(session, service.NewCase(
            channel=body.channel, market=market, party=party, subject=body.subject, body=body.body,
            language=body.language, priority=body.priority if actor.is_agent else Priority.NORMAL, queue=queue,
            topic=body.topic, tags=body.tags, custom_fields=body.custom_fields, attachments=body.attachments,
        ), actor=actor, settings=settings, now=now)
        return _created_response(session, opened, actor)

    return once_per_key(session, actor, idempotency_key, body.model_dump(mode="json"), now, work)


@router.get("/cases", response_model=CasePage | CustomerCasePage, summary="List cases (keyset pagination)")
def list_cases(
    session: SessionDep, actor: Annotated[Actor, Depends(Requires(Perm.CASE_READ, Perm.CASE_READ_OWN))],
    status: Annotated[list[Status] | None, Query()] = None,
    queue_id: FilterId = None, team_id: FilterId = None,
    market: Annotated[str | None, Query(max_length=8, pattern=PRINTABLE)] = None,
    assignee_id: FilterId = None, unassigned: bool = False, priority: Priority | None = None,
    channel: Channel | None = None, tag: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    sort: str = "created_desc", cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    filters = repository.CaseFilters(
        status=[s.value for s in status] if status else None, queue_id=queue_id, team_id=team_id, market=market,
        assignee_id=assignee_id, unassigned=unassigned, priority=priority.value if priority else None,
        channel=channel.value if channel else None, tag=tag, q=q, sort=sort,
    )
    page, next_cursor = repository.list_cases(session, filters, scope_for(actor), limit=limit, cursor=cursor)
    if actor.is_agent:
        return ModelResponse(CasePage(items=views.case_outs(session, page), next_cursor=next_cursor))
    return ModelResponse(CustomerCasePage(items=views.customer_case_outs(session, page), next_cursor=next_cursor))


@router.get("/cases/{case_id}", response_model=CaseDetailOut | CustomerCaseDetailOut, summary="One case")
def get_case(case_id: RowId, session: SessionDep,
             actor: Annotated[Actor, Depends(Requires(Perm.CASE_READ, Perm.CASE_READ_OWN))]) -> ModelResponse:
    perm = Perm.CASE_READ if actor.is_agent else Perm.CASE_READ_OWN
    return _detail_response(session, case_for(session, actor, case_id, permission=perm), actor)


@router.patch("/cases/{case_id}", response_model=CaseDetailOut, summary="Change fields (needs If-Match)")
def patch_case(case_id: RowId, body: CaseUpdate, session: SessionDep, clock: ClockDep,
               actor: Annotated[Actor, Depends(Requires(Perm.CASE_UPDATE))],
               if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> ModelResponse:
    case = case_for(session, actor, case_id, permission=Perm.CASE_UPDATE, for_update=True)
    check_version(case, if_match)
    service.update_case(session, case, body.model_dump(exclude_unset=True), actor=actor, now=clock.now())
    session.flush()
    return _detail_response(session, case, actor)


def check_version(case: Case, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag you read, so no change is lost", field="If-Match")
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and views.etag(case) not in wanted:
        raise PreconditionFailed(f"the case is at version {case.version}; reload it and apply your change again",
                                 field="If-Match", current_version=case.version)


@router.post("/cases/{case_id}/messages", status_code=201, response_model=MessageOut,
             summary="Reply (customer or agent) or add an internal note")
def add_message(case_id: RowId, body: MessageIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                actor: Annotated[Actor, Depends(Requires(Perm.CASE_REPLY, Perm.CASE_NOTE, Perm.CASE_REPLY_OWN))],
                ) -> MessageOut:
    now = clock.now()
    if not actor.is_agent:
        if body.visibility.value != "public" or body.status is not None:
            raise Invalid("customers send public messages only", field="visibility")
        case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY_OWN, for_update=True)
        message = service.add_customer_message(session, case, body=body.body, actor=actor, settings=settings,
                                               now=now, attachments=body.attachments)
    elif body.visibility.value == "internal":
        case = case_for(session, actor, case_id, permission=Perm.CASE_NOTE, for_update=True)
        message = service.add_internal_note(session, case, body=body.body, actor=actor, settings=settings, now=now)
    else:
        case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY, for_update=True)
        message = service.add_agent_reply(session, case, body=body.body, actor=actor, settings=settings, now=now,
                                          then_status=body.status, attachments=body.attachments)
    return MessageOut.model_validate(message)


@router.post("/cases/{case_id}/notes", status_code=201, response_model=MessageOut, summary="Internal note")
def add_note(case_id: RowId, body: NoteIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
             actor: Annotated[Actor, Depends(Requires(Perm.CASE_NOTE))]) -> MessageOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_NOTE, for_update=True)
    note = service.add_internal_note(session, case, body=body.body, actor=actor, settings=settings, now=clock.now())
    return MessageOut.model_validate(note)


@router.post("/cases/{case_id}/attachments", status_code=201, response_model=list[AttachmentOut],
             summary="Attach file metadata")
def add_attachments(case_id: RowId, body: Annotated[list[AttachmentIn], Body(min_length=1)], session: SessionDep,
                    clock: ClockDep, settings: SettingsDep,
                    actor: Annotated[Actor, Depends(Requires(Perm.CASE_REPLY, Perm.CASE_REPLY_OWN))],
                    ) -> list[AttachmentOut]:
    perm = Perm.CASE_REPLY if actor.is_agent else Perm.CASE_REPLY_OWN
    case = case_for(session, actor, case_id, permission=perm, for_update=True)
    stored = service.add_attachments(session, case, body, actor=actor, settings=settings, now=clock.now())
    return [AttachmentOut.model_validate(a) for a in stored]


@router.post("/cases/{case_id}/status", response_model=CaseOut, summary="Change status")
def set_status(case_id: RowId, body: StatusIn, session: SessionDep, clock: ClockDep,
               actor: Annotated[Actor, Depends(Requires(Perm.CASE_STATUS))]) -> CaseOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_STATUS, for_update=True)
    service.change_status(session, case, body.status, actor=actor, now=clock.now(), reason=body.reason,
                          waiting_on=body.waiting_on)
    session.flush()
    return views.case_outs(session, [case])[0]


@router.post("/cases/{case_id}/assign", response_model=CaseOut, summary="Assign to an agent (or unassign)")
def assign(case_id: RowId, body: AssignIn, session: SessionDep, clock: ClockDep,
           actor: Annotated[Actor, Depends(Requires(Perm.CASE_REPLY))]) -> CaseOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY, for_update=True)
    agent = directory.agent_by_id(session, body.agent_id) if body.agent_id is not None else None
    service.check_may_assign(actor, case, body.agent_id)
    service.assign_case(session, case, agent, actor=actor, now=clock.now())
    session.flush()
    return views.case_outs(session, [case])[0]


@router.post("/cases/{case_id}/reroute", response_model=CaseOut, summary="Move to another queue, with a reason")
def reroute(case_id: RowId, body: RerouteIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
            actor: Annotated[Actor, Depends(Requires(Perm.CASE_REROUTE))]) -> CaseOut:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REROUTE, for_update=True)
    queue = directory.queue_by_id(session, body.queue_id)
    service.reroute_case(session, case, to_queue=queue, reason=body.reason, note=body.note, actor=actor,
                         settings=settings, now=clock.now())
    session.flush()
    return views.case_outs(session, [case])[0]


@router.post("/cases/{case_id}/links", status_code=201, summary="Link to another case")
def link(case_id: RowId, body: LinkIn, session: SessionDep, clock: ClockDep,
         actor: Annotated[Actor, Depends(Requires(Perm.CASE_LINK))]) -> dict[str, Any]:
    case = case_for(session, actor, case_id, permission=Perm.CASE_LINK, for_update=True)
    other = case_for(session, actor, body.case_id, permission=Perm.CASE_LINK, field="case_id")
    created = service.link_cases(session, case, other, body.kind, actor=actor, now=clock.now())
    return {"id": created.id, "case_id": case.id, "linked_case_id": other.id, "kind": created.kind}


@router.post("/cases/{case_id}/merge", response_model=CaseOut, summary="Merge this case into another")
def merge(case_id: RowId, body: MergeIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
          actor: Annotated[Actor, Depends(Requires(Perm.CASE_LINK))]) -> CaseOut:
    source = case_for(session, actor, case_id, permission=Perm.CASE_LINK, for_update=True)
    target = case_for(session, actor, body.into_case_id, permission=Perm.CASE_LINK, for_update=True,
                      field="into_case_id")
    service.merge_case(session, source, target, actor=actor, settings=settings, now=clock.now())
    session.flush()
    return views.case_outs(session, [target])[0]


@router.get("/cases/{case_id}/events", response_model=list[EventOut], summary="The case's timeline (audit trail)")
def timeline(case_id: RowId, session: SessionDep,
             actor: Annotated[Actor, Depends(Requires(Perm.CASE_READ))]) -> list[EventOut]:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    return [EventOut.model_validate(e) for e in repository.events(session, case.id)]


@router.post("/queues/{queue_id}/next", response_model=CaseOut | None,
             summary="Get next: claim the oldest unassigned case in a queue")
def claim_next(queue_id: RowId, session: SessionDep, clock: ClockDep, response: Response,
               actor: Annotated[Actor, Depends(Requires(Perm.QUEUE_CLAIM))]) -> CaseOut | None:
    directory.queue_visible(session, actor, queue_id)
    if actor.agent_id is None:
        raise Forbidden("only agents claim cases")
    agent = directory.agent_by_id(session, actor.agent_id)
    case = assignment.claim_next(session, agent, queue_id=queue_id, now=clock.now(), actor=actor)
    if case is None:
        response.status_code = 204
        return None
    session.flush()
    return views.case_outs(session, [case])[0]


@router.get("/request-types", response_model=list[RequestTypeOut], summary="Internal request types and their fields")
def request_types(session: SessionDep,
                  actor: Annotated[Actor, Depends(Requires(Perm.INTERNAL_REQUEST))]) -> list[RequestTypeOut]:
    return [RequestTypeOut.model_validate(t) for t in service.list_request_types(session)]


@router.post("/internal-requests", status_code=201, response_model=CustomerCaseDetailOut,
             summary="File an internal request")
def internal_request(body: InternalRequestIn, session: SessionDep, clock: ClockDep,
                     settings: SettingsDep, actor: Annotated[Actor, Depends(Requires(Perm.INTERNAL_REQUEST))],
                     idempotency_key: IdempotencyKey = None) -> Response:
    now = clock.now()

    def work() -> Response:
        opened = service.file_internal_request(session, actor, body.request_type, body.market, body.subject,
                                               body.body, body.fields, body.priority, settings=settings, now=now)
        return _created_response(session, opened, actor)

    return once_per_key(session, actor, idempotency_key, body.model_dump(mode="json"), now, work)
