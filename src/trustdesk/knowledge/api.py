"""JSON routes of self-service: the answering bot (help-center widget and in-app chat) and the
knowledge base's published articles and search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import Field

from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import Out, StrictIn
from trustdesk.directory import service as directory
from trustdesk.knowledge import bot, index
from trustdesk.web.deps import ClockDep, Requires, SessionDep, SettingsDep, optional_actor, public

router = APIRouter(tags=["self-service"])
MaybeActor = Annotated[Actor | None, Depends(optional_actor)]
Submitter = Annotated[Actor, Depends(Requires(Perm.CASE_SUBMIT))]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
BotToken = Annotated[str, Header(alias="X-Bot-Token", min_length=8, max_length=100)]


class ConversationIn(StrictIn):
    market: str = Field(min_length=2, max_length=8, examples=["US"])
    locale: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    channel: str = Field(default="help_center", description="help_center or in_app_chat")


class ConversationOut(Out):
    id: int
    token: str | None = Field(default=None, description="Send it as X-Bot-Token; shown once")
    status: str
    market: str
    locale: str
    case_id: int | None = None


class QuestionIn(StrictIn):
    text: str = Field(min_length=1, max_length=bot.MAX_QUESTION)


class ReplyOut(Out):
    kind: str = Field(description="answer (an article's passage) or no_answer (offer a person)")
    text: str
    article_key: str | None
    title: str | None
    url: str | None
    confidence: float | None
    ask: str | None = Field(description="The follow-up question to show, e.g. 'Did this solve it?'")


class TurnOut(Out):
    role: str
    kind: str
    text: str
    article_key: str | None
    confidence: float | None
    at: datetime


class HandoffOut(Out):
    case_id: int
    reference: str


@router.post("/bot/conversations", response_model=ConversationOut, status_code=201, dependencies=[Depends(public)],
             summary="Start a conversation with the answering bot (anyone; signed-in customers are linked)")
def start(body: ConversationIn, session: SessionDep, clock: ClockDep, actor: MaybeActor) -> ConversationOut:
    row, token = bot.start(session, market=body.market.upper(), locale=body.locale, channel=body.channel,
                           actor=actor, now=clock.now())
    return ConversationOut(id=row.id, token=token, status=row.status, market=row.market, locale=row.locale)


@router.post("/bot/conversations/{conversation_id}/messages", response_model=ReplyOut,
             dependencies=[Depends(public)], summary="Ask the bot; it answers from an article or offers a person")
def ask(conversation_id: Id, body: QuestionIn, token: BotToken, session: SessionDep, clock: ClockDep,
        settings: SettingsDep) -> ReplyOut:
    row = bot.conversation(session, conversation_id, token)
    reply = bot.ask(session, row, body.text, settings=settings, now=clock.now())
    return ReplyOut(kind=reply.kind, text=reply.text, article_key=reply.article_key, title=reply.title,
                    url=f"/help/articles/{reply.article_key}?market={row.market}&lang={row.locale}"
                    if reply.article_key else None, confidence=reply.confidence,
                    ask=bot.words(row.locale)["ask"] if reply.kind == "answer" else None)


@router.post("/bot/conversations/{conversation_id}/helped", response_model=ConversationOut,
             dependencies=[Depends(public)], summary="The answer solved it")
def helped(conversation_id: Id, token: BotToken, session: SessionDep, clock: ClockDep) -> ConversationOut:
    row = bot.helped(session, bot.conversation(session, conversation_id, token), now=clock.now())
    return ConversationOut(id=row.id, status=row.status, market=row.market, locale=row.locale)


@router.post("/bot/conversations/{conversation_id}/handoff", response_model=HandoffOut, status_code=201,
             summary="It did not help: open a case with the conversation (a signed-in customer)")
def handoff(conversation_id: Id, token: BotToken, session: SessionDep, clock: ClockDep, settings: SettingsDep,
            actor: Submitter) -> HandoffOut:
    row = bot.conversation(session, conversation_id, token)
    case = bot.hand_off(session, row, actor=actor, settings=settings, now=clock.now())
    return HandoffOut(case_id=case.id, reference=case.reference or str(case.id))


@router.get("/bot/conversations/{conversation_id}/turns", response_model=list[TurnOut],
            dependencies=[Depends(public)], summary="The conversation so far")
def history(conversation_id: Id, token: BotToken, session: SessionDep) -> list[TurnOut]:
    row = bot.conversation(session, conversation_id, token)
    return [TurnOut.model_validate(t) for t in bot.turns(session, row.id)]


class HitOut(Out):
    key: str
    locale: str
    title: str
    passage: str
    confidence: float


@router.get("/kb/search", response_model=list[HitOut], dependencies=[Depends(public)],
            summary="Search the published knowledge base (what a reader in the market can see)")
def search(session: SessionDep, q: Annotated[str, Query(min_length=1, max_length=500)],
           market: Annotated[str, Query(min_length=2, max_length=8)], locale: str = "en",
           k: Annotated[int, Query(ge=1, le=10)] = 3) -> list[HitOut]:
    found_market = directory.market_by_code(session, market.upper())
    found = index.search(session, q, locale=locale, market=found_market.code,
                         market_default=found_market.default_language, k=k)
    return [HitOut(key=f.hit.key, locale=f.hit.locale, title=f.shown.version.title, passage=f.hit.passage.text,
                   confidence=round(f.hit.confidence, 4)) for f in found]
