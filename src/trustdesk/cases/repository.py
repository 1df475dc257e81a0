"""Queries of the cases domain: every select() over its tables lives here."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from trustdesk.cases.models import Attachment, Case, CaseLink, Message, Party, RequestType, Status
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Invalid
from trustdesk.core.events import CaseEvent
from trustdesk.directory.models import Market, Team
from trustdesk.sla import timers as sla_timers

_Row = TypeVar("_Row")

OPEN_STATUSES = (Status.NEW.value, Status.OPEN.value, Status.PENDING.value, Status.ON_HOLD.value)
SORTS = {
    "created_desc": (Case.created_at, True),
    "created_asc": (Case.created_at, False),
    "updated_desc": (Case.updated_at, True),
    "updated_asc": (Case.updated_at, False),
}
# Soonest SLA due time first (cases with no running clock last): the order a support team works in.
DUE_SORT = "due_asc"
SORT_NAMES = (*SORTS, DUE_SORT)


@dataclass
class CaseFilters:
    status: list[str] | None = None
    queue_id: int | None = None
    team_id: int | None = None
    market: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    priority: str | None = None
    channel: str | None = None
    tag: str | None = None
    party_id: int | None = None
    q: str | None = None
    sort: str = "created_desc"


def scope_clause(*, vendor_id: int | None, user_id: int | None) -> ColumnElement[bool]:
    """Rows an actor may see: a vendor's agents their vendor's teams; a customer their parties."""
    clauses: list[ColumnElement[bool]] = []
    if vendor_id is not None:
        clauses.append(Case.team_id.in_(select(Team.id).where(Team.vendor_id == vendor_id)))
    if user_id is not None:
        clauses.append(Case.party_id.in_(select(Party.id).where(Party.user_id == user_id)))
    return and_(true(), *clauses)


def encode_cursor(value: datetime | None, case_id: int) -> str:
    """The last row of a page: its sort value (None: a case with nothing due, under ``due_asc``) and id."""
    raw = json.dumps({"v": value.isoformat() if value is not None else None, "id": case_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, nullable: bool = False) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        raw, case_id = data["v"], int(data["id"])
        value = None if raw is None and nullable else datetime.fromisoformat(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("cursor is not one this API returned", field="cursor") from exc
    # Cursors this API writes hold an aware timestamp and a real row id; anything else is forged.
    if (value is not None and value.tzinfo is None) or not 0 < case_id <= MAX_ID:
        raise Invalid("cursor is not one this API returned", field="cursor")
    return value, case_id


def _tag_clause(session: Session, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        # The column's Python type is the generic JSON (JSONB is only its PostgreSQL variant), whose
        # contains() is a string LIKE; coerce so that this is JSONB containment (@>).
        return type_coerce(Case.tags, JSONB).contains([tag])
    each = func.json_each(Case.tags).table_valued("value")
    return exists(select(each.c.value).where(each.c.value == tag))


def search_clause(q: str) -> ColumnElement[bool]:
    """Reference, subject or any message text (case-insensitive)."""
    q = q.strip()
    # % and _ are searched for literally (dropping them made "%" match every case).
    literal = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{literal}%"
    return or_(
        Case.reference == q.upper(),
        Case.subject.ilike(pattern, escape="\\"),
        exists(select(Message.id).where(Message.case_id == Case.id, Message.body.ilike(pattern, escape="\\"))),
    )


def case_list_query(session: Session, filters: CaseFilters, scope: ColumnElement[bool]) -> Select[Any]:
    query = select(Case).where(scope)
    if filters.status:
        query = query.where(Case.status.in_(filters.status))
    if filters.queue_id is not None:
        query = query.where(Case.queue_id == filters.queue_id)
    if filters.team_id is not None:
        query = query.where(Case.team_id == filters.team_id)
    if filters.market:
        query = query.where(Case.market_id.in_(select(Market.id).where(Market.code == filters.market.upper())))
    if filters.unassigned:
        query = query.where(Case.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        query = query.where(Case.assignee_id == filters.assignee_id)
    if filters.priority:
        query = query.where(Case.priority == filters.priority)
    if filters.channel:
        query = query.where(Case.channel == filters.channel)
    if filters.party_id is not None:
        query = query.where(Case.party_id == filters.party_id)
    if filters.tag:
        query = query.where(_tag_clause(session, filters.tag.strip().lower()))  # tags are stored lower-case
    if filters.q:
        query = query.where(search_clause(filters.q))
    return query


def list_cases(session: Session, filters: CaseFilters, scope: ColumnElement[bool], *, limit: int,
               cursor: str | None) -> tuple[Sequence[Case], str | None]:
    """One page by keyset (sort column, id): stable under inserts, cheap at any depth."""
    if filters.sort == DUE_SORT:
        return _list_by_due(session, filters, scope, limit=limit, cursor=cursor)
    if filters.sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORT_NAMES)}", field="sort")
    column, descending = SORTS[filters.sort]
    query = case_list_query(session, filters, scope)
    if cursor:
        value, last_id = decode_cursor(cursor)
        if descending:
            query = query.where(or_(column < value, and_(column == value, Case.id < last_id)))
        else:
            query = query.where(or_(column > value, and_(column == value, Case.id > last_id)))
    order = (column.desc(), Case.id.desc()) if descending else (column.asc(), Case.id.asc())
    rows = session.scalars(query.order_by(*order).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        last = page[-1]
        next_cursor = encode_cursor(getattr(last, column.key), last.id)
    return page, next_cursor


def _list_by_due(session: Session, filters: CaseFilters, scope: ColumnElement[bool], *, limit: int,
                 cursor: str | None) -> tuple[Sequence[Case], str | None]:
    """Keyset by (has nothing due, soonest due time, id): cases with a running SLA clock by the soonest
    due time, then the cases with none, each run by id. A due time that moves between two pages (a reply
    stops a clock) may move its case across the cursor, as any sort on a changing value would."""
    due = sla_timers.soonest_due()
    query = case_list_query(session, filters, scope).add_columns(due.label("next_due"))
    if cursor:
        value, last_id = decode_cursor(cursor, nullable=True)
        if value is None:
            query = query.where(due.is_(None), Case.id > last_id)
        else:
            query = query.where(or_(due > value, and_(due == value, Case.id > last_id), due.is_(None)))
    rows = session.execute(query.order_by(due.is_(None), due.asc(), Case.id.asc()).limit(limit + 1)).all()
    page = [case for case, _due in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and page:
        last_case, last_due = rows[limit - 1]
        next_cursor = encode_cursor(last_due, last_case.id)
    return page, next_cursor


def count_cases(session: Session, filters: CaseFilters, scope: ColumnElement[bool]) -> int:
    inner = case_list_query(session, filters, scope).with_only_columns(Case.id).order_by(None)
    return int(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


def case_by_reference(session: Session, reference: str) -> Case | None:
    return session.scalar(select(Case).where(Case.reference == reference.upper()))


def _loaded(session: Session, model: type[_Row], ids: set[int]) -> dict[int, _Row]:
    """Rows of ``model`` this unit of work holds already (a SELECT would hand back the same objects)."""
    found: dict[int, _Row] = {}
    for row_id in ids:
        row = session.identity_map.get(identity_key(model, row_id))
        if row is not None and row not in session.deleted:
            found[row_id] = row
    return found


def parties_by_ids(session: Session, ids: set[int]) -> dict[int, Party]:
    # Shaping a case just opened or changed needs no query for its party (saves one per create).
    found = _loaded(session, Party, ids)
    missing = ids - found.keys()
    if missing:
        found.update({p.id: p for p in session.scalars(select(Party).where(Party.id.in_(missing)))})
    return found


def market_codes(session: Session, ids: set[int]) -> dict[int, str]:
    found = {market_id: market.code for market_id, market in _loaded(session, Market, ids).items()}
    missing = ids - found.keys()
    if missing:
        for market_id, code in session.execute(select(Market.id, Market.code).where(Market.id.in_(missing))):
            found[market_id] = code
    return found


def messages(session: Session, case_id: int, *, public_only: bool) -> Sequence[Message]:
    query = select(Message).where(Message.case_id == case_id)
    if public_only:
        query = query.where(Message.visibility == "public")
    return session.scalars(query.order_by(Message.id)).all()


def attachments(session: Session, case_id: int) -> Sequence[Attachment]:
    return session.scalars(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)).all()


def attachment_count(session: Session, case_id: int) -> int:
    return int(session.scalar(select(func.count(Attachment.id)).where(Attachment.case_id == case_id)) or 0)


def events(session: Session, case_id: int) -> Sequence[CaseEvent]:
    return session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()


def links(session: Session, case_id: int) -> Sequence[CaseLink]:
    query = select(CaseLink).where(or_(CaseLink.case_id == case_id, CaseLink.linked_case_id == case_id))
    return session.scalars(query.order_by(CaseLink.id)).all()


def link_exists(session: Session, case_id: int, other_id: int, kind: str) -> bool:
    query = select(CaseLink.id).where(CaseLink.case_id == case_id, CaseLink.linked_case_id == other_id,
                                      CaseLink.kind == kind)
    return session.scalar(query) is not None


def party_by_external(session: Session, market_id: int, kind: str, external_id: str) -> Party | None:
    return session.scalar(select(Party).where(Party.market_id == market_id, Party.kind == kind,
                                              Party.external_id == external_id))


def party_of_user(session: Session, user_id: int, market_id: int, kind: str) -> Party | None:
    query = select(Party).where(Party.user_id == user_id, Party.market_id == market_id, Party.kind == kind)
    return session.scalar(query.order_by(Party.id))


def parties_of_user(session: Session, user_id: int) -> Sequence[Party]:
    return session.scalars(select(Party).where(Party.user_id == user_id).order_by(Party.id)).all()


def request_types(session: Session, *, active_only: bool = True) -> Sequence[RequestType]:
    query = select(RequestType).order_by(RequestType.name)
    if active_only:
        query = query.where(RequestType.is_active.is_(True))
    return session.scalars(query).all()


def request_type_by_key(session: Session, key: str) -> RequestType | None:
    return session.scalar(select(RequestType).where(RequestType.key == key))


def solved_before(session: Session, cutoff: datetime, limit: int) -> Sequence[int]:
    query = (select(Case.id).where(Case.status == Status.SOLVED.value, Case.solved_at <= cutoff)
             .order_by(Case.id).limit(limit))
    return session.scalars(query).all()


def queue_status_counts(session: Session, queue_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Open work per queue and status, plus unassigned new/open cases, in one query."""
    counts: dict[int, dict[str, int]] = {
        qid: {"new": 0, "open": 0, "pending": 0, "on_hold": 0, "unassigned": 0} for qid in queue_ids
    }
    if not queue_ids:
        return counts
    rows = session.execute(
        select(Case.queue_id, Case.status, Case.assignee_id.is_(None), func.count())
        .where(Case.queue_id.in_(queue_ids), Case.status.in_(OPEN_STATUSES))
        .group_by(Case.queue_id, Case.status, Case.assignee_id.is_(None))
    )
    for queue_id, status, unassigned, count in rows:
        if queue_id is None:
            continue
        counts[queue_id][status] += count
        if unassigned and status in (Status.NEW.value, Status.OPEN.value):
            counts[queue_id]["unassigned"] += count
    return counts


def agent_loads(session: Session, agent_ids: Sequence[int]) -> dict[int, int]:
    """Cases each agent holds that still need them (new, open, on hold)."""
    loads = dict.fromkeys(agent_ids, 0)
    if not agent_ids:
        return loads
    rows = session.execute(
        select(Case.assignee_id, func.count())
        .where(Case.assignee_id.in_(agent_ids),
               Case.status.in_((Status.NEW.value, Status.OPEN.value, Status.ON_HOLD.value)))
        .group_by(Case.assignee_id)
    )
    for agent_id, count in rows:
        if agent_id is not None:
            loads[agent_id] = count
    return loads
