"""Typed builders for parties and cases (through the service, so events are true)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.cases import service
from trustdesk.cases.models import Case, Channel, Party, PartyKind
from trustdesk.cases.schemas import PartyIn
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import User
from trustdesk.core.settings import Settings
from trustdesk.directory.models import Market, Queue

SETTINGS = Settings(database_url="sqlite://", secret_key="x" * 40)


def make_party(session: Session, market: Market, *, now: datetime, user: User | None = None,
               kind: PartyKind = PartyKind.BUYER, external_id: str | None = None) -> Party:
    party = service.upsert_party(session, market, PartyIn(
        kind=kind, external_id=external_id or f"ext-{user.id if user else 'anon'}-{kind.value}",
        display_name=user.display_name if user else "Pat Customer"), now=now)
    if user is not None:
        party.user_id = user.id
    session.flush()
    return party


def make_case(session: Session, *, market: Market, party: Party, now: datetime, queue: Queue | None = None,
              **overrides: Any) -> Case:
    data: dict[str, Any] = {"channel": Channel.WEB_FORM, "subject": "Where is my order?",
                            "body": "My order 123 has not arrived yet.", "language": "en"} | overrides
    return service.open_case(session, service.NewCase(market=market, party=party, queue=queue, **data),
                             actor=SYSTEM, settings=SETTINGS, now=now).case
