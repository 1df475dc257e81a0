"""QA and coaching: versioned scorecards, weekly sampling of solved cases, reviews, calibration sessions
and coaching notes. The rules live here; no HTTP, no commit (``flush`` only).

Definitions (GLOSSARY), implemented exactly once, here:

- **QA score** of a reviewed case = 100 x (sum of the weights of the criteria met) / (sum of all weights).
  Auto-fail criteria carry no weight (a scorecard refuses a weight on one): they only gate, and any
  auto-fail criterion not met sets the score to 0 (``auto_failed``).
- **Calibration agreement** = the share of criteria on which two reviewers of the same case agree (both
  met, or both not met). With more than two reviewers it is the mean over every pair of reviewers; this
  equals the mean, over criteria, of the share of reviewer pairs agreeing on that criterion (the figure
  shown per criterion), since both count agreeing (pair, criterion) cells out of pairs x criteria.
- **Agent QA score** = the mean of the agent's evaluation scores submitted in the period (calibration
  evaluations excluded), with their count and pass rate (score >= the pass mark of the scorecard
  version used).

Sampling (``sample_week``) works on UTC weeks (Monday 00:00 to the next Monday) over the case facts
(``insights.facts``): a case belongs to the week of its last solve, to its final team's rule (or the
rule without a team, for teams without their own) and to the agent who solved it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import combinations
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Status
from trustdesk.cases.service import clean_text
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.events import record_case_event
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import ROLE_PERMISSIONS, Perm, Role
from trustdesk.directory import service as directory
from trustdesk.directory.models import Agent
from trustdesk.feedback.models import (
    CoachingNote,
    QaCalibration,
    QaEvaluation,
    QaSample,
    QaSamplingRule,
    QaScorecard,
)
from trustdesk.insights.models import CaseFact

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_CRITERIA = 30
MAX_WEIGHT = 100
MAX_NAME = 200
MAX_LABEL = 200
MAX_GUIDANCE = 2000
MAX_ANSWER_COMMENT = 2000
MAX_COMMENT = 4000
MAX_NOTE = 4000
MAX_REVIEWERS = 10
MAX_MIN_PER_AGENT = 100
LOW_CSAT_SCORES = (1, 2)
CRITERION_FIELDS = frozenset({"key", "label", "weight", "auto_fail", "guidance"})
ANSWER_FIELDS = frozenset({"met", "comment"})
REVIEWABLE = frozenset({Status.SOLVED.value, Status.CLOSED.value})


class SampleReason(StrEnum):
    RANDOM = "random"  # the share per agent per week
    LOW_CSAT = "low_csat"  # rated 1 or 2
    ESCALATED = "escalated"  # escalated from Tier 1


class SampleStatus(StrEnum):
    OPEN = "open"
    REVIEWED = "reviewed"


class CalibrationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _require(actor: Actor, perm: Perm) -> None:
    if not actor.can(perm):
        raise Forbidden(f"this needs the {perm.value} permission")


def _text(value: Any, *, field: str, max_chars: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Invalid("must be text", field=field)
    if not required and not value.strip():
        return ""
    return clean_text(value, field=field, max_chars=max_chars)


def _number(value: Any, *, field: str, low: float, high: float, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"give {what} as a number from {low:g} to {high:g}", field=field)
    if not low <= value <= high:
        raise Invalid(f"give {what} from {low:g} to {high:g}", field=field)
    return int(value) if isinstance(value, float) and value.is_integer() else value


# ---------------------------------------------------------------- scorecards


def validate_criteria(raw: Any) -> list[dict[str, Any]]:
    """The criteria as stored, or Invalid naming ``criteria.<i>.<field>``."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CRITERIA:
        raise Invalid(f"a scorecard has 1 to {MAX_CRITERIA} criteria", field="criteria")
    criteria: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        at = f"criteria.{index}"
        if not isinstance(item, dict):
            raise Invalid("each criterion has a key, a label and a weight", field=at)
        unknown = sorted(str(k) for k in set(item) - CRITERION_FIELDS)
        if unknown:
            raise Invalid("unknown field", field=f"{at}.{unknown[0][:64]}")
        key = item.get("key")
        if not isinstance(key, str) or not SLUG.match(key):
            raise Invalid("use lower-case letters, digits, dash or underscore (up to 64, starting with a letter or "
                          "digit)", field=f"{at}.key")
        if key in seen:
            raise Invalid(f"another criterion has the key {key!r}", field=f"{at}.key")
        seen.add(key)
        label = _text(item.get("label"), field=f"{at}.label", max_chars=MAX_LABEL)
        auto_fail = item.get("auto_fail", False)
        if not isinstance(auto_fail, bool):
            raise Invalid("true or false", field=f"{at}.auto_fail")
        weight: int | float
        if "weight" not in item and auto_fail:
            weight = 0
        else:
            weight = _number(item.get("weight"), field=f"{at}.weight", low=0, high=MAX_WEIGHT, what="the weight")
        if auto_fail and weight != 0:
            raise Invalid("an auto-fail criterion carries no weight: not met, it sets the score to 0",
                          field=f"{at}.weight")
        guidance = _text(item.get("guidance", ""), field=f"{at}.guidance", max_chars=MAX_GUIDANCE, required=False)
        criteria.append({"key": key, "label": label, "weight": weight, "auto_fail": auto_fail,
                         "guidance": guidance})
    if sum(c["weight"] for c in criteria if not c["auto_fail"]) <= 0:
        raise Invalid("at least one criterion that is not auto-fail needs a weight above 0", field="criteria")
    return criteria


def _scorecard_fields(name: Any, criteria: Any, pass_mark: Any) -> tuple[str, list[dict[str, Any]], float]:
    clean_name = _text(name, field="name", max_chars=MAX_NAME)
    mark = float(_number(pass_mark, field="pass_mark", low=0, high=100, what="the pass mark"))
    return clean_name, validate_criteria(criteria), mark


def create_scorecard(session: Session, *, key: str, name: str, criteria: Any, pass_mark: Any = 80.0,
                     actor: Actor, now: datetime) -> QaScorecard:
    """Version 1 of a new scorecard."""
    _require(actor, Perm.QA_ADMIN)
    if not isinstance(key, str) or not SLUG.match(key):
        raise Invalid("use lower-case letters, digits, dash or underscore (up to 64)", field="key")
    clean_name, clean_criteria, mark = _scorecard_fields(name, criteria, pass_mark)
    if session.scalar(select(QaScorecard.id).where(QaScorecard.key == key).limit(1)) is not None:
        raise Conflict(f"a scorecard {key!r} exists: write a new version of it instead", field="key")
    card = QaScorecard(key=key, version=1, name=clean_name, criteria=clean_criteria, pass_mark=mark, active=True,
                       created_by_user_id=actor.user_id or None, created_at=now)
    session.add(card)
    session.flush()
    return card


def revise_scorecard(session: Session, key: str, *, name: str, criteria: Any, pass_mark: Any, actor: Actor,
                     now: datetime) -> QaScorecard:
    """A new version of the scorecard: it becomes the one in use; reviews done on older versions keep theirs."""
    _require(actor, Perm.QA_ADMIN)
    current = active_scorecard(session, key)
    clean_name, clean_criteria, mark = _scorecard_fields(name, criteria, pass_mark)
    latest = session.scalar(select(func.max(QaScorecard.version)).where(QaScorecard.key == key)) or 0
    session.execute(update(QaScorecard).where(QaScorecard.key == key).values(active=False))
    current.active = False
    card = QaScorecard(key=key, version=int(latest) + 1, name=clean_name, criteria=clean_criteria, pass_mark=mark,
                       active=True, created_by_user_id=actor.user_id or None, created_at=now)
    session.add(card)
    session.flush()
    return card


def active_scorecard(session: Session, key: str, *, field: str = "scorecard_key") -> QaScorecard:
    card = session.scalar(select(QaScorecard).where(QaScorecard.key == key, QaScorecard.active.is_(True)))
    if card is None:
        raise NotFound(f"no scorecard {key!r}", field=field)
    return card


def scorecard_version(session: Session, key: str, version: int) -> QaScorecard:
    card = session.scalar(select(QaScorecard).where(QaScorecard.key == key, QaScorecard.version == version))
    if card is None:
        raise NotFound(f"scorecard {key!r} has no version {version}", field="version")
    return card


def scorecards(session: Session) -> list[QaScorecard]:
    """The version in use of every scorecard, by name."""
    return list(session.scalars(select(QaScorecard).where(QaScorecard.active.is_(True))
                                .order_by(QaScorecard.name, QaScorecard.key)))


def versions_of(session: Session, key: str) -> list[QaScorecard]:
    return list(session.scalars(select(QaScorecard).where(QaScorecard.key == key)
                                .order_by(QaScorecard.version.desc())))


def total_weight(criteria: Sequence[dict[str, Any]]) -> float:
    return float(sum(c["weight"] for c in criteria if not c["auto_fail"]))


def qa_score(criteria: Sequence[dict[str, Any]], answers: dict[str, Any]) -> tuple[float, bool]:
    """(QA score 0..100, auto-failed) of validated answers on these criteria (see the module docstring)."""
    auto_failed = any(c["auto_fail"] and not answers[c["key"]]["met"] for c in criteria)
    if auto_failed:
        return 0.0, True
    met = sum(c["weight"] for c in criteria if not c["auto_fail"] and answers[c["key"]]["met"])
    return 100.0 * met / total_weight(criteria), False


def validate_answers(criteria: Sequence[dict[str, Any]], raw: Any) -> dict[str, dict[str, Any]]:
    """Every criterion answered met or not met, with an optional comment; Invalid names ``answers.<key>``."""
    if not isinstance(raw, dict):
        raise Invalid("answer each criterion of the scorecard", field="answers")
    keys = {c["key"] for c in criteria}
    for given in raw:
        if given not in keys:
            raise Invalid("the scorecard has no such criterion", field=f"answers.{str(given)[:64]}")
    answers: dict[str, dict[str, Any]] = {}
    for criterion in criteria:
        key = criterion["key"]
        item = raw.get(key)
        if item is None:
            raise Invalid(f"answer {criterion['label']!r}: met or not met", field=f"answers.{key}")
        if not isinstance(item, dict):
            raise Invalid("an answer is {\"met\": true or false, \"comment\": text}", field=f"answers.{key}")
        unknown = sorted(str(k) for k in set(item) - ANSWER_FIELDS)
        if unknown:
            raise Invalid("unknown field", field=f"answers.{key}.{unknown[0][:64]}")
        met = item.get("met")
        if not isinstance(met, bool):
            raise Invalid(f"answer {criterion['label']!r}: met or not met", field=f"answers.{key}.met")
        comment = _text(item.get("comment", ""), field=f"answers.{key}.comment", max_chars=MAX_ANSWER_COMMENT,
                        required=False)
        answers[key] = {"met": met, "comment": comment}
    return answers


# ---------------------------------------------------------------- sampling


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week ``moment`` falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def week_bounds(week: date) -> tuple[datetime, datetime]:
    start = datetime.combine(week, time(), tzinfo=UTC)
    return start, start + timedelta(days=7)


def save_sampling_rule(session: Session, *, team_id: int | None, scorecard_key: str, percent_per_agent: Any,
                       min_per_agent: Any = 1, include_low_csat: bool = True, include_escalated: bool = True,
                       actor: Actor, now: datetime) -> QaSamplingRule:
    """Create or replace the team's rule (``team_id`` None: the rule for teams without their own)."""
    _require(actor, Perm.QA_ADMIN)
    if team_id is not None:
        directory.team_by_id(session, team_id)
    active_scorecard(session, scorecard_key)
    percent = float(_number(percent_per_agent, field="percent_per_agent", low=0, high=100,
                            what="the share per agent"))
    if isinstance(min_per_agent, bool) or not isinstance(min_per_agent, int) \
            or not 0 <= min_per_agent <= MAX_MIN_PER_AGENT:
        raise Invalid(f"a whole number from 0 to {MAX_MIN_PER_AGENT}", field="min_per_agent")
    for name, flag in (("include_low_csat", include_low_csat), ("include_escalated", include_escalated)):
        if not isinstance(flag, bool):
            raise Invalid("true or false", field=name)
    query = select(QaSamplingRule).where(QaSamplingRule.team_id.is_(None) if team_id is None
                                         else QaSamplingRule.team_id == team_id)
    rule = session.scalar(query)
    if rule is None:
        rule = QaSamplingRule(team_id=team_id)
        session.add(rule)
    rule.scorecard_key, rule.percent_per_agent, rule.min_per_agent = scorecard_key, percent, min_per_agent
    rule.include_low_csat, rule.include_escalated, rule.updated_at = include_low_csat, include_escalated, now
    session.flush()
    return rule


def sampling_rules(session: Session) -> list[QaSamplingRule]:
    return list(session.scalars(select(QaSamplingRule).order_by(QaSamplingRule.team_id.is_(None),
                                                                 QaSamplingRule.team_id)))


def random_quota(percent: float, solved: int, minimum: int) -> int:
    """How many of an agent's ``solved`` cases of the week are picked at random: ceil(percent x n), at least
    ``minimum`` when they solved any, never more than they solved. Decimal, so 0.7 % of 1000 is 7, not 8."""
    if solved <= 0:
        return 0
    share = math.ceil(Decimal(str(percent)) * solved / 100)
    return min(solved, max(int(share), minimum))


def pick_order(case_id: int, week: date, seed: int = 0) -> str:
    """The deterministic draw: a case's place in the random order of its week (same inputs, same place)."""
    return hashlib.sha256(f"{seed}|{week.isoformat()}|{case_id}".encode()).hexdigest()


@dataclass
class Sampled:
    week: date
    random: int = 0
    low_csat: int = 0
    escalated: int = 0

    @property
    def total(self) -> int:
        return self.random + self.low_csat + self.escalated


def sample_week(session: Session, week: date, *, now: datetime, seed: int = 0) -> Sampled:
    """Pick the week's cases for review (see the module docstring). Safe to run again: a case is sampled
    once; an agent's random picks already made count toward their share, so a second run adds nothing
    unless new solved cases arrived in the facts."""
    if week.weekday() != 0:
        raise Invalid("a week is given by its Monday", field="week")
    start, end = week_bounds(week)
    if end > now:
        raise Invalid("the week has not ended yet", field="week")
    result = Sampled(week=week)
    rules = {r.team_id: r for r in sampling_rules(session)}
    if not rules:
        return result
    fallback = rules.get(None)
    rows = session.execute(
        select(CaseFact.case_id, CaseFact.agent_id, CaseFact.team_id, CaseFact.csat_score,
               CaseFact.escalated_from_t1, QaSample.id.label("sample_id"), QaSample.reason, QaSample.week)
        .outerjoin(QaSample, QaSample.case_id == CaseFact.case_id)
        .where(CaseFact.solved_at >= start, CaseFact.solved_at < end)
        .order_by(CaseFact.case_id)).all()
    groups: dict[tuple[int | None, int | None], list[Any]] = defaultdict(list)
    for row in rows:
        rule = rules.get(row.team_id) if row.team_id is not None else None
        rule = rule or fallback
        if rule is not None:
            groups[(rule.team_id, row.agent_id)].append(row)
    for (rule_team, agent_id), cases in sorted(groups.items(), key=lambda item: (item[0][0] or 0, item[0][1] or 0)):
        rule = rules[rule_team]

        def forced(row: Any, rule: QaSamplingRule = rule) -> SampleReason | None:
            if rule.include_low_csat and row.csat_score in LOW_CSAT_SCORES:
                return SampleReason.LOW_CSAT
            if rule.include_escalated and row.escalated_from_t1:
                return SampleReason.ESCALATED
            return None

        for row in cases:
            reason = forced(row)
            if reason is not None and row.sample_id is None:
                _add_sample(session, row, week, reason, rule.scorecard_key, now)
                setattr(result, reason.value, getattr(result, reason.value) + 1)
        if agent_id is None:
            continue  # the random share is per agent
        quota = random_quota(rule.percent_per_agent, len(cases), rule.min_per_agent)
        taken = sum(1 for row in cases if row.reason == SampleReason.RANDOM.value and row.week == week)
        candidates = sorted((row for row in cases if row.sample_id is None and forced(row) is None),
                            key=lambda row: (pick_order(row.case_id, week, seed), row.case_id))
        for row in candidates[:max(0, quota - taken)]:
            _add_sample(session, row, week, SampleReason.RANDOM, rule.scorecard_key, now)
            result.random += 1
    session.flush()
    return result


def _add_sample(session: Session, row: Any, week: date, reason: SampleReason, scorecard_key: str,
                now: datetime) -> None:
    session.add(QaSample(case_id=row.case_id, agent_id=row.agent_id, week=week, reason=reason.value,
                         scorecard_key=scorecard_key, status=SampleStatus.OPEN.value, created_at=now))


def sample_of(session: Session, case_id: int) -> QaSample | None:
    return session.scalar(select(QaSample).where(QaSample.case_id == case_id))


def list_samples(session: Session, *, status: SampleStatus | None = None, reason: SampleReason | None = None,
                 agent_id: int | None = None, limit: int = 100) -> list[QaSample]:
    """Samples, open ones first, newest week first."""
    query = select(QaSample).order_by(QaSample.status, QaSample.week.desc(), QaSample.id).limit(limit)
    if status is not None:
        query = query.where(QaSample.status == status.value)
    if reason is not None:
        query = query.where(QaSample.reason == reason.value)
    if agent_id is not None:
        query = query.where(QaSample.agent_id == agent_id)
    return list(session.scalars(query))


# ---------------------------------------------------------------- reviews


def solver_of(session: Session, case: Case, sample: QaSample | None = None) -> int | None:
    """The agent whose work is reviewed: as sampled, else who solved it (the case facts), else the assignee."""
    if sample is not None and sample.agent_id is not None:
        return sample.agent_id
    agent_id = session.scalar(select(CaseFact.agent_id).where(CaseFact.case_id == case.id))
    return agent_id if agent_id is not None else case.assignee_id


def _check_reviewable(case: Case) -> None:
    if case.status not in REVIEWABLE:
        raise Conflict("a case is reviewed once it is solved", field="case_id")


def _check_not_own(reviewer: Actor, agent_id: int | None) -> None:
    if reviewer.agent_id is not None and reviewer.agent_id == agent_id:
        raise Forbidden("you solved this case: someone else reviews it", field="case_id")


def _event_data(card: QaScorecard) -> dict[str, Any]:
    return {"scorecard_key": card.key, "scorecard_version": card.version}


def evaluate(session: Session, case: Case, *, reviewer: Actor, scorecard: QaScorecard | None = None,
             answers: Any, comment: str = "", now: datetime) -> QaEvaluation:
    """Score a solved case on a scorecard (the sample's, when none is given): one review per reviewer per
    case outside calibration; never one's own case. Marks the case's sample reviewed."""
    _require(reviewer, Perm.QA_REVIEW)
    _check_reviewable(case)
    sample = sample_of(session, case.id)
    if scorecard is None:
        if sample is None:
            raise Invalid("this case is not in the QA sample: choose the scorecard to review it on",
                          field="scorecard_key")
        scorecard = active_scorecard(session, sample.scorecard_key)
    agent_id = solver_of(session, case, sample)
    _check_not_own(reviewer, agent_id)
    duplicate = session.scalar(select(QaEvaluation.id).where(
        QaEvaluation.case_id == case.id, QaEvaluation.reviewer_user_id == reviewer.user_id,
        QaEvaluation.calibration_id.is_(None)))
    if duplicate is not None:
        raise Conflict("you have reviewed this case already", field="case_id")
    clean = validate_answers(scorecard.criteria, answers)
    note = _text(comment, field="comment", max_chars=MAX_COMMENT, required=False)
    score, auto_failed = qa_score(scorecard.criteria, clean)
    evaluation = QaEvaluation(case_id=case.id, agent_id=agent_id, reviewer_user_id=reviewer.user_id,
                              scorecard_id=scorecard.id, sample_id=sample.id if sample is not None else None,
                              calibration_id=None, answers=clean, score=score, auto_failed=auto_failed,
                              comment=note, submitted_at=now)
    session.add(evaluation)
    if sample is not None:
        sample.status = SampleStatus.REVIEWED.value
    session.flush()
    record_case_event(session, case.id, "qa.evaluated", reviewer, now, {
        "evaluation_id": evaluation.id, **_event_data(scorecard), "score": round(score, 4),
        "auto_failed": auto_failed, "agent_id": agent_id,
        "sample_reason": sample.reason if sample is not None else None})
    session.flush()
    return evaluation


def evaluation_by_id(session: Session, evaluation_id: int) -> QaEvaluation:
    """A review outside calibration (calibration scores are read through their session, blind)."""
    evaluation = session.get(QaEvaluation, evaluation_id)
    if evaluation is None or evaluation.calibration_id is not None:
        raise NotFound(f"no review {evaluation_id}", field="evaluation_id")
    return evaluation


def list_evaluations(session: Session, *, case_id: int | None = None, agent_id: int | None = None,
                     limit: int = 100) -> list[QaEvaluation]:
    """Reviews outside calibration, newest first."""
    query = (select(QaEvaluation).where(QaEvaluation.calibration_id.is_(None))
             .order_by(QaEvaluation.submitted_at.desc(), QaEvaluation.id.desc()).limit(limit))
    if case_id is not None:
        query = query.where(QaEvaluation.case_id == case_id)
    if agent_id is not None:
        query = query.where(QaEvaluation.agent_id == agent_id)
    return list(session.scalars(query))


def evaluations_of_case(session: Session, case_id: int) -> list[QaEvaluation]:
    return list(session.scalars(select(QaEvaluation).where(QaEvaluation.case_id == case_id,
                                                           QaEvaluation.calibration_id.is_(None))
                                .order_by(QaEvaluation.submitted_at, QaEvaluation.id)))


def evaluations_of_agent(session: Session, agent_id: int, *, limit: int = 200) -> list[QaEvaluation]:
    return list(session.scalars(select(QaEvaluation).where(QaEvaluation.agent_id == agent_id,
                                                           QaEvaluation.calibration_id.is_(None))
                                .order_by(QaEvaluation.submitted_at.desc(), QaEvaluation.id.desc()).limit(limit)))


def scorecards_by_id(session: Session, ids: Iterable[int]) -> dict[int, QaScorecard]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {c.id: c for c in session.scalars(select(QaScorecard).where(QaScorecard.id.in_(wanted)))}


# ---------------------------------------------------------------- agent QA score


@dataclass(frozen=True)
class AgentQaScore:
    agent_id: int
    evaluations: int
    mean_score: float | None
    passed: int
    auto_fails: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.evaluations if self.evaluations else None


def agent_scores(session: Session, *, since: datetime, until: datetime,
                 agent_ids: Iterable[int] | None = None) -> list[AgentQaScore]:
    """Agent QA score (see the module docstring) of the reviews submitted in [since, until), per agent."""
    if until <= since:
        raise Invalid("the period ends after it starts", field="until")
    passed = QaEvaluation.score >= QaScorecard.pass_mark
    query = (select(QaEvaluation.agent_id, func.count(QaEvaluation.id), func.avg(QaEvaluation.score),
                    func.count(QaEvaluation.id).filter(passed),
                    func.count(QaEvaluation.id).filter(QaEvaluation.auto_failed.is_(True)))
             .join(QaScorecard, QaScorecard.id == QaEvaluation.scorecard_id)
             .where(QaEvaluation.calibration_id.is_(None), QaEvaluation.agent_id.is_not(None),
                    QaEvaluation.submitted_at >= since, QaEvaluation.submitted_at < until)
             .group_by(QaEvaluation.agent_id).order_by(QaEvaluation.agent_id))
    if agent_ids is not None:
        query = query.where(QaEvaluation.agent_id.in_(set(agent_ids)))
    return [AgentQaScore(agent_id=int(agent_id), evaluations=int(count),
                         mean_score=float(mean) if mean is not None else None, passed=int(ok or 0),
                         auto_fails=int(failed or 0))
            for agent_id, count, mean, ok, failed in session.execute(query)]


def agent_score(session: Session, agent_id: int, *, since: datetime, until: datetime) -> AgentQaScore:
    found = agent_scores(session, since=since, until=until, agent_ids=[agent_id])
    return found[0] if found else AgentQaScore(agent_id=agent_id, evaluations=0, mean_score=None, passed=0,
                                               auto_fails=0)


# ---------------------------------------------------------------- calibration


def reviewer_ids(calibration: QaCalibration) -> list[int]:
    return [int(u) for u in calibration.reviewer_user_ids]


def _in_house_reviewer(session: Session, user_id: Any, *, field: str) -> User:
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise Invalid("a user's id", field=field)
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Invalid(f"no active user {user_id}", field=field)
    if Perm.QA_REVIEW not in ROLE_PERMISSIONS[Role(user.role)]:
        raise Invalid(f"{user.display_name} may not review (needs the qa.review permission)", field=field)
    agent = directory.agent_for_user(session, user.id)
    if agent is not None and agent.vendor_id is not None:
        raise Invalid(f"{user.display_name} works for a vendor: QA is in-house", field=field)
    return user


def open_calibration(session: Session, case: Case, *, scorecard_key: str, reviewer_user_ids: Any, title: str = "",
                     actor: Actor, now: datetime) -> QaCalibration:
    """A calibration session: 2 or more in-house reviewers score the same solved case blind."""
    _require(actor, Perm.QA_ADMIN)
    _check_reviewable(case)
    card = active_scorecard(session, scorecard_key)
    if not isinstance(reviewer_user_ids, list) or not 2 <= len(reviewer_user_ids) <= MAX_REVIEWERS:
        raise Invalid(f"choose 2 to {MAX_REVIEWERS} reviewers", field="reviewer_user_ids")
    solver = solver_of(session, case, sample_of(session, case.id))
    chosen: list[int] = []
    for index, user_id in enumerate(reviewer_user_ids):
        at = f"reviewer_user_ids.{index}"
        user = _in_house_reviewer(session, user_id, field=at)
        if user.id in chosen:
            raise Invalid(f"{user.display_name} is chosen twice", field=at)
        agent = directory.agent_for_user(session, user.id)
        if solver is not None and agent is not None and agent.id == solver:
            raise Invalid(f"{user.display_name} solved this case and cannot review it", field=at)
        chosen.append(user.id)
    heading = _text(title, field="title", max_chars=MAX_NAME, required=False) \
        or f"Calibration: {case.reference or f'case {case.id}'}"
    calibration = QaCalibration(case_id=case.id, scorecard_id=card.id, title=heading,
                                reviewer_user_ids=[str(u) for u in chosen], status=CalibrationStatus.OPEN.value,
                                agreement=None, created_by_user_id=actor.user_id, created_at=now, closed_at=None)
    session.add(calibration)
    session.flush()
    record_case_event(session, case.id, "qa.calibration_opened", actor, now, {
        "calibration_id": calibration.id, **_event_data(card), "reviewers": len(chosen)})
    session.flush()
    return calibration


def calibration_by_id(session: Session, calibration_id: int, *, for_update: bool = False) -> QaCalibration:
    calibration = session.get(QaCalibration, calibration_id, with_for_update=for_update or None)
    if calibration is None:
        raise NotFound(f"no calibration session {calibration_id}", field="calibration_id")
    return calibration


def calibrations(session: Session, *, limit: int = 200) -> list[QaCalibration]:
    return list(session.scalars(select(QaCalibration).order_by(QaCalibration.status.desc(),
                                                                QaCalibration.created_at.desc(),
                                                                QaCalibration.id.desc()).limit(limit)))


def calibration_scores(session: Session, calibration_id: int) -> list[QaEvaluation]:
    return list(session.scalars(select(QaEvaluation).where(QaEvaluation.calibration_id == calibration_id)
                                .order_by(QaEvaluation.submitted_at, QaEvaluation.id)))


def submit_calibration(session: Session, calibration: QaCalibration, *, reviewer: Actor, answers: Any,
                       comment: str = "", now: datetime) -> QaEvaluation:
    """One reviewer's blind score in the session (once; the score stays hidden until it closes)."""
    _require(reviewer, Perm.QA_REVIEW)
    if reviewer.user_id not in reviewer_ids(calibration):
        raise Forbidden("you are not a reviewer in this calibration session")
    if calibration.status != CalibrationStatus.OPEN.value:
        raise Conflict("the calibration session is closed", field="calibration_id")
    if any(e.reviewer_user_id == reviewer.user_id for e in calibration_scores(session, calibration.id)):
        raise Conflict("you have scored this calibration already", field="calibration_id")
    card = session.get(QaScorecard, calibration.scorecard_id)
    case = session.get(Case, calibration.case_id)
    assert card is not None and case is not None
    agent_id = solver_of(session, case, sample_of(session, case.id))
    _check_not_own(reviewer, agent_id)
    clean = validate_answers(card.criteria, answers)
    note = _text(comment, field="comment", max_chars=MAX_COMMENT, required=False)
    score, auto_failed = qa_score(card.criteria, clean)
    evaluation = QaEvaluation(case_id=case.id, agent_id=agent_id, reviewer_user_id=reviewer.user_id,
                              scorecard_id=card.id, sample_id=None, calibration_id=calibration.id, answers=clean,
                              score=score, auto_failed=auto_failed, comment=note, submitted_at=now)
    session.add(evaluation)
    session.flush()
    # No score in the event: the case's timeline must not unblind the other reviewers.
    record_case_event(session, case.id, "qa.calibration_scored", reviewer, now,
                      {"calibration_id": calibration.id, "evaluation_id": evaluation.id})
    session.flush()
    return evaluation


@dataclass(frozen=True)
class CriterionAgreement:
    key: str
    label: str
    auto_fail: bool
    met: int
    not_met: int
    agreement: float  # the share of reviewer pairs that agree on it

    @property
    def disagreed(self) -> bool:
        return self.met > 0 and self.not_met > 0


@dataclass(frozen=True)
class Agreement:
    overall: float
    reviewers: int
    pairs: int
    criteria: list[CriterionAgreement] = field(default_factory=list)

    @property
    def disagreements(self) -> list[CriterionAgreement]:
        return [c for c in self.criteria if c.disagreed]


def calibration_agreement(criteria: Sequence[dict[str, Any]], answer_sets: Sequence[dict[str, Any]]) -> Agreement:
    """Calibration agreement (see the module docstring) of two or more reviewers' answers on ``criteria``."""
    if len(answer_sets) < 2:
        raise Conflict("agreement needs the scores of two reviewers or more", field="calibration_id")
    keys = [c["key"] for c in criteria]
    pairs = list(combinations(range(len(answer_sets)), 2))
    met = {k: [bool(a[k]["met"]) for a in answer_sets] for k in keys}
    per_pair = [sum(met[k][i] == met[k][j] for k in keys) / len(keys) for i, j in pairs]
    rows = []
    for criterion in criteria:
        values = met[criterion["key"]]
        agreeing = sum(values[i] == values[j] for i, j in pairs)
        rows.append(CriterionAgreement(key=criterion["key"], label=criterion["label"],
                                       auto_fail=bool(criterion["auto_fail"]), met=sum(values),
                                       not_met=len(values) - sum(values), agreement=agreeing / len(pairs)))
    return Agreement(overall=sum(per_pair) / len(per_pair), reviewers=len(answer_sets), pairs=len(pairs),
                     criteria=rows)


def close_calibration(session: Session, calibration: QaCalibration, *, actor: Actor, now: datetime) -> Agreement:
    """Close the session: the agreement of the scores submitted (two at least), shown to everyone from now."""
    _require(actor, Perm.QA_ADMIN)
    if calibration.status != CalibrationStatus.OPEN.value:
        raise Conflict("the calibration session is closed already", field="calibration_id")
    scores = calibration_scores(session, calibration.id)
    if len(scores) < 2:
        raise Conflict("two reviewers have to score the case before the session closes", field="calibration_id")
    card = session.get(QaScorecard, calibration.scorecard_id)
    assert card is not None
    agreement = calibration_agreement(card.criteria, [e.answers for e in scores])
    calibration.status, calibration.agreement, calibration.closed_at = (CalibrationStatus.CLOSED.value,
                                                                        agreement.overall, now)
    record_case_event(session, calibration.case_id, "qa.calibrated", actor, now, {
        "calibration_id": calibration.id, **_event_data(card), "agreement": round(agreement.overall, 4),
        "reviewers": agreement.reviewers, "disagreed": [c.key for c in agreement.disagreements]})
    session.flush()
    return agreement


@dataclass(frozen=True)
class CalibrationView:
    """What one person may see of a session. Blind rule: a reviewer sees the others' answers once they have
    submitted their own (they cannot change it after); everyone sees every answer once the session is
    closed; until then nobody else sees any answer, only who has submitted."""

    calibration: QaCalibration
    scorecard: QaScorecard
    is_reviewer: bool
    mine: QaEvaluation | None
    submitted_by: list[int]
    visible: list[QaEvaluation]
    agreement: Agreement | None

    @property
    def others_visible(self) -> bool:
        return self.calibration.status == CalibrationStatus.CLOSED.value or self.mine is not None


def calibration_view(session: Session, calibration: QaCalibration, viewer: Actor) -> CalibrationView:
    scores = calibration_scores(session, calibration.id)
    card = session.get(QaScorecard, calibration.scorecard_id)
    assert card is not None
    mine = next((e for e in scores if e.reviewer_user_id == viewer.user_id), None)
    closed = calibration.status == CalibrationStatus.CLOSED.value
    visible = scores if closed or mine is not None else []
    agreement = calibration_agreement(card.criteria, [e.answers for e in scores]) if closed else None
    return CalibrationView(calibration=calibration, scorecard=card,
                           is_reviewer=viewer.user_id in reviewer_ids(calibration), mine=mine,
                           submitted_by=[e.reviewer_user_id for e in scores], visible=visible, agreement=agreement)


# ---------------------------------------------------------------- coaching


def write_note(session: Session, *, agent_id: int, body: str, evaluation_id: int | None = None, author: Actor,
               now: datetime) -> CoachingNote:
    """A coaching note to an agent, optionally on one of their reviews; the agent sees it on their page."""
    _require(author, Perm.QA_COACH)
    if isinstance(agent_id, bool) or not isinstance(agent_id, int):
        raise Invalid("an agent's id", field="agent_id")
    agent = directory.agent_by_id(session, agent_id)
    if author.agent_id is not None and author.agent_id == agent.id:
        raise Invalid("coaching is written to someone else", field="agent_id")
    if evaluation_id is not None:
        evaluation = session.get(QaEvaluation, evaluation_id)
        if evaluation is None or evaluation.calibration_id is not None:
            raise Invalid(f"no review {evaluation_id}", field="evaluation_id")
        if evaluation.agent_id != agent.id:
            raise Invalid("that review is of another agent's work", field="evaluation_id")
    text = _text(body, field="body", max_chars=MAX_NOTE)
    note = CoachingNote(agent_id=agent.id, evaluation_id=evaluation_id, author_user_id=author.user_id, body=text,
                        created_at=now, acknowledged_at=None)
    session.add(note)
    session.flush()
    return note


def notes_for_agent(session: Session, agent_id: int, *, limit: int = 200) -> list[CoachingNote]:
    return list(session.scalars(select(CoachingNote).where(CoachingNote.agent_id == agent_id)
                                .order_by(CoachingNote.created_at.desc(), CoachingNote.id.desc()).limit(limit)))


def unacknowledged_notes(session: Session, agent_id: int) -> int:
    return int(session.scalar(select(func.count(CoachingNote.id)).where(
        CoachingNote.agent_id == agent_id, CoachingNote.acknowledged_at.is_(None))) or 0)


def note_for(session: Session, actor: Actor, note_id: int) -> CoachingNote:
    """A note for the agent it is written to, or for a coach; anyone else is refused (403)."""
    note = session.get(CoachingNote, note_id)
    if note is None:
        raise NotFound(f"no coaching note {note_id}", field="note_id")
    if note.agent_id != actor.agent_id and not (actor.can(Perm.QA_COACH) and actor.vendor_id is None):
        raise Forbidden("this coaching note is written to someone else")
    return note


def acknowledge_note(session: Session, note: CoachingNote, *, actor: Actor, now: datetime) -> CoachingNote:
    """The agent says they have read it (their own notes only; again changes nothing)."""
    if actor.agent_id is None or note.agent_id != actor.agent_id:
        raise Forbidden("only the agent it is written to acknowledges a coaching note")
    if note.acknowledged_at is None:
        note.acknowledged_at = now
        session.flush()
    return note


def agent_of(session: Session, agent_id: int) -> Agent:
    return directory.agent_by_id(session, agent_id)
