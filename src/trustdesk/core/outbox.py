"""Side effects that leave after commit: the transactional outbox and its runner.

``enqueue`` writes a row in the caller's transaction, so a rollback drops it. The runner
delivers committed rows at least once; each consumer records a receipt in the same
transaction as its own work, so a redelivered message is a no-op (idempotent consumers).

A topic whose work is a call to the outside world (a webhook, an email) has a *sender* instead:
the message is claimed with a lease and committed, the sender runs with no transaction open (a slow
receiver must not hold the database's write lock, which on SQLite stops every other write), and the
message is then marked delivered. A crash between the call and the mark sends it again when the
lease runs out: at least once, and receivers drop repeats by the message's own id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from trustdesk.core.clock import Clock
from trustdesk.core.db import Base, is_postgres, transaction

log = logging.getLogger(__name__)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(2000))


class OutboxReceipt(Base):
    """Proof that a consumer has handled a message; makes redelivery harmless."""

    __tablename__ = "outbox_receipts"
    __table_args__ = (UniqueConstraint("consumer", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    handled_at: Mapped[datetime]


Handler = Callable[[Session, dict[str, Any], datetime], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    topic: str
    handler: Handler


Sender = Callable[[sessionmaker[Session], dict[str, Any], datetime], None]
SEND_LEASE = timedelta(minutes=5)  # far longer than any sender's network timeout

_consumers: dict[str, list[Consumer]] = {}
_senders: dict[str, Sender] = {}
_after_commit_hooks: list[Callable[[], object]] = []


def consumer(topic: str, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register a handler for ``topic``; it runs inside its own transaction with a receipt."""

    def register(fn: Handler) -> Handler:
        entry = Consumer(name=name or f"{fn.__module__}.{fn.__name__}", topic=topic, handler=fn)
        existing = _consumers.setdefault(topic, [])
        if all(c.name != entry.name for c in existing):
            existing.append(entry)
        return fn

    return register


def sender(topic: str) -> Callable[[Sender], Sender]:
    """Register the one sender of ``topic``: it runs outside any transaction (see the module's doc)."""

    def register(fn: Sender) -> Sender:
        _senders[topic] = fn
        return fn

    return register


def consumers_for(topic: str) -> list[Consumer]:
    return list(_consumers.get(topic, []))


def enqueue(session: Session, topic: str, payload: dict[str, Any], *, now: datetime,
            delay: timedelta | None = None) -> OutboxMessage:
    message = OutboxMessage(
        topic=topic, payload=payload, created_at=now, available_at=now + (delay or timedelta()),
        attempts=0, delivered_at=None, failed_at=None, last_error=None,
    )
    session.add(message)
    session.info["outbox_pending"] = True
    return message


def on_outbox_commit(hook: Callable[[], object]) -> None:
    """Call ``hook`` after any commit that enqueued something (wakes the runner)."""
    _after_commit_hooks.append(hook)


def clear_outbox_hooks() -> None:
    _after_commit_hooks.clear()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    # SQLAlchemy also reports a savepoint's release as a commit; only the real one counts, since
    # until then the rows are invisible to the runner (and on SQLite the write lock is still held).
    # A rolled-back transaction may leave the flag set; the next commit then wakes the runner for
    # nothing, which costs one empty poll and is simpler than tracking savepoint rollbacks.
    if session.get_nested_transaction() is not None:
        return
    if session.info.pop("outbox_pending", False):
        for hook in list(_after_commit_hooks):
            hook()


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 2 ** min(attempts, 12)))


def deliver_pending(factory: sessionmaker[Session], clock: Clock, *, limit: int = 100,
                    max_attempts: int = 10) -> int:
    """Deliver up to ``limit`` due messages; returns how many were handled successfully."""
    with transaction(factory) as session:
        query = (
            select(OutboxMessage.id)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None),
                   OutboxMessage.available_at <= clock.now())
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        ids = list(session.scalars(query))
    delivered = 0
    for message_id in ids:
        if _deliver_one(factory, clock, message_id, max_attempts=max_attempts):
            delivered += 1
    return delivered


def _deliver_one(factory: sessionmaker[Session], clock: Clock, message_id: int, *, max_attempts: int) -> bool:
    with transaction(factory) as session:
        topic = session.scalar(select(OutboxMessage.topic).where(OutboxMessage.id == message_id))
    if topic in _senders:
        return _send_one(factory, clock, message_id, _senders[topic], max_attempts=max_attempts)
    try:
        with transaction(factory) as session:
            query = select(OutboxMessage).where(OutboxMessage.id == message_id)
            if is_postgres(session):
                query = query.with_for_update(skip_locked=True)
            message = session.scalar(query)
            if message is None or message.delivered_at is not None or message.failed_at is not None:
                return False
            now = clock.now()
            for entry in consumers_for(message.topic):
                done = session.scalar(
                    select(OutboxReceipt.id).where(
                        OutboxReceipt.consumer == entry.name, OutboxReceipt.message_id == message.id
                    )
                )
                if done is not None:
                    continue
                with session.begin_nested():
                    entry.handler(session, dict(message.payload), now)
                    session.add(OutboxReceipt(consumer=entry.name, message_id=message.id, handled_at=now))
            message.attempts += 1
            message.delivered_at = now
        return True
    except Exception as exc:
        log.exception("outbox message %s failed", message_id)
        _failed(factory, clock, message_id, exc, max_attempts=max_attempts, count=True)
        return False


def _failed(factory: sessionmaker[Session], clock: Clock, message_id: int, exc: Exception, *, max_attempts: int,
            count: bool) -> None:
    with transaction(factory) as session:
        message = session.get(OutboxMessage, message_id)
        if message is not None and message.delivered_at is None:
            message.attempts += int(count)
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= max_attempts:
                message.failed_at = clock.now()
            else:
                message.available_at = clock.now() + _backoff(message.attempts)


def _send_one(factory: sessionmaker[Session], clock: Clock, message_id: int, send: Sender, *,
              max_attempts: int) -> bool:
    with transaction(factory) as session:  # claim: nobody else sends it while the lease runs
        query = select(OutboxMessage).where(OutboxMessage.id == message_id)
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        message = session.scalar(query)
        now = clock.now()
        if (message is None or message.delivered_at is not None or message.failed_at is not None
                or message.available_at > now):
            return False
        message.attempts += 1
        message.available_at = now + SEND_LEASE
        payload = dict(message.payload)
    try:
        send(factory, payload, now)
    except Exception as exc:
        log.warning("outbox message %s not sent: %s: %s", message_id, type(exc).__name__, exc)
        _failed(factory, clock, message_id, exc, max_attempts=max_attempts, count=False)
        return False
    with transaction(factory) as session:
        message = session.get(OutboxMessage, message_id)
        if message is not None and message.delivered_at is None:
            message.delivered_at = clock.now()
    return True


PeriodicJob = Callable[[sessionmaker[Session], Clock], object]
PeriodicJobs = Sequence[tuple[float, PeriodicJob]]


class OutboxRunner:
    """The embedded worker: one thread inside ``trustdesk serve`` that delivers the outbox
    soon after each commit and runs periodic sweeps."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, *, poll_seconds: float = 1.0,
                 max_attempts: int = 10, periodic: PeriodicJobs = ()) -> None:
        self.factory = factory
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.periodic = list(periodic)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_run: dict[int, float] = {}

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        on_outbox_commit(self.wake)
        self._thread = threading.Thread(target=self._loop, name="trustdesk-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> int:
        delivered = deliver_pending(self.factory, self.clock, max_attempts=self.max_attempts)
        tick = time.monotonic()
        for index, (every, job) in enumerate(self.periodic):
            if tick - self._last_run.get(index, 0.0) >= every:
                self._last_run[index] = tick
                try:
                    job(self.factory, self.clock)
                except Exception:
                    log.exception("periodic job %s failed", getattr(job, "__name__", job))
        return delivered

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once():
                    if self._stop.is_set():
                        return
            except Exception:
                log.exception("outbox runner iteration failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
