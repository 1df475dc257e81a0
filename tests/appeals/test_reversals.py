"""An overturn reaches the enforcement system as exactly one signed reversal webhook: queued with the
decision, retried until delivered, kept across a restart, sent again with the same id until confirmed."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories.appeals import decide, make_appeal, make_appeals_world, make_decision
from tests.factories.receiver import Receiver
from tests.factories.world import World
from trustdesk.appeals import reversals
from trustdesk.appeals.models import Appeal, Outcome, Reversal, ReversalStatus
from trustdesk.core import webhooks
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import transaction
from trustdesk.core.events import SYSTEM
from trustdesk.core.outbox import OutboxMessage, deliver_pending
from trustdesk.core.settings import Settings


def _overturned(factory: sessionmaker[Session], world: World, clock: FrozenClock, settings: Settings,
                receiver: Receiver, outcome: Outcome = Outcome.OVERTURNED) -> int:
    with transaction(factory) as session:
        aw = make_appeals_world(session, world, now=clock.now(), settings=settings, receiver_url=receiver.url)
    with transaction(factory) as session:
        decision = make_decision(session, aw, now=clock.now(), decision_monetary="DECISION_MONETARY_SUSPENSION")
        appeal = make_appeal(session, aw, decision, now=clock.now(), settings=settings)
    with transaction(factory) as session:
        appeal = session.get(Appeal, appeal.id)
        assert appeal is not None
        lifted = ("decision_monetary",) if outcome is Outcome.PARTIALLY_OVERTURNED else ()
        decide(session, aw, appeal, outcome, now=clock.now(), settings=settings, lifted=lifted)
    return appeal.id


def _reversal(factory: sessionmaker[Session], appeal_id: int) -> Reversal:
    with transaction(factory) as session:
        row = session.scalars(select(Reversal).where(Reversal.appeal_id == appeal_id)).one()
        session.expunge(row)
        return row


def _webhook_messages(factory: sessionmaker[Session], webhook_id: str) -> list[OutboxMessage]:
    with transaction(factory) as session:
        rows = [m for m in session.scalars(select(OutboxMessage).where(OutboxMessage.topic == webhooks.DELIVER_TOPIC))
                if m.payload["webhook_id"] == webhook_id]
        for row in rows:
            session.expunge(row)
        return rows


def test_an_overturn_sends_exactly_one_signed_reversal_retried_until_delivered(
        factory: sessionmaker[Session], world: World, clock: FrozenClock, settings: Settings,
        receiver: Receiver) -> None:
    receiver.answer(500, 503)  # the enforcement system is down for the first two tries
    appeal_id = _overturned(factory, world, clock, settings, receiver)
    reversal = _reversal(factory, appeal_id)
    [queued] = _webhook_messages(factory, reversal.webhook_id)
    assert queued.delivered_at is None  # committed with the decision, waiting for the runner
    assert deliver_pending(factory, clock) == 0
    clock.advance(minutes=5)
    assert deliver_pending(factory, clock) == 0
    clock.advance(minutes=5)
    assert deliver_pending(factory, clock) == 1
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {reversal.webhook_id}
    body = json.loads(receiver.requests[-1].body)
    assert body["type"] == "enforcement.reversal_requested"
    data = body["data"]
    assert data["action"] == "restore_listing" and data["decision"] == "dec-1" and data["outcome"] == "overturned"
    assert data["measures"] == ["decision_visibility", "decision_monetary"]
    assert data["confirm"] == f"/api/v1/enforcement/reversals/{reversal.webhook_id}/confirm"
    with transaction(factory) as session:
        secret = webhooks.endpoint_by_key(session, "enforcement").secret
    got = receiver.requests[-1]
    assert webhooks.verify(secret, got.headers, got.body, now=clock.now())
    # Nothing more is queued: one logical webhook, one delivery row.
    assert len(_webhook_messages(factory, reversal.webhook_id)) == 1


def test_a_queued_reversal_survives_a_restart(factory: sessionmaker[Session], world: World, clock: FrozenClock,
                                              settings: Settings, receiver: Receiver) -> None:
    appeal_id = _overturned(factory, world, clock, settings, receiver)
    reversal = _reversal(factory, appeal_id)
    # The process stops before any runner ran: the reversal and its delivery are rows in the database.
    # A new session factory on the same database (a restarted server) delivers it.
    restarted = sessionmaker(**factory.kw)
    assert deliver_pending(restarted, clock) == 1
    assert [r.headers["webhook-id"] for r in receiver.requests] == [reversal.webhook_id]


def test_an_unconfirmed_reversal_is_sent_again_with_the_same_id_until_confirmed(
        factory: sessionmaker[Session], world: World, clock: FrozenClock, settings: Settings,
        receiver: Receiver) -> None:
    appeal_id = _overturned(factory, world, clock, settings, receiver, outcome=Outcome.PARTIALLY_OVERTURNED)
    reversal = _reversal(factory, appeal_id)
    deliver_pending(factory, clock)
    clock.advance(hours=5)
    with transaction(factory) as session:
        assert reversals.resend_unconfirmed(session, now=clock.now()) == 0  # not due yet
    clock.advance(hours=2)
    with transaction(factory) as session:
        assert reversals.resend_unconfirmed(session, now=clock.now()) == 1
    deliver_pending(factory, clock)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [reversal.webhook_id] * 2
    assert json.loads(receiver.requests[-1].body)["data"]["measures"] == ["decision_monetary"]
    with transaction(factory) as session:
        confirmed = reversals.confirm(session, reversal.webhook_id, reference="ENF-991", actor=SYSTEM,
                                      now=clock.now())
        assert confirmed.status == ReversalStatus.CONFIRMED.value and confirmed.sends == 2
        again = reversals.confirm(session, reversal.webhook_id, reference="ENF-992", actor=SYSTEM,
                                  now=clock.now() + timedelta(minutes=1))
        assert again.confirmation_ref == "ENF-991"  # confirming twice changes nothing
    clock.advance(hours=12)
    with transaction(factory) as session:
        assert reversals.resend_unconfirmed(session, now=clock.now()) == 0
    assert deliver_pending(factory, clock) == 0
    assert len(receiver.requests) == 2


def test_an_upheld_decision_sends_nothing(factory: sessionmaker[Session], world: World, clock: FrozenClock,
                                          settings: Settings, receiver: Receiver) -> None:
    _overturned(factory, world, clock, settings, receiver, outcome=Outcome.UPHELD)
    with transaction(factory) as session:
        assert session.scalars(select(Reversal)).first() is None
    deliver_pending(factory, clock)
    assert receiver.requests == []


def test_resending_stops_after_the_last_send_and_the_admins_were_told(
        factory: sessionmaker[Session], world: World, clock: FrozenClock, settings: Settings,
        receiver: Receiver) -> None:
    from trustdesk.core.notifications import Notification

    appeal_id = _overturned(factory, world, clock, settings, receiver)
    resent = 0
    for _ in range(reversals.MAX_SENDS + 3):
        clock.advance(reversals.RESEND_AFTER)
        with transaction(factory) as session:
            resent += reversals.resend_unconfirmed(session, now=clock.now())
    assert resent == reversals.MAX_SENDS - 1  # the first send was the overturn's own
    reversal = _reversal(factory, appeal_id)
    assert reversal.sends == reversals.MAX_SENDS and reversal.status == ReversalStatus.REQUESTED.value
    with transaction(factory) as session:
        alerts = session.scalars(select(Notification).where(Notification.kind == "appeals.reversal_unconfirmed")).all()
        assert alerts and {a.user_id for a in alerts} == {world.users["lead"].id}
