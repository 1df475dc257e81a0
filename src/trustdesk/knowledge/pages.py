"""Help-center pages of the knowledge base: browse by category, read an article in the reader's
language (or the market's, or English), and say whether it helped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.core.identity import Actor, User
from trustdesk.directory import service as directory
from trustdesk.directory.models import Market
from trustdesk.knowledge import index, service
from trustdesk.web.deps import ClockDep, SessionDep, optional_actor, public
from trustdesk.web.pages import FormDep, form_text, render_help, see_other, with_query

router = APIRouter(include_in_schema=False)
MaybeActor = Annotated[Actor | None, Depends(optional_actor)]
ArticleKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
Code = Annotated[str, Query(max_length=8, pattern=r"^[A-Za-z]{0,8}$")]
Lang = Annotated[str, Query(max_length=16, pattern=r"^([a-z]{2,3}(-[A-Z]{2})?)?$")]


def _reader(session: Session, actor: Actor | None, market: str, lang: str) -> tuple[Market | None, str]:
    """The market the reader chose (none: every market) and the locale to read in: the one asked
    for, else the reader's own, else the market's language, else English."""
    chosen = next((m for m in directory.list_markets(session, active_only=True) if m.code == market.upper()), None)
    user_locale = None
    if actor is not None:
        user = session.get(User, actor.user_id)
        user_locale = user.locale if user is not None else None
    locale = lang or user_locale or (chosen.default_language if chosen else None) or service.FALLBACK_LOCALE
    return chosen, locale


@router.get("/help/articles", dependencies=[Depends(public)])
def browse(request: Request, session: SessionDep, actor: MaybeActor, market: Code = "",
           lang: Lang = "") -> HTMLResponse:
    chosen, locale = _reader(session, actor, market, lang)
    groups = service.catalogue(session, locale=locale, market=chosen.code if chosen else None,
                               market_default=chosen.default_language if chosen else None)
    context = {"groups": [(service.category_name(c, locale), items) for c, items in groups], "chosen": chosen,
               "locale": locale, "markets": directory.list_markets(session, active_only=True),
               "languages": chosen.languages if chosen else ["en", "es", "id"]}
    return render_help(request, "knowledge/browse.html", context, active="articles")


@router.get("/help/search", dependencies=[Depends(public)])
def search(request: Request, session: SessionDep, actor: MaybeActor,
           q: Annotated[str, Query(max_length=500)] = "", market: Code = "", lang: Lang = "") -> HTMLResponse:
    chosen, locale = _reader(session, actor, market, lang)
    found = index.search(session, q, locale=locale, market=chosen.code if chosen else None,
                         market_default=chosen.default_language if chosen else None, k=5) if q.strip() else []
    return render_help(request, "knowledge/search.html", {"q": q, "found": found, "chosen": chosen, "locale": locale},
                       active="articles")


@router.get("/help/articles/{key}", dependencies=[Depends(public)])
def article(request: Request, key: ArticleKey, session: SessionDep, actor: MaybeActor, market: Code = "",
            lang: Lang = "", thanks: Annotated[str, Query(max_length=3)] = "") -> HTMLResponse:
    chosen, locale = _reader(session, actor, market, lang)
    shown = service.show(session, key, locale=locale, market=chosen.code if chosen else None,
                         market_default=chosen.default_language if chosen else None)
    related = [s for s in next((items for c, items in service.catalogue(
        session, locale=locale, market=chosen.code if chosen else None,
        market_default=chosen.default_language if chosen else None) if c.id == shown.article.category_id), [])
        if s.article.id != shown.article.id][:5]
    return render_help(request, "knowledge/article.html", {
        "shown": shown, "chosen": chosen, "locale": locale, "related": related, "thanks": thanks,
        "query": {"market": chosen.code if chosen else None, "lang": lang or None}}, active="articles")


@router.post("/help/articles/{key}/feedback", dependencies=[Depends(public)])
def feedback(request: Request, key: ArticleKey, form: FormDep, session: SessionDep, clock: ClockDep,
             actor: MaybeActor) -> Response:
    market, lang = form_text(form, "market", max_chars=8), form_text(form, "lang", max_chars=16)
    chosen, locale = _reader(session, actor, market, lang if service.LOCALE.fullmatch(lang) else "")
    shown = service.show(session, key, locale=locale, market=chosen.code if chosen else None,
                         market_default=chosen.default_language if chosen else None)
    helpful = form_text(form, "helpful", max_chars=3) == "yes"
    service.record_feedback(session, shown, helpful=helpful, comment=form_text(form, "comment", max_chars=1000),
                            user_id=actor.user_id if actor else None, market=chosen.code if chosen else None,
                            now=clock.now())
    target = with_query(f"/help/articles/{key}", market=chosen.code if chosen else None, lang=lang or None,
                        thanks="yes" if helpful else "no")
    return see_other(request, target + "#feedback")
