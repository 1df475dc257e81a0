"""The answering bot: a question gets the best article's answering passage and its link when the
search is confident enough, then "did this solve it?". "No", or no confident article, hands the
conversation to a person: it becomes the case's first messages (what the customer asked, then what
the bot tried), so routing reads it and the agent sees what was already suggested.

A guided flow (``flows``) starts when a question's confident article, or one of its phrases, is one of
its triggers: the customer's next messages answer its prompts until it answers (then "did this solve
it?" as for an article) or hands off; the case a hand-off opens carries what the flow collected.
A flow that looks something up runs for a signed-in customer only (the lookup names them, so the
service answers about their own orders only); an anonymous conversation gets the article, if one
answers, and is told to sign in. A conversation started before signing in becomes the customer's
when they next write signed in.

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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Channel, Party
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.identity import Actor, User, actor_for
from trustdesk.core.settings import Settings
from trustdesk.directory import service as directory
from trustdesk.knowledge import flows, index
from trustdesk.knowledge.models import BotConversation, BotTurn

MAX_QUESTION = 2000


class State(StrEnum):
    OPEN = "open"  # waiting for a question (or nothing confident was found)
    GUIDED = "guided"  # a guided flow asked the customer something and waits for the answer
    ANSWERED = "answered"  # an article was offered; waiting for "did this solve it?"
    HELPED = "helped"  # the customer said it did
    HANDED_OFF = "handed_off"  # a case was opened with the conversation


CHANNELS = {"help_center": Channel.WEB_FORM, "in_app_chat": Channel.IN_APP_CHAT}

WORDS = {
    "en": {"no_answer": "I couldn't find an article that answers that. Would you like me to pass you to a person?",
           "ask": "Did this solve it?", "glad": "Glad that helped!",
           "handoff": "I've passed our conversation to the team; they will reply in your case {reference}.",
           "tried": "Before you were connected, the assistant suggested:", "said_no": "You said it didn't solve it.",
           "no_article": "The assistant found no article that answers it.",
           "solved_before": "Solved earlier in this conversation: {questions}",
           "yes": "Yes, thanks", "no": "No, talk to a person", "person": "Talk to a person", "read": "Read",
           "your_answer": "Your answer", "send": "Send", "flow_context": "What the assistant collected in “{title}”:",
           "lookup": "Lookup {name}: {result}", "lookup_found": "found", "lookup_not_found": "not found",
           "lookup_error": "we could not look that up ({detail})", "outcome": "Outcome: {outcome}",
           "sign_in": "Sign in"},
    "es": {"no_answer": "No he encontrado un artículo que responda a eso. ¿Quieres que te pase con una persona?",
           "ask": "¿Te ha resuelto la duda?", "glad": "¡Me alegro de haberte ayudado!",
           "handoff": "He pasado nuestra conversación al equipo; te responderán en tu caso {reference}.",
           "tried": "Antes de pasarte con el equipo, el asistente te sugirió:",
           "said_no": "Nos dijiste que no te lo resolvió.",
           "no_article": "El asistente no encontró ningún artículo que lo responda.",
           "solved_before": "Resuelto antes en esta conversación: {questions}",
           "yes": "Sí, gracias", "no": "No, quiero hablar con una persona", "person": "Hablar con una persona",
           "read": "Leer", "your_answer": "Tu respuesta", "send": "Enviar",
           "flow_context": "Lo que el asistente recogió en «{title}»:",
           "lookup": "Consulta {name}: {result}", "lookup_found": "encontrado", "lookup_not_found": "no encontrado",
           "lookup_error": "no hemos podido consultarlo ({detail})", "outcome": "Resultado: {outcome}",
           "sign_in": "Iniciar sesión"},
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
    # answer | no_answer | flow_prompt (a flow asks; reply with a message) | flow_handoff (offer a person) |
    # flow_sign_in (a flow that looks things up needs the customer signed in: offer signing in)
    kind: str
    text: str
    article_key: str | None = None
    title: str | None = None
    confidence: float | None = None
    flow: str | None = None  # the guided flow that said it


def ask(session: Session, row: BotConversation, question: str, *, settings: Settings, now: datetime,
        guide: flows.Guide | None = None, actor: Actor | None = None) -> Reply:
    """Answer from the best article when confident (or run the guided flow it starts); otherwise offer a
    person. While a flow waits for an answer, the message is that answer. Without ``guide``, no flows.
    ``actor``: who is signed in while writing (None: nobody, or not known to the caller)."""
    if guide is not None:
        # One message at a time per conversation (PostgreSQL; SQLite's write lock already serialises),
        # so concurrent messages cannot run more lookups than the conversation is allowed.
        session.flush()
        session.refresh(row, with_for_update=True)
    if row.status == State.HANDED_OFF.value:
        raise Conflict("this conversation was passed to a person; reply in the case", field="status")
    question = " ".join(question.split())
    if not question:
        raise Invalid("ask a question", field="text")
    if len(question) > MAX_QUESTION:
        raise Invalid(f"a question of at most {MAX_QUESTION} characters", field="text")
    if row.user_id is None and actor is not None:
        row.user_id = actor.user_id  # started before signing in: the conversation is theirs now
    if row.flow_step is not None:
        flow = guide.flows.get(row.flow_key) if guide is not None else None
        if guide is not None and flow is not None and row.flow_state:
            _say(session, row, "customer", "flow_reply", question, now)
            progress = flows.Progress.from_json(row.flow_state)
            said = flows.reply(flow, progress, question, lookup=guide.lookup, conversation_id=row.id,
                               customer=_customer(session, row, actor, now))
            return _flow_said(session, row, flow, progress, said, now)
        row.flow_step = None  # the flow is no longer offered: the message is a new question
    _say(session, row, "customer", "question", question, now)
    market = directory.market_by_code(session, row.market)
    found = index.search(session, question, locale=row.locale, market=row.market,
                         market_default=market.default_language, k=1)
    best = found[0] if found else None
    confident = best is not None and best.hit.confidence >= settings.kb_answer_threshold
    sign_in = ""  # what to add to the article's answer: how to have it looked up
    if guide is not None:
        # A flow starts from the confident article it replaces, else from one of its phrases.
        by_article = guide.flows.for_article(best.hit.key, best.shown.article.intent) \
            if best is not None and confident else None
        started = by_article or guide.flows.by_phrase(question, row.locale)
        if started is not None:
            customer = _customer(session, row, actor, now)
            if started.requires_sign_in and customer is None:
                # Nobody is signed in: no lookup (it would tell anyone about anyone's order).
                sign_in = flows.builtin_text("sign_in_required", row.locale)
                if best is None or not confident:
                    return _ask_to_sign_in(session, row, started, sign_in, now)
            elif by_article is not None and best is not None:
                row.article_key, row.topic = best.hit.key, best.shown.article.topic
                return _begin_flow(session, row, started, guide, customer, now)
            else:
                row.article_key = None
                return _begin_flow(session, row, started, guide, customer, now)
    if best is None or not confident:
        row.status = State.OPEN.value
        text = words(row.locale)["no_answer"]
        _say(session, row, "bot", "no_answer", text, now, article_key=best.hit.key if best else None,
             confidence=best.hit.confidence if best else None)
        return Reply(kind="no_answer", text=text, confidence=best.hit.confidence if best else None)
    row.status, row.article_key, row.topic = State.ANSWERED.value, best.hit.key, best.shown.article.topic
    text = f"{best.hit.passage.text}\n\n{sign_in}" if sign_in else best.hit.passage.text
    _say(session, row, "bot", "answer", text, now, article_key=best.hit.key, confidence=best.hit.confidence)
    return Reply(kind="answer", text=text, article_key=best.hit.key, title=best.shown.version.title,
                 confidence=best.hit.confidence)


def _begin_flow(session: Session, row: BotConversation, flow: flows.Flow, guide: flows.Guide,
                customer: flows.Customer | None, now: datetime) -> Reply:
    # The conversation's lookups so far (its earlier flows') count towards its limit.
    calls = flows.Progress.from_json(row.flow_state).calls if row.flow_state else 0
    progress, said = flows.begin(flow, locale=row.locale, market=row.market, lookup=guide.lookup,
                                 conversation_id=row.id, customer=customer, calls=calls)
    return _flow_said(session, row, flow, progress, said, now)


def _ask_to_sign_in(session: Session, row: BotConversation, flow: flows.Flow, text: str, now: datetime) -> Reply:
    """A flow that looks things up was asked for without anyone signed in: say to sign in; the flow
    does not start (its lookup would answer anyone about anyone's order)."""
    row.status = State.OPEN.value
    _say(session, row, "bot", "flow_sign_in", text, now)
    return Reply(kind="flow_sign_in", text=text, flow=flow.key)


def _customer(session: Session, row: BotConversation, actor: Actor | None, now: datetime) -> flows.Customer | None:
    """Who asks, for a lookup: the conversation's signed-in customer and their party in its market
    (created on first contact, as a hand-off would). None when nobody is signed in, or when someone
    else is signed in now: a lookup never runs as another person."""
    if row.user_id is None or (actor is not None and actor.user_id != row.user_id):
        return None
    if actor is None:
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        actor = actor_for(user)
    party = None
    if actor.role in cases.ROLE_PARTY_KIND:
        party = cases.party_for_customer(session, actor, directory.market_by_code(session, row.market), now=now)
    return flows.Customer(user_id=row.user_id, party_external_id=party.external_id if party else None,
                          party_kind=party.kind if party else None)


def _flow_said(session: Session, row: BotConversation, flow: flows.Flow, progress: flows.Progress,
               said: flows.Said, now: datetime) -> Reply:
    """Keep the flow's progress on the conversation and say what the flow said."""
    row.flow_key, row.flow_step, row.flow_state = flow.key, progress.step, progress.as_json()
    if said.kind == "prompt":
        row.status = State.GUIDED.value
        _say(session, row, "bot", "flow_prompt", said.text, now)
        return Reply(kind="flow_prompt", text=said.text, flow=flow.key)
    if said.kind == "answer":
        # An answer like an article's: "did this solve it?" follows, and the funnel counts it.
        row.status = State.ANSWERED.value
        _say(session, row, "bot", "answer", said.text, now, article_key=row.article_key)
        return Reply(kind="answer", text=said.text, article_key=row.article_key, title=flow.title_in(row.locale),
                     flow=flow.key)
    row.status = State.OPEN.value
    _say(session, row, "bot", "flow_handoff", said.text, now)
    return Reply(kind="flow_handoff", text=said.text, flow=flow.key)


def helped(session: Session, row: BotConversation, *, now: datetime) -> BotConversation:
    if row.status != State.ANSWERED.value:
        raise Conflict("nothing was answered to say it helped", field="status")
    row.status, row.helped_at = State.HELPED.value, now
    _say(session, row, "customer", "helped", "yes", now, article_key=row.article_key)
    return row


def record_click(session: Session, row: BotConversation, article_key: str, *, now: datetime) -> bool:
    """The customer opened an article the bot offered in this conversation (the funnel's "clicks").
    Once per article; an article the bot did not offer is not recorded. True when recorded."""
    offered = session.scalar(select(BotTurn.id).where(BotTurn.conversation_id == row.id, BotTurn.kind == "answer",
                                                      BotTurn.article_key == article_key).limit(1))
    opened = session.scalar(select(BotTurn.id).where(BotTurn.conversation_id == row.id, BotTurn.kind == "click",
                                                     BotTurn.article_key == article_key).limit(1))
    if offered is None or opened is not None:
        return False
    _say(session, row, "customer", "click", "opened the article", now, article_key=article_key)
    return True


def hand_off(session: Session, row: BotConversation, *, actor: Actor, settings: Settings, now: datetime) -> Case:
    """Open a case with the conversation: the customer's open questions (those after the last one
    they said was solved) first, then what the bot tried for them and what was settled before."""
    if row.status == State.HANDED_OFF.value:
        raise Conflict("this conversation was passed to a person already", field="status")
    if row.user_id is not None and row.user_id != actor.user_id:
        raise Forbidden("this conversation is someone else's")
    history = list(turns(session, row.id))
    if not any(t.kind == "question" for t in history):
        raise Invalid("ask the bot something first", field="text")
    said_no = row.status == State.ANSWERED.value
    if said_no:
        _say(session, row, "customer", "not_helped", "no", now, article_key=row.article_key)
    settled = max((i for i, t in enumerate(history) if t.kind == "helped"), default=-1) + 1
    open_part = history[settled:] if any(t.kind == "question" for t in history[settled:]) else history
    questions = [t.text for t in open_part if t.kind == "question"]
    solved_before = [t.text for t in history[:settled] if t.kind == "question"] if open_part is not history else []
    progress = flows.Progress.from_json(row.flow_state) if row.flow_state else None
    if progress is not None and progress.step is not None:  # a person was asked for before the flow ended
        progress.step, progress.outcome = None, "asked_for_person"
        row.flow_step, row.flow_state = None, progress.as_json()
    market = directory.market_by_code(session, row.market)
    party = cases.party_for_customer(session, actor, market, now=now)
    subject = questions[-1][:120]
    opened = cases.open_case(session, cases.NewCase(
        channel=CHANNELS[row.channel], market=market, party=party, subject=subject, body="\n\n".join(questions),
        language=row.locale.split("-")[0], tags=["from-bot"],
        custom_fields={"bot_conversation_id": row.id} | (_flow_fields(progress) if progress else {})),
        actor=actor, settings=settings, now=now)
    said = words(row.locale)
    tried = [t for t in open_part if t.kind == "answer"]
    lines: list[str] = []
    if tried:
        lines = [said["tried"]]
        lines += [f"- {t.text}" + (f" (/help/articles/{t.article_key})" if t.article_key else "") for t in tried]
        if said_no:
            lines.append(said["said_no"])
    elif any(t.kind == "no_answer" for t in open_part):
        lines = [said["no_article"]]
    if solved_before:
        lines.append(said["solved_before"].format(questions=" · ".join(f"“{q}”" for q in solved_before)))
    if progress is not None:
        lines += ([""] if lines else []) + _flow_context(progress, row.locale)
    if lines:
        cases.add_bot_message(session, opened.case, body="\n".join(lines), now=now)
    row.status, row.case_id, row.handed_off_at, row.party_id = State.HANDED_OFF.value, opened.case.id, now, party.id
    _say(session, row, "bot", "handoff", words(row.locale)["handoff"].format(reference=opened.case.reference), now)
    return opened.case


def link_handoff(session: Session, row: BotConversation, case: Case, *, now: datetime) -> BotConversation:
    """End the conversation as handed off to ``case``, a case the same customer opened themselves (the
    contact form, another tab) rather than through :func:`hand_off`: the conversation then counts as
    handed off to it, with the same turns, without opening a second case. The demo's history uses it to
    give existing cases the conversation that preceded them."""
    if row.status == State.HANDED_OFF.value:
        raise Conflict("this conversation was passed to a person already", field="status")
    party = session.get(Party, case.party_id)
    if party is None or row.user_id is None or party.user_id != row.user_id:
        raise Forbidden("only a case of the conversation's own signed-in customer takes it over")
    if case.created_at < row.started_at:
        raise Invalid("a case opened before the conversation did not follow it", field="case_id")
    if session.scalar(select(BotTurn.id).where(BotTurn.conversation_id == row.id, BotTurn.kind == "question")
                      .limit(1)) is None:
        raise Invalid("ask the bot something first", field="text")
    if row.status == State.ANSWERED.value:
        _say(session, row, "customer", "not_helped", "no", now, article_key=row.article_key)
    progress = flows.Progress.from_json(row.flow_state) if row.flow_state else None
    if progress is not None and progress.step is not None:  # a person was asked for before the flow ended
        progress.step, progress.outcome = None, "asked_for_person"
        row.flow_step, row.flow_state = None, progress.as_json()
    row.status, row.case_id, row.handed_off_at, row.party_id = State.HANDED_OFF.value, case.id, now, party.id
    _say(session, row, "bot", "handoff", words(row.locale)["handoff"].format(reference=case.reference or f"#{case.id}"),
         now)
    return row


def _flow_fields(progress: flows.Progress) -> dict[str, Any]:
    """The flow's outcome, slots and scalar results as the case's custom fields (routing rules can read
    them: ``custom_fields.bot_flow_outcome``)."""
    fields: dict[str, Any] = {"bot_flow": progress.flow, "bot_flow_outcome": progress.outcome or "unfinished"}
    if progress.lookups:
        fields["bot_flow_lookup"] = progress.lookups[-1]["outcome"]
    values = {**progress.variables, **progress.slots}
    for name, value in values.items():
        if isinstance(value, bool | int | float) or value is None:
            fields[f"flow_{name}"] = value
        elif isinstance(value, str):
            fields[f"flow_{name}"] = value[:200]
    return fields


def _flow_context(progress: flows.Progress, locale: str) -> list[str]:
    """What the flow collected and found, for the agent (in the conversation's language)."""
    said = words(locale)
    lines = [said["flow_context"].format(title=progress.title or progress.flow)]
    lines += [f"- {name}: {value}" for name, value in progress.slots.items()]
    lines += [f"- {name}: {value}" for name, value in progress.variables.items() if value not in (None, "", [])]
    for call in progress.lookups:
        result = {"found": said["lookup_found"], "not_found": said["lookup_not_found"]}.get(
            call["outcome"]) or said["lookup_error"].format(detail=call.get("detail") or "error")
        lines.append("- " + said["lookup"].format(name=call["lookup"], result=result))
    lines.append("- " + said["outcome"].format(outcome=progress.outcome or "unfinished"))
    return lines
