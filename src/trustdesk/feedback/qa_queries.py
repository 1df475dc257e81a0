"""What the QA console pages read: rows with the names they show, a fixed number of queries per page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from trustdesk.cases import repository as cases_repository
from trustdesk.cases.models import Case, Message
from trustdesk.core.identity import User
from trustdesk.core.permissions import ROLE_PERMISSIONS, Perm, Role
from trustdesk.directory import page_queries as directory_queries
from trustdesk.directory.models import Agent, Team, Vendor
from trustdesk.feedback import qa
from trustdesk.feedback.models import CoachingNote, QaCalibration, QaEvaluation, QaSample, QaScorecard
from trustdesk.insights.models import CaseFact

REASON_LABELS: dict[str, str] = {
    qa.SampleReason.RANDOM.value: "Random share",
    qa.SampleReason.LOW_CSAT.value: "Low CSAT (1-2)",
    qa.SampleReason.ESCALATED.value: "Escalated from Tier 1",
}
QUEUE_LIMIT = 100


@dataclass(frozen=True)
class SampleRow:
    sample: QaSample
    reference: str
    subject: str
    agent: str
    team: str
    solved_at: datetime | None
    csat: int | None


def _case_bits(session: Session, case_ids: set[int]) -> dict[int, tuple[str, str]]:
    if not case_ids:
        return {}
    rows = session.execute(select(Case.id, Case.reference, Case.subject).where(Case.id.in_(case_ids)))
    return {cid: (ref or f"#{cid}", subject) for cid, ref, subject in rows}


def _facts(session: Session, case_ids: set[int]) -> dict[int, Any]:
    if not case_ids:
        return {}
    rows = session.execute(select(CaseFact.case_id, CaseFact.team_id, CaseFact.solved_at, CaseFact.csat_score)
                           .where(CaseFact.case_id.in_(case_ids)))
    return {row.case_id: row for row in rows}


def team_names(session: Session, team_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in team_ids if i is not None}
    if not ids:
        return {}
    return {tid: name for tid, name in session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))}


def open_count(session: Session, reason: str = "") -> int:
    query = select(func.count(QaSample.id)).where(QaSample.status == qa.SampleStatus.OPEN.value)
    if reason:
        query = query.where(QaSample.reason == reason)
    return int(session.scalar(query) or 0)


def open_by_reason(session: Session) -> dict[str, int]:
    rows = session.execute(select(QaSample.reason, func.count(QaSample.id))
                           .where(QaSample.status == qa.SampleStatus.OPEN.value).group_by(QaSample.reason))
    return {reason: int(n) for reason, n in rows}


def queue(session: Session, *, reason: str = "", limit: int = QUEUE_LIMIT) -> list[SampleRow]:
    """Open samples: low CSAT and escalations first, then the newest week, oldest case first."""
    first = case((QaSample.reason == qa.SampleReason.LOW_CSAT.value, 0),
                 (QaSample.reason == qa.SampleReason.ESCALATED.value, 1), else_=2)
    query = select(QaSample).where(QaSample.status == qa.SampleStatus.OPEN.value)
    if reason:
        query = query.where(QaSample.reason == reason)
    samples = list(session.scalars(query.order_by(first, QaSample.week.desc(), QaSample.case_id).limit(limit)))
    ids = {s.case_id for s in samples}
    bits, facts = _case_bits(session, ids), _facts(session, ids)
    agents = directory_queries.agent_names(session, [s.agent_id for s in samples])
    teams = team_names(session, [f.team_id for f in facts.values()])
    rows = []
    for s in samples:
        fact = facts.get(s.case_id)
        ref, subject = bits.get(s.case_id, (f"#{s.case_id}", ""))
        rows.append(SampleRow(sample=s, reference=ref, subject=subject,
                              agent=agents.get(s.agent_id, "nobody") if s.agent_id else "nobody",
                              team=teams.get(fact.team_id, "") if fact is not None and fact.team_id else "",
                              solved_at=fact.solved_at if fact is not None else None,
                              csat=fact.csat_score if fact is not None else None))
    return rows


def public_messages(session: Session, case_id: int) -> Sequence[Message]:
    return cases_repository.messages(session, case_id, public_only=True)


def case_fact(session: Session, case_id: int) -> Any:
    return _facts(session, {case_id}).get(case_id)


@dataclass(frozen=True)
class EvaluationRow:
    evaluation: QaEvaluation
    scorecard: QaScorecard
    reference: str
    subject: str
    reviewer: str
    agent: str

    @property
    def passed(self) -> bool:
        return self.evaluation.score >= self.scorecard.pass_mark


def evaluation_rows(session: Session, evaluations: Sequence[QaEvaluation]) -> list[EvaluationRow]:
    cards = qa.scorecards_by_id(session, {e.scorecard_id for e in evaluations})
    bits = _case_bits(session, {e.case_id for e in evaluations})
    users = directory_queries.user_names(session, [e.reviewer_user_id for e in evaluations])
    agents = directory_queries.agent_names(session, [e.agent_id for e in evaluations])
    return [EvaluationRow(evaluation=e, scorecard=cards[e.scorecard_id],
                          reference=bits.get(e.case_id, (f"#{e.case_id}", ""))[0],
                          subject=bits.get(e.case_id, ("", ""))[1],
                          reviewer=users.get(e.reviewer_user_id, f"user #{e.reviewer_user_id}"),
                          agent=agents.get(e.agent_id, "nobody") if e.agent_id else "nobody")
            for e in evaluations]


@dataclass(frozen=True)
class NoteRow:
    note: CoachingNote
    author: str
    reference: str | None  # the case of the review it is about


def note_rows(session: Session, notes: Sequence[CoachingNote]) -> list[NoteRow]:
    authors = directory_queries.user_names(session, [n.author_user_id for n in notes])
    evaluation_ids = {n.evaluation_id for n in notes if n.evaluation_id is not None}
    cases = dict(session.execute(select(QaEvaluation.id, QaEvaluation.case_id)
                                 .where(QaEvaluation.id.in_(evaluation_ids))).all()) if evaluation_ids else {}
    bits = _case_bits(session, set(cases.values()))
    return [NoteRow(note=n, author=authors.get(n.author_user_id, f"user #{n.author_user_id}"),
                    reference=bits[cases[n.evaluation_id]][0] if n.evaluation_id in cases else None)
            for n in notes]


def notes_by_evaluation(session: Session, evaluation_ids: Iterable[int]) -> dict[int, list[CoachingNote]]:
    ids = set(evaluation_ids)
    if not ids:
        return {}
    found: dict[int, list[CoachingNote]] = {}
    for note in session.scalars(select(CoachingNote).where(CoachingNote.evaluation_id.in_(ids))
                                .order_by(CoachingNote.created_at, CoachingNote.id)):
        assert note.evaluation_id is not None
        found.setdefault(note.evaluation_id, []).append(note)
    return found


@dataclass(frozen=True)
class AgentRow:
    score: qa.AgentQaScore
    name: str
    vendor: str


def agent_rows(session: Session, scores: Sequence[qa.AgentQaScore]) -> list[AgentRow]:
    ids = [s.agent_id for s in scores]
    if not ids:
        return []
    rows = session.execute(select(Agent.id, User.display_name, Vendor.name).join(User, User.id == Agent.user_id)
                           .outerjoin(Vendor, Vendor.id == Agent.vendor_id).where(Agent.id.in_(ids)))
    named = {aid: (name, vendor or "In-house") for aid, name, vendor in rows}
    out = [AgentRow(score=s, name=named.get(s.agent_id, (f"agent #{s.agent_id}", ""))[0],
                    vendor=named.get(s.agent_id, ("", ""))[1]) for s in scores]
    return sorted(out, key=lambda r: (r.score.mean_score if r.score.mean_score is not None else 101, r.name))


def agent_heading(session: Session, agent_id: int) -> tuple[str, str]:
    """The agent's name and vendor ("In-house" when none)."""
    row = session.execute(select(User.display_name, Vendor.name).select_from(Agent)
                          .join(User, User.id == Agent.user_id).outerjoin(Vendor, Vendor.id == Agent.vendor_id)
                          .where(Agent.id == agent_id)).first()
    return (row[0], row[1] or "In-house") if row is not None else (f"agent #{agent_id}", "")


@dataclass(frozen=True)
class CalibrationRow:
    calibration: QaCalibration
    reference: str
    scorecard: QaScorecard
    reviewers: list[str]
    submitted: int


def calibration_rows(session: Session, items: Sequence[QaCalibration]) -> list[CalibrationRow]:
    cards = qa.scorecards_by_id(session, {c.scorecard_id for c in items})
    bits = _case_bits(session, {c.case_id for c in items})
    users = directory_queries.user_names(session, [u for c in items for u in qa.reviewer_ids(c)])
    counts: dict[int, int] = {}
    if items:
        counts = {cid: int(n) for cid, n in session.execute(
            select(QaEvaluation.calibration_id, func.count(QaEvaluation.id))
            .where(QaEvaluation.calibration_id.in_([c.id for c in items])).group_by(QaEvaluation.calibration_id))
            if cid is not None}
    return [CalibrationRow(calibration=c, reference=bits.get(c.case_id, (f"#{c.case_id}", ""))[0],
                           scorecard=cards[c.scorecard_id],
                           reviewers=[users.get(u, f"user #{u}") for u in qa.reviewer_ids(c)],
                           submitted=counts.get(c.id, 0)) for c in items]


def possible_reviewers(session: Session) -> list[tuple[int, str]]:
    """In-house active users who may review (qa.review), by name."""
    roles = [r.value for r in Role if Perm.QA_REVIEW in ROLE_PERMISSIONS[r]]
    rows = session.execute(select(User.id, User.display_name, Agent.vendor_id)
                           .outerjoin(Agent, Agent.user_id == User.id)
                           .where(User.role.in_(roles), User.is_active.is_(True)).order_by(User.display_name))
    return [(uid, name) for uid, name, vendor in rows if vendor is None]


def user_display(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    return directory_queries.user_names(session, user_ids)
