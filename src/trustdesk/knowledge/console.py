"""Console pages of the knowledge base: the article list, the editor (Markdown with a sanitised
preview), translations, the review queue where someone other than the author publishes or sends a
version back, version history with diffs, categories, attachments, readers' feedback, and the
deflection funnel.

Handlers stay thin: they read the form, call ``service`` (or ``funnel``) and render. A refused
change runs in a savepoint, so nothing of it is kept, and is shown next to its field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.core.db import MAX_ID
from trustdesk.core.errors import DomainError, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import PRINTABLE
from trustdesk.directory import catalogue, page_queries
from trustdesk.directory import service as directory
from trustdesk.knowledge import funnel, service
from trustdesk.knowledge.models import KbArticle, KbVersion
from trustdesk.web.deps import ClockDep, PageRequires, SessionDep, SettingsDep
from trustdesk.web.pages import FormDep, form_list, form_text, render_console, see_other, with_query
from trustdesk.web.templating import render

router = APIRouter(include_in_schema=False)
# In-house only: articles are published for every market and the funnel counts every market's
# conversations, so a vendor's lead (KB_EDIT and KB_PUBLISH by role) is refused.
Editor = Annotated[Actor, Depends(PageRequires(Perm.KB_EDIT, in_house=True))]
Publisher = Annotated[Actor, Depends(PageRequires(Perm.KB_PUBLISH, in_house=True))]
ArticleKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Text = Annotated[str, Query(max_length=200, pattern=PRINTABLE)]
LocaleQuery = Annotated[str, Query(max_length=16, pattern=r"^([a-z]{2,3}(-[A-Z]{2})?)?$")]
T = TypeVar("T")

BASE = "/console/kb"
PAGE_SIZE = 50
STATUS_FILTERS = [("draft", "Has a draft"), ("review", "In review"), ("published", "Published"),
                  ("untranslated", "Not written yet")]
DEFLECTION_PERIOD_DAYS = 28
GROUP_LABELS = {"topic": "Topic", "market": "Market", "language": "Language"}


def _try(session: Session, work: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """A service call in a savepoint: a refusal of any kind leaves nothing written and comes back to
    be shown on the page (next to its field) instead of an error page."""
    try:
        with session.begin_nested():
            return work(), None
    except DomainError as error:
        return None, error


def _errors(error: DomainError, fields: Sequence[str]) -> dict[str, str]:
    return {error.field if error.field and error.field in fields else "form": error.detail}


def _page(request: Request, session: Session, actor: Actor, template: str, context: dict[str, Any], *,
          section: str, status_code: int = 200) -> HTMLResponse:
    ctx = {"section": section, "review_count": len(service.in_review(session)),
           "can_publish": actor.can(Perm.KB_PUBLISH), "me": actor.user_id}
    ctx.update(context)
    return render_console(request, session, actor, template, ctx, active="kb", status_code=status_code)


def _locale_options(session: Session, extra: Sequence[str] = ()) -> list[str]:
    """Every language a market reads in (English first), plus any the knowledge base already has."""
    found = {lang for m in directory.list_markets(session, active_only=True) for lang in m.languages}
    found |= set(extra) | {service.FALLBACK_LOCALE}
    return sorted(found, key=lambda code: (code != service.FALLBACK_LOCALE, code))


def _category_options(session: Session) -> list[tuple[str, str]]:
    return [(c.key, service.category_name(c, "en")) for c in service.list_categories(session)]


def _market_options(session: Session) -> list[tuple[str, str]]:
    return [(m.code, f"{m.code} · {m.name}") for m in directory.list_markets(session, active_only=True)]


def _topic_options(session: Session, current: str | None = None) -> list[tuple[str, str]]:
    """The catalogue's topics; an article's own topic stays choosable even when the catalogue lacks it,
    so saving the form never drops it unasked."""
    options = [(t.key, f"{'— ' * (t.depth - 1)}{catalogue.topic_name(t, 'en')}")
               for t in catalogue.list_topics(session, active_only=True)]
    if current and current not in {key for key, _label in options}:
        options.insert(0, (current, f"{current} (not in the service catalogue)"))
    return options


def _topic_names(session: Session) -> dict[str, str]:
    return {t.key: catalogue.topic_name(t, "en") for t in catalogue.list_topics(session)}


def _article_url(key: str) -> str:
    return f"{BASE}/articles/{key}"


# ---------------------------------------------------------------- the article list


@router.get(BASE)
def articles_page(request: Request, session: SessionDep, actor: Editor, category: Text = "",
                  locale: LocaleQuery = "", status: Text = "", q: Text = "",
                  page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    filters = {"category": category, "locale": locale, "status": status, "q": q}
    rows, error = _try(session, lambda: service.article_rows(session, category=category, locale=locale,
                                                             status=status, q=q))
    rows = rows or []
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    categories = {c.id: service.category_name(c, "en") for c in service.list_categories(session)}
    context = {
        "rows": rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], "count": len(rows), "page": page, "pages": pages,
        "filters": filters, "filtered": any(filters.values()), "errors": _errors(error, list(filters)) if error else {},
        "categories": categories, "category_options": _category_options(session),
        "locale_options": [(code, code) for code in _locale_options(session)], "status_options": STATUS_FILTERS,
        "page_url": lambda n: with_query(BASE, **filters, page=n if n > 1 else None),
    }
    return _page(request, session, actor, "knowledge/console_articles.html", context, section="articles",
                 status_code=error.status if error else 200)


# ---------------------------------------------------------------- creating an article


def _new_page(request: Request, session: Session, actor: Actor, *, values: dict[str, Any],
              errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    context = {"values": values, "errors": errors, "category_options": _category_options(session),
               "market_options": _market_options(session), "topic_options": _topic_options(session),
               "locale_options": [(code, code) for code in _locale_options(session)]}
    return _page(request, session, actor, "knowledge/console_new.html", context, section="articles",
                 status_code=status_code)


@router.get(f"{BASE}/articles/new")
def new_article_form(request: Request, session: SessionDep, actor: Editor) -> HTMLResponse:
    values = {"key": "", "category": "", "markets": [], "topic": "", "locale": service.FALLBACK_LOCALE}
    return _new_page(request, session, actor, values=values, errors={})


@router.post(f"{BASE}/articles")
def create_article(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                   actor: Editor) -> Response:
    key, locale = form_text(form, "key", max_chars=200).strip(), form_text(form, "locale", max_chars=16)
    category_key, topic = form_text(form, "category", max_chars=64), form_text(form, "topic", max_chars=200)
    markets = form_list(form, "markets")
    values: dict[str, Any] = {"key": key, "category": category_key, "markets": markets, "topic": topic,
                              "locale": locale}

    def create() -> KbArticle:
        if not service.LOCALE.fullmatch(locale):
            raise Invalid("a language such as en, es or pt-BR", field="locale")
        category = service.category_by_key(session, category_key)
        return service.create_article(session, key=key, category=category,
                                      markets=service.check_markets(session, markets),
                                      topic=service.check_topic(session, topic), now=clock.now())

    article, error = _try(session, create)
    if error is not None or article is None:
        errors = _errors(error, list(values)) if error else {"form": "nothing was saved"}
        return _new_page(request, session, actor, values=values, errors=errors,
                         status_code=error.status if error else 422)
    return see_other(request, with_query(f"{_article_url(article.key)}/edit", locale=locale))


# ---------------------------------------------------------------- one article


def _article_page(request: Request, session: Session, actor: Actor, article: KbArticle, *,
                  meta_values: dict[str, Any] | None = None, meta_errors: dict[str, str] | None = None,
                  attach_values: dict[str, Any] | None = None, attach_errors: dict[str, str] | None = None,
                  failure: str | None = None, status_code: int = 200) -> HTMLResponse:
    heads = service.version_heads(session, [article.id]).get(article.id, [])
    states = service.locale_states(heads)
    feedback = service.feedback_of(session, article.id)
    yes, no = service.feedback_counts(session, [article.id]).get(article.id, (0, 0))
    category = next(c for c in service.list_categories(session) if c.id == article.category_id)
    context = {
        "article": article, "category": category, "category_name": service.category_name(category, "en"),
        "states": states, "history": sorted(heads, key=lambda h: (h.last_change, h.id), reverse=True),
        "people": page_queries.user_names(session, (uid for h in heads for uid in (h.author_id, h.reviewer_id))),
        "missing_locales": [c for c in _locale_options(session) if c not in {s.locale for s in states}],
        "attachments": service.attachments_of(session, article.id), "feedback": feedback,
        "helpful": yes, "not_helpful": no, "topic_names": _topic_names(session),
        "meta": meta_values or {"category": category.key, "markets": list(article.markets),
                                "topic": article.topic or ""},
        "meta_errors": meta_errors or {}, "attach": attach_values or {}, "attach_errors": attach_errors or {},
        "category_options": _category_options(session), "market_options": _market_options(session),
        "topic_options": _topic_options(session, article.topic), "failure": failure,
    }
    return _page(request, session, actor, "knowledge/console_article.html", context, section="articles",
                 status_code=status_code)


@router.get(f"{BASE}/articles/{{key}}")
def article_page(request: Request, key: ArticleKey, session: SessionDep, actor: Editor) -> HTMLResponse:
    return _article_page(request, session, actor, service.article_by_key(session, key))


@router.post(f"{BASE}/articles/{{key}}")
def update_article(request: Request, key: ArticleKey, form: FormDep, session: SessionDep, clock: ClockDep,
                   actor: Editor) -> Response:
    article = service.article_by_key(session, key)
    category_key, topic = form_text(form, "category", max_chars=64), form_text(form, "topic", max_chars=200)
    markets = form_list(form, "markets")
    values: dict[str, Any] = {"category": category_key, "markets": markets, "topic": topic}
    _done, error = _try(session, lambda: service.update_article(
        session, article, category=service.category_by_key(session, category_key), markets=markets,
        topic=topic or None, now=clock.now()))
    if error is not None:
        return _article_page(request, session, actor, article, meta_values=values,
                             meta_errors=_errors(error, list(values)), status_code=error.status)
    return see_other(request, with_query(_article_url(key), notice="saved"))


# ---------------------------------------------------------------- the editor


def _editor_page(request: Request, session: Session, actor: Actor, article: KbArticle, locale: str, *,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 preview: str | None = None, status_code: int = 200) -> HTMLResponse:
    latest = service.latest_version(session, article.id, locale)
    published_texts = service.published(session, [article.id]).get(article.id, {})
    source = None
    if latest is None:  # a new translation: the text to translate from, shown beside the editor
        source = service.pick(published_texts, service.FALLBACK_LOCALE, None) or next(iter(published_texts.values()),
                                                                                     None)
    if values is None:
        values = {"title": latest.title if latest else "", "body": latest.body_md if latest else "",
                  "based_on": latest.version if latest else 0}
    if preview is None:
        preview = service.render(values["body"]) if values["body"].strip() else ""
    context = {"article": article, "locale": locale, "latest": latest, "source": source, "values": values,
               "errors": errors or {}, "preview": preview, "in_review": latest is not None
               and latest.status == service.VersionStatus.REVIEW.value, "max_body": service.MAX_BODY}
    return _page(request, session, actor, "knowledge/console_editor.html", context, section="articles",
                 status_code=status_code)


def _editor_locale(locale: str) -> str:
    if not service.LOCALE.fullmatch(locale):
        raise Invalid("a language such as en, es or pt-BR", field="locale")
    return locale


@router.get(f"{BASE}/articles/{{key}}/edit")
def editor(request: Request, key: ArticleKey, session: SessionDep, actor: Editor,
           locale: LocaleQuery = service.FALLBACK_LOCALE) -> HTMLResponse:
    article = service.article_by_key(session, key)
    return _editor_page(request, session, actor, article, _editor_locale(locale or service.FALLBACK_LOCALE))


@router.post(f"{BASE}/articles/{{key}}/edit")
def save_text(request: Request, key: ArticleKey, form: FormDep, session: SessionDep, clock: ClockDep,
              actor: Editor) -> Response:
    article = service.article_by_key(session, key)
    locale = _editor_locale(form_text(form, "locale", max_chars=16))
    based_text = form_text(form, "based_on", max_chars=10).strip()
    based_on = int(based_text) if based_text.isdigit() else -1
    title = form_text(form, "title", max_chars=1000)
    body = form_text(form, "body", max_chars=service.MAX_BODY + 1000)
    values: dict[str, Any] = {"title": title, "body": body, "based_on": based_on}
    action = form_text(form, "action", max_chars=20)
    if action == "preview":  # without script: the same preview the editor shows as one types
        return _editor_page(request, session, actor, article, locale, values=values, preview=service.render(body))

    def save() -> KbVersion:
        version = service.write_draft(session, article, locale=locale, title=title, body=body, author=actor,
                                      based_on=based_on, now=clock.now())
        return service.submit(version, now=clock.now()) if action == "submit" else version

    version, error = _try(session, save)
    if error is not None or version is None:
        errors = _errors(error, ["title", "body"]) if error else {"form": "nothing was saved"}
        return _editor_page(request, session, actor, article, locale, values=values, errors=errors,
                            status_code=error.status if error else 422)
    notice = "kb_submitted" if action == "submit" else "kb_draft_saved"
    return see_other(request, with_query(_article_url(key), notice=notice) + f"#locale-{locale}")


@router.post(f"{BASE}/preview")
def preview(request: Request, form: FormDep, actor: Editor) -> HTMLResponse:
    """The editor's live preview (htmx): the Markdown as readers will get it, sanitised."""
    body = form_text(form, "body", max_chars=service.MAX_BODY)
    return render(request, "knowledge/console_preview.html", {"preview": service.render(body)})


# ---------------------------------------------------------------- versions and review


def _version_page(request: Request, session: Session, actor: Actor, version: KbVersion, *, against: int | None,
                  failure: str | None = None, comment: str = "", comment_error: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    article = session.get(KbArticle, version.article_id)
    assert article is not None  # the foreign key holds
    if against is not None:
        other = service.version_of(session, article.id, version.locale, against)
        if other is None:
            raise Invalid(f"{version.locale} has no version {against}", field="against")
    else:
        other = service.compared_with(session, version)
    heads = [h for h in service.version_heads(session, [article.id]).get(article.id, [])
             if h.locale == version.locale]
    context = {
        "article": article, "version": version, "other": other, "diff": service.diff_versions(other, version),
        "versions": sorted(heads, key=lambda h: h.version, reverse=True),
        "people": page_queries.user_names(session, (version.author_id, version.reviewer_id)),
        "failure": failure, "comment": comment, "comment_error": comment_error,
        "is_author": version.author_id == actor.user_id,
    }
    return _page(request, session, actor, "knowledge/console_version.html", context, section="review"
                 if version.status == service.VersionStatus.REVIEW.value else "articles", status_code=status_code)


@router.get(f"{BASE}/versions/{{version_id}}")
def version_page(request: Request, version_id: RowId, session: SessionDep, actor: Editor,
                 against: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> HTMLResponse:
    return _version_page(request, session, actor, service.version_by_id(session, version_id), against=against)


@router.post(f"{BASE}/versions/{{version_id}}/submit")
def submit_version(request: Request, version_id: RowId, session: SessionDep, clock: ClockDep,
                   actor: Editor) -> Response:
    version = service.version_by_id(session, version_id)
    _done, error = _try(session, lambda: service.submit(version, now=clock.now()))
    if error is not None:
        return _version_page(request, session, actor, version, against=None, failure=error.detail,
                             status_code=error.status)
    article = session.get(KbArticle, version.article_id)
    assert article is not None
    target = with_query(_article_url(article.key), notice="kb_submitted")
    return see_other(request, f"{target}#locale-{version.locale}")


@router.post(f"{BASE}/versions/{{version_id}}/publish")
def publish_version(request: Request, version_id: RowId, session: SessionDep, clock: ClockDep,
                    actor: Publisher) -> Response:
    version = service.version_by_id(session, version_id)
    _done, error = _try(session, lambda: service.publish(session, version, reviewer=actor, now=clock.now()))
    if error is not None:
        return _version_page(request, session, actor, version, against=None, failure=error.detail,
                             status_code=error.status)
    return see_other(request, with_query(f"{BASE}/review", notice="kb_published"))


@router.post(f"{BASE}/versions/{{version_id}}/reject")
def reject_version(request: Request, version_id: RowId, form: FormDep, session: SessionDep, clock: ClockDep,
                   actor: Publisher) -> Response:
    version = service.version_by_id(session, version_id)
    comment = form_text(form, "comment", max_chars=2000)
    _done, error = _try(session, lambda: service.reject(version, reviewer=actor, comment=comment, now=clock.now()))
    if error is not None:
        return _version_page(request, session, actor, version, against=None, comment=comment,
                             failure=None if error.field == "comment" else error.detail,
                             comment_error=error.detail if error.field == "comment" else None,
                             status_code=error.status)
    return see_other(request, with_query(f"{BASE}/review", notice="kb_rejected"))


@router.get(f"{BASE}/review")
def review_queue(request: Request, session: SessionDep, actor: Editor) -> HTMLResponse:
    waiting = service.in_review(session)
    people = page_queries.user_names(session, (v.author_id for v, _a in waiting))
    return _page(request, session, actor, "knowledge/console_review.html",
                 {"waiting": waiting, "people": people}, section="review")


# ---------------------------------------------------------------- attachments


@router.post(f"{BASE}/articles/{{key}}/attachments")
def add_attachment(request: Request, key: ArticleKey, form: FormDep, session: SessionDep, clock: ClockDep,
                   settings: SettingsDep, actor: Editor) -> Response:
    article = service.article_by_key(session, key)
    values = {name: form_text(form, name, max_chars=2000) for name in ("filename", "content_type", "size_bytes",
                                                                        "url")}
    size = values["size_bytes"].strip()

    def add() -> object:
        if not size.isdigit() or len(size) > 12:
            raise Invalid("the file's size in bytes, a whole number", field="size_bytes")
        return service.add_attachment(session, article, filename=values["filename"],
                                      content_type=values["content_type"], size_bytes=int(size), url=values["url"],
                                      allowed_types=settings.attachment_types,
                                      max_bytes=settings.max_attachment_bytes, now=clock.now())

    _done, error = _try(session, add)
    if error is not None:
        return _article_page(request, session, actor, article, attach_values=values,
                             attach_errors=_errors(error, list(values)), status_code=error.status)
    return see_other(request, with_query(_article_url(key), notice="saved") + "#attachments")


@router.post(f"{BASE}/attachments/{{attachment_id}}/delete")
def remove_attachment(request: Request, attachment_id: RowId, session: SessionDep, clock: ClockDep,
                      actor: Editor) -> Response:
    attachment = service.attachment_by_id(session, attachment_id)
    article = session.get(KbArticle, attachment.article_id)
    assert article is not None
    service.remove_attachment(session, attachment, article=article, now=clock.now())
    return see_other(request, with_query(_article_url(article.key), notice="saved") + "#attachments")


# ---------------------------------------------------------------- categories


def _names_text(names: dict[str, Any]) -> str:
    return "\n".join(f"{locale}: {name}" for locale, name in sorted(names.items()) if locale != "en")


def _parse_names(english: str, others: str) -> dict[str, str]:
    names = {"en": english}
    for number, line in enumerate(others.splitlines(), start=1):
        if not line.strip():
            continue
        locale, sep, name = line.partition(":")
        if not sep or not name.strip():
            raise Invalid(f"line {number}: write it as 'es: Pedidos'", field="names")
        names[locale.strip()] = name.strip()
    return names


def _categories_page(request: Request, session: Session, actor: Actor, *, values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    categories = service.list_categories(session)
    counts: dict[int, int] = {}
    for row in service.article_rows(session):
        counts[row.article.category_id] = counts.get(row.article.category_id, 0) + 1
    context = {"categories": categories, "counts": counts, "values": values or {
        "editing": "", "key": "", "name": "", "names": "", "position": "100"}, "errors": errors or {},
        "names_text": _names_text}
    return _page(request, session, actor, "knowledge/console_categories.html", context, section="categories",
                 status_code=status_code)


@router.get(f"{BASE}/categories")
def categories_page(request: Request, session: SessionDep, actor: Editor, edit: Text = "") -> HTMLResponse:
    values = None
    if edit:
        category = service.category_by_key(session, edit, field="edit")
        values = {"editing": category.key, "key": category.key, "name": category.names.get("en", ""),
                  "names": _names_text(category.names), "position": str(category.position)}
    return _categories_page(request, session, actor, values=values)


@router.post(f"{BASE}/categories")
def save_category(request: Request, form: FormDep, session: SessionDep, clock: ClockDep,
                  actor: Editor) -> Response:
    values = {"editing": form_text(form, "editing", max_chars=64), "key": form_text(form, "key", max_chars=200).strip(),
              "name": form_text(form, "name", max_chars=500), "names": form_text(form, "names", max_chars=5000),
              "position": form_text(form, "position", max_chars=10).strip() or "100"}

    def save() -> object:
        if not values["position"].isdigit() or int(values["position"]) > 100_000:
            raise Invalid("a whole number from 0 to 100000; lower comes first", field="position")
        names = _parse_names(values["name"], values["names"])
        if values["editing"]:
            category = service.category_by_key(session, values["editing"], field="key")
            return service.update_category(session, category, names=names, position=int(values["position"]))
        return service.create_category(session, key=values["key"], names=names, position=int(values["position"]),
                                       now=clock.now())

    _done, error = _try(session, save)
    if error is not None:
        field = error.field or ""
        shown = "name" if field == "names.en" else "names" if field.startswith("names") else field
        errors = {shown if shown in values else "form": error.detail}
        return _categories_page(request, session, actor, values=values, errors=errors, status_code=error.status)
    return see_other(request, with_query(f"{BASE}/categories", notice="saved"))


# ---------------------------------------------------------------- the deflection funnel


def _day(value: str, *, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("a date such as 2026-03-01", field=field) from None


@router.get(f"{BASE}/deflection")
def deflection_page(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: Editor,
                    from_: Annotated[str, Query(alias="from", max_length=10, pattern=PRINTABLE)] = "",
                    to: Annotated[str, Query(max_length=10, pattern=PRINTABLE)] = "",
                    by: Annotated[str, Query(max_length=16, pattern=PRINTABLE)] = "topic") -> HTMLResponse:
    now = clock.now()
    today = now.date()
    values = {"from": from_ or (today - timedelta(days=DEFLECTION_PERIOD_DAYS - 1)).isoformat(),
              "to": to or today.isoformat(), "by": by}

    def figures() -> funnel.FunnelReport:
        first, last = _day(values["from"], field="from"), _day(values["to"], field="to")
        if last < first:
            raise Invalid("the last day comes on or after the first", field="to")
        since = datetime.combine(first, time(0), tzinfo=UTC)
        until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        return funnel.report(session, since=since, until=until, now=now, days=settings.kb_deflection_days, by=by)

    report, error = _try(session, figures)
    errors = {}
    if error is not None:
        field = {"since": "from", "until": "to"}.get(error.field or "", error.field or "")
        errors = {field if field in values else "form": error.detail}
    context = {"report": report, "values": values, "errors": errors, "topic_names": _topic_names(session),
               "window_days": settings.kb_deflection_days, "group_labels": GROUP_LABELS,
               "group_options": [(g, GROUP_LABELS[g]) for g in funnel.GROUPS]}
    return _page(request, session, actor, "knowledge/console_deflection.html", context, section="deflection",
                 status_code=error.status if error else 200)
