"""The answering bot: a question gets the best article's answering passage and its link when the
search is confident enough, then "did this solve it?". "No", or no confident article, hands the
conversation to a person: it becomes the case's first messages (what the customer asked, then what
the bot tried), so routing reads it and the agent sees what was already suggested.

A conversation counts as resolved by self-service only when the same party opens no case on any
channel within ``kb_deflection_days`` (GLOSSARY: deflection) — see ``deflection``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Channel
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.settings import Settings
from trustdesk.directory import service as directory
from trustdesk.knowledge import index
from trustdesk.knowledge.models import BotConversation, BotTurn

MAX_QUESTION = 2000


class State(StrEnum):
    OPEN = "open"  # waiting for a question (or nothing confident was found)
    ANSWERED = "answered"  # an article was offered; waiting for "did this solve it?"
    HELPED = "helped"  # the customer said it did
    HANDED_OFF = "handed_off"  # a case was opened with the conversation


CHANNELS = {"help_center": Channel.WEB_FORM, "in_app_chat": Channel.IN_APP_CHAT}

WORDS = {
    "en": {"no_answer": "I couldn't find an article that answers that. Would you like me to pass you to a person?",
           "ask": "Did this solve it?", "glad": "Glad that helped!",
           "handoff": "I've passed our conversation to the team; they will reply in your case {reference}.",
           "tried": "Before you were connected, the assistant suggested:", "said_no": "You said it didn't solve it.",
           "yes": "Yes, thanks", "no": "No, talk to a person", "person": "Talk to a person", "read": "Read"},
    "es": {"no_answer": "No he encontrado un artículo que responda a eso. ¿Quieres que te pase con una persona?",
           "ask": "¿Te ha resuelto la duda?", "glad": "¡Me alegro de haberte ayudado!",
           "handoff": "He pasado nuestra conversación al equipo; te responderán en tu caso {reference}.",
           "tried": "Antes de pasarte con el equipo, el asistente te sugirió:",
           "said_no": "Nos dijiste que no te lo resolvió.",
           "yes": "Sí, gracias", "no": "No, quiero hablar con una persona", "person": "Hablar con una persona",
           "read": "Leer"},
}


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale.split("-")[0], WORDS["en"])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, *, market: str, locale: str, channel: str, actor: Actor | None,
          now: datetime) -> tuple[BotConversation, str]:
    """A new conversation and the secret its client keeps (shown once)."""
    if channel not in CHANNELS:
        raise Invalid(f"channel is one of {', '.join(CHANNELS)}", field="channel")
    found = directory.market_by_code(session, market)
    token = "bot_" + secrets.token_urlsafe(24)
    row = BotConversation(token_hash=_hash(token), channel=channel, market=found.code, locale=locale,
                          user_id=actor.user_id if actor else None, party_id=None, status=State.OPEN.value,
                          article_key=None, topic=None, case_id=None, started_at=now, updated_at=now,
                          helped_at=None, handed_off_at=None)
    session.add(row)
    session.flush()
    return row, token


def conversation(session: Session, conversation_id: int, token: str) -> BotConversation:
    row = session.get(BotConversation, conversation_id)
    if row is None or not secrets.compare_digest(row.token_hash, _hash(token)):
        raise NotFound(f"conversation {conversation_id} does not exist", field="conversation_id")
    return row


def turns(session: Session, conversation_id: int) -> Sequence[BotTurn]:
    return session.scalars(select(BotTurn).where(BotTurn.conversation_id == conversation_id)
                           .order_by(BotTurn.id)).all()


def _say(session: Session, row: BotConversation, role: str, kind: str, text: str, now: datetime,
         article_key: str | None = None, confidence: float | None = None) -> BotTurn:
    turn = BotTurn(conversation_id=row.id, role=role, kind=kind, text=text, article_key=article_key,
                   confidence=confidence, at=now)
    session.add(turn)
    row.updated_at = now
    return turn


@dataclass(frozen=True)
class Reply:
    kind: str  # answer | no_answer
    text: str
    article_key: str | None = None
    title: str | None = None
    confidence: float | None = None


def ask(session: Session, row: BotConversation, question: str, *, settings: Settings, now: datetime) -> Reply:
    """Answer from the best article when confident; otherwise offer a person."""
    if row.status == State.HANDED_OFF.value:
        raise Conflict("this conversation was passed to a person; reply in the case", field="status")
    question = " ".join(question.split())
    if not question:
        raise Invalid("ask a question", field="text")
    if len(question) > MAX_QUESTION:
        raise Invalid(f"a question of at most {MAX_QUESTION} characters", field="text")
    _say(session, row, "customer", "question", question, now)
    market = directory.market_by_code(session, row.market)
    found = index.search(session, question, locale=row.locale, market=row.market,
                         market_default=market.default_language, k=1)
    best = found[0] if found else None
    if best is None or best.hit.confidence < settings.kb_answer_threshold:
        row.status = State.OPEN.value
        text = words(row.locale)["no_answer"]
        _say(session, row, "bot", "no_answer", text, now, article_key=best.hit.key if best else None,
             confidence=best.hit.confidence if best else None)
        return Reply(kind="no_answer", text=text, confidence=best.hit.confidence if best else None)
    row.status, row.article_key, row.topic = State.ANSWERED.value, best.hit.key, best.shown.article.topic
    text = best.hit.passage.text
    _say(session, row, "bot", "answer", text, now, article_key=best.hit.key, confidence=best.hit.confidence)
    return Reply(kind="answer", text=text, article_key=best.hit.key, title=best.shown.version.title,
                 confidence=best.hit.confidence)


def helped(session: Session, row: BotConversation, *, now: datetime) -> BotConversation:
    if row.status != State.ANSWERED.value:
        raise Conflict("nothing was answered to say it helped", field="status")
    row.status, row.helped_at = State.HELPED.value, now
    _say(session, row, "customer", "helped", "yes", now, article_key=row.article_key)
    return row


def hand_off(session: Session, row: BotConversation, *, actor: Actor, settings: Settings, now: datetime) -> Case:
    """Open a case with the conversation: the customer's questions first, then what the bot tried."""
    if row.status == State.HANDED_OFF.value:
        raise Conflict("this conversation was passed to a person already", field="status")
    if row.user_id is not None and row.user_id != actor.user_id:
        raise Forbidden("this conversation is someone else's")
    history = list(turns(session, row.id))
    questions = [t.text for t in history if t.kind == "question"]
    if not questions:
        raise Invalid("ask the bot something first", field="text")
    if row.status == State.ANSWERED.value:
        _say(session, row, "customer", "not_helped", "no", now, article_key=row.article_key)
    market = directory.market_by_code(session, row.market)
    party = cases.party_for_customer(session, actor, market, now=now)
    subject = questions[-1][:120]
    opened = cases.open_case(session, cases.NewCase(
        channel=CHANNELS[row.channel], market=market, party=party, subject=subject, body="\n\n".join(questions),
        language=row.locale.split("-")[0], tags=["from-bot"],
        custom_fields={"bot_conversation_id": row.id}), actor=actor, settings=settings, now=now)
    tried = [t for t in history if t.kind == "answer"]
    lines = [words(row.locale)["tried"]]
    lines += [f"- {t.text}" + (f" (/help/articles/{t.article_key})" if t.article_key else "") for t in tried]
    if tried:
        lines.append(words(row.locale)["said_no"])
        cases.add_bot_message(session, opened.case, body="\n".join(lines), now=now)
    row.status, row.case_id, row.handed_off_at, row.party_id = State.HANDED_OFF.value, opened.case.id, now, party.id
    _say(session, row, "bot", "handoff", words(row.locale)["handoff"].format(reference=opened.case.reference), now)
    return opened.case
