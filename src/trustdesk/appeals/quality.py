"""Appeal quality: a sample of decided appeals gets an independent second review.

The sample is ``qa_sample_percent`` of each market's decided appeals, chosen by a hash of the
appeal's id (uniform, reproducible, not guessable from the outcome). The second reviewer must not be
the decider nor the original moderator, and decides blind: the first outcome is shown only after
they submit theirs. Appeal accuracy (GLOSSARY) = second reviews that agree / second reviews done;
a disagreement goes to calibration, where a lead records the outcome both should have reached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.appeals import repository
from trustdesk.appeals.events import record_event
from trustdesk.appeals.models import Appeal, EnforcementDecision, Outcome, QaReview, QaStatus
from trustdesk.appeals.service import is_original_decider
from trustdesk.cases.service import clean_text
from trustdesk.core.errors import Conflict, Forbidden, Invalid
from trustdesk.core.events import EventActor
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm

MAX_NOTES = 5000


def in_sample(appeal_id: int, percent: int) -> bool:
    digest = hashlib.sha256(f"appeal-qa:{appeal_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def maybe_sample(session: Session, appeal: Appeal, *, actor: EventActor, now: datetime) -> QaReview | None:
    settings = repository.market_settings(session, appeal.market_id)
    if settings is None or not in_sample(appeal.id, settings.qa_sample_percent):
        return None
    return sample(session, appeal, actor=actor, now=now)


def sample(session: Session, appeal: Appeal, *, actor: EventActor, now: datetime) -> QaReview:
    """Put ``appeal`` in the second-review queue (also by hand, e.g. a lead's spot check)."""
    if appeal.outcome is None:
        raise Conflict("only a decided appeal gets a second review", field="appeal")
    if repository.qa_review_of(session, appeal.id) is not None:
        raise Conflict(f"appeal {appeal.reference} is in the second-review sample already", field="appeal")
    review = QaReview(appeal_id=appeal.id, status=QaStatus.PENDING.value, sampled_at=now)
    session.add(review)
    session.flush()
    record_event(session, "appeal.qa_sampled", actor, now, {"reference": appeal.reference},
                 decision_id=appeal.decision_id, appeal_id=appeal.id, party_id=appeal.party_id)
    return review


def check_may_review(session: Session, review: QaReview, appeal: Appeal, actor: Actor) -> None:
    if not actor.can(Perm.APPEALS_QA):
        raise Forbidden("second reviews need the appeals.qa permission")
    if actor.vendor_id is not None:
        raise Forbidden("second reviews are the platform's own staff's", field="reviewer")
    if review.status != QaStatus.PENDING.value:
        raise Conflict(f"the second review of {appeal.reference} is done", field="appeal")
    if appeal.decider_user_id == actor.user_id:
        raise Forbidden("you decided this appeal: a second review is someone else's", field="reviewer")
    decision = session.get(EnforcementDecision, appeal.decision_id)
    assert decision is not None
    if is_original_decider(decision, actor):
        raise Forbidden("you took the original decision: a second review is someone else's", field="reviewer")


def submit(session: Session, review: QaReview, *, outcome: Outcome, notes: str, actor: Actor,
           now: datetime) -> QaReview:
    appeal = session.get(Appeal, review.appeal_id)
    assert appeal is not None
    check_may_review(session, review, appeal, actor)
    review.outcome, review.reviewer_user_id, review.reviewed_at = outcome.value, actor.user_id, now
    review.notes = clean_text(notes, field="notes", max_chars=MAX_NOTES) if notes.strip() else None
    agrees = outcome.value == appeal.outcome
    review.status = QaStatus.AGREED.value if agrees else QaStatus.DISAGREED.value
    record_event(session, "appeal.qa_reviewed", actor, now, {
        "reference": appeal.reference, "first_outcome": appeal.outcome, "second_outcome": outcome.value,
        "agrees": agrees, "decider_user_id": appeal.decider_user_id,
    }, decision_id=appeal.decision_id, appeal_id=appeal.id, party_id=appeal.party_id)
    return review


def calibrate(session: Session, review: QaReview, *, outcome: Outcome, note: str, actor: Actor,
              now: datetime) -> QaReview:
    """Settle a disagreement: the outcome the policy calls for and why (shared with both reviewers)."""
    if not actor.can(Perm.APPEALS_ADMIN):
        raise Forbidden("calibration is a lead's: it needs the appeals.admin permission")
    if review.status != QaStatus.DISAGREED.value:
        raise Conflict("only a disagreement is calibrated", field="review")
    note = clean_text(note, field="note", max_chars=MAX_NOTES)
    if len(note) < 10:
        raise Invalid("say what the policy calls for and why", field="note")
    appeal = session.get(Appeal, review.appeal_id)
    assert appeal is not None
    review.status, review.calibrated_outcome, review.calibration_note = QaStatus.CALIBRATED.value, outcome.value, note
    review.calibrated_by_user_id, review.calibrated_at = actor.user_id, now
    record_event(session, "appeal.calibrated", actor, now, {
        "reference": appeal.reference, "first_outcome": appeal.outcome, "second_outcome": review.outcome,
        "calibrated_outcome": outcome.value,
    }, decision_id=appeal.decision_id, appeal_id=appeal.id, party_id=appeal.party_id)
    return review


@dataclass(frozen=True)
class ReviewerFigures:
    user_id: int
    name: str
    decided: int  # appeals decided in the period
    overturned: int
    second_reviewed: int  # of those, how many got a second review
    agreed: int
    median_hours: float | None

    @property
    def accuracy(self) -> float | None:
        return self.agreed / self.second_reviewed if self.second_reviewed else None


@dataclass(frozen=True)
class QualityFigures:
    second_reviewed: int
    agreed: int
    in_calibration: int
    pending: int
    reviewers: Sequence[ReviewerFigures]

    @property
    def accuracy(self) -> float | None:
        return self.agreed / self.second_reviewed if self.second_reviewed else None


def figures(session: Session, *, since: datetime, until: datetime) -> QualityFigures:
    """Accuracy and throughput of the appeals decided in [since, until)."""
    from statistics import median

    decided = session.execute(
        select(Appeal.id, Appeal.decider_user_id, Appeal.outcome, Appeal.filed_at, Appeal.decided_at)
        .where(Appeal.decided_at >= since, Appeal.decided_at < until, Appeal.decider_user_id.is_not(None))
    ).all()
    reviews = {row.appeal_id: row for row in session.scalars(
        select(QaReview).where(QaReview.appeal_id.in_([d.id for d in decided]))) } if decided else {}
    names = {user_id: name for user_id, name in session.execute(
        select(User.id, User.display_name).where(User.id.in_({d.decider_user_id for d in decided})))}
    by_user: dict[int, list[tuple[int, str | None, float]]] = {}
    for row in decided:
        hours = (row.decided_at - row.filed_at).total_seconds() / 3600
        by_user.setdefault(row.decider_user_id, []).append((row.id, row.outcome, hours))
    people = []
    for user_id, rows in sorted(by_user.items(), key=lambda item: (-len(item[1]), item[0])):
        done = [reviews[r[0]] for r in rows if r[0] in reviews and reviews[r[0]].status != QaStatus.PENDING.value]
        people.append(ReviewerFigures(
            user_id=user_id, name=names.get(user_id, f"user {user_id}"), decided=len(rows),
            overturned=sum(1 for r in rows if r[1] != Outcome.UPHELD.value),
            second_reviewed=len(done), agreed=sum(1 for r in done if r.status == QaStatus.AGREED.value),
            median_hours=round(median(r[2] for r in rows), 2) if rows else None,
        ))
    statuses = [r.status for r in reviews.values()]
    return QualityFigures(
        second_reviewed=sum(1 for s in statuses if s != QaStatus.PENDING.value),
        agreed=statuses.count(QaStatus.AGREED.value),
        in_calibration=statuses.count(QaStatus.DISAGREED.value),
        pending=int(session.scalar(select(func.count(QaReview.id))
                                   .where(QaReview.status == QaStatus.PENDING.value)) or 0),
        reviewers=people,
    )
