"""The demo's bot conversations at a small size: played through the real bot over the last 28 days,
hand-offs that precede existing cases of the same customer (and add no case), deterministic,
idempotent, and a deflection funnel that follows the honest rule."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.cases.models import Case, Party
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Conflict, Forbidden, Invalid
from trustdesk.core.settings import Settings
from trustdesk.demo.bot_history import DAYS, ensure_bot_history
from trustdesk.demo.build import build_demo
from trustdesk.demo.structure import customer_actor
from trustdesk.knowledge import bot, funnel
from trustdesk.knowledge.models import BotConversation, BotTurn

DATA = Path(__file__).resolve().parent / "data"
CASES = 400  # about 48 conversations and 6 hand-offs
WINDOW = 7


def _settings(tmp_path: Path) -> Settings:
    """The test settings with the demo's order lookup configured, so its guided flow runs (the history
    plays the order service offline: nothing is called)."""
    secret = "whsec_" + base64.b64encode(b"demo-lookup-secret-0123").decode()
    return Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="test-secret-key-" + "x" * 32,
                    bot_lookups={"orders": "https://orders.example.invalid/lookup"}, bot_lookup_secret=secret)


def _snapshot(db: Session) -> list[tuple[Any, ...]]:
    turns: dict[int, list[tuple[str, str, datetime]]] = {}
    for turn in db.scalars(select(BotTurn).order_by(BotTurn.id)):
        turns.setdefault(turn.conversation_id, []).append((turn.kind, turn.text, turn.at))
    return [(c.started_at, c.market, c.locale, c.channel, c.user_id, c.status, c.case_id, c.flow_key,
             tuple(turns.get(c.id, ()))) for c in db.scalars(select(BotConversation).order_by(BotConversation.id))]


def _expected_outcome(db: Session, conversation: BotConversation, now: datetime) -> str:
    """GLOSSARY's rule, worked out here from the cases themselves."""
    if conversation.case_id is not None:
        return "handed_off"
    if conversation.user_id is None:
        return "unknown"
    window_end = conversation.started_at + timedelta(days=WINDOW)
    came_back = db.scalar(select(func.count()).select_from(Case).join(Party, Party.id == Case.party_id)
                          .where(Party.user_id == conversation.user_id, Case.created_at >= conversation.started_at,
                                 Case.created_at < window_end))
    if came_back:
        return "contacted"
    return "resolved" if now >= window_end else "pending"


def test_the_demo_has_a_true_history_of_bot_conversations(factory: sessionmaker[Session], clock: FrozenClock,
                                                          db: Session, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    summary = build_demo(factory, clock, seed=7, case_count=CASES, data_dir=DATA, settings=settings, progress=None)
    now = summary.now
    conversations = db.scalars(select(BotConversation).order_by(BotConversation.id)).all()
    turns = db.scalars(select(BotTurn)).all()
    assert 40 <= len(conversations) <= 70

    # Over the last 28 days, in both languages and channels, signed in and anonymous, every turn in time.
    assert all(now - timedelta(days=DAYS) <= c.started_at < now for c in conversations)
    assert all(t.at <= now for t in turns)
    assert {c.locale for c in conversations} == {"en", "es"}
    assert {c.channel for c in conversations} == {"help_center", "in_app_chat"}
    anonymous = [c for c in conversations if c.user_id is None]
    assert 0 < len(anonymous) < len(conversations) / 3
    asked = {t.conversation_id for t in turns if t.kind == "question"}
    assert asked == {c.id for c in conversations}
    kinds = {t.kind for t in turns}
    assert {"question", "answer", "helped", "click", "handoff"} <= kinds
    # The guided flow ran where a customer asked where their order was: prompts answered, answers given.
    guided = [c for c in conversations if c.flow_key == "where-is-my-order"]
    assert guided and {"flow_prompt", "flow_reply"} <= kinds

    # Hand-offs point at an existing case of the same customer, opened minutes after the conversation began.
    handed = [c for c in conversations if c.status == "handed_off"]
    assert handed
    for conversation in handed:
        assert conversation.case_id is not None and conversation.party_id is not None
        case = db.get(Case, conversation.case_id)
        assert case is not None and case.party_id == conversation.party_id
        party = db.get(Party, case.party_id)
        assert party is not None and party.user_id == conversation.user_id is not None
        assert conversation.handed_off_at == case.created_at
        assert timedelta(0) < case.created_at - conversation.started_at <= timedelta(minutes=10)
        said = [t.kind for t in turns if t.conversation_id == conversation.id]
        assert said[-1] == "handoff" and "helped" not in said
        assert "no_answer" in said or "not_helped" in said  # the bot failed, or the customer said it did not help
    assert len({c.case_id for c in handed}) == len(handed)
    # ... the demo's own case, not one the bot opened.
    assert not any("from-bot" in case.tags or "bot_conversation_id" in case.custom_fields
                   for case in db.scalars(select(Case).where(Case.id.in_([c.case_id for c in handed]))))

    # Linking refuses what is not a hand-off to the customer's own later case.
    first = handed[0]
    case = db.get(Case, first.case_id)
    assert case is not None
    with pytest.raises(Conflict):
        bot.link_handoff(db, first, case, now=case.created_at)
    someone_else = next(c for c in conversations if c.user_id not in (None, first.user_id) and c.case_id is None)
    with pytest.raises(Forbidden):
        bot.link_handoff(db, someone_else, case, now=case.created_at)
    later, _token = bot.start(db, market=first.market, locale=first.locale, channel="help_center",
                              actor=customer_actor(db.get_one(Party, case.party_id)),
                              now=case.created_at + timedelta(minutes=1))
    with pytest.raises(Invalid) as refused:  # the case came before the conversation
        bot.link_handoff(db, later, case, now=case.created_at + timedelta(minutes=2))
    assert refused.value.field == "case_id"
    db.delete(later)
    db.flush()

    # Idempotent: a second run adds nothing.
    before = _snapshot(db)
    cases = db.scalar(select(func.count()).select_from(Case))
    assert ensure_bot_history(db, data_dir=DATA, now=now, seed=7, settings=settings, case_count=CASES) == ""
    assert _snapshot(db) == before
    # Deterministic, and no case added: played again from nothing, the same conversations, the same cases.
    db.execute(delete(BotTurn))
    db.execute(delete(BotConversation))
    assert ensure_bot_history(db, data_dir=DATA, now=now, seed=7, settings=settings, case_count=CASES)
    assert db.scalar(select(func.count()).select_from(Case)) == cases
    assert _snapshot(db) == before
    conversations = db.scalars(select(BotConversation).order_by(BotConversation.id)).all()

    # The funnel counts what happened, and judges each conversation by the honest rule.
    report = funnel.report(db, since=now - timedelta(days=DAYS), until=now, now=now, days=WINDOW, by="market")
    total = report.total
    turns_of: dict[int, set[str]] = {}
    for turn in db.scalars(select(BotTurn)):
        turns_of.setdefault(turn.conversation_id, set()).add(turn.kind)
    outcomes = [_expected_outcome(db, c, now) for c in conversations]
    assert total.attempts == len(conversations)
    assert total.answers == sum("answer" in turns_of[c.id] for c in conversations) > 0
    assert total.clicks == sum("click" in turns_of[c.id] for c in conversations) > 0
    assert total.helped == sum(c.helped_at is not None for c in conversations) > 0
    assert total.handed_off == outcomes.count("handed_off") == len(handed)
    assert total.unknown == outcomes.count("unknown") == len(anonymous)
    assert total.resolved == outcomes.count("resolved") > 0
    assert total.contacted == outcomes.count("contacted") > 0
    assert total.pending == outcomes.count("pending") > 0
    assert total.attempts == total.handed_off + total.unknown + total.resolved + total.contacted + total.pending
    # Only the last days' conversations are pending, and none of those is resolved yet.
    for conversation, outcome in zip(conversations, outcomes, strict=True):
        if outcome == "pending":
            assert conversation.started_at > now - timedelta(days=WINDOW)
        if outcome == "resolved":
            assert conversation.started_at <= now - timedelta(days=WINDOW)
    assert sum(row.attempts for row in report.rows) == total.attempts
