"""Undoing an overturned decision: one signed webhook to the enforcement system, and its confirmation.

The reversal is a row written with the decision, and its webhook an outbox message in the same
transaction, so neither is lost if the process stops. The webhook id is fixed on the reversal and
reused on every delivery (Standard Webhooks: receivers drop repeats by it), so the enforcement system
sees exactly one reversal however often it is delivered. The outbox retries a delivery that fails;
a delivered reversal that stays unconfirmed is sent again, same id, every ``RESEND_AFTER`` until the
enforcement system confirms it (``confirm``), at most ``MAX_SENDS`` times; the appeals admins hear of
it after ``ALERT_AFTER_SENDS`` sends (``send`` by hand goes on after that).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustdesk.appeals import repository
from trustdesk.appeals.events import record_event
from trustdesk.appeals.models import Appeal, EnforcementDecision, Reversal, ReversalStatus
from trustdesk.cases.models import Party
from trustdesk.core import webhooks
from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.errors import Conflict, NotFound
from trustdesk.core.events import EventActor
from trustdesk.core.notifications import holders_of, notify
from trustdesk.core.outbox import PeriodicJob
from trustdesk.core.permissions import Perm
from trustdesk.directory.models import Market

EVENT_TYPE = "enforcement.reversal_requested"
RESEND_AFTER = timedelta(hours=6)
ALERT_AFTER_SENDS = 4
MAX_SENDS = 12  # three days of resends; then it waits for a person (the admins were told at 4)
ACTIONS: dict[str, str] = {"listing": "restore_listing", "account": "lift_account_restriction",
                           "payout": "release_payout", "content": "restore_content"}


def has_receiver(session: Session) -> bool:
    return bool(webhooks.endpoints_for(session, EVENT_TYPE))


def payload_of(session: Session, reversal: Reversal) -> dict[str, Any]:
    decision = session.get(EnforcementDecision, reversal.decision_id)
    appeal = session.get(Appeal, reversal.appeal_id)
    assert decision is not None and appeal is not None
    party = session.get(Party, decision.party_id)
    market = session.get(Market, decision.market_id)
    assert party is not None and market is not None
    return {
        "reversal_id": reversal.webhook_id, "action": reversal.action, "measures": list(reversal.measures),
        "outcome": appeal.outcome, "appeal": appeal.reference, "decision": decision.external_id,
        "item_kind": decision.item_kind, "item_ref": decision.item_ref, "market": market.code,
        "party": {"kind": party.kind, "external_id": party.external_id},
        "confirm": f"/api/v1/enforcement/reversals/{reversal.webhook_id}/confirm",
    }


def request(session: Session, appeal: Appeal, decision: EnforcementDecision, *, measures: list[str],
            actor: EventActor, now: datetime) -> Reversal:
    """Record the reversal of ``decision`` and queue its webhook (once per appeal)."""
    if repository.reversal_of(session, appeal.id) is not None:
        raise Conflict(f"appeal {appeal.reference} has its reversal already", field="appeal")
    reversal = Reversal(appeal_id=appeal.id, decision_id=decision.id, action=ACTIONS[decision.item_kind],
                        measures=measures, webhook_id=f"msg_rev_{uuid.uuid4().hex}",
                        status=ReversalStatus.REQUESTED.value, requested_at=now, last_sent_at=None, sends=0,
                        confirmed_at=None, confirmation_ref=None)
    session.add(reversal)
    session.flush()
    record_event(session, "appeal.reversal_requested", actor, now, {
        "reversal_id": reversal.webhook_id, "action": reversal.action, "measures": measures,
    }, decision_id=decision.id, appeal_id=appeal.id, party_id=decision.party_id)
    send(session, reversal, now=now)
    return reversal


def send(session: Session, reversal: Reversal, *, now: datetime) -> int:
    """Queue one delivery of the reversal to each receiver (same webhook id every time); returns how many."""
    sent = webhooks.emit(session, EVENT_TYPE, payload_of(session, reversal), now=now, webhook_id=reversal.webhook_id)
    if sent:
        reversal.sends += 1
        reversal.last_sent_at = now
    return len(sent)


def confirm(session: Session, webhook_id: str, *, reference: str | None, actor: EventActor,
            now: datetime) -> Reversal:
    """The enforcement system undid the action. Confirming again changes nothing."""
    reversal = repository.reversal_by_webhook_id(session, webhook_id)
    if reversal is None:
        raise NotFound(f"no reversal {webhook_id!r}", field="reversal_id")
    if reversal.status == ReversalStatus.CONFIRMED.value:
        return reversal
    reversal.status, reversal.confirmed_at, reversal.confirmation_ref = ReversalStatus.CONFIRMED.value, now, reference
    appeal = session.get(Appeal, reversal.appeal_id)
    assert appeal is not None
    record_event(session, "appeal.reversal_confirmed", actor, now, {
        "reversal_id": webhook_id, "reference": reference,
        "hours_to_confirm": round((now - reversal.requested_at).total_seconds() / 3600, 2),
    }, decision_id=reversal.decision_id, appeal_id=reversal.appeal_id, party_id=appeal.party_id)
    return reversal


def resend_unconfirmed(session: Session, *, now: datetime, limit: int = 200) -> int:
    """Send again every reversal unconfirmed for ``RESEND_AFTER`` since its last send; returns how many."""
    due = repository.unconfirmed_reversals(session, sent_before=now - RESEND_AFTER, max_sends=MAX_SENDS,
                                           limit=limit)
    resent = 0
    for reversal in due:
        if send(session, reversal, now=now):
            resent += 1
        if reversal.sends == ALERT_AFTER_SENDS:
            appeal = session.get(Appeal, reversal.appeal_id)
            notify(session, holders_of(session, Perm.APPEALS_ADMIN), kind="appeals.reversal_unconfirmed",
                   title=f"Reversal not confirmed: {appeal.reference if appeal else reversal.webhook_id}",
                   body=f"The enforcement system has not confirmed {reversal.action} after {reversal.sends} sends "
                        f"since {reversal.requested_at:%Y-%m-%d %H:%M} UTC.",
                   now=now, link=f"/console/appeals/{reversal.appeal_id}",
                   dedupe_key=f"appeals.reversal_unconfirmed:{reversal.id}", once=True)
    return resent


def resend_job(factory: sessionmaker[Session], clock: Clock) -> int:
    with transaction(factory) as session:
        return resend_unconfirmed(session, now=clock.now())


PERIODIC: list[tuple[float, PeriodicJob]] = [(300.0, resend_job)]  # a list like every domain's: create_app adds them
