"""Pages: one person told to act now, on every channel they can be reached on, with a link to
acknowledge that needs no sign-in (the link's token is the proof, kept only as a hash).

A page is written in the transaction that decided it; what leaves the building (webhooks, email)
goes through the outbox, so a rolled-back escalation pages nobody and a delivery that fails is
retried. The in-app inbox gets it too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core import mail, webhooks
from trustdesk.core.errors import NotFound
from trustdesk.core.events import EventActor, record_case_event
from trustdesk.core.identity import User
from trustdesk.core.notifications import notify
from trustdesk.oncall.models import Page
from trustdesk.oncall.people import responders

_base_url = "http://127.0.0.1:8000"


def configure(base_url: str) -> None:
    """The address people reach the console on, for the links in pages (set when the app starts)."""
    global _base_url
    _base_url = base_url.rstrip("/")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Subject:
    """What a page is about: a case (and the escalation or crisis that paged for it)."""

    case_id: int
    case_reference: str
    case_subject: str
    escalation_id: int | None = None
    crisis_id: int | None = None


def page(session: Session, user_ids: Sequence[int], subject: Subject, *, title: str, body: str, now: datetime,
         actor: EventActor, schedule_key: str | None = None) -> list[Page]:
    """Page each person once; returns the pages written."""
    allowed = responders(session, list(user_ids))  # someone who left, or moved to a vendor, is not paged
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(sorted(allowed))))}
    pages: list[Page] = []
    for user_id in dict.fromkeys(user_ids):  # keeps order, drops repeats
        user = users.get(user_id)
        if user is None:
            continue
        token = "pg_" + secrets.token_urlsafe(24)
        row = Page(user_id=user.id, case_id=subject.case_id, escalation_id=subject.escalation_id,
                   crisis_id=subject.crisis_id, schedule_key=schedule_key, title=title[:300], body=body[:2000],
                   token_hash=_hash(token), created_at=now, acknowledged_at=None, acknowledged_by_id=None)
        session.add(row)
        session.flush()
        _deliver(session, row, user, subject, token, now=now)
        record_case_event(session, subject.case_id, "case.paged", actor, now, {
            "page_id": row.id, "user_id": user.id, "schedule": schedule_key, "escalation_id": subject.escalation_id,
            "crisis_id": subject.crisis_id})
        pages.append(row)
    return pages


def ack_url(token: str) -> str:
    return f"{_base_url}/oncall/pages/{token}"


def _deliver(session: Session, row: Page, user: User, subject: Subject, token: str, *, now: datetime) -> None:
    link = ack_url(token)
    case_link = f"{_base_url}/console/cases/{subject.case_id}"
    notify(session, [user.id], kind="page", title=row.title, body=row.body, now=now,
           link=f"/console/cases/{subject.case_id}")
    data: dict[str, Any] = {
        "page_id": row.id, "user": {"id": user.id, "email": user.email, "name": user.display_name},
        "case": {"id": subject.case_id, "reference": subject.case_reference, "subject": subject.case_subject,
                 "url": case_link},
        "escalation_id": subject.escalation_id, "crisis_id": subject.crisis_id, "schedule": row.schedule_key,
        "title": row.title, "body": row.body, "ack_url": link,
    }
    text = f"*{row.title}* for {user.display_name}\n{row.body}\n<{case_link}|Open {subject.case_reference}>"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": link,
             "style": "primary"},
            {"type": "button", "text": {"type": "plain_text", "text": "Open the case"}, "url": case_link}]},
    ]
    webhooks.emit(session, "page.triggered", data, now=now, text=text, blocks=blocks)
    mail.send(session, to=user.email, subject=f"[TrustDesk] {row.title}", now=now,
              text=f"{row.body}\n\nCase {subject.case_reference}: {case_link}\nAcknowledge: {link}\n")


class PageHolder:
    """The paged person acting through the page's link: the link is their proof, not a session."""

    def __init__(self, user_id: int) -> None:
        self._user_id = user_id

    @property
    def actor_type(self) -> str:
        return "agent"

    @property
    def user_id(self) -> int:
        return self._user_id


def acknowledge_page(session: Session, row: Page, *, now: datetime) -> Page:
    """A page with no escalation behind it (a crisis's): the person has seen it."""
    if row.acknowledged_at is None:
        row.acknowledged_at, row.acknowledged_by_id = now, row.user_id
        if row.case_id is not None:
            record_case_event(session, row.case_id, "case.page_acknowledged", PageHolder(row.user_id), now, {
                "page_id": row.id, "seconds_to_ack": (now - row.created_at).total_seconds()})
    return row


def page_by_token(session: Session, token: str) -> Page:
    row = session.scalar(select(Page).where(Page.token_hash == _hash(token)))
    if row is None:
        raise NotFound("this page link is unknown", field="token")
    return row


def page_of_user(session: Session, page_id: int, user_id: int) -> Page:
    row = session.get(Page, page_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"page {page_id} does not exist", field="page_id")
    return row


def pages_of_escalation(session: Session, escalation_id: int) -> Sequence[Page]:
    return session.scalars(select(Page).where(Page.escalation_id == escalation_id).order_by(Page.id)).all()


def pages_of_user(session: Session, user_id: int, *, limit: int = 50) -> Sequence[Page]:
    return session.scalars(select(Page).where(Page.user_id == user_id)
                           .order_by(Page.created_at.desc(), Page.id.desc()).limit(limit)).all()


def mark_acknowledged(session: Session, escalation_id: int, *, by: int, now: datetime) -> int:
    rows = [p for p in pages_of_escalation(session, escalation_id) if p.acknowledged_at is None]
    for row in rows:
        row.acknowledged_at, row.acknowledged_by_id = now, by
    return len(rows)
