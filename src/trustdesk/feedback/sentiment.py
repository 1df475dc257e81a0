"""Sentiment of customer messages: score each new one once, keep each case's trend, and flag cases whose
customer sounds very negative by the active sentiment rules.

- **Scoring** (:func:`score_new_messages`, every 30 s): the customer's public messages that have no
  ``message_sentiments`` row yet, in the case's language, by ``trustdesk.text.sentiment``; one row each,
  written in bulk. Every case touched is marked stale, so the insight facts fold its sentiment again
  (first, last, lowest). Messages in a language with no scorer are left unscored, not stored as a neutral
  that was never measured; they are scored once a lexicon for their language exists.
- **Rules** (``sentiment_rules``): a new message scoring at or below a rule's threshold, on a case of the
  rule's market and topic (its sub-topics included) that is not solved or closed, tags the case and, when
  the rule says so, raises its priority (never lowers it), through ``cases.service.update_case`` (a
  ``case.updated`` event, SLA terms matched again), and records ``case.sentiment_flagged``. Once per rule
  per case: a rule that flagged a case never flags it again.

The job is safe to run twice: the message id is the row's primary key, so a twin run that scored the same
messages fails its transaction instead of writing them twice, and the next run finds nothing left.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.orm import Session

from trustdesk.cases import service as cases
from trustdesk.cases.models import AuthorType, Case, Message, Priority, Status, Visibility
from trustdesk.cases.schemas import TAG_PATTERN
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.core.events import CaseEvent, StaleCase, SystemActor, record_case_event
from trustdesk.directory import service as directory
from trustdesk.directory.schemas import TOPIC_KEY
from trustdesk.feedback.models import MessageSentiment, SentimentRule
from trustdesk.text import sentiment as text_sentiment

BATCH = 5_000
CHUNK = 500  # ids per IN (...)
FLAGGED = "case.sentiment_flagged"
RULE_ACTOR = SystemActor("rule")
UNFLAGGABLE = frozenset({Status.SOLVED.value, Status.CLOSED.value})
PRIORITY_RANK = {p.value: rank for rank, p in enumerate(Priority)}
MAX_NAME = 200
DEFAULT_TAG = "negative-sentiment"
_TOPIC = re.compile(TOPIC_KEY)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


# ----------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ScoreRun:
    scored: int  # messages
    cases: int  # cases touched (marked stale)
    flagged: int  # rule x case flags recorded


def _scored_languages(language: Any) -> ColumnElement[bool]:
    """The case's language is one the scorer knows (``es`` and ``es-MX`` alike)."""
    lowered = func.lower(language)
    return or_(*[or_(lowered == code, lowered.like(f"{code}-%"), lowered.like(f"{code}\\_%", escape="\\"))
                 for code in text_sentiment.SUPPORTED])


def score_new_messages(session: Session, *, now: datetime, limit: int = BATCH) -> ScoreRun:
    """Score up to ``limit`` customer messages not scored yet, oldest first; then apply the rules."""
    rows = session.execute(
        select(Message.id, Message.case_id, Message.body, Case.language)
        .join(Case, Case.id == Message.case_id)
        .outerjoin(MessageSentiment, MessageSentiment.message_id == Message.id)
        .where(MessageSentiment.message_id.is_(None), Message.author_type == AuthorType.CUSTOMER.value,
               Message.visibility == Visibility.PUBLIC.value, _scored_languages(Case.language))
        .order_by(Message.id).limit(limit)).all()
    if not rows:
        return ScoreRun(0, 0, 0)
    new: list[dict[str, Any]] = []
    for message_id, case_id, body, language in rows:
        found = text_sentiment.score(body, language)
        new.append({"message_id": message_id, "case_id": case_id, "score": found.score, "label": found.label,
                    "language": text_sentiment.base_language(language), "model": found.model, "scored_at": now})
    session.execute(insert(MessageSentiment), new)
    touched = sorted({row["case_id"] for row in new})
    session.execute(insert(StaleCase), [{"case_id": case_id} for case_id in touched])
    flagged = apply_rules(session, new, now=now)
    session.flush()
    return ScoreRun(scored=len(new), cases=len(touched), flagged=flagged)


def score_all(session: Session, *, now: datetime, batch: int = 20_000) -> ScoreRun:
    """Score every customer message not scored yet (a bulk load: the demo)."""
    scored = cases_touched = flagged = 0
    while True:
        run = score_new_messages(session, now=now, limit=batch)
        if not run.scored:
            return ScoreRun(scored, cases_touched, flagged)
        scored, cases_touched, flagged = scored + run.scored, cases_touched + run.cases, flagged + run.flagged


# ----------------------------------------------------------------------------------------------- rules


def topic_matches(prefix: str | None, topic: str | None) -> bool:
    """A rule's topic covers the topic and its sub-topics (``refund`` covers ``refund.track_refund``)."""
    if not prefix:
        return True
    return topic is not None and (topic == prefix or topic.startswith(prefix + "."))


def rule_matches(rule: SentimentRule, case: Case, market: str) -> bool:
    return ((not rule.market or rule.market == market) and topic_matches(rule.topic_prefix, case.topic)
            and case.status not in UNFLAGGABLE)


def active_rules(session: Session) -> list[SentimentRule]:
    return list(session.scalars(select(SentimentRule).where(SentimentRule.active.is_(True))
                                .order_by(SentimentRule.id)))


def flags_of(session: Session, case_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(case id, rule id) of every flag already recorded on these cases."""
    found: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted(set(case_ids))):
        for case_id, data in session.execute(select(CaseEvent.case_id, CaseEvent.data)
                                             .where(CaseEvent.type == FLAGGED, CaseEvent.case_id.in_(chunk))):
            if isinstance(data.get("rule_id"), int):
                found.add((case_id, data["rule_id"]))
    return found


def apply_rules(session: Session, scored: Sequence[Mapping[str, Any]], *, now: datetime) -> int:
    """Flag the cases of these newly scored messages that an active rule fires on; returns the flags."""
    rules = active_rules(session)
    if not rules:
        return 0
    loosest = max(rule.threshold for rule in rules)
    low: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in sorted(scored, key=lambda r: r["message_id"]):
        if row["score"] <= loosest:
            low[row["case_id"]].append(row)
    if not low:
        return 0
    ids = sorted(low)
    found: list[Case] = []
    for chunk in _chunks(ids):
        found.extend(session.scalars(select(Case).where(Case.id.in_(chunk), Case.status.not_in(UNFLAGGABLE))
                                     .order_by(Case.id).with_for_update()))
    markets = {m.id: m.code for m in directory.list_markets(session)}
    done = flags_of(session, [c.id for c in found])
    flagged = 0
    for case in found:
        for rule in rules:
            if (case.id, rule.id) in done or not rule_matches(rule, case, markets.get(case.market_id, "")):
                continue
            hit = next((row for row in low[case.id] if row["score"] <= rule.threshold), None)
            if hit is None:
                continue
            flag_case(session, case, rule, message_id=hit["message_id"], score=hit["score"], now=now)
            done.add((case.id, rule.id))
            flagged += 1
    return flagged


def flag_case(session: Session, case: Case, rule: SentimentRule, *, message_id: int, score: float,
              now: datetime) -> None:
    """Tag the case (and raise its priority, upward only) as the rule says, and record the flag."""
    changes: dict[str, Any] = {}
    if rule.tag not in case.tags:
        changes["tags"] = [*case.tags, rule.tag]
    raised = rule.raise_priority_to
    if raised and PRIORITY_RANK.get(raised, -1) > PRIORITY_RANK.get(case.priority, -1):
        changes["priority"] = raised
    before = case.priority
    if changes:
        cases.update_case(session, case, changes, actor=RULE_ACTOR, now=now)
    record_case_event(session, case.id, FLAGGED, RULE_ACTOR, now, {
        "rule_id": rule.id, "rule": rule.name, "message_id": message_id, "score": score,
        "threshold": rule.threshold, "tag": rule.tag, "tagged": "tags" in changes,
        "priority": {"from": before, "to": case.priority} if "priority" in changes else None,
    })


# ----------------------------------------------------------------------------------------------- rules CRUD

RULE_FIELDS = ("name", "threshold", "market", "topic_prefix", "tag", "raise_priority_to", "active")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a rule needs a name", field="name")
    return cases.clean_text(value, field="name", max_chars=MAX_NAME)


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("a number from -1 up to (not including) 0", field="threshold")
    if not -1.0 <= float(value) < 0.0:
        raise Invalid("the threshold is a sentiment score from -1 up to (not including) 0: a rule flags "
                      "negative messages", field="threshold")
    return round(float(value), 4)


def _market(session: Session, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Invalid("a market's code", field="market")
    return directory.market_by_code(session, value.strip().upper(), field="market").code


def _topic(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value.strip()) > 200 or not _TOPIC.match(value.strip()):
        raise Invalid("a topic key such as refund or refund.track_refund (lower case, dotted)",
                      field="topic_prefix")
    return value.strip()


def _tag(value: Any) -> str:
    tag = value.strip().lower() if isinstance(value, str) else ""
    if not TAG_PATTERN.match(tag):
        raise Invalid("a tag of 1-64 characters a-z, 0-9, _ : . - starting with a letter or digit", field="tag")
    return tag


def _priority(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if value not in PRIORITY_RANK:
        raise Invalid(f"one of {', '.join(PRIORITY_RANK)}, or empty to leave the priority alone",
                      field="raise_priority_to")
    return str(value)


def _active(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false", field="active")
    return value


def _clean(session: Session, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise Invalid(f"a rule has no field {unknown[0]!r}", field=unknown[0])
    checks = {"name": _name, "threshold": _threshold, "market": lambda v: _market(session, v), "topic_prefix": _topic,
              "tag": _tag, "raise_priority_to": _priority, "active": _active}
    return {name: checks[name](changes[name]) for name in RULE_FIELDS if name in changes}


def create_rule(session: Session, *, name: Any, threshold: Any, market: Any = None, topic_prefix: Any = None,
                tag: Any = DEFAULT_TAG, raise_priority_to: Any = None, active: Any = True,
                now: datetime) -> SentimentRule:
    clean = _clean(session, {"name": name, "threshold": threshold, "market": market, "topic_prefix": topic_prefix,
                             "tag": tag, "raise_priority_to": raise_priority_to, "active": active})
    rule = SentimentRule(**clean, created_at=now)
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, rule: SentimentRule, changes: Mapping[str, Any]) -> SentimentRule:
    """Change the given fields. Cases a rule flagged keep their tag and priority; it fires anew on new messages."""
    for name, value in _clean(session, changes).items():
        setattr(rule, name, value)
    session.flush()
    return rule


def deactivate_rule(session: Session, rule: SentimentRule) -> SentimentRule:
    return update_rule(session, rule, {"active": False})


def rule_by_id(session: Session, rule_id: int, *, for_update: bool = False) -> SentimentRule:
    query = select(SentimentRule).where(SentimentRule.id == rule_id)
    rule = session.scalar(query.with_for_update() if for_update else query)
    if rule is None:
        raise NotFound(f"sentiment rule {rule_id} does not exist", field="rule_id")
    return rule


def list_rules(session: Session) -> list[SentimentRule]:
    """Active rules first, then by id."""
    return list(session.scalars(select(SentimentRule).order_by(SentimentRule.active.desc(), SentimentRule.id)))


def ensure_rule(session: Session, *, name: str, threshold: float, tag: str = DEFAULT_TAG,
                raise_priority_to: str | None = None, now: datetime) -> tuple[SentimentRule, bool]:
    """The rule of this name, created when missing (set-up and the demo); and whether it was created."""
    found = session.scalar(select(SentimentRule).where(SentimentRule.name == name).order_by(SentimentRule.id))
    if found is not None:
        return found, False
    return create_rule(session, name=name, threshold=threshold, tag=tag, raise_priority_to=raise_priority_to,
                       now=now), True


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TrendPoint:
    message_id: int
    at: datetime  # when the customer wrote it
    score: float
    label: str


@dataclass(frozen=True)
class CaseSentiment:
    points: list[TrendPoint]

    @cached_property
    def by_message(self) -> dict[int, TrendPoint]:
        return {p.message_id: p for p in self.points}

    @property
    def summary(self) -> str:
        """``"negative → neutral"``: the first scored message's label and the last one's."""
        if not self.points:
            return ""
        first, last = self.points[0].label, self.points[-1].label
        return first if len(self.points) == 1 else f"{first} → {last}"

    @property
    def lowest(self) -> TrendPoint | None:
        return min(self.points, key=lambda p: (p.score, p.message_id)) if self.points else None


def case_trend(session: Session, case_id: int) -> list[TrendPoint]:
    """The case's scored customer messages in the order they were written (one query)."""
    rows = session.execute(select(MessageSentiment.message_id, Message.created_at, MessageSentiment.score,
                                  MessageSentiment.label)
                           .join(Message, Message.id == MessageSentiment.message_id)
                           .where(MessageSentiment.case_id == case_id)
                           .order_by(Message.created_at, Message.id)).all()
    return [TrendPoint(message_id=m, at=at, score=score, label=label) for m, at, score, label in rows]


def case_sentiment(session: Session, case_id: int) -> CaseSentiment:
    return CaseSentiment(case_trend(session, case_id))


@dataclass(frozen=True)
class Flag:
    event_id: int
    case_id: int
    reference: str | None
    subject: str
    status: str
    market: str
    at: datetime
    rule: str
    score: float | None


def recent_flags(session: Session, *, since: datetime, limit: int = 50) -> list[Flag]:
    """The latest ``case.sentiment_flagged`` events since ``since``, newest first, with their cases."""
    rows = session.execute(select(CaseEvent.id, CaseEvent.case_id, CaseEvent.occurred_at, CaseEvent.data,
                                  Case.reference, Case.subject, Case.status, Case.market_id)
                           .join(Case, Case.id == CaseEvent.case_id)
                           .where(CaseEvent.type == FLAGGED, CaseEvent.occurred_at >= since)
                           .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc()).limit(limit)).all()
    markets = {m.id: m.code for m in directory.list_markets(session)}
    return [Flag(event_id=r.id, case_id=r.case_id, reference=r.reference, subject=r.subject, status=r.status,
                 market=markets.get(r.market_id, "?"), at=r.occurred_at, rule=str(r.data.get("rule", "")),
                 score=r.data.get("score") if isinstance(r.data.get("score"), int | float) else None)
            for r in rows]
