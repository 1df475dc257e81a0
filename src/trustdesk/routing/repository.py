"""Routing's queries. Training sets, simulation and the misroute report read the case log
(cases, first messages, routing and reroute events) read-only: they measure what cases did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import AuthorType, Case, Message, Party
from trustdesk.core.db import is_postgres
from trustdesk.core.events import CaseEvent
from trustdesk.directory.models import Market
from trustdesk.routing.models import ModelStatus, RoutingDecision, RoutingModel, RuleSet, RuleSetStatus

_PUBLISHED = select(RuleSet).where(RuleSet.status == RuleSetStatus.PUBLISHED.value)
_ACTIVE = select(RoutingModel).where(RoutingModel.status == ModelStatus.ACTIVE.value)


def published_rule_set(session: Session, *, for_update: bool = False) -> RuleSet | None:
    """The set in force; ``for_update`` locks it (PostgreSQL) so two publications queue up."""
    return session.scalar(_PUBLISHED.with_for_update() if for_update and is_postgres(session) else _PUBLISHED)


def rule_set_by_version(session: Session, version: int) -> RuleSet | None:
    return session.scalar(select(RuleSet).where(RuleSet.version == version))


def rule_sets(session: Session) -> Sequence[RuleSet]:
    return session.scalars(select(RuleSet).order_by(RuleSet.version.desc())).all()


def next_rule_set_version(session: Session) -> int:
    return int(session.scalar(select(func.max(RuleSet.version))) or 0) + 1


def active_model(session: Session, *, for_update: bool = False) -> RoutingModel | None:
    return session.scalar(_ACTIVE.with_for_update() if for_update and is_postgres(session) else _ACTIVE)


def model_by_version(session: Session, version: int) -> RoutingModel | None:
    return session.scalar(select(RoutingModel).where(RoutingModel.version == version))


def models(session: Session) -> Sequence[RoutingModel]:
    return session.scalars(select(RoutingModel).order_by(RoutingModel.version.desc())).all()


def next_model_version(session: Session) -> int:
    return int(session.scalar(select(func.max(RoutingModel.version))) or 0) + 1


def decision_for(session: Session, case_id: int) -> RoutingDecision | None:
    return session.scalar(select(RoutingDecision).where(RoutingDecision.case_id == case_id))


@dataclass(frozen=True)
class CaseText:
    case_id: int
    created_at: datetime
    market: str
    channel: str
    language: str
    party_kind: str
    subject: str
    body: str  # the first customer message
    topic: str | None
    priority: str
    tags: list[str]
    custom_fields: dict[str, Any]
    team_id: int | None
    status: str


def case_texts(session: Session, *, since: datetime, until: datetime, statuses: Sequence[str] | None = None,
               with_topic: bool = False) -> list[CaseText]:
    """Cases created in [since, until) with their first customer message, oldest first."""
    first = (select(Message.case_id, func.min(Message.id).label("message_id"))
             .where(Message.author_type == AuthorType.CUSTOMER.value).group_by(Message.case_id).subquery())
    query = (select(Case, Message.body, Market.code, Party.kind)
             .join(first, first.c.case_id == Case.id)
             .join(Message, Message.id == first.c.message_id)
             .join(Market, Market.id == Case.market_id)
             .join(Party, Party.id == Case.party_id)
             .where(Case.created_at >= since, Case.created_at < until, Case.merged_into_id.is_(None)))
    if statuses is not None:
        query = query.where(Case.status.in_(statuses))
    if with_topic:
        query = query.where(Case.topic.is_not(None))
    rows = session.execute(query.order_by(Case.created_at, Case.id))
    return [CaseText(case_id=c.id, created_at=c.created_at, market=code, channel=c.channel, language=c.language,
                     party_kind=kind, subject=c.subject, body=body, topic=c.topic, priority=c.priority,
                     tags=list(c.tags), custom_fields=dict(c.custom_fields), team_id=c.team_id, status=c.status)
            for c, body, code, kind in rows]


def decisions_between(session: Session, since: datetime, until: datetime) -> Sequence[RoutingDecision]:
    return session.scalars(select(RoutingDecision).where(RoutingDecision.decided_at >= since,
                                                         RoutingDecision.decided_at < until)
                           .order_by(RoutingDecision.decided_at, RoutingDecision.id)).all()


def events_of(session: Session, case_ids: Sequence[int], types: Sequence[str]) -> Sequence[CaseEvent]:
    """The given events of the given cases, in order (chunked: PostgreSQL and SQLite cap parameters)."""
    found: list[CaseEvent] = []
    ids = list(case_ids)
    for start in range(0, len(ids), 900):
        found.extend(session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids[start:start + 900]),
                                                             CaseEvent.type.in_(types))))
    found.sort(key=lambda e: (e.occurred_at, e.id))
    return found


@dataclass(frozen=True)
class CaseFacts:
    reference: str
    created_at: datetime
    market: str
    channel: str
    party_kind: str
    language: str
    topic: str | None


def case_facts(session: Session, case_ids: Sequence[int]) -> dict[int, CaseFacts]:
    out: dict[int, CaseFacts] = {}
    ids = list(case_ids)
    for start in range(0, len(ids), 900):
        query = (select(Case.id, Case.reference, Case.created_at, Market.code, Case.channel, Party.kind, Case.language,
                        Case.topic)
                 .join(Market, Market.id == Case.market_id).join(Party, Party.id == Case.party_id)
                 .where(Case.id.in_(ids[start:start + 900])))
        for case_id, reference, created_at, market, channel, kind, language, topic in session.execute(query):
            out[case_id] = CaseFacts(reference=reference or str(case_id), created_at=created_at, market=market,
                                     channel=channel, party_kind=kind, language=language, topic=topic)
    return out


def custom_fields_of(session: Session, case_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), 900):
        for case_id, fields in session.execute(select(Case.id, Case.custom_fields)
                                               .where(Case.id.in_(ids[start:start + 900]))):
            out[case_id] = dict(fields or {})
    return out


def case_texts_by_id(session: Session, case_ids: Sequence[int]) -> dict[int, str]:
    """Subject and first customer message of each case, as routing read them."""
    out: dict[int, str] = {}
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        first = (select(Message.case_id, func.min(Message.id).label("message_id"))
                 .where(Message.author_type == AuthorType.CUSTOMER.value, Message.case_id.in_(chunk))
                 .group_by(Message.case_id).subquery())
        query = (select(Case.id, Case.subject, Message.body).join(first, first.c.case_id == Case.id)
                 .join(Message, Message.id == first.c.message_id))
        for case_id, subject, body in session.execute(query):
            out[case_id] = f"{subject}\n{body}"
    return out
