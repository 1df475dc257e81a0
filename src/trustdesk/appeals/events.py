"""The appeals domain's event log: one row per state change, written in the transaction of the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.appeals.models import AppealEvent
from trustdesk.core.events import EventActor


def record_event(session: Session, type_: str, actor: EventActor, now: datetime, data: dict[str, Any] | None = None,
                 *, decision_id: int | None = None, appeal_id: int | None = None,
                 party_id: int | None = None) -> AppealEvent:
    row = AppealEvent(type=type_, actor_type=actor.actor_type, actor_id=actor.user_id or None, occurred_at=now,
                      data=data or {}, decision_id=decision_id, appeal_id=appeal_id, party_id=party_id)
    session.add(row)
    return row
