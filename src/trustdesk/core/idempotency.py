"""Idempotency-Key records: a retried request returns the first result, never a second write."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustdesk.core.db import Base
from trustdesk.core.errors import Invalid

MAX_KEY_LENGTH = 200


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
                      field="Idempotency-Key")
    return key


def find(session: Session, scope: str, key: str, request_hash: str) -> IdempotencyRecord | None:
    """The earlier result for this key, or None; the same key with another body is refused."""
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )
    if record is not None and record.request_hash != request_hash:
        raise Invalid("this Idempotency-Key was used with a different request body",
                      field="Idempotency-Key")
    return record


def claim(session: Session, scope: str, key: str, request_hash: str, now: datetime) -> IdempotencyRecord | None:
    """Reserve ``key`` before doing the work, or return the twin request's finished record.

    The row is inserted first, inside a savepoint: a concurrent request with the same key
    waits on the unique index (PostgreSQL) or the write lock (SQLite) and then sees the
    committed record instead of creating a second object.
    """
    earlier = find(session, scope, key, request_hash)
    if earlier is not None:
        return earlier
    record = IdempotencyRecord(scope=scope, key=key, request_hash=request_hash, status_code=0,
                               response={}, created_at=now)
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return find(session, scope, key, request_hash)
    return None


def complete(session: Session, scope: str, key: str, status_code: int, response: dict[str, Any]) -> None:
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )
    if record is None:
        raise RuntimeError("complete() without claim()")
    record.status_code = status_code
    record.response = response
