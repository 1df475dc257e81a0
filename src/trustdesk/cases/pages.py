"""Case pages: the console (dashboard, queues, the case view and its actions) on ``router``, and the
help center and internal request form on ``help_router``.

Handlers are thin: they read the form, load through the access gate, call the service and render.
A refused form (Invalid, Conflict) is shown again with the message next to its field and what the
person typed, inside a savepoint so nothing of it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.appeals import page_queries as appeal_queries
from trustdesk.assist import template_pages
from trustdesk.cases import assignment, page_queries, repository, service
from trustdesk.cases.access import case_by_reference_for, case_for, scope_for
from trustdesk.cases.models import Case, Channel, Message, Priority, RequestType, RerouteReason, Status
from trustdesk.cases.repository import OPEN_STATUSES, CaseFilters
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Forbidden, Invalid, NotFound
from trustdesk.core.events import CaseEvent
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory import page_queries as directory_queries
from trustdesk.directory import service as directory
from trustdesk.directory import views as directory_views
from trustdesk.feedback import sentiment as feedback_sentiment
from trustdesk.oncall import crises as oncall_crises
from trustdesk.oncall import escalations as oncall_escalations
from trustdesk.oncall import views as oncall_views
from trustdesk.routing import service as routing
from trustdesk.sla import policies as sla_policies
from trustdesk.sla import timers as sla_timers
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep, optional_actor, public, state
from trustdesk.web.pages import (
    FormDep,
    FormFailure,
    attempt,
    failure_from,
    form_text,
    htmx_target,
    notice,
    parse_id,
    render_console,
    render_help,
    see_other,
    with_query,
)
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
help_router = APIRouter(include_in_schema=False)

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Reference = Annotated[str, Path(min_length=3, max_length=32)]
QueueReader = Annotated[Actor, Depends(PageRequires(Perm.QUEUE_READ))]
QueueClaimer = Annotated[Actor, Depends(PageRequires(Perm.QUEUE_CLAIM))]
CaseReader = Annotated[Actor, Depends(PageRequires(Perm.CASE_READ))]
CaseReplier = Annotated[Actor, Depends(PageRequires(Perm.CASE_REPLY))]
CaseNoter = Annotated[Actor, Depends(PageRequires(Perm.CASE_NOTE))]
CaseStatusChanger = Annotated[Actor, Depends(PageRequires(Perm.CASE_STATUS))]
CaseRerouter = Annotated[Actor, Depends(PageRequires(Perm.CASE_REROUTE))]
CaseEscalator = Annotated[Actor, Depends(PageRequires(Perm.CASE_ESCALATE))]
OncallResponder = Annotated[Actor, Depends(PageRequires(Perm.ONCALL_RESPOND, in_house=True))]
Submitter = Annotated[Actor, Depends(PageRequires(Perm.CASE_SUBMIT))]
OwnReader = Annotated[Actor, Depends(PageRequires(Perm.CASE_READ_OWN))]
OwnReplier = Annotated[Actor, Depends(PageRequires(Perm.CASE_REPLY_OWN))]
Requester = Annotated[Actor, Depends(PageRequires(Perm.INTERNAL_REQUEST))]
ShortText = Annotated[str, Query(max_length=200)]

PAGE_SIZE = 25
STATUS_LABELS = {"new": "New", "open": "Open", "pending": "Pending", "on_hold": "On hold", "solved": "Solved",
                 "closed": "Closed"}
CHANNEL_LABELS = {"in_app_chat": "in-app chat", "web_form": "web form", "appeal_form": "appeal form",
                  "internal_form": "internal form", "api": "API", "email": "e-mail"}
STATUS_FILTERS: dict[str, tuple[str, list[str] | None]] = {
    "active": ("Open work", list(OPEN_STATUSES)),
    **{s.value: (STATUS_LABELS[s.value], [s.value]) for s in Status},
    "all": ("Any status", None),
}
SORT_LABELS = {repository.DUE_SORT: "Next due first", "created_desc": "Newest first", "created_asc": "Oldest first",
               "updated_desc": "Recently updated", "updated_asc": "Least recently updated"}
QUEUE_SORT = repository.DUE_SORT  # a support team works the soonest due first
ASSIGNEE_FILTERS = {"": "Anyone", "me": "Assigned to me", "unassigned": "Unassigned"}
REASON_LABELS = {
    RerouteReason.WRONG_TOPIC: "Wrong topic", RerouteReason.WRONG_MARKET: "Wrong market",
    RerouteReason.WRONG_LANGUAGE: "Wrong language", RerouteReason.WRONG_TIER: "Wrong tier",
    RerouteReason.NEEDS_SPECIALIST: "Needs a specialist", RerouteReason.OWNERSHIP_CHANGED: "Ownership changed",
    RerouteReason.CATALOGUE_GAP: "Gap in the service catalogue", RerouteReason.CUSTOMER_REQUEST: "Customer asked",
    RerouteReason.CAPACITY: "Capacity (team overloaded)", RerouteReason.TRIAGED: "Triaged (routed by a person)",
    RerouteReason.OTHER: "Other (explain in the note)", RerouteReason.ESCALATED: "Escalated (by a ladder)",
}
# What a person may pick when rerouting by hand: a ladder's move up a tier is the ladder's to make.
MANUAL_REASONS = [r for r in RerouteReason if r is not RerouteReason.ESCALATED]
# "Submit as": the status a public reply leaves the case in.
SUBMIT_AS = {"": None, "pending": Status.PENDING, "solved": Status.SOLVED}
# What a customer reads for each status.
CUSTOMER_STATUS = {
    "new": ("Received", "We have your request and will reply soon.", "received"),
    "open": ("In progress", "Our team is working on your request.", "progress"),
    "pending": ("Waiting for your reply", "We need a reply from you to continue.", "waiting"),
    "on_hold": ("In progress", "We are checking with another team and will update you.", "progress"),
    "solved": ("Solved", "We think this is solved. Reply if you still need help and we will reopen it.", "solved"),
    "closed": ("Closed", "This case is closed. If you need more help, please open a new case.", "closed"),
}


# ---------------------------------------------------------------- shared shaping


@dataclass
class CaseRow:
    case: Case
    party: str
    assignee: str | None
    queue: str | None
    market: str
    due_metric: str | None = None  # the soonest running SLA clock
    due_at: datetime | None = None


def case_rows(session: Session, cases: list[Case] | Any) -> list[CaseRow]:
    """Cases with the names a table shows, in a fixed number of queries."""
    parties = repository.parties_by_ids(session, {c.party_id for c in cases})
    markets = repository.market_codes(session, {c.market_id for c in cases})
    agents = directory_queries.agent_names(session, {c.assignee_id for c in cases})
    queues = directory_queries.queue_names(session, {c.queue_id for c in cases})
    due = sla_timers.next_due(session, [c.id for c in cases])
    return [CaseRow(case=c, party=parties[c.party_id].display_name if c.party_id in parties else "",
                    assignee=agents.get(c.assignee_id) if c.assignee_id else None,
                    queue=queues.get(c.queue_id) if c.queue_id else None, market=markets.get(c.market_id, ""),
                    due_metric=due[c.id][0] if c.id in due else None, due_at=due[c.id][1] if c.id in due else None)
            for c in cases]


def _label(value: Any) -> str:
    return str(value).replace("_", " ")


WAITING_ON_LABELS = {"customer": "the customer", "seller": "the seller", "third_party": "a third party",
                     "internal": "another team"}


def _minutes(value: Any) -> str:
    minutes = float(value or 0)
    return f"{minutes:g} min" if minutes < 120 else f"{minutes / 60:.1f} h".replace(".0 h", " h")


def describe_sla_event(kind: str, data: dict[str, Any]) -> str:
    """An ``sla.*`` event in words: which policy applied, and each clock paused, resumed, met, warned, missed."""
    metric = _label(data.get("metric", ""))
    if kind == "sla.applied":
        summary = (f"SLA policy {data.get('policy')} v{data.get('version')} applied ({data.get('priority')}, "
                   f"{data.get('calendar') or '24x7'})")
        if data.get("reason") == "priority_changed":
            summary += (f" after the priority changed from {data.get('previous_priority')} "
                        f"(was {data.get('previous_policy')} v{data.get('previous_version')}); running clocks "
                        "count on the new targets from their start")
        return summary
    if kind in ("sla.warned", "sla.breached"):
        what = "SLA warning" if kind == "sla.warned" else "SLA breached"
        due = data.get("due_at")
        return f"{what}: {metric}" + (f", due {str(due)[:16].replace('T', ' ')} UTC" if due else "")
    if kind == "sla.paused":
        waiting = WAITING_ON_LABELS.get(str(data.get("waiting_on")))
        return f"SLA clock paused: {metric}" + (f" (waiting on {waiting})" if waiting else "")
    if kind == "sla.resumed":
        return f"SLA clock resumed: {metric}" + (" (the case was reopened)" if data.get("reopened") else "")
    if kind == "sla.fulfilled":
        verdict = "SLA met in time" if data.get("in_time") else "SLA met late"
        basis = " business" if data.get("business") else ""
        return (f"{verdict}: {metric} after {_minutes(data.get('used_minutes'))} of "
                f"{_minutes(data.get('target_minutes'))}{basis}")
    return ", ".join(f"{_label(k)}: {v}" for k, v in data.items()) or kind


@dataclass
class TimelineEntry:
    event: CaseEvent
    kind: str
    summary: str
    who: str


def describe_events(session: Session, actor: Actor, case: Case, events: list[CaseEvent]) -> list[TimelineEntry]:
    """Each event with a sentence a lead reads, naming the people and queues involved."""
    agent_ids: set[int | None] = set()
    queue_ids: set[int | None] = set()
    case_ids: set[int] = set()
    for event in events:
        data = event.data
        agent_ids |= {data.get("from_agent_id"), data.get("to_agent_id"), data.get("unassigned_agent_id")}
        queue_ids |= {data.get("queue_id"), data.get("from_queue_id"), data.get("to_queue_id")}
        for key in ("case_id", "into_case_id", "from_case_id"):
            if isinstance(data.get(key), int):
                case_ids.add(data[key])
    agents = directory_queries.agent_names(session, agent_ids)
    queues = directory_queries.queue_names(session, queue_ids)
    users = directory_queries.user_names(session, {e.actor_id for e in events} | {
        u for e in events if e.type.startswith(oncall_views.ONCALL_EVENTS) for u in oncall_views.user_ids_in(e.data)})
    refs = page_queries.references(session, case_ids, scope_for(actor))

    def agent(agent_id: Any) -> str:
        return agents.get(agent_id, f"agent #{agent_id}") if agent_id else "nobody"

    def queue(queue_id: Any) -> str:
        return queues.get(queue_id, f"queue #{queue_id}") if queue_id else "no queue"

    def other_case(case_id: Any) -> str:
        return refs.get(case_id, "a case outside your scope")

    entries = []
    for event in events:
        data, kind, summary = event.data, event.type.split(".")[-1], ""
        if event.type == "case.created":
            channel = str(data.get("channel", case.channel))
            summary = (f"Opened via {CHANNEL_LABELS.get(channel, _label(channel))} in {data.get('market', '')}, "
                       f"language {data.get('language', case.language)}, priority {data.get('priority', '')}")
            if data.get("request_type"):
                summary += f", request type {data['request_type']}"
        elif event.type == "case.routed":
            summary = f"Routed to {queue(data.get('queue_id'))} ({_label(data.get('source', ''))})"
        elif event.type.startswith("sla."):
            summary = describe_sla_event(event.type, data)
        elif event.type.startswith(oncall_views.ONCALL_EVENTS):
            kind = "escalation"
            summary = oncall_views.describe(event.type, data, lambda u: users.get(u, f"user #{u}"))
        elif event.type == "case.message_added":
            if data.get("visibility") == "internal":
                summary = "Internal note added"
            else:
                summary = {"customer": "Customer wrote", "agent": "Agent replied publicly", "bot": "Assistant replied",
                           "system": "System message"}.get(str(data.get("author_type")), "Message added")
            if data.get("chars"):
                summary += f" ({data['chars']} characters)"
        elif event.type == "case.status_changed":
            kind = "status"
            summary = (f"Status {STATUS_LABELS.get(data.get('from', ''), data.get('from'))} → "
                       f"{STATUS_LABELS.get(data.get('to', ''), data.get('to'))}")
            if data.get("reason"):
                summary += f" ({_label(data['reason'])})"
            if data.get("reopened"):
                summary += ", reopened"
        elif event.type == "case.assigned":
            summary = (f"Assigned to {agent(data.get('to_agent_id'))}" if data.get("to_agent_id")
                       else f"Unassigned from {agent(data.get('from_agent_id'))}")
            if data.get("reason"):
                summary += f" ({_label(data['reason'])})"
        elif event.type == "case.rerouted":
            reason = data.get("reason", "")
            summary = (f"Rerouted from {queue(data.get('from_queue_id'))} to {queue(data.get('to_queue_id'))}; "
                       f"reason: {REASON_LABELS.get(reason, _label(reason))}")
            if data.get("note"):
                summary += f". Note: {data['note']}"
        elif event.type == "case.updated":
            changes = data.get("changes", {})
            summary = "Changed " + ", ".join(
                f"{_label(field)} from {change.get('from')!s} to {change.get('to')!s}"
                for field, change in changes.items()) if changes else "Updated"
        elif event.type == "case.linked":
            summary = f"Linked to {other_case(data.get('case_id'))} ({_label(data.get('kind', ''))})"
        elif event.type == "case.merged":
            summary = (f"Merged into {other_case(data.get('into_case_id'))}" if data.get("into_case_id")
                       else f"{other_case(data.get('from_case_id'))} merged into this case")
        elif event.type == "case.attachments_added":
            summary = f"{len(data.get('attachment_ids', []))} attachment(s) added"
        elif event.type == "case.template_used":
            summary = template_pages.describe_use(data)
        elif event.type == feedback_sentiment.FLAGGED:
            summary = (f"Flagged by the sentiment rule “{data.get('rule', '')}”: a customer message "
                       f"scored {data.get('score')}")
        else:
            summary = ", ".join(f"{_label(k)}: {v}" for k, v in data.items()) or event.type
        if event.actor_id:
            who = users.get(event.actor_id, f"user #{event.actor_id}")
        else:
            who = {"system": "TrustDesk", "rule": "A rule", "bot": "The assistant"}.get(event.actor_type,
                                                                                       event.actor_type)
        entries.append(TimelineEntry(event=event, kind=kind, summary=summary, who=who))
    return entries


# ---------------------------------------------------------------- console: dashboard


@router.get("/console")
def dashboard(request: Request, session: SessionDep, actor: QueueReader) -> HTMLResponse:
    counts = [c for c in directory_views.queue_counts(session, directory.queues_visible_to(session, actor))
              if c.queue.is_active]
    totals = {key: sum(getattr(c, key) for c in counts) for key in ("unassigned", "new", "open", "pending", "on_hold")}
    mine: list[CaseRow] = []
    if actor.agent_id is not None:
        filters = CaseFilters(status=list(OPEN_STATUSES), assignee_id=actor.agent_id, sort="updated_desc")
        page, _cursor = repository.list_cases(session, filters, scope_for(actor), limit=50, cursor=None)
        mine = case_rows(session, list(page))
    return render_console(request, session, actor, "cases/dashboard.html",
                          {"queues": counts, "totals": totals, "mine": mine}, active="dashboard")


# ---------------------------------------------------------------- console: a queue


@router.get("/console/queues/{queue_id}")
def queue_page(request: Request, queue_id: RowId, session: SessionDep, actor: QueueReader,
               status: ShortText = "active", priority: ShortText = "", assignee: ShortText = "", q: ShortText = "",
               sort: ShortText = QUEUE_SORT, cursor: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    queue, team = directory.queue_visible(session, actor, queue_id)
    status = status if status in STATUS_FILTERS else "active"
    priority = priority if priority in set(Priority) else ""
    assignee = assignee if assignee in ASSIGNEE_FILTERS else ""
    sort = sort if sort in SORT_LABELS else QUEUE_SORT
    q = q.strip()
    filters = CaseFilters(
        status=STATUS_FILTERS[status][1], queue_id=queue.id, priority=priority or None, q=q or None, sort=sort,
        assignee_id=actor.agent_id if assignee == "me" else None, unassigned=assignee == "unassigned",
    )
    if assignee == "me" and actor.agent_id is None:
        filters.assignee_id = -1  # not an agent: nothing is assigned to them
    page, next_cursor = repository.list_cases(session, filters, scope_for(actor), limit=PAGE_SIZE,
                                              cursor=cursor or None)
    total = repository.count_cases(session, filters, scope_for(actor))
    params = {"status": status, "priority": priority, "assignee": assignee, "q": q, "sort": sort}
    context = {
        "queue": queue, "team": team, "rows": case_rows(session, list(page)), "total": total, "params": params,
        "next_url": with_query(f"/console/queues/{queue.id}", **params, cursor=next_cursor) if next_cursor else None,
        "first_url": with_query(f"/console/queues/{queue.id}", **params) if cursor else None,
        "status_filters": [(k, v[0]) for k, v in STATUS_FILTERS.items()],
        "priorities": [(p.value, p.value.capitalize()) for p in Priority],
        "assignee_filters": list(ASSIGNEE_FILTERS.items()), "sorts": list(SORT_LABELS.items()),
    }
    if htmx_target(request) == "queue-results":
        return render(request, "cases/_queue_results.html", context)
    return render_console(request, session, actor, "cases/queue.html", context, active=f"queue-{queue.id}")


@router.post("/console/queues/{queue_id}/next")
def claim_next(request: Request, queue_id: RowId, session: SessionDep, clock: ClockDep,
               actor: QueueClaimer) -> Response:
    directory.queue_visible(session, actor, queue_id)
    if actor.agent_id is None:
        raise Forbidden("only agents claim cases; ask an admin to set up your agent profile")
    agent = directory.agent_by_id(session, actor.agent_id)
    case = assignment.claim_next(session, agent, queue_id=queue_id, now=clock.now(), actor=actor)
    if case is None:
        return see_other(request, f"/console/queues/{queue_id}?notice=nothing_waiting", full_page=True)
    return see_other(request, f"/console/cases/{case.id}?notice=claimed", full_page=True)


# ---------------------------------------------------------------- console: a case


def _case_context(session: Session, actor: Actor, case: Case, *, compose: str, failure: FormFailure | None,
                  now: datetime) -> dict[str, Any]:
    market = directory.market_by_id(session, case.market_id)
    party = repository.parties_by_ids(session, {case.party_id})[case.party_id]
    team = directory.team_by_id(session, case.team_id) if case.team_id else None
    queue = directory.queue_by_id(session, case.queue_id) if case.queue_id else None
    names = directory_queries.agent_names(session, [case.assignee_id])
    status = Status(case.status)
    links = repository.links(session, case.id)
    link_refs = page_queries.references(session, {lk.case_id for lk in links} | {lk.linked_case_id for lk in links},
                                        scope_for(actor))
    team_agents: list[tuple[int, str]] = []
    if team is not None and actor.can(Perm.CASE_ASSIGN):
        team_agents = [(a.id, u.display_name) for a, u in directory_queries.agents_of_team(session, team.id)]
    targets: list[tuple[int, str]] = []
    if actor.can(Perm.CASE_REROUTE):
        targets = [(q.id, f"{t.name} · {q.name}") for q, t in directory_queries.reroute_targets(
            session, vendor_id=actor.vendor_id, market_id=case.market_id, exclude_queue_id=case.queue_id)]
    request_type = session.get(RequestType, case.request_type_id) if case.request_type_id else None
    # Triage agents see where each suggested topic would go; the owners are looked up only there.
    routed = routing.case_routing(session, case_id=case.id, market=market, channel=case.channel,
                                  party_kind=party.kind, now=now,
                                  with_owners=bool(queue and queue.is_triage) and actor.can(Perm.CASE_REROUTE))
    field_labels = {f["key"]: f.get("label", f["key"]) for f in request_type.fields} if request_type else {}
    return {
        "case": case, "market": market, "party": party, "team": team, "queue": queue,
        "assignee": names.get(case.assignee_id) if case.assignee_id else None,
        "messages": repository.messages(session, case.id, public_only=False),
        "attachments": repository.attachments(session, case.id),
        "timeline": describe_events(session, actor, case, list(repository.events(session, case.id))),
        "links": [(lk, lk.linked_case_id if lk.case_id == case.id else lk.case_id) for lk in links],
        "link_refs": link_refs, "request_type": request_type, "field_labels": field_labels,
        "next_statuses": [(s.value, STATUS_LABELS[s.value]) for s in Status if s in service.TRANSITIONS[status]],
        "is_closed": status in service.FINAL, "team_agents": team_agents, "reroute_targets": targets,
        "reasons": [(r.value, REASON_LABELS[r]) for r in MANUAL_REASONS],
        "submit_as": [("", "Keep status"), ("pending", "Pending (waiting on the customer)"), ("solved", "Solved")],
        "can_assign": actor.can(Perm.CASE_ASSIGN) or actor.can(Perm.CASE_REPLY),
        "is_mine": actor.agent_id is not None and case.assignee_id == actor.agent_id,
        "compose": compose if compose in ("reply", "note") else "reply", "failure": failure,
        # A vendor's staff see the routing, not the platform's rules and catalogue behind it.
        "sla": _sla_view(session, case, now),
        "sentiment": feedback_sentiment.case_sentiment(session, case.id),  # one query
        "escalation": oncall_views.case_panel(session, actor, case.id, case_open=status not in service.FINAL
                                              and status is not Status.SOLVED),
        "appeal": appeal_queries.case_panel(session, actor, case.id) if case.channel == "appeal_form" else None,
        "routing": routed, "routing_detail": actor.vendor_id is None,
        "can_route_as": bool(queue and queue.is_triage) and actor.can(Perm.CASE_REROUTE)
        and status not in (Status.SOLVED, Status.CLOSED),
    }


def _sla_view(session: Session, case: Case, now: datetime) -> dict[str, Any] | None:
    snapshot = sla_policies.snapshot_of(session, case.id)
    if snapshot is None:
        return None
    try:
        clocks = sla_policies.case_clocks(session, snapshot, now=now)
    except Invalid:  # its calendar has no open time ahead
        clocks = []
    return {"snapshot": snapshot, "clocks": clocks}


def _render_case(request: Request, session: Session, actor: Actor, case: Case, *, compose: str = "reply",
                 failure: FormFailure | None = None) -> HTMLResponse:
    context = _case_context(session, actor, case, compose=failure.form if failure and failure.form in (
        "reply", "note") else compose, failure=failure, now=state(request).clock.now())
    status_code = failure.status if failure else 200
    if htmx_target(request) == "case":
        context.update(fragment=True, notice=notice(request))
        return render(request, "cases/_case.html", context, status_code=status_code)
    return render_console(request, session, actor, "cases/case.html", context, active=f"queue-{case.queue_id}",
                          status_code=status_code)


@router.get("/console/cases/{case_id}")
def case_page(request: Request, case_id: RowId, session: SessionDep, actor: CaseReader,
              compose: ShortText = "reply") -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ)
    blind = appeal_queries.blind_review_url(session, actor, case)
    if blind is not None:  # a second reviewer reads the appeal blind until they submit
        return see_other(request, blind)
    return _render_case(request, session, actor, case, compose=compose)


def _back_to_case(request: Request, case: Case, notice_key: str) -> Response:
    return see_other(request, f"/console/cases/{case.id}?notice={notice_key}")


@router.post("/console/cases/{case_id}/reply")
def reply(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
          settings: SettingsDep, actor: CaseReplier) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY, for_update=True)
    body, submit_as = form_text(form, "body"), form_text(form, "then_status", max_chars=20)
    chosen = template_pages.chosen_in(form)  # a response template inserted into the reply box, if any

    def work() -> Message:
        if submit_as not in SUBMIT_AS:
            raise Invalid("choose keep, pending or solved", field="then_status")
        if chosen:  # the reply, the template's use and its actions: one savepoint
            return template_pages.send_with_template(session, actor, case, chosen, body=body,
                                                    then_status=SUBMIT_AS[submit_as], settings=settings,
                                                    now=clock.now())
        return service.add_agent_reply(session, case, body=body, actor=actor, settings=settings, now=clock.now(),
                                       then_status=SUBMIT_AS[submit_as])

    _done, error = attempt(session, work)
    if error is not None:
        failure = failure_from(error, "reply", {"body": body, "then_status": submit_as, "template": chosen})
        return _render_case(request, session, actor, case, failure=failure)
    return _back_to_case(request, case, "reply_sent")


@router.post("/console/cases/{case_id}/note")
def note(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
         settings: SettingsDep, actor: CaseNoter) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_NOTE, for_update=True)
    body = form_text(form, "body")
    _done, error = attempt(session, lambda: service.add_internal_note(
        session, case, body=body, actor=actor, settings=settings, now=clock.now()))
    if error is not None:
        return _render_case(request, session, actor, case, failure=failure_from(error, "note", {"body": body}))
    return _back_to_case(request, case, "note_added")


@router.post("/console/cases/{case_id}/status")
def set_status(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
               actor: CaseStatusChanger) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_STATUS, for_update=True)
    wanted = form_text(form, "status", max_chars=20)

    def work() -> Case:
        if wanted not in set(Status):
            raise Invalid("choose the new status", field="status")
        return service.change_status(session, case, Status(wanted), actor=actor, now=clock.now())

    _done, error = attempt(session, work)
    if error is not None:
        return _render_case(request, session, actor, case, failure=failure_from(error, "status", {"status": wanted}))
    return _back_to_case(request, case, "status_changed")


@router.post("/console/cases/{case_id}/assign")
def assign(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
           actor: CaseReplier) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REPLY, for_update=True)
    choice = form_text(form, "agent_id", max_chars=20).strip()
    if choice == "me" and actor.agent_id is None:
        raise Forbidden("only agents take cases; ask an admin to set up your agent profile")
    agent_id = actor.agent_id if choice == "me" else parse_id(choice)
    if choice not in ("", "none", "me") and agent_id is None:
        raise Invalid("choose an agent of the case's team", field="agent_id")
    service.check_may_assign(actor, case, agent_id)

    def work() -> Case:
        agent = directory.agent_by_id(session, agent_id) if agent_id is not None else None
        return service.assign_case(session, case, agent, actor=actor, now=clock.now())

    _done, error = attempt(session, work)
    if error is not None:
        return _render_case(request, session, actor, case, failure=failure_from(error, "assign", {"agent_id": choice}))
    return _back_to_case(request, case, "assigned")


@router.post("/console/cases/{case_id}/reroute")
def reroute(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
            settings: SettingsDep, actor: CaseRerouter) -> Response:
    case = case_for(session, actor, case_id, permission=Perm.CASE_REROUTE, for_update=True)
    queue_value = form_text(form, "queue_id", max_chars=20)
    reason = form_text(form, "reason", max_chars=40)
    note_text = form_text(form, "note", max_chars=2000).strip()
    previous_queue = case.queue_id

    def work() -> Case:
        queue_id = parse_id(queue_value)
        offered = {q.id for q, _t in directory_queries.reroute_targets(
            session, vendor_id=actor.vendor_id, market_id=case.market_id, exclude_queue_id=case.queue_id)}
        if queue_id is None or queue_id not in offered:
            raise Invalid("choose the queue to move the case to", field="queue_id")
        return service.reroute_case(session, case, to_queue=directory.queue_by_id(session, queue_id),
                                    reason=reason or None, note=note_text or None, actor=actor, settings=settings,
                                    now=clock.now())

    _done, error = attempt(session, work)
    if error is not None:
        failure = failure_from(error, "reroute", {"queue_id": queue_value, "reason": reason, "note": note_text})
        return _render_case(request, session, actor, case, failure=failure)
    try:
        case_for(session, actor, case.id, permission=Perm.CASE_READ)
    except NotFound:
        # Moved out of this agent's scope (e.g. a vendor's agent escalated to an in-house team).
        back = f"/console/queues/{previous_queue}" if previous_queue else "/console"
        return see_other(request, with_query(back, notice="rerouted_away", ref=case.reference), full_page=True)
    return _back_to_case(request, case, "rerouted")


@router.post("/console/cases/{case_id}/escalate")
def escalate(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
             actor: CaseEscalator) -> Response:
    """Start an escalation ladder by hand, with a reason (the one chosen, or the one that applies)."""
    case = case_for(session, actor, case_id, permission=Perm.CASE_ESCALATE, for_update=True)
    reason = form_text(form, "reason", max_chars=500).strip()
    ladder = form_text(form, "ladder", max_chars=64).strip()

    def work() -> object:
        if not reason:
            raise Invalid("say why the case needs escalating", field="reason")
        return oncall_escalations.start(session, case.id, trigger="manual", reason=reason, actor=actor,
                                        now=clock.now(), ladder_key=ladder or None)

    _done, error = attempt(session, work)
    if error is not None:
        return _render_case(request, session, actor, case,
                            failure=failure_from(error, "escalate", {"reason": reason, "ladder": ladder}))
    return _back_to_case(request, case, "escalated")


@router.post("/console/cases/{case_id}/crisis")
def declare_crisis(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                   actor: OncallResponder) -> Response:
    """Escalate the case to a crisis (severity, an owner: whoever declares it); the oncall is paged."""
    case = case_for(session, actor, case_id, permission=Perm.CASE_READ, for_update=True)
    values = {name: form_text(form, name, max_chars=4000).strip() for name in ("title", "severity", "summary")}
    crisis, error = attempt(session, lambda: oncall_crises.declare(
        session, case.id, title=values["title"], severity=values["severity"], summary=values["summary"],
        owner_id=actor.user_id, actor=actor, now=clock.now()))
    if error is not None:
        return _render_case(request, session, actor, case, failure=failure_from(error, "crisis", values))
    assert crisis is not None
    return see_other(request, f"/console/crises/{crisis.id}?notice=crisis_declared", full_page=True)


@router.post("/console/cases/{case_id}/route-as")
def route_as(request: Request, case_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
             settings: SettingsDep, actor: CaseRerouter) -> Response:
    """Triage: take one of the suggested topics; the case goes to that topic's owner."""
    case = case_for(session, actor, case_id, permission=Perm.CASE_REROUTE, for_update=True)
    topic = form_text(form, "topic", max_chars=200).strip()
    _done, error = attempt(session, lambda: service.route_as(session, case, topic, actor=actor, settings=settings,
                                                             now=clock.now()))
    if error is not None:
        return _render_case(request, session, actor, case, failure=failure_from(error, "route_as", {"topic": topic}))
    try:
        case_for(session, actor, case.id, permission=Perm.CASE_READ)
    except NotFound:
        return see_other(request, with_query("/console", notice="rerouted_away", ref=case.reference), full_page=True)
    return _back_to_case(request, case, "rerouted")


# ---------------------------------------------------------------- help center


def _own_scope(actor: Actor) -> Any:
    """The help center shows a person's own cases, whatever else their role may see elsewhere."""
    return repository.scope_clause(vendor_id=None, user_id=actor.user_id)


def _own_case(session: Session, actor: Actor, reference: str, permission: Perm, *, for_update: bool = False) -> Case:
    case = case_by_reference_for(session, actor, reference, permission=permission, for_update=for_update)
    if case.party_id not in {p.id for p in repository.parties_of_user(session, actor.user_id)}:
        raise NotFound(f"case {reference} does not exist", field="reference")
    return case


@help_router.get("/help", dependencies=[Depends(public)])
def help_home(request: Request, session: SessionDep, actor: Annotated[Actor | None, Depends(optional_actor)],
              market: ShortText = "") -> HTMLResponse:
    markets = directory.list_markets(session, active_only=True)
    chosen = next((m for m in markets if m.code == market.upper()), None)
    recent: list[CaseRow] = []
    if actor is not None and actor.can(Perm.CASE_READ_OWN):
        page, _cursor = repository.list_cases(session, CaseFilters(sort="updated_desc"), _own_scope(actor), limit=5,
                                              cursor=None)
        recent = case_rows(session, list(page))
    return render_help(request, "helpcenter/home.html", {"markets": markets, "chosen": chosen, "recent": recent,
                                                         "customer_status": CUSTOMER_STATUS}, active="home")


def _new_case_form(request: Request, session: Session, *, values: dict[str, str], errors: dict[str, str],
                   status_code: int = 200) -> HTMLResponse:
    markets = directory.list_markets(session, active_only=True)
    return render_help(request, "helpcenter/new_case.html", {
        "markets": [(m.code, m.name) for m in markets], "values": values, "errors": errors,
    }, active="new", status_code=status_code)


@help_router.get("/help/new")
def new_case_form(request: Request, session: SessionDep, actor: Submitter, market: ShortText = "") -> HTMLResponse:
    return _new_case_form(request, session, values={"market": market.upper(), "subject": "", "body": ""}, errors={})


@help_router.post("/help/new")
def submit_case(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                actor: Submitter) -> Response:
    values = {"market": form_text(form, "market", max_chars=8), "subject": form_text(form, "subject", max_chars=1000),
              "body": form_text(form, "body")}
    now = clock.now()

    def work() -> Case:
        if not values["market"]:
            raise Invalid("choose the marketplace your request is about", field="market")
        market = directory.market_by_code(session, values["market"])
        party = service.party_for_customer(session, actor, market, now=now)
        return service.open_case(session, service.NewCase(
            channel=Channel.WEB_FORM, market=market, party=party, subject=values["subject"], body=values["body"],
        ), actor=actor, settings=settings, now=now).case

    case, error = attempt(session, work)
    if error is not None or case is None:
        errors = {error.field or "form": error.detail} if error else {"form": "the case was not opened"}
        return _new_case_form(request, session, values=values, errors=errors,
                              status_code=error.status if error else 422)
    return see_other(request, f"/help/cases/{case.reference}?notice=case_created")


@help_router.get("/help/cases")
def my_cases(request: Request, session: SessionDep, actor: OwnReader,
             cursor: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    page, next_cursor = repository.list_cases(session, CaseFilters(sort="updated_desc"), _own_scope(actor),
                                              limit=PAGE_SIZE, cursor=cursor or None)
    return render_help(request, "helpcenter/my_cases.html", {
        "rows": case_rows(session, list(page)), "customer_status": CUSTOMER_STATUS,
        "next_url": with_query("/help/cases", cursor=next_cursor) if next_cursor else None,
        "first_url": "/help/cases" if cursor else None,
    }, active="cases")


def _render_own_case(request: Request, session: Session, actor: Actor, case: Case, *, values: dict[str, str],
                     errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    markets = repository.market_codes(session, {case.market_id})
    # An internal request's answers are the requester's own; other cases' custom fields are agents' only.
    request_type = session.get(RequestType, case.request_type_id) if case.request_type_id else None
    details = [(spec.get("label", spec["key"]), case.custom_fields[spec["key"]]) for spec in request_type.fields
               if spec["key"] in case.custom_fields] if request_type else []
    return render_help(request, "helpcenter/case.html", {
        "case": case, "market": markets.get(case.market_id, ""), "request_type": request_type, "details": details,
        "messages": repository.messages(session, case.id, public_only=True),
        "customer_status": CUSTOMER_STATUS, "is_closed": Status(case.status) in service.FINAL,
        "can_reply": actor.can(Perm.CASE_REPLY_OWN), "values": values, "errors": errors,
        "created": request.query_params.get("notice") == "case_created",
    }, active="cases", status_code=status_code)


@help_router.get("/help/cases/{reference}")
def own_case(request: Request, reference: Reference, session: SessionDep, actor: OwnReader) -> HTMLResponse:
    case = _own_case(session, actor, reference, Perm.CASE_READ_OWN)
    return _render_own_case(request, session, actor, case, values={"body": ""}, errors={})


@help_router.post("/help/cases/{reference}/reply")
def own_case_reply(request: Request, reference: Reference, form: FormDep, session: SessionDep, clock: ClockDep,
                   settings: SettingsDep, actor: OwnReplier) -> Response:
    case = _own_case(session, actor, reference, Perm.CASE_REPLY_OWN, for_update=True)
    body = form_text(form, "body")
    _done, error = attempt(session, lambda: service.add_customer_message(
        session, case, body=body, actor=actor, settings=settings, now=clock.now()))
    if error is not None:
        return _render_own_case(request, session, actor, case, values={"body": body},
                                errors={error.field or "form": error.detail}, status_code=error.status)
    return see_other(request, f"/help/cases/{case.reference}?notice=reply_sent")


# ---------------------------------------------------------------- internal requests


def _request_form(request: Request, session: Session, *, type_key: str, values: dict[str, str],
                  errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    types = list(service.list_request_types(session))
    chosen = next((t for t in types if t.key == type_key), None)
    markets = directory.list_markets(session, active_only=True)
    return render_help(request, "helpcenter/internal_request.html", {
        "types": types, "chosen": chosen, "markets": [(m.code, m.name) for m in markets], "values": values,
        "errors": errors, "priorities": [(p.value, p.value.capitalize()) for p in Priority],
        "field_names": ["market", "subject", "body", "priority",
                        *(f"fields.{spec['key']}" for spec in (chosen.fields if chosen else []))],
    }, active="internal", status_code=status_code)


@help_router.get("/internal/requests/new")
def internal_request_form(request: Request, session: SessionDep, actor: Requester,
                          type_key: Annotated[str, Query(alias="type", max_length=64)] = "") -> HTMLResponse:
    return _request_form(request, session, type_key=type_key, values={"priority": Priority.NORMAL.value}, errors={})


@help_router.post("/internal/requests/new")
def file_internal_request(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                          settings: SettingsDep, actor: Requester) -> Response:
    type_key = form_text(form, "request_type", max_chars=64)
    values = {key: value for key, value in form.multi_items() if isinstance(value, str) and key != "csrf_token"}
    request_type = next((t for t in service.list_request_types(session) if t.key == type_key), None)
    fields = {spec["key"]: values.get(f"fields.{spec['key']}", "") for spec in (
        request_type.fields if request_type else [])}

    def work() -> Case:
        priority = values.get("priority") or Priority.NORMAL.value
        if priority not in set(Priority):
            raise Invalid("choose a priority", field="priority")
        if not values.get("market"):
            raise Invalid("choose the market this request concerns", field="market")
        return service.file_internal_request(
            session, actor, type_key, values["market"], values.get("subject", ""), values.get("body", ""), fields,
            Priority(priority), settings=settings, now=clock.now()).case

    case, error = attempt(session, work)
    if error is not None or case is None:
        errors = {error.field or "form": error.detail} if error else {"form": "the request was not filed"}
        return _request_form(request, session, type_key=type_key, values=values, errors=errors,
                             status_code=error.status if error else 422)
    if actor.can(Perm.CASE_READ_OWN):
        return see_other(request, f"/help/cases/{case.reference}?notice=request_filed")
    if actor.can(Perm.CASE_READ):
        return see_other(request, f"/console/cases/{case.id}?notice=request_filed")
    return see_other(request, with_query("/internal/requests/new", notice="request_filed", ref=case.reference))
