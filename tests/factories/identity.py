"""Typed builders for users and tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.core import identity
from trustdesk.core.identity import User
from trustdesk.core.permissions import Role

PASSWORD = "correct-horse-battery"


def make_user(session: Session, role: Role, *, now: datetime, email: str | None = None,
              name: str | None = None, password: str | None = PASSWORD) -> User:
    email = email or f"{role.value}-{session.info.setdefault('seq', 0) + 1}@example.test"
    session.info["seq"] = session.info.get("seq", 0) + 1
    return identity.create_user(session, email=email, display_name=name or email.split("@")[0], role=role,
                                password=password, now=now)


def make_token(session: Session, user: User, *, now: datetime) -> str:
    _token, secret = identity.issue_token(session, user, name="test", now=now)
    return secret
