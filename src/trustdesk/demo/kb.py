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
