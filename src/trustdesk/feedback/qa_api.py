"""JSON routes of QA and coaching under ``/api/v1/qa``: scorecards, sampling rules and samples, reviews,
calibration sessions (blind), agent QA scores and coaching notes. QA is the platform's own (in-house)
work; an agent reads their own reviews and coaching notes under ``/qa/me``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from trustdesk.cases.access import case_for
from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import Forbidden
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory import page_queries as directory_queries
from trustdesk.feedback import qa
from trustdesk.feedback.models import CoachingNote, QaCalibration, QaEvaluation, QaScorecard
from trustdesk.feedback.qa_schemas import (
    AgentScoreList,
    AgentScoreOut,
    AgreementOut,
    CalibrationIn,
    CalibrationList,
    CalibrationOut,
    CalibrationScoreIn,
    CoachingNoteIn,
    CoachingNoteList,
    CoachingNoteOut,
    CriterionAgreementOut,
    EvaluationIn,
    EvaluationList,
    EvaluationOut,
    SampledOut,
    SampleList,
    SampleOut,
    SampleRunIn,
    SamplingRuleIn,
    SamplingRuleOut,
    ScorecardIn,
    ScorecardOut,
    ScorecardVersionIn,
)
from trustdesk.web.deps import ClockDep, Requires, SessionDep

router = APIRouter(prefix="/qa", tags=["qa"])
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
ScorecardKey = Annotated[str, Path(min_length=1, max_length=64, pattern=qa.SLUG.pattern)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]

Reviewer = Annotated[Actor, Depends(Requires(Perm.QA_REVIEW, in_house=True))]
Admin = Annotated[Actor, Depends(Requires(Perm.QA_ADMIN, in_house=True))]
Coach = Annotated[Actor, Depends(Requires(Perm.QA_COACH, in_house=True))]
Self = Annotated[Actor, Depends(Requires(Perm.SELF))]
DEFAULT_PERIOD = timedelta(days=28)


def _is_qa_staff(actor: Actor, perm: Perm) -> bool:
    return actor.can(perm) and actor.vendor_id is None


def _agent_of(actor: Actor) -> int:
    if actor.agent_id is None:
        raise Forbidden("QA reviews and coaching notes are about agents' work: you are not an agent")
    return actor.agent_id


# ---------------------------------------------------------------- shaping


def _scorecard_out(card: QaScorecard) -> ScorecardOut:
    return ScorecardOut.model_validate(card)


def _evaluation_outs(session: Session, rows: list[QaEvaluation]) -> list[EvaluationOut]:
    cards = qa.scorecards_by_id(session, {e.scorecard_id for e in rows})
    out = []
    for e in rows:
        card = cards[e.scorecard_id]
        out.append(EvaluationOut(
            id=e.id, case_id=e.case_id, agent_id=e.agent_id, reviewer_user_id=e.reviewer_user_id,
            scorecard_key=card.key, scorecard_version=card.version, sample_id=e.sample_id,
            calibration_id=e.calibration_id, answers=e.answers, score=e.score, auto_failed=e.auto_failed,
            passed=e.score >= card.pass_mark, comment=e.comment, submitted_at=e.submitted_at))
    return out


def _agreement_out(agreement: qa.Agreement) -> AgreementOut:
    return AgreementOut(overall=agreement.overall, reviewers=agreement.reviewers, pairs=agreement.pairs,
                        criteria=[CriterionAgreementOut(key=c.key, label=c.label, auto_fail=c.auto_fail, met=c.met,
                                                        not_met=c.not_met, agreement=c.agreement,
                                                        disagreed=c.disagreed) for c in agreement.criteria])


def _calibration_out(session: Session, calibration: QaCalibration, actor: Actor) -> CalibrationOut:
    view = qa.calibration_view(session, calibration, actor)
    return CalibrationOut(
        id=calibration.id, case_id=calibration.case_id, scorecard_key=view.scorecard.key,
        scorecard_version=view.scorecard.version, title=calibration.title,
        reviewer_user_ids=qa.reviewer_ids(calibration), submitted_by=view.submitted_by, status=calibration.status,
        agreement=calibration.agreement, created_at=calibration.created_at, closed_at=calibration.closed_at,
        answers_visible=view.others_visible, evaluations=_evaluation_outs(session, view.visible),
        per_criterion=_agreement_out(view.agreement) if view.agreement is not None else None)


def _note_outs(notes: list[CoachingNote]) -> CoachingNoteList:
    return CoachingNoteList(items=[CoachingNoteOut.model_validate(n) for n in notes])


# ---------------------------------------------------------------- scorecards


@router.get("/scorecards", response_model=list[ScorecardOut], summary="The scorecards in use (latest versions)")
def list_scorecards(session: SessionDep, actor: Reviewer) -> list[ScorecardOut]:
    return [_scorecard_out(c) for c in qa.scorecards(session)]


@router.post("/scorecards", response_model=ScorecardOut, status_code=201, summary="Create a scorecard (version 1)")
def create_scorecard(body: ScorecardIn, session: SessionDep, clock: ClockDep, actor: Admin) -> ScorecardOut:
    card = qa.create_scorecard(session, key=body.key, name=body.name, criteria=body.criteria,
                               pass_mark=body.pass_mark, actor=actor, now=clock.now())
    return _scorecard_out(card)


@router.get("/scorecards/{key}", response_model=ScorecardOut,
            summary="A scorecard: the version in use, or the version asked for")
def get_scorecard(key: ScorecardKey, session: SessionDep, actor: Reviewer,
                  version: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> ScorecardOut:
    card = qa.scorecard_version(session, key, version) if version is not None else qa.active_scorecard(
        session, key, field="key")
    return _scorecard_out(card)


@router.get("/scorecards/{key}/versions", response_model=list[ScorecardOut],
            summary="Every version of a scorecard, newest first")
def scorecard_versions(key: ScorecardKey, session: SessionDep, actor: Reviewer) -> list[ScorecardOut]:
    qa.active_scorecard(session, key, field="key")
    return [_scorecard_out(c) for c in qa.versions_of(session, key)]


@router.post("/scorecards/{key}/versions", response_model=ScorecardOut, status_code=201,
             summary="Write a new version of a scorecard; reviews done on older versions keep theirs")
def revise_scorecard(key: ScorecardKey, body: ScorecardVersionIn, session: SessionDep, clock: ClockDep,
                     actor: Admin) -> ScorecardOut:
    card = qa.revise_scorecard(session, key, name=body.name, criteria=body.criteria, pass_mark=body.pass_mark,
                               actor=actor, now=clock.now())
    return _scorecard_out(card)


# ---------------------------------------------------------------- sampling


@router.get("/sampling-rules", response_model=list[SamplingRuleOut], summary="Each team's sampling rule")
def list_rules(session: SessionDep, actor: Reviewer) -> list[SamplingRuleOut]:
    return [SamplingRuleOut.model_validate(r) for r in qa.sampling_rules(session)]


@router.put("/sampling-rules", response_model=SamplingRuleOut,
            summary="Set a team's sampling rule (team_id null: the rule for teams without their own)")
def save_rule(body: SamplingRuleIn, session: SessionDep, clock: ClockDep, actor: Admin) -> SamplingRuleOut:
    rule = qa.save_sampling_rule(session, team_id=body.team_id, scorecard_key=body.scorecard_key,
                                 percent_per_agent=body.percent_per_agent, min_per_agent=body.min_per_agent,
                                 include_low_csat=body.include_low_csat, include_escalated=body.include_escalated,
                                 actor=actor, now=clock.now())
    return SamplingRuleOut.model_validate(rule)


@router.post("/samples/run", response_model=SampledOut,
             summary="Sample a past week now (the weekly job does it on Mondays; running again adds nothing)")
def run_sampling(body: SampleRunIn, session: SessionDep, clock: ClockDep, actor: Admin) -> SampledOut:
    result = qa.sample_week(session, body.week, now=clock.now(), seed=body.seed)
    return SampledOut(week=result.week, random=result.random, low_csat=result.low_csat, escalated=result.escalated,
                      total=result.total)


@router.get("/samples", response_model=SampleList, summary="Sampled cases, open ones first")
def list_samples(session: SessionDep, actor: Reviewer,
                 status: Annotated[qa.SampleStatus | None, Query()] = None,
                 reason: Annotated[qa.SampleReason | None, Query()] = None,
                 agent_id: OptionalId = None, limit: Limit = 100) -> SampleList:
    rows = qa.list_samples(session, status=status, reason=reason, agent_id=agent_id, limit=limit)
    return SampleList(items=[SampleOut.model_validate(s) for s in rows])


# ---------------------------------------------------------------- reviews


@router.post("/evaluations", response_model=EvaluationOut, status_code=201,
             summary="Score a solved case on its scorecard (every criterion met or not met)")
def create_evaluation(body: EvaluationIn, session: SessionDep, clock: ClockDep, actor: Reviewer) -> EvaluationOut:
    case = case_for(session, actor, body.case_id, permission=Perm.CASE_READ, for_update=True)
    card = qa.active_scorecard(session, body.scorecard_key) if body.scorecard_key else None
    evaluation = qa.evaluate(session, case, reviewer=actor, scorecard=card, answers=body.answers,
                             comment=body.comment, now=clock.now())
    return _evaluation_outs(session, [evaluation])[0]


@router.get("/evaluations", response_model=EvaluationList, summary="Reviews (outside calibration), newest first")
def list_evaluations(session: SessionDep, actor: Reviewer, case_id: OptionalId = None, agent_id: OptionalId = None,
                     limit: Limit = 100) -> EvaluationList:
    rows = qa.list_evaluations(session, case_id=case_id, agent_id=agent_id, limit=limit)
    return EvaluationList(items=_evaluation_outs(session, rows))


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationOut,
            summary="One review: for QA staff, and for the agent whose work it reviews")
def get_evaluation(evaluation_id: RowId, session: SessionDep, actor: Self) -> EvaluationOut:
    evaluation = qa.evaluation_by_id(session, evaluation_id)
    if not _is_qa_staff(actor, Perm.QA_REVIEW) and (actor.agent_id is None or actor.agent_id != evaluation.agent_id):
        raise Forbidden("this review is of someone else's work")
    return _evaluation_outs(session, [evaluation])[0]


@router.get("/me/evaluations", response_model=EvaluationList, summary="The reviews of your own work")
def my_evaluations(session: SessionDep, actor: Self) -> EvaluationList:
    return EvaluationList(items=_evaluation_outs(session, qa.evaluations_of_agent(session, _agent_of(actor))))


# ---------------------------------------------------------------- calibration


@router.get("/calibrations", response_model=CalibrationList,
            summary="Calibration sessions (each reviewer's scores only as the blind rule allows)")
def list_calibrations(session: SessionDep, actor: Reviewer) -> CalibrationList:
    return CalibrationList(items=[_calibration_out(session, c, actor) for c in qa.calibrations(session)])


@router.post("/calibrations", response_model=CalibrationOut, status_code=201,
             summary="Open a calibration session: 2 or more reviewers score the same case blind")
def create_calibration(body: CalibrationIn, session: SessionDep, clock: ClockDep, actor: Admin) -> CalibrationOut:
    case = case_for(session, actor, body.case_id, permission=Perm.CASE_READ)
    calibration = qa.open_calibration(session, case, scorecard_key=body.scorecard_key,
                                      reviewer_user_ids=body.reviewer_user_ids, title=body.title, actor=actor,
                                      now=clock.now())
    return _calibration_out(session, calibration, actor)


@router.get("/calibrations/{calibration_id}", response_model=CalibrationOut, summary="A calibration session")
def get_calibration(calibration_id: RowId, session: SessionDep, actor: Reviewer) -> CalibrationOut:
    return _calibration_out(session, qa.calibration_by_id(session, calibration_id), actor)


@router.post("/calibrations/{calibration_id}/scores", response_model=CalibrationOut, status_code=201,
             summary="Submit your blind score in a calibration session")
def score_calibration(calibration_id: RowId, body: CalibrationScoreIn, session: SessionDep, clock: ClockDep,
                      actor: Reviewer) -> CalibrationOut:
    calibration = qa.calibration_by_id(session, calibration_id, for_update=True)
    qa.submit_calibration(session, calibration, reviewer=actor, answers=body.answers, comment=body.comment,
                          now=clock.now())
    return _calibration_out(session, calibration, actor)


@router.post("/calibrations/{calibration_id}/close", response_model=CalibrationOut,
             summary="Close the session: agreement and disagreement per criterion")
def close_calibration(calibration_id: RowId, session: SessionDep, clock: ClockDep, actor: Admin) -> CalibrationOut:
    calibration = qa.calibration_by_id(session, calibration_id, for_update=True)
    qa.close_calibration(session, calibration, actor=actor, now=clock.now())
    return _calibration_out(session, calibration, actor)


# ---------------------------------------------------------------- agent QA scores


@router.get("/agent-scores", response_model=AgentScoreList,
            summary="Agent QA score: mean score, count and pass rate of the reviews submitted in the period")
def agent_scores(session: SessionDep, clock: ClockDep, actor: Reviewer,
                 since: Annotated[AwareDatetime | None, Query()] = None,
                 until: Annotated[AwareDatetime | None, Query()] = None) -> AgentScoreList:
    end = until or clock.now()
    start = since or end - DEFAULT_PERIOD
    rows = qa.agent_scores(session, since=start, until=end)
    names = directory_queries.agent_names(session, [r.agent_id for r in rows])
    return AgentScoreList(since=start, until=end, items=[
        AgentScoreOut(agent_id=r.agent_id, name=names.get(r.agent_id, f"agent #{r.agent_id}"),
                      evaluations=r.evaluations, mean_score=r.mean_score, passed=r.passed, pass_rate=r.pass_rate,
                      auto_fails=r.auto_fails) for r in rows])


# ---------------------------------------------------------------- coaching


@router.post("/coaching-notes", response_model=CoachingNoteOut, status_code=201,
             summary="Write a coaching note to an agent, optionally on one of their reviews")
def create_note(body: CoachingNoteIn, session: SessionDep, clock: ClockDep, actor: Coach) -> CoachingNoteOut:
    note = qa.write_note(session, agent_id=body.agent_id, body=body.body, evaluation_id=body.evaluation_id,
                         author=actor, now=clock.now())
    return CoachingNoteOut.model_validate(note)


@router.get("/coaching-notes", response_model=CoachingNoteList, summary="An agent's coaching notes")
def list_notes(session: SessionDep, actor: Coach, agent_id: Annotated[int, Query(ge=1, le=MAX_ID)]) -> CoachingNoteList:
    qa.agent_of(session, agent_id)
    return _note_outs(qa.notes_for_agent(session, agent_id))


@router.get("/me/coaching-notes", response_model=CoachingNoteList, summary="The coaching notes written to you")
def my_notes(session: SessionDep, actor: Self) -> CoachingNoteList:
    return _note_outs(qa.notes_for_agent(session, _agent_of(actor)))


@router.get("/coaching-notes/{note_id}", response_model=CoachingNoteOut,
            summary="A coaching note: for the agent it is written to, and for coaches")
def get_note(note_id: RowId, session: SessionDep, actor: Self) -> CoachingNoteOut:
    return CoachingNoteOut.model_validate(qa.note_for(session, actor, note_id))


@router.post("/coaching-notes/{note_id}/acknowledge", response_model=CoachingNoteOut,
             summary="Acknowledge a coaching note written to you")
def acknowledge_note(note_id: RowId, session: SessionDep, clock: ClockDep, actor: Self) -> CoachingNoteOut:
    note = qa.note_for(session, actor, note_id)
    return CoachingNoteOut.model_validate(qa.acknowledge_note(session, note, actor=actor, now=clock.now()))
