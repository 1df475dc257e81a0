"""CSAT: a customer rates a resolved case from 1 to 5. One rating per case and the latest
counts (GLOSSARY: CSAT = good ratings / all ratings in the period; good = 4 or 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Status
from trustdesk.cases.service import clean_text
from trustdesk.core.errors import Conflict, Invalid
from trustdesk.core.events import EventActor, record_case_event
from trustdesk.feedback.models import CaseRating, LowRatingReason

SCALE = 5
GOOD_SCORE = 4  # 4 and 5 are good ratings
BAD_SCORE = 2  # 1 and 2 are bad ratings: only they are asked why
MAX_COMMENT = 2000
RATEABLE = frozenset({Status.SOLVED.value, Status.CLOSED.value})


def rate_case(session: Session, case: Case, *, score: int, comment: str = "", channel: str, actor: EventActor,
              now: datetime, reason: str | None = None) -> CaseRating:
    """Record the customer's rating of ``case`` (solved or closed), replacing an earlier one.

    ``reason`` (a ``LowRatingReason``) says why a bad rating (1 or 2) is bad; a good or neutral rating
    takes none. Rating again without a reason clears the earlier one: the latest rating counts whole."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= SCALE:
        raise Invalid(f"score must be a whole number from 1 to {SCALE}", field="score")
    reason = check_reason(reason, score)
    comment = clean_text(comment, field="comment", max_chars=MAX_COMMENT) if comment.strip() else ""
    if case.status not in RATEABLE:
        raise Conflict("a case can be rated once it is solved", field="case")
    rating = session.scalar(select(CaseRating).where(CaseRating.case_id == case.id))
    previous = rating.score if rating is not None else None
    if rating is None:
        rating = CaseRating(case_id=case.id, party_id=case.party_id, team_id=case.team_id, score=score,
                            comment=comment, channel=channel, reason=reason, rated_at=now)
        session.add(rating)
    else:
        rating.score, rating.comment, rating.channel, rating.rated_at = score, comment, channel, now
        rating.team_id, rating.reason = case.team_id, reason
    data: dict[str, object] = {"score": score, "scale": SCALE, "channel": channel, "commented": bool(comment)}
    if reason:
        data["reason"] = reason
    if previous is not None:
        data["previous_score"] = previous
    record_case_event(session, case.id, "csat.rated", actor, now, data)
    session.flush()
    return rating


def check_reason(reason: str | None, score: int) -> str:
    """The reason as stored ("" for none); refused unless it is a ``LowRatingReason`` given with a bad score."""
    if reason is None or reason == "":
        return ""
    if reason not in {r.value for r in LowRatingReason}:
        allowed = ", ".join(r.value for r in LowRatingReason)
        raise Invalid(f"reason must be one of {allowed}", field="reason")
    if score > BAD_SCORE:
        raise Invalid(f"a reason is asked only with a bad rating (1 to {BAD_SCORE})", field="reason")
    return reason


def rating_of(session: Session, case_id: int) -> CaseRating | None:
    return session.scalar(select(CaseRating).where(CaseRating.case_id == case_id))


@dataclass(frozen=True)
class Csat:
    ratings: int
    good: int
    mean: float | None

    @property
    def csat(self) -> float | None:
        """Good ratings / all ratings; None when there is none."""
        return self.good / self.ratings if self.ratings else None


def csat(session: Session, *, since: datetime, until: datetime, team_id: int | None = None) -> Csat:
    """CSAT of the ratings given in [since, until), optionally for one team."""
    query = select(func.count(CaseRating.id), func.count(CaseRating.id).filter(CaseRating.score >= GOOD_SCORE),
                   func.avg(CaseRating.score)).where(CaseRating.rated_at >= since, CaseRating.rated_at < until)
    if team_id is not None:
        query = query.where(CaseRating.team_id == team_id)
    count, good, mean = session.execute(query).one()
    return Csat(ratings=int(count), good=int(good or 0), mean=float(mean) if mean is not None else None)
