"""JSON routes of appeals: the decisions registry, filing and deciding appeals, reversals, second reviews,
misuse measures and out-of-court disputes. Parse, authorize (``access``), call the service, shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from sqlalchemy.orm import Session

from trustdesk.appeals import access, disputes, misuse, quality, repository, reversals, service
from trustdesk.appeals.models import (
    Appeal,
    AppealStatus,
    DetectionSource,
    EnforcementDecision,
    EnforcementPolicy,
    MarketAppealSettings,
    QaReview,
)
from trustdesk.appeals.schemas import (
    AppealIn,
    AppealOut,
    AppealPage,
    AppealSummaryOut,
    CalibrationIn,
    ConfirmIn,
    DecisionIn,
    DecisionList,
    DecisionOut,
    DecisionSummaryOut,
    DisputeIn,
    DisputeOut,
    DisputeOutcomeIn,
    MisuseMeasureOut,
    MisuseStatusOut,
    PartyOut,
    PendingQaList,
    PendingQaOut,
    QaReviewIn,
    QaReviewOut,
    ReversalOut,
    StaffAppealOut,
    StaffDecisionOut,
    SuspensionIn,
    VerdictIn,
    WarningIn,
)
from trustdesk.cases.models import Party
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Conflict, Forbidden
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import PRINTABLE
from trustdesk.directory import service as directory
from trustdesk.directory.models import Market
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep
from trustdesk.web.responses import ModelResponse, once_per_key

router = APIRouter(tags=["appeals"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
ExternalId = Annotated[str, Path(min_length=1, max_length=100, pattern=PRINTABLE)]
ReversalId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

Ingest = Annotated[Actor, Depends(Requires(Perm.ENFORCEMENT_INGEST))]
Appellant = Annotated[Actor, Depends(Requires(Perm.APPEAL_FILE))]
Reader = Annotated[Actor, Depends(Requires(Perm.APPEALS_READ, Perm.APPEAL_FILE))]
Decider = Annotated[Actor, Depends(Requires(Perm.APPEALS_DECIDE))]
QaReviewer = Annotated[Actor, Depends(Requires(Perm.APPEALS_QA, in_house=True))]
Admin = Annotated[Actor, Depends(Requires(Perm.APPEALS_ADMIN, in_house=True))]


# ---------------------------------------------------------------- shaping


def _market_settings(session: Session, market_id: int,
                     cache: dict[int, MarketAppealSettings | None] | None = None) -> MarketAppealSettings | None:
    if cache is None:
        return repository.market_settings(session, market_id)
    if market_id not in cache:
        cache[market_id] = repository.market_settings(session, market_id)
    return cache[market_id]


def _decision_out(session: Session, decision: EnforcementDecision, actor: Actor, now: datetime) -> DecisionOut:
    market = session.get(Market, decision.market_id)
    party = session.get(Party, decision.party_id)
    policy = session.get(EnforcementPolicy, decision.policy_id)
    assert market is not None and party is not None and policy is not None
    settings_row = _market_settings(session, decision.market_id)
    why_not: str | None = None
    try:
        service.check_may_appeal(session, decision, now=now)
    except (Conflict, Forbidden) as refused:
        why_not = refused.detail
    fields: dict[str, Any] = dict(
        external_id=decision.external_id, puid=decision.puid, market=market.code,
        party=PartyOut.model_validate(party), item_kind=decision.item_kind, item_ref=decision.item_ref,
        item_title=decision.item_title, policy=policy.key, policy_name=policy.name, decided_at=decision.decided_at,
        notified_at=decision.notified_at, statement=decision.statement, status=decision.status,
        redress=decision.redress,
        window_ends_at=service.window_end(decision, settings_row) if settings_row is not None else None,
        may_appeal=why_not is None, why_not=why_not,
    )
    if not access.is_staff(actor):
        return DecisionOut(**fields)
    source = session.get(DetectionSource, decision.source_id)
    assert source is not None
    return StaffDecisionOut(**fields, source=source.key, decided_by_email=decision.decided_by_email,
                            automated_detection=decision.automated_detection,
                            automated_decision=decision.automated_decision,
                            false_positive_at=decision.false_positive_at)


def _appeal_out(session: Session, appeal: Appeal, *, staff: bool) -> AppealOut:
    decision = session.get(EnforcementDecision, appeal.decision_id)
    assert decision is not None
    fields: dict[str, Any] = dict(
        id=appeal.id, reference=appeal.reference, decision=decision.external_id, case_id=appeal.case_id,
        status=appeal.status, reason=appeal.reason, filed_at=appeal.filed_at, deadline_at=appeal.deadline_at,
        outcome=appeal.outcome, lifted_measures=appeal.lifted_measures, decision_reasons=appeal.decision_reasons,
        decided_at=appeal.decided_at, letter=appeal.decision_letter,
        disputes=[DisputeOut.model_validate(d) for d in repository.disputes_of(session, appeal.id)],
    )
    if not staff:
        return AppealOut(**fields)
    market = session.get(Market, appeal.market_id)
    policy = session.get(EnforcementPolicy, appeal.policy_id)
    decider = session.get(User, appeal.decider_user_id) if appeal.decider_user_id is not None else None
    reversal = repository.reversal_of(session, appeal.id)
    assert market is not None and policy is not None
    return StaffAppealOut(**fields, market=market.code, policy=policy.key, decider_user_id=appeal.decider_user_id,
                          decider_name=decider.display_name if decider is not None else None,
                          decider_kind=appeal.decider_kind, manifestly_unfounded=appeal.manifestly_unfounded,
                          reversal=ReversalOut.model_validate(reversal) if reversal is not None else None)


def _qa_out(review: QaReview, appeal: Appeal) -> QaReviewOut:
    return QaReviewOut(
        id=review.id, appeal_id=review.appeal_id, status=review.status, sampled_at=review.sampled_at,
        first_outcome=appeal.outcome, outcome=review.outcome, notes=review.notes, reviewed_at=review.reviewed_at,
        calibrated_outcome=review.calibrated_outcome, calibration_note=review.calibration_note,
        calibrated_at=review.calibrated_at,
    )


def _appeal_of(session: Session, review: QaReview) -> Appeal:
    appeal = session.get(Appeal, review.appeal_id)
    assert appeal is not None
    return appeal


# ---------------------------------------------------------------- the decisions registry


@router.post("/enforcement/decisions", status_code=201, response_model=StaffDecisionOut,
             summary="Record an enforcement decision with its statement of reasons (honours Idempotency-Key)")
def record_decision(body: DecisionIn, session: SessionDep, clock: ClockDep, actor: Ingest,
                    idempotency_key: IdempotencyKey = None) -> Response:
    now = clock.now()

    def work() -> Response:
        market = directory.market_by_code(session, body.market)
        decision = service.record_decision(session, service.NewDecision(
            external_id=body.external_id, market=market, party=body.party, item_kind=body.item_kind,
            item_ref=body.item_ref, item_title=body.item_title, policy_key=body.policy, source_key=body.source,
            decided_at=body.decided_at, notified_at=body.notified_at, statement=body.statement,
            decided_by_email=body.decided_by_email, redress=body.redress, puid=body.puid,
        ), actor=actor, now=now)
        return ModelResponse(_decision_out(session, decision, actor, now), status_code=201,
                             headers={"Location": f"/api/v1/enforcement/decisions/{decision.external_id}"})

    return once_per_key(session, actor, idempotency_key, body.model_dump(mode="json"), now, work)


@router.get("/enforcement/decisions/{external_id}", response_model=StaffDecisionOut | DecisionOut,
            summary="One decision: its statement of reasons, status, appeal window and whether it may be appealed")
def get_decision(external_id: ExternalId, session: SessionDep, clock: ClockDep, actor: Reader) -> ModelResponse:
    decision = access.decision_for(session, actor, external_id)
    return ModelResponse(_decision_out(session, decision, actor, clock.now()))


@router.get("/me/decisions", response_model=DecisionList, summary="The decisions about you")
def my_decisions(session: SessionDep, actor: Appellant) -> ModelResponse:
    cache: dict[int, MarketAppealSettings | None] = {}
    items = []
    for decision in repository.decisions_of_user(session, actor.user_id):
        market = session.get(Market, decision.market_id)
        policy = session.get(EnforcementPolicy, decision.policy_id)
        assert market is not None and policy is not None
        settings_row = _market_settings(session, decision.market_id, cache)
        items.append(DecisionSummaryOut(
            external_id=decision.external_id, market=market.code, item_kind=decision.item_kind,
            item_ref=decision.item_ref, item_title=decision.item_title, policy=policy.key, status=decision.status,
            notified_at=decision.notified_at,
            window_ends_at=service.window_end(decision, settings_row) if settings_row is not None else None,
        ))
    return ModelResponse(DecisionList(items=items))


@router.post("/enforcement/reversals/{reversal_id}/confirm", response_model=ReversalOut,
             summary="The enforcement system undid an overturned decision (confirming again changes nothing)")
def confirm_reversal(reversal_id: ReversalId, session: SessionDep, clock: ClockDep, actor: Ingest,
                     body: Annotated[ConfirmIn | None, Body()] = None) -> ModelResponse:
    reversal = reversals.confirm(session, reversal_id, reference=body.reference if body is not None else None,
                                 actor=actor, now=clock.now())
    return ModelResponse(ReversalOut.model_validate(reversal))


# ---------------------------------------------------------------- appeals


@router.post("/appeals", status_code=201, response_model=AppealOut,
             summary="Appeal a decision about you (honours Idempotency-Key)")
def file_appeal(body: AppealIn, session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Appellant,
                idempotency_key: IdempotencyKey = None) -> Response:
    now = clock.now()

    def work() -> Response:
        decision = access.own_decision_for(session, actor, body.decision)
        filed = service.file_appeal(session, service.NewAppeal(
            decision=decision, reason=body.reason, statement=body.statement, attachments=body.attachments,
            language=body.language,
        ), actor=actor, settings=settings, now=now)
        return ModelResponse(_appeal_out(session, filed.appeal, staff=False), status_code=201,
                             headers={"Location": f"/api/v1/appeals/{filed.appeal.id}"})

    return once_per_key(session, actor, idempotency_key, body.model_dump(mode="json"), now, work)


@router.get("/appeals", response_model=AppealPage, summary="List appeals, newest first")
def list_appeals(
    session: SessionDep, actor: Annotated[Actor, Depends(Requires(Perm.APPEALS_READ, in_house=True))],
    status: AppealStatus | None = None,
    market: Annotated[str | None, Query(min_length=2, max_length=8, pattern=PRINTABLE)] = None,
    policy: Annotated[str | None, Query(min_length=1, max_length=64, pattern=PRINTABLE)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ModelResponse:
    rows = repository.list_appeals(session, status=status.value if status else None, market=market, policy=policy,
                                   before_id=before_id, limit=limit)
    items = [AppealSummaryOut(
        id=a.id, reference=a.reference, decision=decision, case_id=a.case_id, market=code, policy=key,
        status=a.status, reason=a.reason, filed_at=a.filed_at, deadline_at=a.deadline_at, outcome=a.outcome,
        decided_at=a.decided_at,
    ) for a, code, key, decision in rows]
    return ModelResponse(AppealPage(items=items, next_before_id=items[-1].id if len(items) == limit else None))


@router.get("/appeals/qa", response_model=PendingQaList,
            summary="Second reviews waiting (the first outcome is shown only after yours is in)")
def pending_second_reviews(session: SessionDep, actor: QaReviewer) -> ModelResponse:
    rows = repository.pending_qa_reviews(session)
    return ModelResponse(PendingQaList(items=[PendingQaOut(
        review_id=review.id, appeal_id=appeal.id, reference=appeal.reference, decision=decision,
        case_id=appeal.case_id, market=code, policy=key, reason=appeal.reason, sampled_at=review.sampled_at,
    ) for review, appeal, code, key, decision in rows]))


@router.get("/appeals/{appeal_id}", response_model=StaffAppealOut | AppealOut, summary="One appeal")
def get_appeal(appeal_id: RowId, session: SessionDep, actor: Reader) -> ModelResponse:
    staff = access.is_staff(actor)
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEALS_READ if staff else Perm.APPEAL_FILE)
    if staff and access.blind_review_for(session, actor, appeal) is not None:
        raise Forbidden("this appeal waits for your second review: it is shown blind at /api/v1/appeals/qa until "
                        "you submit", field="appeal_id")
    return ModelResponse(_appeal_out(session, appeal, staff=staff))


@router.post("/appeals/{appeal_id}/decision", response_model=StaffAppealOut,
             summary="Decide an appeal; the appellant gets the reasoned decision, an overturn is reversed")
def decide_appeal(appeal_id: RowId, body: VerdictIn, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                  actor: Decider) -> ModelResponse:
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEALS_DECIDE, for_update=True)
    service.decide_appeal(session, appeal, service.Verdict(
        outcome=body.outcome, reasons=body.reasons, lifted_measures=body.lifted_measures,
        manifestly_unfounded=body.manifestly_unfounded, decider_kind=body.decider_kind.value,
    ), actor=actor, settings=settings, now=clock.now())
    return ModelResponse(_appeal_out(session, appeal, staff=True))


@router.post("/appeals/{appeal_id}/withdraw", response_model=AppealOut, summary="Withdraw your open appeal")
def withdraw_appeal(appeal_id: RowId, session: SessionDep, clock: ClockDep, actor: Appellant) -> ModelResponse:
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEAL_FILE, for_update=True)
    service.withdraw_appeal(session, appeal, actor=actor, now=clock.now())
    return ModelResponse(_appeal_out(session, appeal, staff=False))


# ---------------------------------------------------------------- second reviews


@router.post("/appeals/{appeal_id}/qa-review", response_model=QaReviewOut,
             summary="Submit the second review of a sampled appeal (decided blind)")
def submit_second_review(appeal_id: RowId, body: QaReviewIn, session: SessionDep, clock: ClockDep,
                         actor: QaReviewer) -> ModelResponse:
    review = access.qa_review_for(session, actor, appeal_id, permission=Perm.APPEALS_QA)
    quality.submit(session, review, outcome=body.outcome, notes=body.notes, actor=actor, now=clock.now())
    return ModelResponse(_qa_out(review, _appeal_of(session, review)))


@router.post("/appeals/{appeal_id}/calibration", response_model=QaReviewOut,
             summary="Settle a disagreement between the decision and its second review")
def calibrate(appeal_id: RowId, body: CalibrationIn, session: SessionDep, clock: ClockDep,
              actor: Admin) -> ModelResponse:
    review = access.qa_review_for(session, actor, appeal_id, permission=Perm.APPEALS_ADMIN)
    quality.calibrate(session, review, outcome=body.outcome, note=body.note, actor=actor, now=clock.now())
    return ModelResponse(_qa_out(review, _appeal_of(session, review)))


@router.post("/appeals/{appeal_id}/qa-sample", status_code=201, response_model=QaReviewOut,
             summary="Put a decided appeal in the second-review sample (a lead's spot check)")
def sample_for_second_review(appeal_id: RowId, session: SessionDep, clock: ClockDep, actor: Admin) -> ModelResponse:
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEALS_ADMIN, for_update=True)
    review = quality.sample(session, appeal, actor=actor, now=clock.now())
    return ModelResponse(_qa_out(review, appeal), status_code=201)


# ---------------------------------------------------------------- out-of-court disputes (DSA Art. 21)


@router.post("/appeals/{appeal_id}/disputes", status_code=201, response_model=DisputeOut,
             summary="Record that the appellant took a decided appeal to a dispute settlement body")
def open_dispute(appeal_id: RowId, body: DisputeIn, session: SessionDep, clock: ClockDep,
                 actor: Admin) -> ModelResponse:
    appeal = access.appeal_for(session, actor, appeal_id, permission=Perm.APPEALS_ADMIN, for_update=True)
    dispute = disputes.record_dispute(session, appeal, body_name=body.body_name, opened_at=body.opened_at,
                                      actor=actor, now=clock.now())
    return ModelResponse(DisputeOut.model_validate(dispute), status_code=201)


@router.post("/appeals/disputes/{dispute_id}/outcome", response_model=DisputeOut,
             summary="Record how the settlement body ended a dispute (once)")
def close_dispute(dispute_id: RowId, body: DisputeOutcomeIn, session: SessionDep, clock: ClockDep,
                  actor: Admin) -> ModelResponse:
    dispute = access.dispute_for(session, actor, dispute_id)
    disputes.close_dispute(session, dispute, outcome=body.outcome, closed_at=body.closed_at, actor=actor,
                           now=clock.now())
    return ModelResponse(DisputeOut.model_validate(dispute))


# ---------------------------------------------------------------- misuse (DSA Art. 23)


def _measure_out(measure: Any) -> MisuseMeasureOut | None:
    return MisuseMeasureOut.model_validate(measure) if measure is not None else None


@router.get("/parties/{party_id}/misuse", response_model=MisuseStatusOut,
            summary="A party's manifestly unfounded appeals, warning and suspension, and what may come next")
def misuse_status(party_id: RowId, session: SessionDep, clock: ClockDep, actor: Admin) -> ModelResponse:
    party = access.party_for(session, actor, party_id)
    state = misuse.status(session, party, now=clock.now())
    return ModelResponse(MisuseStatusOut(
        party_id=party.id, threshold=state.threshold,
        unfounded=[a.reference or str(a.id) for a in state.unfounded], warning=_measure_out(state.warning),
        unfounded_since_warning=[a.reference or str(a.id) for a in state.unfounded_since_warning],
        suspension=_measure_out(state.suspension), may_warn=state.may_warn, may_suspend=state.may_suspend,
    ))


@router.post("/parties/{party_id}/misuse/warning", status_code=201, response_model=MisuseMeasureOut,
             summary="Warn a party that files manifestly unfounded appeals (Art. 23(2))")
def warn_party(party_id: RowId, body: WarningIn, session: SessionDep, clock: ClockDep, actor: Admin) -> ModelResponse:
    party = access.party_for(session, actor, party_id)
    measure = misuse.warn(session, party, reasons=body.reasons, actor=actor, now=clock.now())
    return ModelResponse(MisuseMeasureOut.model_validate(measure), status_code=201)


@router.post("/parties/{party_id}/misuse/suspension", status_code=201, response_model=MisuseMeasureOut,
             summary="Suspend a warned party from appealing for a number of days (Art. 23(2))")
def suspend_party(party_id: RowId, body: SuspensionIn, session: SessionDep, clock: ClockDep,
                  actor: Admin) -> ModelResponse:
    party = access.party_for(session, actor, party_id)
    measure = misuse.suspend(session, party, reasons=body.reasons, days=body.days, actor=actor, now=clock.now())
    return ModelResponse(MisuseMeasureOut.model_validate(measure), status_code=201)
