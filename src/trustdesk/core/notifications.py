"""Each user's inbox: things TrustDesk tells a person (a catalogue gap, a drift alert, a review due).

A notification is written in the transaction of the change that caused it. ``dedupe_key``
keeps an alert storm out: a second notification with the same key for the same user while the
first is unread is not written (the first one's ``repeats`` counts it instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustdesk.core.db import Base
from trustdesk.core.errors import NotFound
from trustdesk.core.identity import User
from trustdesk.core.permissions import ROLE_PERMISSIONS, Perm, Role


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(String(4000))
    link: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    repeats: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


def notify(session: Session, user_ids: Iterable[int], *, kind: str, title: str, body: str, now: datetime,
           link: str | None = None, dedupe_key: str | None = None, once: bool = False) -> int:
    """Tell each user; returns how many new notifications were written. With ``dedupe_key`` a user
    with an unread notification of that key is not told again (``once``: read or not)."""
    written = 0
    for user_id in sorted(set(user_ids)):
        if dedupe_key is not None:
            query = select(Notification).where(Notification.user_id == user_id, Notification.dedupe_key == dedupe_key)
            if not once:
                query = query.where(Notification.read_at.is_(None))
            existing = session.scalars(query.order_by(Notification.id.desc())).first()
            if existing is not None:
                existing.repeats += 1
                existing.updated_at = now
                continue
        session.add(Notification(user_id=user_id, kind=kind, title=title[:300], body=body[:4000], link=link,
                                 dedupe_key=dedupe_key, repeats=0, created_at=now, updated_at=now, read_at=None))
        written += 1
    if written:
        session.flush()
    return written


def holders_of(session: Session, perm: Perm) -> list[int]:
    """Active in-house users whose role grants ``perm`` (e.g. who owns the service catalogue); a
    vendor's staff are never told about the platform's own configuration."""
    from trustdesk.directory.models import Agent  # core must not import the directory at module load

    roles = [role.value for role in Role if perm in ROLE_PERMISSIONS[role] and role is not Role.ADMIN]
    vendor_staff = select(Agent.user_id).where(Agent.vendor_id.is_not(None))
    ids = list(session.scalars(select(User.id).where(User.role.in_(roles), User.is_active.is_(True),
                                                     User.id.not_in(vendor_staff))))
    if not ids:  # nobody but administrators: they are told instead
        ids = list(session.scalars(select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True))))
    return ids


def inbox(session: Session, user_id: int, *, unread_only: bool = False, limit: int = 100) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return session.scalars(query.order_by(Notification.updated_at.desc(), Notification.id.desc()).limit(limit)).all()


def unread_count(session: Session, user_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0)


def mark_read(session: Session, user_id: int, notification_id: int | None, *, now: datetime) -> int:
    """Mark one (or, with ``None``, every) unread notification of the user read; returns how many."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        row = session.get(Notification, notification_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"notification {notification_id} does not exist", field="notification_id")
        query = query.where(Notification.id == notification_id)
    result = session.execute(query.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)
