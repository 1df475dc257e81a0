"""The demo's knowledge base: one help-center article per Bitext intent, in English and Spanish
(``demo/kb/articles.yaml``), each published as version 1 and tied to the routing topic it answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.demo import texts
from trustdesk.knowledge import service
from trustdesk.knowledge.models import KbArticle

ARTICLES = Path(__file__).resolve().parent / "kb" / "articles.yaml"


def load(path: Path = ARTICLES) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def ensure_kb(session: Session, *, now: datetime, path: Path = ARTICLES, skip: frozenset[str] = frozenset()) -> int:
    """Create the categories and articles that are missing (``skip``: article keys left out, e.g. to
    show a gap); returns how many articles were created."""
    if not path.is_file():
        return 0
    data = load(path)
    since = now - timedelta(days=100)
    categories = {c["key"]: service.ensure_category(session, key=c["key"], names=c["names"], position=index,
                                                    now=since)
                  for index, c in enumerate(data["categories"])}
    existing = set(session.scalars(select(KbArticle.key)))
    created = 0
    for position, spec in enumerate(data["articles"]):
        if spec["key"] in existing or spec["key"] in skip:
            continue
        intent = texts.BUYER_INTENT_BY_NAME.get(spec["intent"])
        article = service.create_article(session, key=spec["key"], category=categories[spec["category"]], markets=[],
                                         topic=intent.topic if intent else None, intent=spec["intent"],
                                         position=position, now=since)
        for locale, text in spec["translations"].items():
            version = service.save_draft(session, article, locale=locale, title=text["title"], body=text["body"],
                                         author=None, now=since)
            service.submit(version, now=since)
            service.publish(session, version, reviewer=None, now=since)
        created += 1
    return created


def ensure_search_tuning(session: Session, *, data_dir: Path, now: datetime, path: Path = ARTICLES) -> str:
    """Give the demo's articles their example questions and calibrate the English search, once:
    English examples and calibration questions come from the Bitext utterances that are NOT held
    out (``evaluation.bitext_plan``, the same ones ``bench/kb.py`` measures with), with questions no
    article answers (``out_of_scope``); Spanish examples are the demo's own hand-written Spanish
    questions. Returns what was done, for the log."""
    from trustdesk.knowledge import index, tuning
    from trustdesk.knowledge.evaluation import bitext_plan
    from trustdesk.knowledge.models import KbCalibration, KbExample

    if not path.is_file():
        return ""
    key_of_intent = {a["intent"]: a["key"] for a in load(path)["articles"] if a.get("intent")}
    done = []
    if session.scalar(select(KbExample.id).limit(1)) is None:
        try:
            plan = bitext_plan(data_dir, key_of_intent)
        except ValueError:  # a sample of the data (the tests'): too small to hold 2,000 out
            plan = None
        added = 0
        if plan is not None:
            by_key: dict[str, list[str]] = {}
            for text, key in plan.examples:
                by_key.setdefault(key, []).append(text)
            for key, questions in by_key.items():
                added += tuning.add_examples(session, key, "en", questions, source="import", now=now)
        for intent in texts.BUYER_INTENTS:
            if intent.intent in key_of_intent:
                added += tuning.add_examples(session, key_of_intent[intent.intent], "es", intent.utterances["es"],
                                             source="import", now=now)
        done.append(f"{added} example questions")
        if plan is not None and session.get(KbCalibration, "en") is None:
            outside = out_of_scope(data_dir)
            calibrated = tuning.calibrate(session, index.current(session), plan.calibration + outside,
                                          locale="en", now=now)
            done.append(f"English search calibrated on {calibrated.questions} questions, {len(outside)} of them "
                        f"with no article (suggested threshold {calibrated.threshold:.2f}: answers "
                        f"{calibrated.answer_rate:.1%} of all, {calibrated.wrong_answer_rate:.1%} of those wrong)")
    return "; ".join(done)


OUT_OF_SCOPE = 1000


def out_of_scope(data_dir: Path, count: int = OUT_OF_SCOPE) -> list[tuple[str, str]]:
    """Questions no article of the demo answers, for calibrating: online-banking questions from
    BANKING77's training set (``shared/data/banking77``; card activation, exchange rates, top-ups),
    a fixed sample. None when the data set is not there (the tests' sample data)."""
    import csv
    import random

    from trustdesk.knowledge.tuning import NO_ARTICLE

    path = data_dir / "banking77" / "train.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle) if row["text"].strip()]
    random.Random(7).shuffle(texts)
    return [(text, NO_ARTICLE) for text in texts[:count]]
