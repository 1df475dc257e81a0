"""The knowledge base's rules: articles in Markdown rendered to sanitised HTML, per-locale versions
moving draft -> review -> published (someone other than the author publishes), per-market
visibility, the market's default language as the fallback locale, and readers' feedback."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from html import unescape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.knowledge.models import KbArticle, KbCategory, KbFeedback, KbVersion

FALLBACK_LOCALE = "en"
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")
MAX_BODY = 100_000


class VersionStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    RETIRED = "retired"


# ---------------------------------------------------------------- Markdown to safe HTML

# CommonMark with raw HTML switched off (it is shown as text), then an allow-list sanitiser as the
# second line: no script, no event handlers, no javascript: or data: links, links open safely.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_TAGS = {"p", "br", "hr", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
         "img", "table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "th": {"align"},
               "td": {"align"}}


def render(markdown: str) -> str:
    """Markdown as HTML that is safe to put in a page as it is."""
    html = _markdown.render(markdown)
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")


_BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|pre|tr)>")


def plain_text(markdown: str) -> str:
    """The words of an article (for search and for quoting): Markdown marks and links' targets removed,
    each block (paragraph, heading, list item) a paragraph of its own."""
    html = _BLOCK_END.sub("\n\n", _markdown.render(markdown))
    text = unescape(nh3.clean(html, tags=set()))
    return re.sub(r"\n\s*\n(\s*\n)*", "\n\n", text).strip()


# ---------------------------------------------------------------- categories and articles


def category_by_key(session: Session, key: str, *, field: str = "category") -> KbCategory:
    row = session.scalar(select(KbCategory).where(KbCategory.key == key))
    if row is None:
        raise NotFound(f"category {key!r} does not exist", field=field)
    return row


def list_categories(session: Session) -> Sequence[KbCategory]:
    return session.scalars(select(KbCategory).order_by(KbCategory.position, KbCategory.key)).all()


def ensure_category(session: Session, *, key: str, names: dict[str, str], position: int, now: datetime) -> KbCategory:
    if not KEY.match(key):
        raise Invalid("a key of lower-case letters, digits, dashes and underscores", field="key")
    if not names.get("en"):
        raise Invalid("a category has an English name (the last fallback)", field="names.en")
    row = session.scalar(select(KbCategory).where(KbCategory.key == key))
    if row is None:
        row = KbCategory(key=key, names=dict(names), position=position, created_at=now)
        session.add(row)
        session.flush()
    else:
        row.names, row.position = dict(names), position
    return row


def article_by_key(session: Session, key: str, *, field: str = "key") -> KbArticle:
    row = session.scalar(select(KbArticle).where(KbArticle.key == key))
    if row is None:
        raise NotFound(f"article {key!r} does not exist", field=field)
    return row


def create_article(session: Session, *, key: str, category: KbCategory, markets: Sequence[str],
                   topic: str | None = None, intent: str | None = None, position: int = 100,
                   now: datetime) -> KbArticle:
    if not KEY.match(key):
        raise Invalid("a key of lower-case letters, digits, dashes and underscores", field="key")
    if session.scalar(select(KbArticle.id).where(KbArticle.key == key)) is not None:
        raise Conflict(f"article {key!r} exists", field="key")
    row = KbArticle(key=key, category_id=category.id, topic=topic, intent=intent, markets=sorted(set(markets)),
                    position=position, is_active=True, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------- versions


def _check_text(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title:
        raise Invalid("an article needs a title", field="title")
    if len(title) > 200:
        raise Invalid("a title of at most 200 characters", field="title")
    if not body:
        raise Invalid("an article needs a body", field="body")
    if len(body) > MAX_BODY:
        raise Invalid(f"a body of at most {MAX_BODY} characters", field="body")
    return title, body


def save_draft(session: Session, article: KbArticle, *, locale: str, title: str, body: str, author: Actor | None,
               now: datetime, note: str = "") -> KbVersion:
    """A new draft (the next version of that locale); what is published stays until the draft is."""
    if not LOCALE.fullmatch(locale):
        raise Invalid("a locale such as en, es or pt-BR", field="locale")
    title, body = _check_text(title, body)
    last = session.scalar(select(func.max(KbVersion.version)).where(KbVersion.article_id == article.id,
                                                                       KbVersion.locale == locale)) or 0
    row = KbVersion(article_id=article.id, locale=locale, version=int(last) + 1, status=VersionStatus.DRAFT.value,
                    title=title, body_md=body, body_html=render(body), author_id=author.user_id if author else None,
                    reviewer_id=None, note=note[:500], created_at=now, submitted_at=None, published_at=None)
    session.add(row)
    article.updated_at = now
    session.flush()
    return row


def version_by_id(session: Session, version_id: int) -> KbVersion:
    row = session.get(KbVersion, version_id)
    if row is None:
        raise NotFound(f"version {version_id} does not exist", field="version_id")
    return row


def submit(version: KbVersion, *, now: datetime) -> KbVersion:
    if version.status != VersionStatus.DRAFT.value:
        raise Conflict(f"only a draft goes to review; this one is {version.status}", field="status")
    version.status, version.submitted_at = VersionStatus.REVIEW.value, now
    return version


def publish(session: Session, version: KbVersion, *, reviewer: Actor | None, now: datetime) -> KbVersion:
    """Publish a version in review; the one published before in that locale is retired. A person
    other than the author reviews (the demo's loader, with no reviewer, publishes its own text)."""
    if version.status != VersionStatus.REVIEW.value:
        raise Conflict(f"only a version in review is published; this one is {version.status}", field="status")
    if reviewer is not None and version.author_id == reviewer.user_id:
        raise Forbidden("someone other than the author reviews and publishes an article")
    for old in session.scalars(select(KbVersion).where(
            KbVersion.article_id == version.article_id, KbVersion.locale == version.locale,
            KbVersion.status == VersionStatus.PUBLISHED.value)):
        old.status = VersionStatus.RETIRED.value
    session.flush()  # the partial unique index sees one published version at a time
    version.status, version.published_at = VersionStatus.PUBLISHED.value, now
    version.reviewer_id = reviewer.user_id if reviewer else None
    return version


def versions_of(session: Session, article_id: int) -> Sequence[KbVersion]:
    return session.scalars(select(KbVersion).where(KbVersion.article_id == article_id)
                           .order_by(KbVersion.locale, KbVersion.version.desc())).all()


# ---------------------------------------------------------------- reading: visibility and fallback


def locales_to_try(locale: str, market_default: str | None) -> list[str]:
    """The reader's locale, then its language (pt-BR -> pt), the market's default language, English."""
    out: list[str] = []
    for candidate in (locale, locale.split("-")[0], market_default, FALLBACK_LOCALE):
        if candidate and candidate not in out:
            out.append(candidate)
    return out


def visible_in(article: KbArticle, market: str | None) -> bool:
    return article.is_active and (not article.markets or market is None or market in article.markets)


@dataclass(frozen=True)
class Shown:
    article: KbArticle
    version: KbVersion
    fell_back: bool  # not in the reader's own locale


def published(session: Session, article_ids: Sequence[int]) -> dict[int, dict[str, KbVersion]]:
    rows = session.scalars(select(KbVersion).where(KbVersion.article_id.in_(list(article_ids)),
                                                   KbVersion.status == VersionStatus.PUBLISHED.value))
    out: dict[int, dict[str, KbVersion]] = {}
    for row in rows:
        out.setdefault(row.article_id, {})[row.locale] = row
    return out


def pick(versions: dict[str, KbVersion], locale: str, market_default: str | None) -> KbVersion | None:
    for candidate in locales_to_try(locale, market_default):
        if candidate in versions:
            return versions[candidate]
    return None


def show(session: Session, key: str, *, locale: str, market: str | None, market_default: str | None) -> Shown:
    """The article as a reader in ``market`` reading ``locale`` sees it (404 when not shown there)."""
    article = article_by_key(session, key)
    if not visible_in(article, market):
        raise NotFound(f"article {key!r} does not exist", field="key")
    version = pick(published(session, [article.id]).get(article.id, {}), locale, market_default)
    if version is None:
        raise NotFound(f"article {key!r} does not exist", field="key")
    return Shown(article=article, version=version, fell_back=version.locale != locale)


def catalogue(session: Session, *, locale: str, market: str | None,
              market_default: str | None) -> list[tuple[KbCategory, list[Shown]]]:
    """Every published article a reader can see, by category, each in the best locale there is."""
    articles = [a for a in session.scalars(select(KbArticle).order_by(KbArticle.position, KbArticle.key))
                if visible_in(a, market)]
    texts = published(session, [a.id for a in articles])
    by_category: dict[int, list[Shown]] = {}
    for article in articles:
        version = pick(texts.get(article.id, {}), locale, market_default)
        if version is not None:
            by_category.setdefault(article.category_id, []).append(
                Shown(article=article, version=version, fell_back=version.locale != locale))
    return [(c, by_category[c.id]) for c in list_categories(session) if c.id in by_category]


def category_name(category: KbCategory, locale: str) -> str:
    names: dict[str, Any] = category.names
    return str(names.get(locale) or names.get(locale.split("-")[0]) or names.get(FALLBACK_LOCALE) or category.key)


# ---------------------------------------------------------------- feedback


def record_feedback(session: Session, shown: Shown, *, helpful: bool, comment: str, user_id: int | None,
                    market: str | None, now: datetime) -> KbFeedback:
    row = KbFeedback(article_id=shown.article.id, locale=shown.version.locale, version=shown.version.version,
                     helpful=helpful, comment=comment.strip()[:1000], user_id=user_id, market=market,
                     created_at=now)
    session.add(row)
    session.flush()
    return row


def feedback_counts(session: Session, article_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(helpful, not helpful) per article."""
    rows = session.execute(select(KbFeedback.article_id, KbFeedback.helpful, func.count())
                           .where(KbFeedback.article_id.in_(list(article_ids)))
                           .group_by(KbFeedback.article_id, KbFeedback.helpful))
    out: dict[int, tuple[int, int]] = {}
    for article_id, helpful, count in rows:
        yes, no = out.get(article_id, (0, 0))
        out[article_id] = (yes + int(count), no) if helpful else (yes, no + int(count))
    return out
