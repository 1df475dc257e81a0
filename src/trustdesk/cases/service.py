"""Business rules of cases: intake, messages, statuses, assignment by hand, reroutes, links, merges.

Every function takes a session and typed arguments, changes rows, appends an event in the
same transaction and never commits (the edge does). Side effects go through the outbox.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.cases import repository
from trustdesk.cases.models import (
    Attachment,
    AuthorType,
    Case,
    CaseLink,
    Channel,
    LinkKind,
    Message,
    Party,
    PartyKind,
    Priority,
    RequestType,
    RerouteReason,
    Status,
    Visibility,
    WaitingOn,
)
from trustdesk.cases.schemas import AttachmentIn, PartyIn
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType
from trustdesk.core.events import SYSTEM, EventActor, SystemActor, record_case_event
from trustdesk.core.identity import Actor
from trustdesk.core.outbox import enqueue
from trustdesk.core.permissions import Perm, Role
from trustdesk.core.settings import Settings
from trustdesk.directory import service as directory
from trustdesk.directory.models import Agent, Market, Queue
from trustdesk.routing import service as routing
from trustdesk.sla import policies as sla
from trustdesk.sla import timers as _sla_timers  # noqa: F401  (keeps SLA timers in step at each commit)
from trustdesk.text.language import detect_language

# Which status may follow which. Anything else is refused with a problem naming both.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.SOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.SOLVED}),
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
STATUS_TIMESTAMP = {
    Status.OPEN: "opened_at", Status.PENDING: "pending_at", Status.ON_HOLD: "on_hold_at",
    Status.SOLVED: "solved_at", Status.CLOSED: "closed_at",
}
ROLE_PARTY_KIND = {
    Role.BUYER: PartyKind.BUYER, Role.SELLER: PartyKind.SELLER, Role.SELLER_STAFF: PartyKind.SELLER,
    Role.CREATOR: PartyKind.CREATOR, Role.INTERNAL_REQUESTER: PartyKind.INTERNAL,
}
# A closed case is final; a merged one lives on in its target.
FINAL = frozenset({Status.CLOSED})

BOT = SystemActor("bot")  # the answering bot, for what it said before a case was opened


def clean_text(text: str, *, field: str, max_chars: int) -> str:
    """Normalise to NFC and drop control characters other than newlines and tabs."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
    # Text of only invisible characters (zero-width spaces, joiners, marks) is as empty as "".
    if not any(not unicodedata.category(ch).startswith(("Z", "C")) for ch in text):
        raise Invalid("must not be empty", field=field)
    if len(text) > max_chars:
        raise Invalid(f"must be at most {max_chars} characters", field=field)
    return text


def _touch(case: Case, now: datetime) -> None:
    case.updated_at = now


def _sla_facts(session: Session, case: Case, *, market: Market | None = None,
               party: Party | None = None) -> sla.CaseFacts:
    """What an SLA policy's conditions look at, as the case is now."""
    market = market or directory.market_by_id(session, case.market_id)
    party = party or repository.parties_by_ids(session, {case.party_id})[case.party_id]
    team = directory.team_by_id(session, case.team_id) if case.team_id is not None else None
    return sla.CaseFacts(market=market.code, channel=case.channel, priority=case.priority, party_kind=party.kind,
                         tier=team.tier if team is not None else None, topic=case.topic)


def _enter_status(session: Session, case: Case, to: Status, actor: EventActor, now: datetime,
                  *, reason: str | None = None, **data: Any) -> None:
    current = Status(case.status)
    if to == current:
        return
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final)"
        raise Conflict(f"a {current.value} case cannot become {to.value}; allowed: {allowed}", field="status")
    case.status = to.value
    if to in STATUS_TIMESTAMP:
        setattr(case, STATUS_TIMESTAMP[to], now)
    _touch(case, now)
    payload: dict[str, Any] = {"from": current.value, "to": to.value, **data}
    if reason:
        payload["reason"] = reason
    if current is Status.SOLVED and to is Status.OPEN:
        payload["reopened"] = True
    record_case_event(session, case.id, "case.status_changed", actor, now, payload)


# ---------------------------------------------------------------- parties


def party_for_customer(session: Session, actor: Actor, market: Market, *, now: datetime,
                       kind: PartyKind | None = None) -> Party:
    """The signed-in person's own party of ``kind`` in ``market``, created on first contact."""
    kind = kind or ROLE_PARTY_KIND.get(actor.role)
    if kind is None:
        raise Forbidden("only customers and internal requesters open cases for themselves")
    party = repository.party_of_user(session, actor.user_id, market.id, kind.value)
    if party is None:
        party = Party(kind=kind.value, market_id=market.id, external_id=f"user-{actor.user_id}",
                      display_name=actor.display_name, email=actor.email or None, locale=None,
                      user_id=actor.user_id, created_at=now)
        session.add(party)
        session.flush()
    return party


def upsert_party(session: Session, market: Market, data: PartyIn, *, now: datetime) -> Party:
    party = repository.party_by_external(session, market.id, data.kind.value, data.external_id)
    if party is None:
        party = Party(kind=data.kind.value, market_id=market.id, external_id=data.external_id,
                      display_name=data.display_name, email=data.email, locale=data.locale,
                      user_id=None, created_at=now)
        session.add(party)
        session.flush()
    else:
        party.display_name = data.display_name
        party.email = data.email or party.email
        party.locale = data.locale or party.locale
    return party


# ---------------------------------------------------------------- intake


@dataclass
class NewCase:
    channel: Channel
    market: Market
    party: Party
    subject: str
    body: str
    language: str | None = None
    priority: Priority = Priority.NORMAL
    queue: Queue | None = None
    topic: str | None = None
    tags: Sequence[str] = ()
    custom_fields: dict[str, Any] | None = None
    attachments: Sequence[AttachmentIn] = ()
    request_type: RequestType | None = None
    author_name: str | None = None


@dataclass(frozen=True)
class Opened:
    """A new case with the first message and attachments it was opened with, as written."""

    case: Case
    message: Message
    attachments: Sequence[Attachment]


def open_case(session: Session, new: NewCase, *, actor: EventActor, settings: Settings, now: datetime) -> Opened:
    subject = clean_text(new.subject, field="subject", max_chars=300)
    body = clean_text(new.body, field="body", max_chars=settings.max_message_chars)
    market = new.market
    if new.language is not None:
        language, detection = new.language, None
    else:
        detection = detect_language(f"{subject}\n{body}", market.languages, market.default_language)
        language = detection.language
    if new.queue is not None:
        if not new.queue.is_active:
            raise Invalid(f"queue {new.queue.key} is not active", field="queue_id")
        if new.queue.market_id is not None and new.queue.market_id != market.id:
            raise Invalid(f"queue {new.queue.key} serves another market", field="queue_id")
    _check_attachments(new.attachments, existing=0, settings=settings)
    routed = routing.route(session, routing.Arrival(
        channel=new.channel.value, market=market, party_kind=new.party.kind, language=language, subject=subject,
        body=body, topic=new.topic, priority=new.priority.value, tags=list(new.tags),
        custom_fields=dict(new.custom_fields or {}),
    ), settings=settings, now=now, explicit_queue=new.queue)
    queue = routed.queue
    assert queue is not None

    case = Case(
        channel=new.channel.value, market_id=market.id, language=language, party_id=new.party.id,
        subject=subject, topic=routed.topic, request_type_id=new.request_type.id if new.request_type else None,
        team_id=queue.team_id, queue_id=queue.id, assignee_id=None, priority=routed.priority,
        status=Status.NEW.value, tags=routed.tags, custom_fields=dict(new.custom_fields or {}),
        created_at=now, updated_at=now, last_customer_message_at=now,
    )
    session.add(case)
    session.flush()
    case.reference = f"ID-{now.year}-{case.id:06d}"
    # The message first, so the three events below and the outbox row go out in one flush.
    message = _write_message(session, case, body=body, visibility=Visibility.PUBLIC, author_type=AuthorType.CUSTOMER,
                             author_user_id=new.party.user_id, author_name=new.author_name or new.party.display_name,
                             channel=new.channel.value, now=now)
    record_case_event(session, case.id, "case.created", actor, now, {
        "reference": case.reference, "channel": case.channel, "market": market.code, "party_id": new.party.id,
        "party_kind": new.party.kind, "priority": case.priority, "language": language,
        "language_detected": bool(detection and detection.detected),
        "language_confidence": detection.confidence if detection else None,
        "request_type": new.request_type.key if new.request_type else None,
    })
    routing.record(session, case.id, routed, actor=actor, now=now)
    sla.apply(session, case.id, _sla_facts(session, case, market=market, party=new.party), actor=actor, now=now)
    _message_added(session, case, message, actor=actor, now=now)
    attachments = _store_attachments(session, case, message, new.attachments, actor=actor, now=now)
    if queue.auto_assign:
        enqueue(session, "cases.assign", {"case_id": case.id}, now=now)
    if case.priority == Priority.URGENT.value:
        enqueue(session, "cases.urgent", {"case_id": case.id}, now=now)  # an urgent case may page the oncall
    return Opened(case=case, message=message, attachments=attachments)


def _check_attachments(items: Sequence[AttachmentIn], *, existing: int, settings: Settings) -> None:
    if existing + len(items) > settings.max_attachments_per_case:
        raise Invalid(f"a case holds at most {settings.max_attachments_per_case} attachments", field="attachments")
    for index, item in enumerate(items):
        if item.size_bytes > settings.max_attachment_bytes:
            raise PayloadTooLarge(f"{item.filename} is larger than {settings.max_attachment_bytes} bytes",
                                  field=f"attachments[{index}].size_bytes")
        if item.content_type.lower() not in settings.attachment_types:
            raise UnsupportedMediaType(f"{item.content_type} files are not accepted",
                                       field=f"attachments[{index}].content_type")


def _store_attachments(session: Session, case: Case, message: Message | None, items: Sequence[AttachmentIn], *,
                       actor: EventActor, now: datetime) -> list[Attachment]:
    stored = []
    for item in items:
        attachment = Attachment(case_id=case.id, message_id=message.id if message else None, filename=item.filename,
                                content_type=item.content_type.lower(), size_bytes=item.size_bytes, sha256=item.sha256,
                                storage_url=item.storage_url, uploaded_by_user_id=actor.user_id or None,
                                created_at=now)
        session.add(attachment)
        stored.append(attachment)
    if stored:
        session.flush()
        record_case_event(session, case.id, "case.attachments_added", actor, now, {
            "attachment_ids": [a.id for a in stored], "message_id": message.id if message else None,
        })
    return stored


def add_attachments(session: Session, case: Case, items: Sequence[AttachmentIn], *, actor: EventActor,
                    settings: Settings, now: datetime) -> list[Attachment]:
    if Status(case.status) in FINAL:
        raise Conflict("a closed case takes no attachments", field="status")
    _check_attachments(items, existing=repository.attachment_count(session, case.id), settings=settings)
    _touch(case, now)
    return _store_attachments(session, case, None, items, actor=actor, now=now)


def _add_message(session: Session, case: Case, *, body: str, visibility: Visibility, author_type: AuthorType,
                 author_user_id: int | None, author_name: str, channel: str, actor: EventActor,
                 now: datetime) -> Message:
    message = _write_message(session, case, body=body, visibility=visibility, author_type=author_type,
                             author_user_id=author_user_id, author_name=author_name, channel=channel, now=now)
    _message_added(session, case, message, actor=actor, now=now)
    return message


def _write_message(session: Session, case: Case, *, body: str, visibility: Visibility, author_type: AuthorType,
                   author_user_id: int | None, author_name: str, channel: str, now: datetime) -> Message:
    message = Message(case_id=case.id, visibility=visibility.value, author_type=author_type.value,
                      author_user_id=author_user_id, author_name=author_name, channel=channel, body=body,
                      created_at=now)
    session.add(message)
    session.flush()
    return message


def _message_added(session: Session, case: Case, message: Message, *, actor: EventActor, now: datetime) -> None:
    record_case_event(session, case.id, "case.message_added", actor, now, {
        "message_id": message.id, "visibility": message.visibility, "author_type": message.author_type,
        "chars": len(message.body),
    })


# ---------------------------------------------------------------- messages


def add_customer_message(session: Session, case: Case, *, body: str, actor: Actor, settings: Settings,
                         now: datetime, attachments: Sequence[AttachmentIn] = ()) -> Message:
    """A customer's reply; it reopens a pending or solved case. A closed case takes no replies."""
    if Status(case.status) in FINAL:
        raise Conflict("this case is closed; please open a new case", field="case_id")
    text = clean_text(body, field="body", max_chars=settings.max_message_chars)
    _check_attachments(attachments, existing=repository.attachment_count(session, case.id), settings=settings)
    message = _add_message(session, case, body=text, visibility=Visibility.PUBLIC, author_type=AuthorType.CUSTOMER,
                           author_user_id=actor.user_id, author_name=actor.display_name, channel=case.channel,
                           actor=actor, now=now)
    _store_attachments(session, case, message, attachments, actor=actor, now=now)
    case.last_customer_message_at = now
    if Status(case.status) in (Status.PENDING, Status.SOLVED):
        _enter_status(session, case, Status.OPEN, actor, now, reason="customer_reply")
    _touch(case, now)
    return message


def add_agent_reply(session: Session, case: Case, *, body: str, actor: Actor, settings: Settings, now: datetime,
                    then_status: Status | None = None,
                    attachments: Sequence[AttachmentIn] = ()) -> Message:
    """A public reply from an agent, optionally setting the status in the same step (submit as).

    A refused status raises after the reply was added; the request's transaction rolls both back.
    """
    if Status(case.status) in FINAL:
        raise Conflict("a closed case takes no replies", field="case_id")
    text = clean_text(body, field="body", max_chars=settings.max_message_chars)
    _check_attachments(attachments, existing=repository.attachment_count(session, case.id), settings=settings)
    message = _add_message(session, case, body=text, visibility=Visibility.PUBLIC, author_type=AuthorType.AGENT,
                           author_user_id=actor.user_id, author_name=actor.display_name, channel=case.channel,
                           actor=actor, now=now)
    _store_attachments(session, case, message, attachments, actor=actor, now=now)
    if case.first_agent_reply_at is None:
        case.first_agent_reply_at = now
    case.last_agent_reply_at = now
    if Status(case.status) is Status.NEW:
        _enter_status(session, case, Status.OPEN, actor, now, reason="agent_reply")
    if then_status is not None:
        _enter_status(session, case, then_status, actor, now, reason="agent_reply")
    _touch(case, now)
    return message


def add_bot_message(session: Session, case: Case, *, body: str, now: datetime) -> Message:
    """What the answering bot said before the case was opened (public: the customer saw it too)."""
    message = _add_message(session, case, body=body[:20_000], visibility=Visibility.PUBLIC,
                           author_type=AuthorType.BOT, author_user_id=None, author_name="Assistant",
                           channel=case.channel, actor=BOT, now=now)
    _touch(case, now)
    return message


def add_system_message(session: Session, case: Case, *, body: str, now: datetime) -> Message:
    """A public notice from TrustDesk itself on the customer's thread (e.g. the CSAT survey link).

    Neither a reply nor a customer message: no SLA clock and no reply-time metric counts it, it
    changes no status, and the case itself is left as it is (no new version for a notice)."""
    return _add_message(session, case, body=body[:20_000], visibility=Visibility.PUBLIC,
                        author_type=AuthorType.SYSTEM, author_user_id=None, author_name="TrustDesk",
                        channel=case.channel, actor=SYSTEM, now=now)


def add_internal_note(session: Session, case: Case, *, body: str, actor: Actor, settings: Settings,
                      now: datetime) -> Message:
    text = clean_text(body, field="body", max_chars=settings.max_message_chars)
    message = _add_message(session, case, body=text, visibility=Visibility.INTERNAL, author_type=AuthorType.AGENT,
                           author_user_id=actor.user_id, author_name=actor.display_name, channel=case.channel,
                           actor=actor, now=now)
    _touch(case, now)
    return message


# ---------------------------------------------------------------- status, fields, assignment, routing


def change_status(session: Session, case: Case, to: Status, *, actor: EventActor, now: datetime,
                  reason: str | None = None, waiting_on: WaitingOn | None = None) -> Case:
    if to == Status(case.status):
        raise Conflict(f"the case is {to.value} already", field="status")
    if waiting_on is not None and to is not Status.ON_HOLD:
        raise Invalid("only an on-hold case waits on someone other than the customer", field="waiting_on")
    if to is Status.ON_HOLD:
        _enter_status(session, case, to, actor, now, reason=reason,
                      waiting_on=(waiting_on or WaitingOn.THIRD_PARTY).value)
    else:
        _enter_status(session, case, to, actor, now, reason=reason)
    return case


def update_case(session: Session, case: Case, changes: dict[str, Any], *, actor: EventActor, now: datetime) -> Case:
    """Apply field changes (subject, priority, topic, tags, custom fields); one event lists them.

    A new priority on a case still being worked matches its SLA policy again: the case gets the terms
    for that priority, its running clocks counting on them from their start. A solved case keeps its own."""
    if Status(case.status) in FINAL:
        raise Conflict("a closed case cannot be edited", field="status")
    changed: dict[str, Any] = {}
    for field, value in changes.items():
        if field in ("subject", "priority") and value is None:
            raise Invalid(f"{field} cannot be null", field=field)
        if field == "subject":
            value = clean_text(value, field="subject", max_chars=300)
        if field == "priority":
            value = Priority(value).value
        old = getattr(case, field)
        if old != value:
            changed[field] = {"from": old, "to": value}
            setattr(case, field, value)
    if changed:
        _touch(case, now)
        record_case_event(session, case.id, "case.updated", actor, now, {"changes": changed})
        if changed.get("priority", {}).get("to") == Priority.URGENT.value:
            enqueue(session, "cases.urgent", {"case_id": case.id}, now=now)
    if "priority" in changed and Status(case.status) is not Status.SOLVED:
        sla.reapply(session, case.id, _sla_facts(session, case), reason="priority_changed", actor=actor, now=now)
    return case


def agent_may_work(session: Session, agent: Agent, case: Case) -> bool:
    """An agent works a case only in a team they belong to (and so only their vendor's)."""
    if case.team_id is None:
        return False
    return case.team_id in directory.team_ids_of(session, [agent.id])[agent.id]


def assign_case(session: Session, case: Case, agent: Agent | None, *, actor: EventActor, now: datetime,
                reason: str = "manual") -> Case:
    if Status(case.status) in (Status.SOLVED, Status.CLOSED):
        raise Conflict(f"a {case.status} case cannot be reassigned", field="status")
    if agent is not None and not agent_may_work(session, agent, case):
        raise Invalid("the agent is not a member of the case's team", field="agent_id")
    new_id = agent.id if agent is not None else None
    if case.assignee_id == new_id:
        return case
    previous = case.assignee_id
    case.assignee_id = new_id
    if agent is not None:
        agent.last_assigned_at = now
    _touch(case, now)
    record_case_event(session, case.id, "case.assigned", actor, now,
                      {"from_agent_id": previous, "to_agent_id": new_id, "reason": reason})
    if agent is not None and Status(case.status) is Status.NEW:
        _enter_status(session, case, Status.OPEN, actor, now, reason="assigned")
    return case


def check_may_assign(actor: Actor, case: Case, agent_id: int | None) -> None:
    """Anyone who works cases may take one or let theirs go; handing it to someone else needs cases.assign."""
    taking = agent_id is not None and agent_id == actor.agent_id
    letting_go = agent_id is None and case.assignee_id is not None and case.assignee_id == actor.agent_id
    if not actor.can(Perm.CASE_ASSIGN) and not (taking or letting_go):
        raise Forbidden("assigning a case to someone else needs the cases.assign permission")


def reroute_case(session: Session, case: Case, *, to_queue: Queue, reason: RerouteReason | str | None,
                 actor: Actor | SystemActor, settings: Settings, now: datetime, note: str | None = None) -> Case:
    """Move a case to another queue (and its team). A reason is mandatory: it feeds misroute analysis."""
    if not reason:
        raise Invalid("a reroute needs a reason code", field="reason")
    try:
        reason = RerouteReason(reason)
    except ValueError as exc:
        raise Invalid(f"unknown reroute reason {reason!r}", field="reason") from exc
    if Status(case.status) in (Status.SOLVED, Status.CLOSED):
        raise Conflict(f"a {case.status} case cannot be rerouted", field="status")
    if case.queue_id == to_queue.id:
        raise Conflict("the case is in that queue already", field="queue_id")
    if not to_queue.is_active:
        raise Invalid(f"queue {to_queue.key} is not active", field="queue_id")
    if to_queue.market_id is not None and to_queue.market_id != case.market_id:
        raise Invalid(f"queue {to_queue.key} serves another market", field="queue_id")
    target_team = directory.team_by_id(session, to_queue.team_id, field="queue_id")
    vendor_id = actor.vendor_id if isinstance(actor, Actor) else None
    if vendor_id is not None and target_team.vendor_id not in (None, vendor_id):
        # A vendor's agents may escalate to in-house teams, never hand work to another vendor.
        raise Invalid(f"queue {to_queue.key} belongs to another vendor", field="queue_id")
    previous_queue, previous_team, previous_agent = case.queue_id, case.team_id, case.assignee_id
    case.queue_id, case.team_id, case.assignee_id = to_queue.id, to_queue.team_id, None
    _touch(case, now)
    record_case_event(session, case.id, "case.rerouted", actor, now, {
        "from_queue_id": previous_queue, "from_team_id": previous_team, "to_queue_id": to_queue.id,
        "to_team_id": to_queue.team_id, "reason": reason.value, "unassigned_agent_id": previous_agent,
        "note": note or None,
    })
    if note and isinstance(actor, Actor):  # the system's reroutes explain themselves in the event
        add_internal_note(session, case, body=f"Rerouted ({reason.value}): {note}", actor=actor,
                          settings=settings, now=now)
    if to_queue.auto_assign:
        enqueue(session, "cases.assign", {"case_id": case.id}, now=now)
    return case


def route_as(session: Session, case: Case, topic: str, *, actor: Actor, settings: Settings, now: datetime) -> Case:
    """Triage's answer: set the topic and move the case to the queue of the topic's owner."""
    if Status(case.status) in (Status.SOLVED, Status.CLOSED):
        raise Conflict(f"a {case.status} case cannot be rerouted", field="status")
    market = directory.market_by_id(session, case.market_id)
    party = session.get(Party, case.party_id)
    assert party is not None
    queue, why = routing.owner_queue(session, topic=topic, market=market, channel=case.channel,
                                     party_kind=party.kind, now=now)
    if queue is None:
        raise Invalid(f"nobody to send it to: {why}", field="topic")
    update_case(session, case, {"topic": topic}, actor=actor, now=now)
    if queue.id != case.queue_id:
        reroute_case(session, case, to_queue=queue, reason=RerouteReason.TRIAGED, actor=actor, settings=settings,
                     now=now, note=None)
    return case


def link_cases(session: Session, case: Case, other: Case, kind: LinkKind, *, actor: Actor, now: datetime) -> CaseLink:
    if case.id == other.id:
        raise Invalid("a case cannot be linked to itself", field="case_id")
    # Either direction counts: "related" is symmetric, and a duplicate of its own duplicate is a loop.
    if (repository.link_exists(session, case.id, other.id, kind.value)
            or repository.link_exists(session, other.id, case.id, kind.value)):
        raise Conflict("these cases are linked already", field="case_id")
    link = CaseLink(case_id=case.id, linked_case_id=other.id, kind=kind.value, created_by_user_id=actor.user_id,
                    created_at=now)
    session.add(link)
    session.flush()
    record_case_event(session, case.id, "case.linked", actor, now, {"case_id": other.id, "kind": kind.value})
    record_case_event(session, other.id, "case.linked", actor, now,
                      {"case_id": case.id, "kind": kind.value, "inverse": True})
    return link


def merge_case(session: Session, source: Case, target: Case, *, actor: Actor, settings: Settings,
               now: datetime) -> Case:
    """Fold ``source`` into ``target``: the source closes as a duplicate, its thread is quoted on the target."""
    if source.id == target.id:
        raise Invalid("a case cannot be merged into itself", field="into_case_id")
    if Status(source.status) in FINAL or Status(target.status) in FINAL:
        raise Conflict("closed cases cannot be merged", field="into_case_id")
    if source.party_id != target.party_id:
        raise Invalid("only cases of the same party can be merged", field="into_case_id")
    transcript = "\n\n".join(
        f"[{m.created_at:%Y-%m-%d %H:%M} {m.author_name}] {m.body}"
        for m in repository.messages(session, source.id, public_only=False)
    )
    header = f"Merged from {source.reference} ({source.subject})"
    add_internal_note(session, target, body=f"{header}\n\n{transcript}"[: settings.max_message_chars],
                      actor=actor, settings=settings, now=now)
    session.add(CaseLink(case_id=source.id, linked_case_id=target.id, kind=LinkKind.DUPLICATE_OF.value,
                         created_by_user_id=actor.user_id, created_at=now))
    source.merged_into_id = target.id
    if Status(source.status) is not Status.SOLVED:
        _enter_status(session, source, Status.SOLVED, actor, now, reason="merged")
    _enter_status(session, source, Status.CLOSED, actor, now, reason="merged")
    record_case_event(session, source.id, "case.merged", actor, now, {"into_case_id": target.id})
    record_case_event(session, target.id, "case.merged", actor, now, {"from_case_id": source.id})
    return target


# ---------------------------------------------------------------- internal requests


def validate_request_fields(request_type: RequestType, values: dict[str, Any]) -> dict[str, Any]:
    """Check submitted values against the request type's field definitions (data, not code)."""
    known = {f["key"]: f for f in request_type.fields}
    for key in values:
        if key not in known:
            raise Invalid(f"{request_type.name} has no field {key!r}", field=f"fields.{key}")
    cleaned: dict[str, Any] = {}
    for key, spec in known.items():
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if spec.get("required"):
                raise Invalid(f"{spec['label']} is required", field=f"fields.{key}")
            continue
        kind = spec.get("type", "text")
        if kind == "number":
            try:
                cleaned[key] = float(raw) if not isinstance(raw, bool) else None
            except (TypeError, ValueError) as exc:
                raise Invalid(f"{spec['label']} must be a number", field=f"fields.{key}") from exc
            if cleaned[key] is None:
                raise Invalid(f"{spec['label']} must be a number", field=f"fields.{key}")
        elif kind == "select":
            if str(raw) not in spec.get("options", []):
                raise Invalid(f"{spec['label']} must be one of {', '.join(spec.get('options', []))}",
                              field=f"fields.{key}")
            cleaned[key] = str(raw)
        elif kind == "date":
            try:
                cleaned[key] = datetime.strptime(str(raw), "%Y-%m-%d").date().isoformat()  # noqa: DTZ007
            except ValueError as exc:
                raise Invalid(f"{spec['label']} must be a date (YYYY-MM-DD)", field=f"fields.{key}") from exc
        elif kind == "email":
            if "@" not in str(raw):
                raise Invalid(f"{spec['label']} must be an e-mail address", field=f"fields.{key}")
            cleaned[key] = str(raw).strip()
        else:
            text = str(raw).strip()
            if len(text) > 5000:
                raise Invalid(f"{spec['label']} must be at most 5000 characters", field=f"fields.{key}")
            cleaned[key] = text
    return cleaned


def file_internal_request(session: Session, actor: Actor, request_type_key: str, market_code: str, subject: str,
                          body: str, fields: dict[str, Any], priority: Priority, *, settings: Settings,
                          now: datetime) -> Opened:
    """A staff member's request to an internal team: fields checked against the type, routed to its queue."""
    request_type = request_type_by_key(session, request_type_key)
    market = directory.market_by_code(session, market_code)
    values = validate_request_fields(request_type, fields)
    party = party_for_customer(session, actor, market, now=now, kind=PartyKind.INTERNAL)
    queue = session.get(Queue, request_type.queue_id)
    return open_case(session, NewCase(
        channel=Channel.INTERNAL_FORM, market=market, party=party, subject=subject, body=body, priority=priority,
        queue=queue, custom_fields=values, request_type=request_type, author_name=actor.display_name,
    ), actor=actor, settings=settings, now=now)


def request_type_by_key(session: Session, key: str) -> RequestType:
    request_type = repository.request_type_by_key(session, key)
    if request_type is None or not request_type.is_active:
        raise Invalid(f"unknown request type {key!r}", field="request_type")
    return request_type


def list_request_types(session: Session) -> Sequence[RequestType]:
    return repository.request_types(session)


# ---------------------------------------------------------------- sweeps


def close_solved_cases(session: Session, *, now: datetime, reopen_window: timedelta, limit: int = 500) -> int:
    """Close cases solved longer ago than the reopen window; safe to run twice."""
    closed = 0
    for case_id in repository.solved_before(session, now - reopen_window, limit):
        case = session.get(Case, case_id)
        if case is None or case.status != Status.SOLVED.value:
            continue
        _enter_status(session, case, Status.CLOSED, SYSTEM, now, reason="reopen_window_elapsed")
        closed += 1
    return closed


def case_by_id(session: Session, case_id: int, *, field: str = "case_id") -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist", field=field)
    return case


def require(actor: Actor, perm: Perm) -> None:
    if not actor.can(perm):
        raise Forbidden(f"this needs the {perm.value} permission")
