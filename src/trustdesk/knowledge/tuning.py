"""Tuning the knowledge search: example questions (customers' words an article answers) and the
confidence calibration of a locale (how far to trust a hit, fitted on questions with known
answers). Both are read by ``knowledge.index`` when it builds the search index.

A calibration is fitted on questions that are neither example questions nor the ones the search
is then judged on: ``trustdesk kb calibrate --questions FILE.csv``. Include questions no article
answers (an empty ``article_key``): without them the confidence only learns to tell a right article
from a wrong one among questions that have one, and answers "my parcel is a counterfeit" with
whatever article is nearest. It stores the confidence
function and the threshold it suggests (the lowest confidence at which at most 5% of the
answered questions were answered wrong); the bot answers at the configured
``kb_answer_threshold``, which an operator sets from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Invalid, NotFound
from trustdesk.knowledge.evaluation import WRONG_ANSWER_TARGET, answer_all, lowest_threshold, metrics
from trustdesk.knowledge.models import KbArticle, KbCalibration, KbExample
from trustdesk.knowledge.search import Confidence, Example, Index

MAX_EXAMPLE_CHARS = 500
SOURCES = frozenset({"editor", "import", "case"})
MIN_CALIBRATION_QUESTIONS = 100
NO_ARTICLE = ""  # the article key of a question no article answers (a right answer is silence)


def add_examples(session: Session, article_key: str, locale: str, texts: Iterable[str], *, source: str,
                 now: datetime, user_id: int | None = None) -> int:
    """Add the example questions of ``texts`` that the article does not have yet in ``locale``
    (whitespace collapsed); returns how many were added."""
    if source not in SOURCES:
        raise Invalid(f"source must be one of {', '.join(sorted(SOURCES))}", field="source")
    article = session.scalar(select(KbArticle).where(KbArticle.key == article_key))
    if article is None:
        raise NotFound(f"no article {article_key!r}", field="article_key")
    locale = locale.strip()
    if not locale or len(locale) > 16:
        raise Invalid("a locale such as en or es-MX", field="locale")
    have = set(session.scalars(select(KbExample.text).where(KbExample.article_id == article.id,
                                                            KbExample.locale == locale)))
    added = 0
    for raw in texts:
        text = " ".join(raw.split())
        if not text:
            continue
        if len(text) > MAX_EXAMPLE_CHARS:
            raise Invalid(f"an example question of at most {MAX_EXAMPLE_CHARS} characters", field="text")
        if text in have:
            continue
        have.add(text)
        session.add(KbExample(article_id=article.id, locale=locale, text=text, source=source,
                              created_by_user_id=user_id, created_at=now))
        added += 1
    session.flush()
    return added


def examples(session: Session) -> list[Example]:
    """Every example question of an active article, as the search index takes them."""
    rows = session.execute(select(KbArticle.key, KbExample.locale, KbExample.text)
                           .join(KbArticle, KbArticle.id == KbExample.article_id)
                           .where(KbArticle.is_active.is_(True)).order_by(KbExample.id))
    return [Example(key=key, locale=locale, text=text) for key, locale, text in rows]


def stamp(session: Session) -> tuple[object, ...]:
    """Changes whenever the example questions or a calibration change (``knowledge.index``)."""
    examples_row = session.execute(select(func.count(KbExample.id), func.max(KbExample.id),
                                          func.sum(KbExample.id))).one()
    calibrated = session.execute(select(func.count(), func.max(KbCalibration.fitted_at))
                                 .select_from(KbCalibration)).one()
    return (*examples_row, *calibrated)


def calibrations(session: Session) -> dict[str, Confidence]:
    return {row.locale: Confidence(intercept=row.intercept, score_weight=row.score_weight,
                                   margin_weight=row.margin_weight)
            for row in session.scalars(select(KbCalibration))}


@dataclass(frozen=True)
class Calibrated:
    locale: str
    confidence: Confidence
    questions: int
    threshold: float
    answer_rate: float
    wrong_answer_rate: float


def calibrate(session: Session, index: Index, questions: Sequence[tuple[str, str]], *, locale: str,
              now: datetime) -> Calibrated:
    """Fit ``locale``'s confidence on ``questions`` (text, article key; ``NO_ARTICLE`` for a question
    no article answers) and store it, with the threshold it suggests and what that threshold gave
    on them (answering a question no article answers counts as a wrong answer)."""
    known = set(index.keys(locale)) if locale in index.locales else set()
    usable = [(text, key) for text, key in questions if text.strip() and (key in known or key == NO_ARTICLE)]
    answerable = sum(1 for _, key in usable if key != NO_ARTICLE)
    if answerable < MIN_CALIBRATION_QUESTIONS:
        raise Invalid(f"calibrating needs at least {MIN_CALIBRATION_QUESTIONS} questions whose article is "
                      f"published in {locale!r}; got {answerable}", field="questions")
    index.warm([text for text, _ in usable])
    try:
        confidence = index.calibrate(usable, locale=locale)
    except ValueError as error:
        raise Invalid(str(error), field="questions") from error
    answers = answer_all(index, usable, locale=locale)
    threshold = lowest_threshold(answers, target=WRONG_ANSWER_TARGET)
    figures = metrics(answers, threshold=threshold)
    row = session.get(KbCalibration, locale) or KbCalibration(locale=locale)
    row.intercept, row.score_weight, row.margin_weight = (confidence.intercept, confidence.score_weight,
                                                          confidence.margin_weight)
    row.questions, row.threshold = len(usable), threshold
    row.answer_rate, row.wrong_answer_rate, row.fitted_at = (figures["answer_rate"], figures["wrong_answer_rate"],
                                                             now)
    session.add(row)
    session.flush()
    return Calibrated(locale=locale, confidence=confidence, questions=len(usable), threshold=threshold,
                      answer_rate=figures["answer_rate"], wrong_answer_rate=figures["wrong_answer_rate"])
