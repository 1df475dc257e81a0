"""Users, passwords, API tokens and the actor that every request acts as."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustdesk.core.db import Base
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.permissions import AGENT_ROLES, CUSTOMER_ROLES, ROLE_PERMISSIONS, Perm, Role

TOKEN_PREFIX = "td_"  # noqa: S105 - a public prefix, not a secret
_hasher = PasswordHasher()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change or sign-out everywhere: older session cookies stop working.
    session_generation: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Actor:
    """Who is acting, with what they may do and the scope they may see."""

    user_id: int
    role: Role
    display_name: str
    email: str = ""
    agent_id: int | None = None
    vendor_id: int | None = None
    permissions: frozenset[Perm] = field(default_factory=frozenset)

    @property
    def is_customer(self) -> bool:
        return self.role in CUSTOMER_ROLES or self.role is Role.INTERNAL_REQUESTER

    @property
    def is_agent(self) -> bool:
        return self.role in AGENT_ROLES

    def can(self, perm: Perm) -> bool:
        return perm in self.permissions

    @property
    def actor_type(self) -> str:
        return "agent" if self.is_agent else "customer"


def actor_for(user: User, *, agent_id: int | None = None, vendor_id: int | None = None) -> Actor:
    role = Role(user.role)
    return Actor(
        user_id=user.id, role=role, display_name=user.display_name, email=user.email,
        agent_id=agent_id, vendor_id=vendor_id, permissions=ROLE_PERMISSIONS[role],
    )


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("not an e-mail address", field="email")
    return email


def create_user(
    session: Session, *, email: str, display_name: str, role: Role, password: str | None, now: datetime,
    locale: str = "en",
) -> User:
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} exists", field="email")
    if password is not None and len(password) < 8:
        raise Invalid("a password needs at least 8 characters", field="password")
    user = User(
        email=email, display_name=display_name, role=role.value, locale=locale,
        password_hash=hash_password(password) if password else None, created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", field="user_id")
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = user_by_email(session, email)
    # Hash even when the user is unknown so the timing does not reveal which e-mails exist.
    if user is None:
        _hasher.hash(password)
        return None
    if not user.is_active or not verify_password(user, password):
        return None
    return user


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < 8:
        raise Invalid("a password needs at least 8 characters", field="password")
    user.password_hash = hash_password(password)
    user.session_generation += 1


def set_role(session: Session, user: User, role: Role) -> None:
    user.role = role.value
    user.session_generation += 1


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, user: User, *, name: str, now: datetime) -> tuple[ApiToken, str]:
    """Create a bearer token; the secret is returned once and only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, prefix=secret[:10], token_hash=_digest(secret), created_at=now,
        last_used_at=None, revoked_at=None,
    )
    session.add(token)
    session.flush()
    return token, secret


def user_for_token(session: Session, secret: str, *, now: datetime) -> User | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    found = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == _digest(secret))
    ).first()
    if found is None:
        return None
    token, user = found
    if token.revoked_at is not None or not user.is_active:
        return None
    # Touch at most once a minute so reads do not turn into writes on every request.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return user


def revoke_token(session: Session, user: User, token_id: int, *, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"token {token_id} does not exist", field="token_id")
    token.revoked_at = now


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))
