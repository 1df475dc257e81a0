"""JSON routes of self-service: the answering bot (help-center widget and in-app chat) and the
knowledge base's published articles and search."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import AwareDatetime, Field

from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.core.schemas import Out, StrictIn
from trustdesk.directory import service as directory
from trustdesk.knowledge import bot, flows, funnel, index
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
    kind: str = Field(description="answer (an article's passage, or a guided flow's answer), no_answer (offer a "
                      "person), flow_prompt (a guided flow asks something: send the answer as the next message) "
                      "flow_handoff (the flow passes the customer to a person: offer the hand-off) or "
                      "flow_sign_in (the flow looks up the customer's own things: ask them to sign in, then to "
                      "ask again)")
    text: str
    article_key: str | None
    title: str | None
    url: str | None
    confidence: float | None
    ask: str | None = Field(description="The follow-up question to show, e.g. 'Did this solve it?'")
    flow: str | None = Field(default=None, description="The guided flow that said it (e.g. where-is-my-order)")


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
        settings: SettingsDep, actor: MaybeActor) -> ReplyOut:
    row = bot.conversation(session, conversation_id, token)
    reply = bot.ask(session, row, body.text, settings=settings, now=clock.now(),
                    guide=flows.guide(settings, now=clock.now()), actor=actor)
    return ReplyOut(kind=reply.kind, text=reply.text, article_key=reply.article_key, title=reply.title,
                    url=f"/help/articles/{reply.article_key}?market={row.market}&lang={row.locale}"
                    if reply.article_key else None, confidence=reply.confidence,
                    ask=bot.words(row.locale)["ask"] if reply.kind == "answer" else None, flow=reply.flow)


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


class FunnelRowOut(Out):
    key: str | None = Field(description="The topic, market or language (null: no article was offered, so no topic)")
    attempts: int = Field(description="Conversations in which the customer asked something")
    answers: int = Field(description="The bot answered confidently at least once")
    clicks: int = Field(description="An offered article was opened (help-center assistant links)")
    helped: int = Field(description='The customer said "yes, that solved it"')
    handed_off: int
    resolved: int = Field(description="Deflected: the same person opened no case on any channel within the window")
    contacted: int = Field(description="Not handed off, but the same person opened a case within the window")
    pending: int = Field(description="The window is not over yet")
    unknown: int = Field(description="Nobody was signed in: cannot be followed, never counted as resolved")
    answer_rate: float | None
    click_rate: float | None
    helped_rate: float | None
    handoff_rate: float | None
    deflection_rate: float | None = Field(description="resolved / attempts")


class DeflectionOut(Out):
    since: datetime
    until: datetime
    as_of: datetime
    window_days: int
    by: str
    rows: list[FunnelRowOut]
    total: FunnelRowOut


@router.get("/kb/deflection", response_model=DeflectionOut,
            summary="The deflection funnel of bot conversations started in a period, per topic, market or language")
def deflection_funnel(session: SessionDep, clock: ClockDep, settings: SettingsDep,
                      actor: Annotated[Actor, Depends(Requires(Perm.KB_EDIT, in_house=True))],
                      since: AwareDatetime | None = None, until: AwareDatetime | None = None,
                      by: Literal["topic", "market", "language"] = "topic") -> DeflectionOut:
    end = until or clock.now()
    figures = funnel.report(session, since=since or end - timedelta(days=28), until=end, now=clock.now(),
                            days=settings.kb_deflection_days, by=by)
    return DeflectionOut.model_validate(figures.as_dict())
