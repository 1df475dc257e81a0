"""Crises: a case escalated to an incident with a severity, an owner, linked cases, status updates
and its own timeline; declaring one pages the oncall (the crisis ladder, else the schedules of the
case's team)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case
from trustdesk.core import webhooks
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.events import EventActor, record_case_event
from trustdesk.oncall import escalations, ladders, paging, schedules
from trustdesk.oncall.models import Crisis, CrisisCase, CrisisEvent
from trustdesk.oncall.people import responders

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


class CrisisStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


def _record(session: Session, crisis: Crisis, type_: str, actor: EventActor, now: datetime,
            data: dict[str, Any]) -> None:
    session.add(CrisisEvent(crisis_id=crisis.id, type=type_, actor_type=actor.actor_type,
                            actor_id=actor.user_id or None, occurred_at=now, data=data))


def _check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise Invalid(f"severity is one of {', '.join(SEVERITIES)}", field="severity")
    return severity


def _check_owner(session: Session, owner_id: int) -> int:
    if owner_id not in responders(session, [owner_id]):
        raise Invalid(f"user {owner_id} cannot own a crisis: only active in-house staff can", field="owner_id")
    return owner_id


def crisis_by_id(session: Session, crisis_id: int) -> Crisis:
    row = session.get(Crisis, crisis_id)
    if row is None:
        raise NotFound(f"crisis {crisis_id} does not exist", field="crisis_id")
    return row


def list_crises(session: Session, *, open_only: bool = False, limit: int = 100) -> Sequence[Crisis]:
    query = select(Crisis)
    if open_only:
        query = query.where(Crisis.status != CrisisStatus.RESOLVED.value)
    return session.scalars(query.order_by(Crisis.declared_at.desc(), Crisis.id.desc()).limit(limit)).all()


def timeline(session: Session, crisis_id: int) -> Sequence[CrisisEvent]:
    return session.scalars(select(CrisisEvent).where(CrisisEvent.crisis_id == crisis_id)
                           .order_by(CrisisEvent.occurred_at, CrisisEvent.id)).all()


def linked_cases(session: Session, crisis_id: int) -> Sequence[Case]:
    return session.scalars(select(Case).join(CrisisCase, CrisisCase.case_id == Case.id)
                           .where(CrisisCase.crisis_id == crisis_id).order_by(CrisisCase.id)).all()


def crises_of_case(session: Session, case_id: int) -> Sequence[Crisis]:
    return session.scalars(select(Crisis).join(CrisisCase, CrisisCase.crisis_id == Crisis.id)
                           .where(CrisisCase.case_id == case_id).order_by(Crisis.id)).all()


def declare(session: Session, case_id: int, *, title: str, severity: str, summary: str, owner_id: int,
            actor: EventActor, now: datetime) -> Crisis:
    """Open a crisis from a case and page the oncall for it."""
    facts = escalations.case_facts(session, case_id)
    if not title.strip():
        raise Invalid("a crisis needs a title", field="title")
    crisis = Crisis(case_id=case_id, title=title.strip()[:200], severity=_check_severity(severity),
                    status=CrisisStatus.INVESTIGATING.value, owner_id=_check_owner(session, owner_id),
                    summary=summary.strip()[:4000], declared_by_id=actor.user_id or None, declared_at=now,
                    updated_at=now, resolved_at=None)
    session.add(crisis)
    session.flush()
    session.add(CrisisCase(crisis_id=crisis.id, case_id=case_id, linked_at=now, linked_by_id=actor.user_id or None))
    _record(session, crisis, "crisis.declared", actor, now, {"case_id": case_id, "title": crisis.title,
                                                            "severity": crisis.severity, "owner_id": owner_id})
    record_case_event(session, case_id, "case.crisis_declared", actor, now,
                      {"crisis_id": crisis.id, "severity": crisis.severity})
    paged = _page_oncall(session, crisis, facts, actor=actor, now=now)
    _record(session, crisis, "crisis.paged", actor, now, {"user_ids": paged})
    webhooks.emit(session, "crisis.declared", _payload(crisis), now=now,
                  text=f"*Crisis declared ({crisis.severity}): {crisis.title}*\n{crisis.summary}")
    return crisis


def _page_oncall(session: Session, crisis: Crisis, facts: escalations.CaseFacts, *, actor: EventActor,
                 now: datetime) -> list[int]:
    ladder = ladders.matching_ladder(session, trigger="crisis", team_key=facts.team_key, market=facts.market,
                                     priority=facts.priority)
    if ladder is not None:
        escalation = escalations.start(session, facts.id, trigger="crisis", reason=f"crisis: {crisis.title}",
                                       actor=actor, now=now, ladder_key=ladder.key, crisis_id=crisis.id)
        if escalation is not None:
            return [p.user_id for p in paging.pages_of_escalation(session, escalation.id)]
    # No crisis ladder: whoever is on call for the case's team now, and the owner.
    team_id = session.scalar(select(Case.team_id).where(Case.id == facts.id))
    oncall = [schedules.oncall_user(session, s.key, now) for s in schedules.schedules_of_team(session, team_id)] \
        if team_id is not None else []
    targets = [u for u in oncall if u is not None] + [crisis.owner_id]
    subject = paging.Subject(case_id=facts.id, case_reference=facts.reference, case_subject=facts.subject,
                             crisis_id=crisis.id)
    pages = paging.page(session, targets, subject, title=f"Crisis {crisis.severity}: {crisis.title}",
                        body=crisis.summary or facts.subject, now=now, actor=actor)
    return [p.user_id for p in pages]


def _payload(crisis: Crisis) -> dict[str, Any]:
    return {"crisis_id": crisis.id, "title": crisis.title, "severity": crisis.severity, "status": crisis.status,
            "owner_id": crisis.owner_id, "case_id": crisis.case_id}


def post_update(session: Session, crisis: Crisis, *, body: str, status: str | None, severity: str | None,
                owner_id: int | None, actor: EventActor, now: datetime) -> Crisis:
    """A status update on the timeline; it may move the status, the severity or the owner."""
    if crisis.status == CrisisStatus.RESOLVED.value:
        raise Conflict("the crisis is resolved", field="status")
    if not body.strip():
        raise Invalid("say what changed", field="body")
    changes: dict[str, Any] = {}
    if status is not None:
        try:
            new_status = CrisisStatus(status)
        except ValueError as exc:
            raise Invalid(f"status is one of {', '.join(s.value for s in CrisisStatus)}", field="status") from exc
        if new_status.value != crisis.status:
            changes["status"] = {"from": crisis.status, "to": new_status.value}
            crisis.status = new_status.value
            if new_status is CrisisStatus.RESOLVED:
                crisis.resolved_at = now
                for escalation in escalations.open_for_crisis(session, crisis.id):
                    escalations.resolve(session, escalation, actor=actor, now=now, reason="crisis resolved")
    if severity is not None and severity != crisis.severity:
        changes["severity"] = {"from": crisis.severity, "to": _check_severity(severity)}
        crisis.severity = severity
    if owner_id is not None and owner_id != crisis.owner_id:
        changes["owner_id"] = {"from": crisis.owner_id, "to": _check_owner(session, owner_id)}
        crisis.owner_id = owner_id
    crisis.updated_at = now
    _record(session, crisis, "crisis.updated", actor, now, {"body": body.strip()[:4000], "changes": changes})
    webhooks.emit(session, "crisis.updated", {**_payload(crisis), "update": body.strip()[:4000], "changes": changes},
                  now=now, text=f"*Crisis update ({crisis.severity}, {crisis.status}): {crisis.title}*\n{body.strip()}")
    return crisis


def link_case(session: Session, crisis: Crisis, case_id: int, *, actor: EventActor, now: datetime) -> CrisisCase:
    escalations.case_facts(session, case_id)  # exists
    if session.scalar(select(CrisisCase.id).where(CrisisCase.crisis_id == crisis.id,
                                                  CrisisCase.case_id == case_id)) is not None:
        raise Conflict(f"case {case_id} is linked already", field="case_id")
    row = CrisisCase(crisis_id=crisis.id, case_id=case_id, linked_at=now, linked_by_id=actor.user_id or None)
    session.add(row)
    _record(session, crisis, "crisis.case_linked", actor, now, {"case_id": case_id})
    record_case_event(session, case_id, "case.crisis_linked", actor, now, {"crisis_id": crisis.id})
    crisis.updated_at = now
    session.flush()
    return row
