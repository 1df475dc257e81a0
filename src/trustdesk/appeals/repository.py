"""The queries of the appeals domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from trustdesk.appeals.models import (
    Appeal,
    AppealStatus,
    DecisionTemplate,
    DetectionSource,
    Dispute,
    EnforcementDecision,
    EnforcementPolicy,
    MarketAppealSettings,
    MisuseKind,
    MisuseMeasure,
    QaReview,
    QaStatus,
    Reversal,
    ReversalStatus,
    ReviewerQualification,
)
from trustdesk.cases.models import Party
from trustdesk.directory.models import Market


def policy_by_key(session: Session, key: str) -> EnforcementPolicy | None:
    return session.scalar(select(EnforcementPolicy).where(EnforcementPolicy.key == key))


def source_by_key(session: Session, key: str) -> DetectionSource | None:
    return session.scalar(select(DetectionSource).where(DetectionSource.key == key))


def policies(session: Session, *, active_only: bool = False) -> Sequence[EnforcementPolicy]:
    query = select(EnforcementPolicy).order_by(EnforcementPolicy.key)
    if active_only:
        query = query.where(EnforcementPolicy.is_active.is_(True))
    return session.scalars(query).all()


def sources(session: Session) -> Sequence[DetectionSource]:
    return session.scalars(select(DetectionSource).order_by(DetectionSource.key)).all()


def decision_by_external(session: Session, external_id: str) -> EnforcementDecision | None:
    return session.scalar(select(EnforcementDecision).where(EnforcementDecision.external_id == external_id))


def decision_by_puid(session: Session, puid: str) -> EnforcementDecision | None:
    return session.scalar(select(EnforcementDecision).where(EnforcementDecision.puid == puid))


def decisions_of_user(session: Session, user_id: int, *, limit: int = 100) -> Sequence[EnforcementDecision]:
    return session.scalars(
        select(EnforcementDecision).join(Party, Party.id == EnforcementDecision.party_id)
        .where(Party.user_id == user_id).order_by(EnforcementDecision.notified_at.desc()).limit(limit)
    ).all()


def open_appeal_of(session: Session, decision_id: int) -> Appeal | None:
    return session.scalar(select(Appeal).where(Appeal.decision_id == decision_id,
                                               Appeal.status == AppealStatus.OPEN.value))


def appeals_of_decision(session: Session, decision_id: int) -> Sequence[Appeal]:
    return session.scalars(select(Appeal).where(Appeal.decision_id == decision_id).order_by(Appeal.id)).all()


def appeal_of_case(session: Session, case_id: int) -> Appeal | None:
    return session.scalar(select(Appeal).where(Appeal.case_id == case_id))


def appeal_by_reference(session: Session, reference: str) -> Appeal | None:
    return session.scalar(select(Appeal).where(Appeal.reference == reference))


def market_settings(session: Session, market_id: int) -> MarketAppealSettings | None:
    return session.scalar(select(MarketAppealSettings).where(MarketAppealSettings.market_id == market_id))


def is_qualified(session: Session, user_id: int, policy_id: int) -> bool:
    return session.scalar(select(ReviewerQualification.id).where(
        ReviewerQualification.user_id == user_id, ReviewerQualification.policy_id == policy_id)) is not None


def qualified_user_ids(session: Session, policy_id: int) -> list[int]:
    return list(session.scalars(select(ReviewerQualification.user_id)
                                .where(ReviewerQualification.policy_id == policy_id)
                                .order_by(ReviewerQualification.user_id)))


def qualifications(session: Session) -> Sequence[ReviewerQualification]:
    return session.scalars(select(ReviewerQualification).order_by(ReviewerQualification.policy_id,
                                                                  ReviewerQualification.user_id)).all()


def templates(session: Session) -> Sequence[DecisionTemplate]:
    return session.scalars(select(DecisionTemplate).order_by(DecisionTemplate.outcome,
                                                             DecisionTemplate.locale)).all()


def template_for(session: Session, outcome: str, locale: str) -> DecisionTemplate | None:
    return session.scalar(select(DecisionTemplate).where(DecisionTemplate.outcome == outcome,
                                                         DecisionTemplate.locale == locale))


def reversal_of(session: Session, appeal_id: int) -> Reversal | None:
    return session.scalar(select(Reversal).where(Reversal.appeal_id == appeal_id))


def reversal_by_webhook_id(session: Session, webhook_id: str) -> Reversal | None:
    return session.scalar(select(Reversal).where(Reversal.webhook_id == webhook_id))


def unconfirmed_reversals(session: Session, *, sent_before: datetime, max_sends: int,
                          limit: int = 200) -> Sequence[Reversal]:
    """Reversals still waiting for their confirmation, sent fewer than ``max_sends`` times, the last
    time before ``sent_before``."""
    return session.scalars(
        select(Reversal).where(Reversal.status == ReversalStatus.REQUESTED.value, Reversal.sends < max_sends,
                               (Reversal.last_sent_at.is_(None)) | (Reversal.last_sent_at <= sent_before))
        .order_by(Reversal.id).limit(limit)
    ).all()


def qa_review_of(session: Session, appeal_id: int) -> QaReview | None:
    return session.scalar(select(QaReview).where(QaReview.appeal_id == appeal_id))


def manifestly_unfounded(session: Session, party_id: int, *, since: datetime) -> Sequence[Appeal]:
    """The party's appeals decided as manifestly unfounded since ``since``, oldest first."""
    return session.scalars(
        select(Appeal).where(Appeal.party_id == party_id, Appeal.manifestly_unfounded.is_(True),
                             Appeal.decided_at.is_not(None), Appeal.decided_at >= since)
        .order_by(Appeal.decided_at, Appeal.id)
    ).all()


def misuse_measures(session: Session, party_id: int) -> Sequence[MisuseMeasure]:
    return session.scalars(select(MisuseMeasure).where(MisuseMeasure.party_id == party_id)
                           .order_by(MisuseMeasure.starts_at, MisuseMeasure.id)).all()


def active_suspension(session: Session, party_id: int, now: datetime) -> MisuseMeasure | None:
    return session.scalars(
        select(MisuseMeasure).where(MisuseMeasure.party_id == party_id,
                                    MisuseMeasure.kind == MisuseKind.SUSPENSION.value,
                                    MisuseMeasure.starts_at <= now, MisuseMeasure.ends_at > now)
        .order_by(MisuseMeasure.ends_at.desc())
    ).first()


def count_open_appeals(session: Session) -> int:
    return int(session.scalar(select(func.count(Appeal.id)).where(Appeal.status == AppealStatus.OPEN.value)) or 0)


def list_appeals(session: Session, *, status: str | None = None, market: str | None = None,
                 policy: str | None = None, before_id: int | None = None,
                 limit: int = 50) -> list[Row[Appeal, str, str, str]]:
    """Appeals, newest first, with their market code, policy key and decision's external id."""
    query = (select(Appeal, Market.code, EnforcementPolicy.key, EnforcementDecision.external_id)
             .join(Market, Market.id == Appeal.market_id)
             .join(EnforcementPolicy, EnforcementPolicy.id == Appeal.policy_id)
             .join(EnforcementDecision, EnforcementDecision.id == Appeal.decision_id))
    if status is not None:
        query = query.where(Appeal.status == status)
    if market is not None:
        query = query.where(Market.code == market)
    if policy is not None:
        query = query.where(EnforcementPolicy.key == policy)
    if before_id is not None:
        query = query.where(Appeal.id < before_id)
    return list(session.execute(query.order_by(Appeal.id.desc()).limit(limit)).all())


def pending_qa_reviews(session: Session, *, limit: int = 200) -> list[Row[QaReview, Appeal, str, str, str]]:
    """Second reviews waiting, oldest sample first, with the appeal's market, policy and decision."""
    return list(session.execute(
        select(QaReview, Appeal, Market.code, EnforcementPolicy.key, EnforcementDecision.external_id)
        .join(Appeal, Appeal.id == QaReview.appeal_id)
        .join(Market, Market.id == Appeal.market_id)
        .join(EnforcementPolicy, EnforcementPolicy.id == Appeal.policy_id)
        .join(EnforcementDecision, EnforcementDecision.id == Appeal.decision_id)
        .where(QaReview.status == "pending").order_by(QaReview.sampled_at, QaReview.id).limit(limit)
    ).all())


def disputes_of(session: Session, appeal_id: int) -> Sequence[Dispute]:
    return session.scalars(select(Dispute).where(Dispute.appeal_id == appeal_id).order_by(Dispute.id)).all()


def pending_review_appeal_ids(session: Session, appeal_ids: list[int]) -> set[int]:
    return set(session.scalars(select(QaReview.appeal_id).where(QaReview.appeal_id.in_(appeal_ids),
                                                                QaReview.status == QaStatus.PENDING.value)))


def appeals_of_decisions(session: Session, decision_ids: list[int]) -> dict[int, list[Appeal]]:
    """decision id -> its appeals, oldest first (one query)."""
    found: dict[int, list[Appeal]] = {decision_id: [] for decision_id in decision_ids}
    if decision_ids:
        for appeal in session.scalars(select(Appeal).where(Appeal.decision_id.in_(decision_ids)).order_by(Appeal.id)):
            found[appeal.decision_id].append(appeal)
    return found


def active_suspensions(session: Session, party_ids: list[int], now: datetime) -> dict[int, MisuseMeasure]:
    """party id -> the suspension running at ``now`` that ends last (one query)."""
    found: dict[int, MisuseMeasure] = {}
    if party_ids:
        for measure in session.scalars(
                select(MisuseMeasure).where(MisuseMeasure.party_id.in_(party_ids),
                                            MisuseMeasure.kind == MisuseKind.SUSPENSION.value,
                                            MisuseMeasure.starts_at <= now, MisuseMeasure.ends_at > now)
                .order_by(MisuseMeasure.ends_at)):
            found[measure.party_id] = measure
    return found


def all_market_settings(session: Session) -> dict[int, MarketAppealSettings]:
    return {row.market_id: row for row in session.scalars(select(MarketAppealSettings))}


def appeal_ids_by_reference(session: Session, references: Sequence[str]) -> dict[str, int]:
    if not references:
        return {}
    return {reference: appeal_id for reference, appeal_id in session.execute(
        select(Appeal.reference, Appeal.id).where(Appeal.reference.in_(references))) if reference is not None}
