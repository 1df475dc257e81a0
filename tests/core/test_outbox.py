"""The outbox: written with the change, dropped on rollback, delivered at least once, consumed once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import transaction
from trustdesk.core.outbox import OutboxMessage, OutboxReceipt, consumer, deliver_pending, enqueue

handled: list[dict[str, Any]] = []
flaky_failures = {"left": 0}


@consumer("test.record", name="test.record")
def _record(session: Session, payload: dict[str, Any], now: Any) -> None:
    handled.append(payload)


@consumer("test.flaky", name="test.flaky")
def _flaky(session: Session, payload: dict[str, Any], now: Any) -> None:
    if flaky_failures["left"] > 0:
        flaky_failures["left"] -= 1
        raise RuntimeError("downstream unavailable")
    handled.append(payload)


@pytest.fixture(autouse=True)
def _reset() -> None:
    handled.clear()
    flaky_failures["left"] = 0


def test_rolled_back_enqueue_is_never_delivered(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    with pytest.raises(RuntimeError), transaction(factory) as session:
        enqueue(session, "test.record", {"n": 1}, now=clock.now())
        raise RuntimeError("the change failed")
    assert deliver_pending(factory, clock) == 0
    assert handled == []


def test_delivered_once_even_when_run_twice(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    with transaction(factory) as session:
        enqueue(session, "test.record", {"n": 2}, now=clock.now())
    assert deliver_pending(factory, clock) == 1
    assert deliver_pending(factory, clock) == 0
    assert handled == [{"n": 2}]


def test_redelivery_after_lost_ack_is_a_no_op(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    with transaction(factory) as session:
        message = enqueue(session, "test.record", {"n": 3}, now=clock.now())
    deliver_pending(factory, clock)
    # Simulate a crash after the consumer's work but before the delivery mark was kept.
    with transaction(factory) as session:
        row = session.get(OutboxMessage, message.id)
        assert row is not None
        row.delivered_at = None
    deliver_pending(factory, clock)
    assert handled == [{"n": 3}]
    with transaction(factory) as session:
        receipts = session.scalar(select(func.count()).select_from(OutboxReceipt)
                                  .where(OutboxReceipt.message_id == message.id))
        assert receipts == 1


def test_failures_back_off_and_retry(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    flaky_failures["left"] = 2
    with transaction(factory) as session:
        message = enqueue(session, "test.flaky", {"n": 4}, now=clock.now())
    assert deliver_pending(factory, clock) == 0
    assert deliver_pending(factory, clock) == 0  # not due yet: backing off
    clock.advance(timedelta(seconds=3))
    assert deliver_pending(factory, clock) == 0  # second failure
    clock.advance(timedelta(seconds=5))
    assert deliver_pending(factory, clock) == 1
    assert handled == [{"n": 4}]
    with transaction(factory) as session:
        row = session.get(OutboxMessage, message.id)
        assert row is not None and row.attempts == 3 and row.delivered_at is not None


def test_gives_up_after_max_attempts(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    flaky_failures["left"] = 99
    with transaction(factory) as session:
        message = enqueue(session, "test.flaky", {"n": 5}, now=clock.now())
    for _ in range(4):
        deliver_pending(factory, clock, max_attempts=3)
        clock.advance(timedelta(hours=1))
    with transaction(factory) as session:
        row = session.get(OutboxMessage, message.id)
        assert row is not None and row.failed_at is not None and row.attempts == 3
        assert row.last_error and "downstream unavailable" in row.last_error


def test_a_savepoint_release_is_not_a_commit(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    from trustdesk.core.outbox import clear_outbox_hooks, on_outbox_commit

    woken: list[int] = []
    on_outbox_commit(lambda: woken.append(1))
    try:
        with transaction(factory) as session:
            with session.begin_nested():
                enqueue(session, "test.record", {"n": 6}, now=clock.now())
            assert woken == [], "woken while the outer transaction was still open"
        assert woken == [1]
    finally:
        clear_outbox_hooks()
