"""The knowledge base's rules: articles in Markdown rendered to sanitised HTML, per-locale versions
moving draft -> review -> published (someone other than the author publishes), per-market
visibility, the market's default language as the fallback locale, and readers' feedback."""

from __future__ import annotations

import difflib
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

from trustdesk.core import i18n
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, PreconditionFailed
from trustdesk.core.identity import Actor
from trustdesk.directory import catalogue as directory_catalogue
from trustdesk.directory import service as directory
from trustdesk.knowledge.models import KbArticle, KbAttachment, KbCategory, KbFeedback, KbVersion

FALLBACK_LOCALE = "en"
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")
MAX_BODY = 100_000


class VersionStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    RETIRED = "retired"
    REJECTED = "rejected"  # sent back by a reviewer, with the reason in ``note``
    SUPERSEDED = "superseded"  # a draft replaced by a newer draft of the same locale before publication


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
    return i18n.fallbacks(locale, market_default, FALLBACK_LOCALE)


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


# ---------------------------------------------------------------- authoring (the console)
#
# Each save of the editor is a new version of that locale (a wiki-like history a reviewer can diff);
# the draft it replaces is marked superseded, so a locale has at most one open draft or version in
# review. A reviewer other than the author publishes it or sends it back with a comment.

MAX_CATEGORY_NAME = 100
MAX_COMMENT = 500


def _check_names(names: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for locale, name in names.items():
        if not LOCALE.fullmatch(locale):
            raise Invalid(f"{locale!r} is not a locale such as en, es or pt-BR", field="names")
        name = " ".join(name.split())
        if len(name) > MAX_CATEGORY_NAME:
            raise Invalid(f"a name of at most {MAX_CATEGORY_NAME} characters", field=f"names.{locale}")
        if name:
            cleaned[locale] = name
    return cleaned


def create_category(session: Session, *, key: str, names: dict[str, str], position: int,
                    now: datetime) -> KbCategory:
    if session.scalar(select(KbCategory.id).where(KbCategory.key == key)) is not None:
        raise Conflict(f"category {key!r} exists", field="key")
    return ensure_category(session, key=key, names=_check_names(names), position=position, now=now)


def update_category(session: Session, category: KbCategory, *, names: dict[str, str], position: int) -> KbCategory:
    return ensure_category(session, key=category.key, names=_check_names(names), position=position,
                           now=category.created_at)


def check_markets(session: Session, codes: Sequence[str]) -> list[str]:
    """The market codes, upper-cased, each one a market TrustDesk knows (none: every market)."""
    known = {m.code for m in directory.list_markets(session)}
    wanted = sorted({code.strip().upper() for code in codes if code.strip()})
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise Invalid(f"unknown market {unknown[0]!r}", field="markets")
    return wanted


def check_topic(session: Session, topic: str | None) -> str | None:
    """A routing topic of the service catalogue (what the deflection funnel groups by), or none."""
    if not topic:
        return None
    return directory_catalogue.topic_by_key(session, topic, field="topic").key


def update_article(session: Session, article: KbArticle, *, category: KbCategory, markets: Sequence[str],
                   topic: str | None, now: datetime) -> KbArticle:
    article.category_id = category.id
    article.markets = check_markets(session, markets)
    if topic != article.topic:  # an unchanged topic stays even if the catalogue has since retired it
        article.topic = check_topic(session, topic)
    article.updated_at = now
    return article


@dataclass(frozen=True)
class VersionHead:
    """A version without its text: what lists and states need."""

    id: int
    article_id: int
    locale: str
    version: int
    status: str
    title: str
    author_id: int | None
    reviewer_id: int | None
    created_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    note: str

    @property
    def last_change(self) -> datetime:
        return max(t for t in (self.created_at, self.submitted_at, self.published_at) if t is not None)


@dataclass(frozen=True)
class LocaleState:
    """One locale of an article: what readers see and what is being written."""

    locale: str
    published: VersionHead | None
    pending: VersionHead | None  # the open draft or the version in review
    latest: VersionHead

    @property
    def statuses(self) -> set[str]:
        out = {self.pending.status} if self.pending else set()
        return out | ({VersionStatus.PUBLISHED.value} if self.published else set())


def version_heads(session: Session, article_ids: Sequence[int]) -> dict[int, list[VersionHead]]:
    """Every version of these articles, without text, per article (locale, then version)."""
    if not article_ids:
        return {}
    rows = session.execute(select(KbVersion.id, KbVersion.article_id, KbVersion.locale, KbVersion.version,
                                  KbVersion.status, KbVersion.title, KbVersion.author_id, KbVersion.reviewer_id,
                                  KbVersion.created_at, KbVersion.submitted_at, KbVersion.published_at,
                                  KbVersion.note)
                           .where(KbVersion.article_id.in_(list(article_ids)))
                           .order_by(KbVersion.article_id, KbVersion.locale, KbVersion.version))
    out: dict[int, list[VersionHead]] = {}
    for row in rows:
        out.setdefault(row.article_id, []).append(VersionHead(**row._asdict()))
    return out


def locale_states(heads: Sequence[VersionHead]) -> list[LocaleState]:
    by_locale: dict[str, list[VersionHead]] = {}
    for head in heads:
        by_locale.setdefault(head.locale, []).append(head)
    states = []
    for locale, versions in sorted(by_locale.items(), key=lambda item: (item[0] != FALLBACK_LOCALE, item[0])):
        versions.sort(key=lambda v: v.version)
        published_now = next((v for v in versions if v.status == VersionStatus.PUBLISHED.value), None)
        pending = next((v for v in reversed(versions)
                        if v.status in (VersionStatus.DRAFT.value, VersionStatus.REVIEW.value)), None)
        states.append(LocaleState(locale=locale, published=published_now, pending=pending, latest=versions[-1]))
    return states


@dataclass(frozen=True)
class ArticleRow:
    article: KbArticle
    title: str  # English when there is an English text, else the first locale's
    locales: list[LocaleState]
    last_change: datetime
    helpful: int
    not_helpful: int

    @property
    def helpful_rate(self) -> float | None:
        rated = self.helpful + self.not_helpful
        return self.helpful / rated if rated else None


ARTICLE_STATUSES = ("draft", "review", "published", "untranslated")


def article_rows(session: Session, *, category: str = "", locale: str = "", status: str = "",
                 q: str = "") -> list[ArticleRow]:
    """Articles for the authoring list, newest change first, filtered by category key, locale (the
    article has text in it), status (of that locale, else of any; ``untranslated``: no text in the
    locale yet) and words of the title or key."""
    if status and status not in ARTICLE_STATUSES:
        raise Invalid(f"status is one of {', '.join(ARTICLE_STATUSES)}", field="status")
    if status == "untranslated" and not locale:
        raise Invalid("choose the language that is missing", field="locale")
    query = select(KbArticle)
    if category:
        query = query.join(KbCategory, KbCategory.id == KbArticle.category_id).where(KbCategory.key == category)
    articles = session.scalars(query).all()
    heads = version_heads(session, [a.id for a in articles])
    feedback = feedback_counts(session, [a.id for a in articles])
    words = q.casefold().split()
    rows: list[ArticleRow] = []
    for article in articles:
        states = locale_states(heads.get(article.id, []))
        state = next((s for s in states if s.locale == locale), None)
        if status == "untranslated":
            if state is not None:
                continue
        elif (locale and state is None) or (status and not any(status in s.statuses
                                                                for s in ([state] if state else states))):
            continue
        titles = [t for s in states for t in {s.latest.title, s.published.title if s.published else ""} if t]
        if words and not all(any(w in text.casefold() for text in [article.key, *titles]) for w in words):
            continue
        english = next((s for s in states if s.locale == FALLBACK_LOCALE), states[0] if states else None)
        last = max([article.updated_at] + [h.last_change for h in heads.get(article.id, [])])
        yes, no = feedback.get(article.id, (0, 0))
        rows.append(ArticleRow(article=article, title=english.latest.title if english else "", locales=states,
                               last_change=last, helpful=yes, not_helpful=no))
    rows.sort(key=lambda r: (r.last_change, r.article.key), reverse=True)
    return rows


def latest_version(session: Session, article_id: int, locale: str) -> KbVersion | None:
    return session.scalar(select(KbVersion).where(KbVersion.article_id == article_id, KbVersion.locale == locale)
                          .order_by(KbVersion.version.desc()).limit(1))


def write_draft(session: Session, article: KbArticle, *, locale: str, title: str, body: str, author: Actor,
                based_on: int, now: datetime) -> KbVersion:
    """The editor's text as the locale's next version (a draft). ``based_on`` is the locale's latest
    version number when the editor was opened (0: none): if someone saved since, nothing is
    overwritten. A version waiting for review is decided first; an open draft is superseded. Two saves
    at once: the article's row is locked first, so the second waits for the first and is refused (412)."""
    if not LOCALE.fullmatch(locale):
        raise Invalid("a locale such as en, es or pt-BR", field="locale")
    if is_postgres(session):  # SQLite's BEGIN IMMEDIATE serialises writers already
        session.execute(select(KbArticle.id).where(KbArticle.id == article.id).with_for_update())
    latest = latest_version(session, article.id, locale)
    if (latest.version if latest else 0) != based_on:
        raise PreconditionFailed(f"{locale} v{latest.version if latest else 0} was saved since you opened the "
                                 "editor; reload it to start from that text", field="based_on")
    if latest is not None and latest.status == VersionStatus.REVIEW.value:
        raise Conflict(f"v{latest.version} is waiting for review: a reviewer publishes it or sends it back "
                       "before the text changes again", field="status")
    for draft in session.scalars(select(KbVersion).where(KbVersion.article_id == article.id,
                                                         KbVersion.locale == locale,
                                                         KbVersion.status == VersionStatus.DRAFT.value)):
        draft.status = VersionStatus.SUPERSEDED.value
    return save_draft(session, article, locale=locale, title=title, body=body, author=author, now=now)


def reject(version: KbVersion, *, reviewer: Actor, comment: str, now: datetime) -> KbVersion:
    """Send a version in review back to its author with what to change (kept as the version's note).
    The text stays in the history; the author's next save starts from it."""
    if version.status != VersionStatus.REVIEW.value:
        raise Conflict(f"only a version in review is sent back; this one is {version.status}", field="status")
    if version.author_id == reviewer.user_id:
        raise Forbidden("someone other than the author reviews an article")
    comment = comment.strip()
    if not comment:
        raise Invalid("say what the author should change", field="comment")
    if len(comment) > MAX_COMMENT:
        raise Invalid(f"a comment of at most {MAX_COMMENT} characters", field="comment")
    version.status, version.reviewer_id, version.note = VersionStatus.REJECTED.value, reviewer.user_id, comment
    return version


def in_review(session: Session) -> Sequence[tuple[KbVersion, KbArticle]]:
    """What waits for a reviewer, longest waiting first."""
    rows = session.execute(select(KbVersion, KbArticle).join(KbArticle, KbArticle.id == KbVersion.article_id)
                           .where(KbVersion.status == VersionStatus.REVIEW.value)
                           .order_by(KbVersion.submitted_at, KbVersion.id))
    return [(version, article) for version, article in rows]


def version_of(session: Session, article_id: int, locale: str, number: int) -> KbVersion | None:
    return session.scalar(select(KbVersion).where(KbVersion.article_id == article_id, KbVersion.locale == locale,
                                                  KbVersion.version == number))


def compared_with(session: Session, version: KbVersion) -> KbVersion | None:
    """What a version is best read against: the locale's published text (what publishing it would
    change), else the version before it."""
    current = session.scalar(select(KbVersion).where(KbVersion.article_id == version.article_id,
                                                     KbVersion.locale == version.locale,
                                                     KbVersion.status == VersionStatus.PUBLISHED.value))
    if current is not None and current.id != version.id:
        return current
    return session.scalar(select(KbVersion).where(KbVersion.article_id == version.article_id,
                                                  KbVersion.locale == version.locale,
                                                  KbVersion.version < version.version)
                          .order_by(KbVersion.version.desc()).limit(1))


@dataclass(frozen=True)
class DiffLine:
    kind: str  # same | added | removed | gap (unchanged lines left out)
    text: str
    old: int | None  # line numbers, 1-based
    new: int | None


def _lines(version: KbVersion | None) -> list[str]:
    return [] if version is None else [f"Title: {version.title}", "", *version.body_md.splitlines()]


def diff_versions(old: KbVersion | None, new: KbVersion, *, context: int = 3) -> list[DiffLine]:
    """Line by line, the title first: what ``new`` changes in ``old`` (everything added when none)."""
    before, after = _lines(old), _lines(new)
    out: list[DiffLine] = []
    groups = list(difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_grouped_opcodes(context))
    for number, group in enumerate(groups):
        if number or (group and (group[0][1] > 0 or group[0][3] > 0)):
            out.append(DiffLine(kind="gap", text="", old=None, new=None))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [DiffLine("same", before[i], i + 1, j1 + k + 1) for k, i in enumerate(range(i1, i2))]
                continue
            out += [DiffLine("removed", before[i], i + 1, None) for i in range(i1, i2)]
            out += [DiffLine("added", after[j], None, j + 1) for j in range(j1, j2)]
    last = groups[-1][-1] if groups else None
    if last is not None and (last[2] < len(before) or last[4] < len(after)):
        out.append(DiffLine(kind="gap", text="", old=None, new=None))
    return out


# ---------------------------------------------------------------- attachments
#
# The bytes live in the file store, as case attachments' do; the knowledge base keeps what to show.

FILENAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")


def add_attachment(session: Session, article: KbArticle, *, filename: str, content_type: str, size_bytes: int,
                   url: str, allowed_types: Sequence[str], max_bytes: int, now: datetime) -> KbAttachment:
    filename, content_type, url = filename.strip(), content_type.strip().lower(), url.strip()
    if not FILENAME.match(filename):
        raise Invalid("a file name of at most 255 characters, without slashes", field="filename")
    if content_type not in allowed_types:
        raise Invalid(f"{content_type or 'this'} files are not accepted; one of {', '.join(allowed_types)}",
                      field="content_type")
    if size_bytes < 1:
        raise Invalid("the file's size in bytes", field="size_bytes")
    if size_bytes > max_bytes:
        raise PayloadTooLarge(f"{filename} is larger than {max_bytes} bytes", field="size_bytes")
    if not re.match(r"^https?://[^\s/]+/\S*$", url) or len(url) > 2000:
        raise Invalid("the file's address in the file store (https://...)", field="url")
    row = KbAttachment(article_id=article.id, filename=filename, content_type=content_type, size_bytes=size_bytes,
                       url=url, created_at=now)
    session.add(row)
    article.updated_at = now
    session.flush()
    return row


def attachments_of(session: Session, article_id: int) -> Sequence[KbAttachment]:
    return session.scalars(select(KbAttachment).where(KbAttachment.article_id == article_id)
                           .order_by(KbAttachment.id)).all()


def attachment_by_id(session: Session, attachment_id: int) -> KbAttachment:
    row = session.get(KbAttachment, attachment_id)
    if row is None:
        raise NotFound(f"attachment {attachment_id} does not exist", field="attachment_id")
    return row


def remove_attachment(session: Session, attachment: KbAttachment, *, article: KbArticle, now: datetime) -> None:
    session.delete(attachment)
    article.updated_at = now
    session.flush()


# ---------------------------------------------------------------- feedback, read back


def feedback_of(session: Session, article_id: int, *, limit: int = 100) -> Sequence[KbFeedback]:
    """The newest readers' answers to "did this help?" for one article."""
    return session.scalars(select(KbFeedback).where(KbFeedback.article_id == article_id)
                           .order_by(KbFeedback.created_at.desc(), KbFeedback.id.desc()).limit(limit)).all()
