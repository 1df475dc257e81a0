"""The append-only case event log, written in the transaction of the change it describes.

Events are the audit trail and the single source of every metric. Other domains keep their
own logs in the same shape by subclassing :class:`EventLogMixin`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustdesk.core.db import Base


class EventActor(Protocol):
    @property
    def actor_type(self) -> str: ...

    @property
    def user_id(self) -> int: ...


class SystemActor:
    """Work done by TrustDesk itself (jobs, sweeps, automations)."""

    def __init__(self, kind: str = "system") -> None:
        self._kind = kind

    @property
    def actor_type(self) -> str:
        return self._kind

    @property
    def user_id(self) -> int:
        return 0


SYSTEM = SystemActor()


class EventLogMixin:
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class CaseEvent(EventLogMixin, Base):
    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_id_id", "case_id", "id"),
        Index("ix_case_events_type_occurred_at", "type", "occurred_at"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))


class StaleCase(Base):
    """A case with events that read models (``insights.facts``) have not folded yet: one row per flush
    that wrote its events, in that flush's transaction, so a reader that consumes these rows never
    misses a committed event, whatever order concurrent transactions commit in."""

    __tablename__ = "insight_stale_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(index=True)


@event.listens_for(Session, "before_flush")
def _events_are_append_only(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, EventLogMixin) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError(f"{type(obj).__name__} rows are append-only")
    touched = {obj.case_id for obj in session.new if isinstance(obj, CaseEvent)}
    for case_id in sorted(touched):
        session.add(StaleCase(case_id=case_id))


def record_case_event(
    session: Session, case_id: int, type_: str, actor: EventActor, now: datetime,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    row = CaseEvent(
        case_id=case_id, type=type_, actor_type=actor.actor_type,
        actor_id=actor.user_id or None, occurred_at=now, data=data or {},
    )
    session.add(row)
    return row
