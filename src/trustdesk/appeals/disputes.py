"""Out-of-court disputes (DSA Art. 21): an appellant may take a decided appeal to a certified dispute
settlement body; TrustDesk records when the dispute was opened and how it ended.

A dispute follows a decided appeal (the letter named the bodies), so it opens no earlier than the
appeal was decided and never in the future; an appeal holds one pending dispute at a time. Closing
records the body's outcome once: a second close is refused, so the outcome cannot be rewritten.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.appeals import repository
from trustdesk.appeals.events import record_event
from trustdesk.appeals.models import Appeal, AppealStatus, Dispute, DisputeOutcome
from trustdesk.cases.service import clean_text
from trustdesk.core.errors import Conflict, Invalid
from trustdesk.core.events import EventActor

MAX_BODY_NAME = 200


def record_dispute(session: Session, appeal: Appeal, *, body_name: str, opened_at: datetime, actor: EventActor,
                   now: datetime) -> Dispute:
    """The appellant took the decided ``appeal`` to the settlement body ``body_name`` at ``opened_at``."""
    if appeal.status != AppealStatus.DECIDED.value or appeal.decided_at is None:
        raise Conflict(f"appeal {appeal.reference} is {appeal.status}: only a decided appeal goes to an "
                       "out-of-court dispute settlement body", field="appeal")
    name = clean_text(body_name, field="body_name", max_chars=MAX_BODY_NAME)
    if opened_at > now:
        raise Invalid("opened_at lies in the future", field="opened_at")
    if opened_at < appeal.decided_at:
        raise Invalid(f"the dispute cannot open before the appeal was decided ({appeal.decided_at:%Y-%m-%d %H:%M} "
                      "UTC)", field="opened_at")
    if any(d.outcome == DisputeOutcome.PENDING.value for d in repository.disputes_of(session, appeal.id)):
        raise Conflict(f"appeal {appeal.reference} has a pending out-of-court dispute already; record its outcome "
                       "first", field="appeal")
    dispute = Dispute(appeal_id=appeal.id, body_name=name, opened_at=opened_at, outcome=DisputeOutcome.PENDING.value,
                      closed_at=None, recorded_by_user_id=actor.user_id or None)
    session.add(dispute)
    session.flush()
    record_event(session, "appeal.dispute_opened", actor, now, {
        "reference": appeal.reference, "dispute_id": dispute.id, "body_name": name,
        "opened_at": opened_at.isoformat(), "appeal_outcome": appeal.outcome,
    }, decision_id=appeal.decision_id, appeal_id=appeal.id, party_id=appeal.party_id)
    return dispute


def close_dispute(session: Session, dispute: Dispute, *, outcome: DisputeOutcome, closed_at: datetime,
                  actor: EventActor, now: datetime) -> Dispute:
    """Record how the settlement body ended ``dispute``; a closed dispute stays as it was closed."""
    if outcome is DisputeOutcome.PENDING:
        raise Invalid("a dispute closes with the body's outcome, not pending", field="outcome")
    if dispute.outcome != DisputeOutcome.PENDING.value:
        raise Conflict(f"the dispute was closed already ({dispute.outcome})", field="dispute")
    if closed_at < dispute.opened_at:
        raise Invalid("a dispute cannot close before it opened", field="closed_at")
    if closed_at > now:
        raise Invalid("closed_at lies in the future", field="closed_at")
    appeal = session.get(Appeal, dispute.appeal_id)
    assert appeal is not None
    dispute.outcome, dispute.closed_at = outcome.value, closed_at
    record_event(session, "appeal.dispute_closed", actor, now, {
        "reference": appeal.reference, "dispute_id": dispute.id, "body_name": dispute.body_name,
        "outcome": outcome.value, "days_open": (closed_at - dispute.opened_at).days,
    }, decision_id=appeal.decision_id, appeal_id=appeal.id, party_id=appeal.party_id)
    return dispute
