"""Outgoing webhooks: Standard Webhooks signatures a receiver verifies with its secret, one outbox
message per receiver, retries with back-off, and nothing lost when the server dies mid-delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.receiver import Receiver
from trustdesk.core import webhooks
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import transaction
from trustdesk.core.errors import Invalid
from trustdesk.core.outbox import SEND_LEASE, OutboxMessage, deliver_pending


def _endpoint(factory: sessionmaker[Session], clock: FrozenClock, url: str, types: list[str] | None = None,
              key: str = "ops") -> webhooks.WebhookEndpoint:
    with transaction(factory) as session:
        return webhooks.create_endpoint(session, key=key, url=url, event_types=types or ["*"], now=clock.now())


def _emit(factory: sessionmaker[Session], clock: FrozenClock, type_: str = "page.triggered") -> list[str]:
    with transaction(factory) as session:
        return webhooks.emit(session, type_, {"page_id": 7, "who": "Ana"}, now=clock.now(),
                             text="*Escalation* for Ana")


def test_signature_verifies_with_the_reference_library_and_the_receivers_secret(
        factory: sessionmaker[Session], clock: FrozenClock, receiver: Receiver) -> None:
    clock.set(datetime.now(UTC))  # the reference library checks the timestamp against the real time
    endpoint = _endpoint(factory, clock, receiver.url)
    [webhook_id] = _emit(factory, clock)
    assert deliver_pending(factory, clock) == 1
    [got] = receiver.requests
    assert got.headers["webhook-id"] == webhook_id
    assert got.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    # The reference implementation, as a receiver would run it, with the secret it was given.
    verified = standardwebhooks.Webhook(endpoint.secret).verify(got.body, got.headers)
    assert verified["type"] == "page.triggered" and verified["data"] == {"page_id": 7, "who": "Ana"}
    assert webhooks.verify(endpoint.secret, got.headers, got.body, now=clock.now())
    # Someone else's secret, or a body changed on the way, does not verify.
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(webhooks.new_secret()).verify(got.body, got.headers)
    assert not webhooks.verify(endpoint.secret, got.headers, got.body.replace("Ana", "Bob"), now=clock.now())
    assert not webhooks.verify(endpoint.secret, got.headers, got.body, now=clock.now() + timedelta(minutes=6))


def test_the_body_is_also_a_slack_incoming_webhook_message(
        factory: sessionmaker[Session], clock: FrozenClock, receiver: Receiver) -> None:
    _endpoint(factory, clock, receiver.url)
    _emit(factory, clock)
    deliver_pending(factory, clock)
    body = json.loads(receiver.requests[0].body)
    assert body["text"] == "*Escalation* for Ana"
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": "*Escalation* for Ana"}}


def test_only_active_endpoints_that_want_the_event_get_it(
        factory: sessionmaker[Session], clock: FrozenClock, receiver: Receiver) -> None:
    _endpoint(factory, clock, receiver.url, ["crisis.declared"], key="crises")
    wanted = _endpoint(factory, clock, receiver.url + "/pages", ["page.triggered"], key="pages")
    paused = _endpoint(factory, clock, receiver.url + "/paused", ["*"], key="paused")
    with transaction(factory) as session:
        row = webhooks.endpoint_by_key(session, "paused")
        webhooks.update_endpoint(session, row, url=row.url, event_types=["*"], description="", is_active=False,
                                 now=clock.now())
    assert len(_emit(factory, clock)) == 1
    deliver_pending(factory, clock)
    assert [r.path for r in receiver.requests] == ["/hook/pages"]
    assert wanted.id != paused.id


def test_a_failing_receiver_is_retried_with_back_off_and_the_same_id(
        factory: sessionmaker[Session], clock: FrozenClock, receiver: Receiver) -> None:
    _endpoint(factory, clock, receiver.url)
    receiver.answer(503, 500)
    [webhook_id] = _emit(factory, clock)
    assert deliver_pending(factory, clock) == 0
    with transaction(factory) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == webhooks.DELIVER_TOPIC)).one()
        assert message.attempts == 1 and "HTTP 503" in (message.last_error or "")
        first_retry = message.available_at
    assert first_retry == clock.now() + timedelta(seconds=2)
    assert deliver_pending(factory, clock) == 0  # not yet due: nothing is sent
    assert len(receiver.requests) == 1
    clock.advance(seconds=2)
    assert deliver_pending(factory, clock) == 0  # 500: backs off longer
    with transaction(factory) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == webhooks.DELIVER_TOPIC)).one()
        assert message.attempts == 2 and message.available_at == clock.now() + timedelta(seconds=4)
    clock.advance(seconds=4)
    assert deliver_pending(factory, clock) == 1
    assert [r.headers["webhook-id"] for r in receiver.requests] == [webhook_id] * 3
    assert deliver_pending(factory, clock) == 0


def test_an_unreachable_receiver_is_retried_not_dropped(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _endpoint(factory, clock, "http://127.0.0.1:9/nothing-listens-here")
    _emit(factory, clock)
    assert deliver_pending(factory, clock) == 0
    with transaction(factory) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == webhooks.DELIVER_TOPIC)).one()
        assert message.delivered_at is None and message.failed_at is None and message.attempts == 1


class _PowerCut(BaseException):
    """The process dies: not an error the runner could catch and record."""


def test_nothing_is_lost_when_the_server_dies_mid_delivery(
        factory: sessionmaker[Session], clock: FrozenClock, receiver: Receiver) -> None:
    _endpoint(factory, clock, receiver.url)
    [webhook_id] = _emit(factory, clock)

    def die(_mapper: object, _connection: object, message: OutboxMessage) -> None:
        if message.delivered_at is not None:
            raise _PowerCut

    # The receiver gets the POST, then the server dies before it can record the delivery.
    event.listen(OutboxMessage, "before_update", die)
    try:
        with pytest.raises(_PowerCut):
            deliver_pending(factory, clock)
    finally:
        event.remove(OutboxMessage, "before_update", die)
    assert len(receiver.requests) == 1
    with transaction(factory) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == webhooks.DELIVER_TOPIC)).one()
        assert message.delivered_at is None  # still owed
        assert message.available_at == clock.now() + SEND_LEASE  # claimed: nobody sends it meanwhile
    assert deliver_pending(factory, clock) == 0
    # After the restart, once the claim has lapsed, it goes again with the id the receiver drops repeats by.
    clock.advance(SEND_LEASE)
    assert deliver_pending(factory, clock) == 1
    assert [r.headers["webhook-id"] for r in receiver.requests] == [webhook_id, webhook_id]
    assert deliver_pending(factory, clock) == 0


def test_endpoint_input_is_checked_by_field(db: Session, clock: FrozenClock) -> None:
    with pytest.raises(Invalid) as bad_url:
        webhooks.create_endpoint(db, key="x", url="ftp://example.com", event_types=["*"], now=clock.now())
    assert bad_url.value.field == "url"
    with pytest.raises(Invalid) as bad_type:
        webhooks.create_endpoint(db, key="x", url="https://example.com", event_types=["page.exploded"],
                                 now=clock.now())
    assert bad_type.value.field == "event_types[0]"
