"""The one gate that loads decisions, appeals, second reviews, disputes and parties for an actor.

In-house appeals staff see every decision and appeal; a vendor's staff see none. A customer sees
only the decisions about their own parties and their own appeals. Anything out of reach is
reported as missing (404), never as forbidden, so its existence does not leak.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from trustdesk.appeals import repository
from trustdesk.appeals.models import Appeal, Dispute, EnforcementDecision, QaReview, QaStatus
from trustdesk.cases.models import Party
from trustdesk.core.errors import Forbidden, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm


def is_staff(actor: Actor) -> bool:
    """Reads decisions and appeals as appeals staff (in-house, appeals.read)."""
    return actor.is_agent and actor.vendor_id is None and actor.can(Perm.APPEALS_READ)


def _require(actor: Actor, permission: Perm) -> None:
    if not actor.can(permission):
        raise Forbidden(f"this needs the {permission.value} permission")


def _belongs_to(session: Session, party_id: int, actor: Actor) -> bool:
    party = session.get(Party, party_id)
    return party is not None and party.user_id is not None and party.user_id == actor.user_id


def decision_for(session: Session, actor: Actor, external_id: str, *,
                 field: str = "external_id") -> EnforcementDecision:
    """A decision for reading: any, for appeals staff; the party's own, for a customer."""
    if not is_staff(actor):
        return own_decision_for(session, actor, external_id, field=field)
    decision = repository.decision_by_external(session, external_id)
    if decision is None:
        raise NotFound(f"no decision {external_id!r}", field=field)
    return decision


def own_decision_for(session: Session, actor: Actor, external_id: str, *,
                     field: str = "decision") -> EnforcementDecision:
    """A decision about one of the actor's own parties (only the party appeals, whoever else may read)."""
    _require(actor, Perm.APPEAL_FILE)
    decision = repository.decision_by_external(session, external_id)
    if decision is None or not _belongs_to(session, decision.party_id, actor):
        raise NotFound(f"no decision {external_id!r}", field=field)
    return decision


def appeal_for(session: Session, actor: Actor, appeal_id: int, *, permission: Perm, for_update: bool = False,
               field: str = "appeal_id") -> Appeal:
    """An appeal for ``permission``: with appeals.file only the appellant's own; with a staff permission
    any appeal, for in-house staff."""
    _require(actor, permission)
    appeal = session.get(Appeal, appeal_id, with_for_update=for_update)
    if appeal is None:
        raise NotFound(f"appeal {appeal_id} does not exist", field=field)
    if permission is Perm.APPEAL_FILE:
        if not _belongs_to(session, appeal.party_id, actor):
            raise NotFound(f"appeal {appeal_id} does not exist", field=field)
    elif not actor.is_agent or actor.vendor_id is not None:
        raise NotFound(f"appeal {appeal_id} does not exist", field=field)
    return appeal


def qa_review_for(session: Session, actor: Actor, appeal_id: int, *, permission: Perm) -> QaReview:
    """The second review of an appeal (it exists once the appeal is in the sample)."""
    appeal = appeal_for(session, actor, appeal_id, permission=permission)
    review = repository.qa_review_of(session, appeal.id)
    if review is None:
        raise NotFound(f"appeal {appeal.reference} is not in the second-review sample", field="appeal_id")
    return review


def dispute_for(session: Session, actor: Actor, dispute_id: int) -> Dispute:
    _require(actor, Perm.APPEALS_ADMIN)
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None or actor.vendor_id is not None:
        raise NotFound(f"dispute {dispute_id} does not exist", field="dispute_id")
    return dispute


def party_for(session: Session, actor: Actor, party_id: int) -> Party:
    """A party for its misuse measures (appeals admins only)."""
    _require(actor, Perm.APPEALS_ADMIN)
    party = session.get(Party, party_id)
    if party is None or actor.vendor_id is not None:
        raise NotFound(f"party {party_id} does not exist", field="party_id")
    return party


def reviews_blind(actor: Actor) -> bool:
    """A second reviewer (appeals.qa without appeals.admin) sees an appeal waiting for their second review
    blind: no outcome, reasons or letter before they submit (leads, who calibrate, see everything)."""
    return actor.can(Perm.APPEALS_QA) and not actor.can(Perm.APPEALS_ADMIN)


def blind_review_for(session: Session, actor: Actor, appeal: Appeal) -> QaReview | None:
    """The pending second review of ``appeal`` that ``actor`` must do blind, if any."""
    if not reviews_blind(actor) or appeal.decider_user_id == actor.user_id:
        return None
    review = repository.qa_review_of(session, appeal.id)
    return review if review is not None and review.status == QaStatus.PENDING.value else None


def blind_appeal_ids(session: Session, actor: Actor, appeal_ids: list[int]) -> set[int]:
    """Of ``appeal_ids``, those whose outcome ``actor`` may not see yet (one query)."""
    if not reviews_blind(actor) or not appeal_ids:
        return set()
    return repository.pending_review_appeal_ids(session, appeal_ids)
