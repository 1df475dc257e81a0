"""Help-center pages of the knowledge base: browse by category, read an article in the reader's
language (or the market's, or English), and say whether it helped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature
from sqlalchemy.orm import Session

from trustdesk.core.errors import NotFound
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm
from trustdesk.directory import service as directory
from trustdesk.directory.models import Market
from trustdesk.knowledge import bot, flows, index, service
from trustdesk.knowledge.models import BotConversation
from trustdesk.web.deps import ClockDep, SessionDep, SettingsDep, optional_actor, public, state
from trustdesk.web.pages import FormDep, attempt, form_text, render_help, see_other, with_query

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


# ---------------------------------------------------------------- the assistant (the bot in the help center)

BOT_COOKIE = "td_bot"
BOT_COOKIE_AGE = 24 * 3600


def _conversation(request: Request, session: Session) -> tuple[BotConversation, str] | None:
    """The visitor's conversation, from a signed cookie (it survives signing in to hand off)."""
    raw = request.cookies.get(BOT_COOKIE)
    if not raw:
        return None
    try:
        data = state(request).signer.loads(raw, salt="bot", max_age=BOT_COOKIE_AGE)
        return bot.conversation(session, int(data["id"]), str(data["token"])), str(data["token"])
    except (BadSignature, KeyError, TypeError, ValueError, NotFound):
        return None


def _assistant(request: Request, session: Session, conversation: BotConversation | None, *, chosen: Market | None,
               locale: str, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    # Opening an offered article is recorded as a turn for the funnel; the transcript does not show it.
    history = [t for t in bot.turns(session, conversation.id) if t.kind != "click"] if conversation else []
    titles = {s.article.key: s.version.title for _c, items in service.catalogue(
        session, locale=locale, market=chosen.code if chosen else None,
        market_default=chosen.default_language if chosen else None) for s in items} if history else {}
    return render_help(request, "knowledge/assistant.html", {
        "conversation": conversation, "turns": history, "titles": titles, "chosen": chosen, "locale": locale,
        "words": bot.words(locale), "error": error, "markets": directory.list_markets(session, active_only=True),
    }, active="assistant", status_code=status_code)


@router.get("/help/assistant", dependencies=[Depends(public)])
def assistant(request: Request, session: SessionDep, actor: MaybeActor, market: Code = "",
              lang: Lang = "") -> HTMLResponse:
    found = _conversation(request, session)
    conversation = found[0] if found else None
    if conversation is not None and not market:
        market, lang = conversation.market, lang or conversation.locale
    chosen, locale = _reader(session, actor, market, lang)
    return _assistant(request, session, conversation, chosen=chosen, locale=locale)


@router.post("/help/assistant", dependencies=[Depends(public)])
def assistant_ask(request: Request, form: FormDep, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                  actor: MaybeActor) -> Response:
    chosen, locale = _reader(session, actor, form_text(form, "market", max_chars=8),
                             _locale_or_empty(form_text(form, "lang", max_chars=16)))
    if chosen is None:
        return _assistant(request, session, None, chosen=None, locale=locale, status_code=422,
                          error="Choose your marketplace first.")
    found = _conversation(request, session)
    conversation, token = found if found and found[0].status != bot.State.HANDED_OFF.value else (None, "")
    if conversation is None:
        conversation, token = bot.start(session, market=chosen.code, locale=locale, channel="help_center",
                                        actor=actor, now=clock.now())
    guide = flows.guide(settings, now=clock.now())
    _done, error = attempt(session, lambda: bot.ask(session, conversation, form_text(form, "text", max_chars=2000),
                                                    settings=settings, now=clock.now(), guide=guide, actor=actor))
    response = _assistant(request, session, conversation, chosen=chosen, locale=locale,
                          error=error.detail if error else None, status_code=error.status if error else 200)
    response.set_cookie(BOT_COOKIE, state(request).signer.dumps({"id": conversation.id, "token": token}, salt="bot"),
                        httponly=True, samesite="lax", secure=settings.cookie_secure, max_age=BOT_COOKIE_AGE,
                        path="/help")
    return response


@router.get("/help/articles/{key}/via-assistant", dependencies=[Depends(public)])
def assistant_link(request: Request, key: ArticleKey, session: SessionDep, clock: ClockDep, market: Code = "",
                   lang: Lang = "") -> Response:
    """The assistant's link to an article it offered: records that it was opened (the deflection
    funnel's clicks), then shows the article."""
    found = _conversation(request, session)
    if found is not None:
        bot.record_click(session, found[0], key, now=clock.now())
    return see_other(request, with_query(f"/help/articles/{key}", market=market.upper() or None, lang=lang or None))


@router.post("/help/assistant/helped", dependencies=[Depends(public)])
def assistant_helped(request: Request, session: SessionDep, clock: ClockDep, actor: MaybeActor) -> Response:
    found = _conversation(request, session)
    if found is None:
        return see_other(request, "/help/assistant")
    _done, _error = attempt(session, lambda: bot.helped(session, found[0], now=clock.now()))
    return see_other(request, "/help/assistant")


@router.post("/help/assistant/handoff", dependencies=[Depends(public)])
def assistant_handoff(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
                      actor: MaybeActor) -> Response:
    found = _conversation(request, session)
    if found is None:
        return see_other(request, "/help/assistant")
    if actor is None or not actor.can(Perm.CASE_SUBMIT):
        return see_other(request, with_query("/login", next="/help/assistant"))
    case, error = attempt(session, lambda: bot.hand_off(session, found[0], actor=actor, settings=settings,
                                                        now=clock.now()))
    if error is not None or case is None:
        chosen, locale = _reader(session, actor, found[0].market, found[0].locale)
        return _assistant(request, session, found[0], chosen=chosen, locale=locale,
                          error=error.detail if error else None, status_code=error.status if error else 422)
    return see_other(request, f"/help/cases/{case.reference}?notice=case_created")


def _locale_or_empty(value: str) -> str:
    return value if service.LOCALE.fullmatch(value) else ""
