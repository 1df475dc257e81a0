"""Idempotency-Key records: a retried request returns the first result, never a second write."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustdesk.core.db import Base, is_postgres
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

    One ``INSERT ... ON CONFLICT DO NOTHING``: a concurrent request with the same key waits on
    the unique index (PostgreSQL) or the write lock (SQLite) until the first one commits, inserts
    nothing, and then reads the committed record instead of creating a second object. If the
    first one rolled back, the insert goes through and this request does the work.
    """
    dialect = postgresql if is_postgres(session) else sqlite
    inserted = session.execute(
        dialect.insert(IdempotencyRecord)
        .values(scope=scope, key=key, request_hash=request_hash, status_code=0, response={}, created_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyRecord.id)
    ).scalar()
    if inserted is not None:
        return None
    earlier = find(session, scope, key, request_hash)
    if earlier is None:  # pragma: no cover - the conflicting row is committed before the insert returns
        raise RuntimeError(f"idempotency key {key!r} conflicted but cannot be read")
    return earlier


def complete(session: Session, scope: str, key: str, status_code: int, response: dict[str, Any]) -> None:
    """Record the response of the request that claimed ``key``."""
    updated = session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(status_code=status_code, response=response)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError("complete() without claim()")
