"""The search index over the published knowledge base, built from the database and kept per process
until an article is published or retired, or its example questions or a locale's calibration
change (its stamp: counts, the newest publication, the ids and the texts' lengths of what is
published, and ``tuning.stamp``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from trustdesk.core.errors import NotFound
from trustdesk.knowledge import service, tuning
from trustdesk.knowledge.models import KbArticle, KbVersion
from trustdesk.knowledge.search import Document, Hit, Index

_lock = threading.Lock()
_cached: dict[str, tuple[tuple[object, ...], Index]] = {}


def _stamp(session: Session) -> tuple[object, ...]:
    row = session.execute(select(func.count(KbVersion.id), func.max(KbVersion.published_at),
                                 func.max(KbArticle.updated_at), func.sum(KbVersion.id),
                                 func.sum(func.length(KbVersion.body_md) + func.length(KbVersion.title)))
                          .select_from(KbVersion).join(KbArticle, KbArticle.id == KbVersion.article_id)
                          .where(KbVersion.status == service.VersionStatus.PUBLISHED.value)).one()
    return (*row, *tuning.stamp(session))


def documents(session: Session) -> list[Document]:
    rows = session.execute(select(KbArticle.key, KbVersion.locale, KbVersion.title, KbVersion.body_md)
                           .join(KbArticle, KbArticle.id == KbVersion.article_id)
                           .where(KbVersion.status == service.VersionStatus.PUBLISHED.value,
                                  KbArticle.is_active.is_(True))
                           .order_by(KbArticle.key, KbVersion.locale))
    return [Document(key=key, locale=locale, title=title, text=service.plain_text(body))
            for key, locale, title, body in rows]


def current(session: Session) -> Index:
    """The index of what is published now (rebuilt once after a change, shared by every request)."""
    stamp = _stamp(session)
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    key = str(engine.url)  # one index per database
    with _lock:
        cached = _cached.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    documents_ = documents(session)
    published = {(d.key, d.locale) for d in documents_}
    index = Index.build(documents_, examples=[e for e in tuning.examples(session) if (e.key, e.locale) in published])
    for locale, confidence in tuning.calibrations(session).items():
        if locale in index.locales:
            index.use_confidence(locale, confidence)
    with _lock:
        _cached[key] = (stamp, index)
    return index


@dataclass(frozen=True)
class Found:
    hit: Hit
    shown: service.Shown


def search(session: Session, query: str, *, locale: str, market: str | None, market_default: str | None,
           k: int = 3) -> list[Found]:
    """The best articles a reader in ``market`` can see, in the best locale they have."""
    hits = current(session).search(query, locale=locale, fallback_locale=market_default or service.FALLBACK_LOCALE,
                                   k=k + 5)
    found: list[Found] = []
    for hit in hits:
        try:
            shown = service.show(session, hit.key, locale=hit.locale, market=market, market_default=market_default)
        except NotFound:  # not shown in this market
            continue
        found.append(Found(hit=hit, shown=shown))
        if len(found) == k:
            break
    return found


