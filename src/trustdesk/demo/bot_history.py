"""The demo's history of conversations with the answering bot, so the deflection funnel and its pages
show true figures: about 2,500 conversations over the last 28 days (300 of them hand-offs), each played
through the real bot (``knowledge.bot``: start, ask, record_click, helped) at its own time.

- **When and where**: by market share and each market's local hour and weekday (``timeline``'s
  profiles), in the help center or the in-app chat, in the languages the knowledge base is written
  in (English and Spanish): a market is weighted by its share of customers who write in them, so
  Indonesia, whose customers mostly write Indonesian, has few conversations.
- **Who**: demo buyers, signed in (their parties have users), and about 15% anonymous visitors, whom
  the funnel honestly counts as "unknown".
- **What they ask**: English questions are Bitext utterances of ``evaluation.bitext_plan``'s
  ``study`` part (never held out, never an example question or a calibration question: the search
  has not seen them; ``PHRASINGS`` per intent); Spanish ones are the demo's hand-written questions
  (``texts``); both by the intents' weights. About 10% ask what no article covers (``UNCOVERED``),
  so gaps show.
- **What they do**: after an answer, some open the article (a click). An answer from the article
  that answers their question helps with a probability that grows with the bot's confidence
  (``HELPED_AT_THRESHOLD`` .. ``HELPED_WHEN_SURE``); one from another article seldom does
  (``HELPED_ANYWAY``). The others leave silently, a few after asking once more. When a guided flow
  asks for an order number (flows run as the live bot runs them: when configured), most type one and
  some leave; the order service is played offline (:func:`_order_service`), never called.
- **Hand-offs** add no case to the demo (the build counts its cases to resume an interrupted run):
  a sample (about 300) of the existing in-app chat and web-form buyer cases of the last 28 days gets
  the conversation that preceded it, started a few minutes earlier by the same customer with the
  case's first message, in which the bot found nothing confident or the customer said it did not
  help; ``bot.link_handoff`` then hands it to that case.

The honest deflection rule does the rest: a signed-in customer who opens a case within the window
after a conversation "contacted" us, and the last days' conversations are "pending".

Deterministic from the seed (the same questions, people, times and choices; the bot's answers follow
from the knowledge base) and idempotent: nothing is done when the demo has bot conversations.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import AuthorType, Case, Channel, Message, Party, PartyKind
from trustdesk.core.identity import Actor
from trustdesk.core.settings import Settings, get_settings
from trustdesk.demo import kb, texts
from trustdesk.demo.bitext import load_utterances
from trustdesk.demo.catalog import MARKETS
from trustdesk.demo.structure import PARTY_PREFIX, customer_actor
from trustdesk.demo.timeline import HOUR_PROFILE, WEEKDAY_PROFILE
from trustdesk.directory.models import Market
from trustdesk.knowledge import bot, flows, index
from trustdesk.knowledge.models import BotConversation

DAYS = 28
DEMO_CASES = 21_000  # the full demo's size, at which CONVERSATIONS and HANDOFFS apply
CONVERSATIONS = 2_200  # self-service conversations; with the hand-offs, about 2,500
HANDOFFS = 300
LANGUAGES = ("en", "es")  # the knowledge base's languages, and the ones there are questions for
PHRASINGS = 40  # English questions per intent: customers ask alike, and each new phrasing costs an embedding
ANONYMOUS = 0.15
UNCOVERED_SHARE = 0.10
IN_APP_SHARE = 0.55  # of conversations in the in-app chat; the rest in the help center
CLICK = 0.3  # opens the article offered
HELPED_AT_THRESHOLD, HELPED_WHEN_SURE, SURE = 0.4, 0.75, 0.85  # says it helped, by the bot's confidence
HELPED_ANYWAY = 0.05  # says an answer about something else helped (it was close enough, or they were polite)
ASKS_AGAIN = 0.2  # not helped: asks once more in other words instead of leaving
TYPES_ORDER = 0.7  # answers a flow's prompt with an order number (else leaves)
TYPES_BADLY = 0.15  # ... first in a form the flow cannot read
TRIES_AGAIN = 0.5  # after "I couldn't find that order", types it again
HANDOFF_CHANNELS = (Channel.IN_APP_CHAT.value, Channel.WEB_FORM.value)
BOT_CHANNEL_OF = {Channel.IN_APP_CHAT.value: "in_app_chat", Channel.WEB_FORM.value: "help_center"}

# What customers ask that no article answers: counterfeits, unresponsive sellers, bans, ...
UNCOVERED: dict[str, tuple[str, ...]] = {
    "en": (
        "The sneakers I got are fake, the logo is wrong and there's no serial number. What do I do?",
        "I think the seller sent me a counterfeit handbag, how do I report it?",
        "how do i report a listing that sells knock-offs",
        "The seller hasn't answered my messages for a week, what can I do?",
        "seller not responding to me at all, order says processing since 10 days",
        "The shop I bought from seems to have disappeared, the page is gone",
        "My account was banned and I don't know why. How do I appeal the ban?",
        "I got suspended for 'suspicious activity' but I didn't do anything, please reinstate my account",
        "Why was my review removed? It was honest",
        "Someone is using my photos in their listings, how do I get them taken down?",
        "I was scammed, the seller asked me to pay outside the app and now blocks me",
        "A seller sent me a message asking for my bank details, is that allowed?",
        "The item I received is dangerous, the charger melted. Who do I tell?",
        "can I buy something and have it shipped to another country",
        "Do you price match if I find it cheaper somewhere else?",
        "My coupon code says it's expired but the email said it's valid until Sunday",
        "How do I become a seller on Bramble?",
        "the app keeps crashing when i open my orders",
        "I want to complain about the delivery driver, he was rude",
        "Someone else's order was delivered to my address, what should I do with it?",
        "How long do you keep my personal data and can I download it?",
    ),
    "es": (
        "Las zapatillas que he recibido son falsas, ¿cómo lo denuncio?",
        "El vendedor no contesta a mis mensajes desde hace una semana.",
        "Me han bloqueado la cuenta sin motivo, ¿cómo recurro?",
        "Un vendedor me pide que le pague por Bizum fuera de la app, ¿es normal?",
        "¿Por qué han borrado mi reseña?",
        "El repartidor fue muy maleducado y quiero poner una queja.",
        "Alguien usa mis fotos en sus anuncios, ¿cómo hago que las quiten?",
    ),
}
# What the offline order service says about an order, by share of order numbers.
ORDER_STATES = (("in_transit", 0.42), ("delivered", 0.18), ("processing", 0.15), ("out_for_delivery", 0.07),
                ("cancelled", 0.04), ("not_found", 0.14))
CARRIERS = ("Parcelway", "SwiftPost", "Correos Express", "JNE")


@dataclass(frozen=True)
class Planned:
    """A conversation to play: who asks what, when, where; ``again``: what they ask next if the first
    answer does not help (None: they leave). The customer knows whether an answer answers them: an
    answer from another article than ``article_key`` rarely helps."""

    at: datetime
    market: str
    language: str
    customer: Customer | None
    channel: str
    question: str
    again: str | None
    article_key: str | None  # the article that answers the question; None: no article does


@dataclass(frozen=True)
class Customer:
    party_id: int
    actor: Actor
    market: str
    language: str


@dataclass
class Tally:
    conversations: int = 0
    answered: int = 0
    clicked: int = 0
    helped: int = 0
    guided: int = 0
    handed_off: int = 0

    def describe(self) -> str:
        return (f"{self.conversations:,} conversations over {DAYS} days ({self.handed_off:,} handed off to "
                f"existing cases): {self.answered:,} answered, {self.clicked:,} clicked, {self.helped:,} helped"
                + (f", {self.guided:,} in a guided flow" if self.guided else ""))


def ensure_bot_history(session: Session, *, data_dir: Path, now: datetime, seed: int,
                       settings: Settings | None = None, case_count: int = DEMO_CASES) -> str:
    """Play the demo's bot conversations (sized for ``case_count`` demo cases), once. Returns what was
    done, for the log; "" when the demo already has bot conversations."""
    if session.scalar(select(BotConversation.id).limit(1)) is not None:
        return ""
    settings = settings or get_settings()
    rng = random.Random(f"{seed}/bot-history")
    scale = case_count / DEMO_CASES
    questions = _questions(data_dir)
    customers = _customers(session)
    planned = []
    for at, market in _times(rng, max(1, round(CONVERSATIONS * scale)), now):
        pool = customers.get(market, [])
        customer = rng.choice(pool) if pool and rng.random() >= ANONYMOUS else None
        language = customer.language if customer else _language(rng, market)
        intent, question = questions.pick(rng, language)
        again = rng.choice(intent.questions) if rng.random() < ASKS_AGAIN else None
        planned.append(Planned(at, market, language, customer, "in_app_chat" if rng.random() < IN_APP_SHARE
                               else "help_center", question, again, intent.article_key))
    preceding = _handoff_cases(session, rng, max(1, round(HANDOFFS * scale)), now)
    # The questions are searched one by one as the customers ask them; the English ones' sentence
    # embeddings (the search embeds English only) are computed ahead in batches, as calibration does.
    english = [*(p.question for p in planned if p.language == "en"),
               *(p.again for p in planned if p.again and p.language == "en"),
               *(text for case, _party, text in preceding if case.language == "en")]
    index.current(session).warm(sorted({" ".join(text.split()) for text in english}))
    guide = flows.Guide(flows=flows.catalogue(settings), lookup=_order_service)
    player = _Player(session, random.Random(f"{seed}/bot-history/choices"), settings, guide)
    for plan in planned:
        player.play(plan)
    for case, party, text in preceding:
        player.precede(case, party, text)
    session.flush()
    return player.tally.describe()


# ---------------------------------------------------------------- who, when, what


def _customers(session: Session) -> dict[str, list[Customer]]:
    """The demo's signed-in buyers who write in a language of the knowledge base, by market."""
    rows = session.execute(select(Party, Market.code).join(Market, Market.id == Party.market_id)
                           .where(Party.external_id.like(f"{PARTY_PREFIX}%"), Party.kind == PartyKind.BUYER.value,
                                  Party.user_id.is_not(None), Party.locale.in_(LANGUAGES)))
    out: dict[str, list[Customer]] = {}
    # Sorted here, not by the database, whose collation may order the keys differently.
    for party, market in sorted(rows, key=lambda row: row[0].external_id):
        out.setdefault(market, []).append(Customer(party.id, customer_actor(party), market, party.locale or "en"))
    return out


def _language(rng: random.Random, market: str) -> str:
    spec = next(m for m in MARKETS if m.code == market)
    spoken = [(language, share) for language, share in spec.customer_languages if language in LANGUAGES]
    chosen: str = rng.choices([lang for lang, _ in spoken], [share for _, share in spoken])[0]
    return chosen


def _times(rng: random.Random, count: int, now: datetime) -> list[tuple[datetime, str]]:
    """``count`` (time, market) over the last ``DAYS`` days, by market share (of customers the knowledge
    base can answer) and the local hour and weekday, oldest first; the last conversation starts a quarter
    of an hour before ``now``, so that every one has ended by then."""
    start, end = now - timedelta(days=DAYS), now - timedelta(minutes=15)
    cells: list[tuple[datetime, str]] = []
    weights: list[float] = []
    for market in MARKETS:
        speaks = sum(share for language, share in market.customer_languages if language in LANGUAGES)
        zone = ZoneInfo(market.time_zone)
        hour = start
        while hour < end:
            local = hour.astimezone(zone)
            passed = min(1.0, (end - hour).total_seconds() / 3600)
            cells.append((hour, market.code))
            weights.append(market.share * speaks * WEEKDAY_PROFILE[local.weekday()] * HOUR_PROFILE[local.hour]
                           * passed)
            hour += timedelta(hours=1)
    cumulative = list(accumulate(weights))
    drawn = []
    for _ in range(count):
        cell = min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cells) - 1)
        hour, code = cells[cell]
        seconds = rng.random() * min(3600.0, (end - hour).total_seconds())
        drawn.append(((hour + timedelta(seconds=seconds)).replace(microsecond=0), code))
    drawn.sort()
    return drawn


@dataclass(frozen=True)
class Intent:
    questions: tuple[str, ...]
    article_key: str | None  # the article that answers them; None: none does
    weight: float


@dataclass(frozen=True)
class Questions:
    by_language: dict[str, list[Intent]]

    def pick(self, rng: random.Random, language: str) -> tuple[Intent, str]:
        """An intent by the intents' weights (or what no article covers) and one of its questions."""
        if rng.random() < UNCOVERED_SHARE:
            intent = Intent(UNCOVERED[language], None, 1.0)
        else:
            intents = self.by_language[language]
            intent = rng.choices(intents, [i.weight for i in intents])[0]
        return intent, rng.choice(intent.questions)


def _questions(data_dir: Path) -> Questions:
    from trustdesk.knowledge.evaluation import bitext_plan

    key_of_intent: dict[str, str] = {a["intent"]: a["key"] for a in kb.load()["articles"] if a.get("intent")}
    intent_of_key = {key: intent for intent, key in key_of_intent.items()}
    english: dict[str, list[str]] = {}
    try:
        plan = bitext_plan(data_dir / "bitext-customer-support" / "utterances.csv", key_of_intent)
        for text, key in plan.study:  # shuffled with the plan's seed: the first of each intent are a sample
            phrasings = english.setdefault(intent_of_key[key], [])
            if len(phrasings) < PHRASINGS:
                phrasings.append(text)
    except ValueError:  # a sample of the data (the tests'), too small to split: used whole, as the demo does
        for name, utterances in load_utterances(data_dir).by_intent.items():
            english[name] = list(utterances[:PHRASINGS])
    by_language: dict[str, list[Intent]] = {"en": [], "es": []}
    for intent in texts.BUYER_INTENTS:
        article = key_of_intent.get(intent.intent)
        if english.get(intent.intent):
            by_language["en"].append(Intent(tuple(english[intent.intent]), article, intent.weight))
        if intent.utterances.get("es"):
            by_language["es"].append(Intent(intent.utterances["es"], article, intent.weight))
    return Questions(by_language)


def _handoff_cases(session: Session, rng: random.Random, count: int,
                   now: datetime) -> list[tuple[Case, Party, str]]:
    """A sample of the last days' buyer cases from the in-app chat and the web form, opened by signed-in
    customers in a language of the knowledge base, with their first customer message."""
    first_message = (select(Message.case_id, func.min(Message.id).label("first_id"))
                     .where(Message.author_type == AuthorType.CUSTOMER.value).group_by(Message.case_id).subquery())
    rows = session.execute(
        select(Case, Party, Message.body)
        .join(Party, Party.id == Case.party_id)
        .join(first_message, first_message.c.case_id == Case.id)
        .join(Message, Message.id == first_message.c.first_id)
        .where(Case.created_at >= now - timedelta(days=DAYS) + timedelta(minutes=15),
               Case.channel.in_(HANDOFF_CHANNELS), Case.language.in_(LANGUAGES),
               Party.kind == PartyKind.BUYER.value, Party.user_id.is_not(None),
               Party.external_id.like(f"{PARTY_PREFIX}%"))
        .order_by(Case.id)).all()
    chosen = rng.sample(range(len(rows)), min(count, len(rows)))
    return [(rows[i][0], rows[i][1], rows[i][2]) for i in sorted(chosen)]


# ---------------------------------------------------------------- playing a conversation


def _order_service(request: flows.LookupRequest) -> flows.LookupResult:
    """The marketplace's order service as the demo's history plays it, offline: the same order number
    always gets the same answer. Any other lookup is unavailable (an error branch)."""
    if request.name != "orders":
        return flows.LookupResult(outcome="error", detail="not available in the demo history")
    number = "".join(request.slots.values())
    roll = int.from_bytes(hashlib.blake2b(number.encode(), digest_size=8).digest(), "big") / 2 ** 64
    cumulative = 0.0
    status = ORDER_STATES[-1][0]
    for state, share in ORDER_STATES:
        cumulative += share
        if roll < cumulative:
            status = state
            break
    if status == "not_found":
        return flows.LookupResult(outcome="not_found", detail="HTTP 404")
    carrier = CARRIERS[int(roll * 1000) % len(CARRIERS)]
    data = {"status": status, "carrier": carrier}
    if status in ("in_transit", "out_for_delivery"):
        data["tracking_url"] = f"https://track.example.com/{number.replace('-', '')}"
    return flows.LookupResult(outcome="found", data=data)


class _Player:
    """Plays conversations through the bot service, each at its planned times."""

    def __init__(self, session: Session, rng: random.Random, settings: Settings, guide: flows.Guide) -> None:
        self.session, self.rng, self.settings, self.guide = session, rng, settings, guide
        self.tally = Tally()

    def play(self, plan: Planned) -> None:
        row, _token = bot.start(self.session, market=plan.market, locale=plan.language, channel=plan.channel,
                                actor=plan.customer.actor if plan.customer else None, now=plan.at)
        self.tally.conversations += 1
        clock = _Clock(plan.at, self.rng)
        reply = self._ask(row, plan.question, clock)
        if reply.kind == "answer":
            self._read(row, reply, clock, right=self._right(reply, plan))
        if plan.again and reply.kind in ("answer", "no_answer") and row.status != bot.State.HELPED.value:
            # Once more: the same thing in other words (or, what no article covers, something else).
            reply = self._ask(row, plan.again, clock.later(40, 120))
            if reply.kind == "answer":
                self._read(row, reply, clock, right=self._right(reply, plan))
        self.tally.guided += row.flow_key is not None

    def precede(self, case: Case, party: Party, text: str) -> None:
        """The conversation a case's customer had with the bot minutes before opening it."""
        assert party.user_id is not None
        market = self.session.get(Market, party.market_id)
        assert market is not None
        # Six to ten minutes before: time for the turns below, a flow's included, before the case opens.
        started = case.created_at - timedelta(seconds=self.rng.randint(360, 600))
        row, _token = bot.start(self.session, market=market.code, locale=case.language,
                                channel=BOT_CHANNEL_OF[case.channel], actor=customer_actor(party), now=started)
        self.tally.conversations += 1
        clock = _Clock(started, self.rng)
        reply = self._ask(row, text[:bot.MAX_QUESTION], clock)
        if reply.kind == "answer":  # it did not help: they read it, perhaps opened the article, and wrote to us
            self.tally.answered += 1
            if reply.article_key and self.rng.random() < CLICK:
                self._click(row, reply, clock)
        self.tally.guided += row.flow_key is not None
        bot.link_handoff(self.session, row, case, now=case.created_at)
        self.tally.handed_off += 1

    def _ask(self, row: BotConversation, question: str, clock: _Clock) -> bot.Reply:
        reply = bot.ask(self.session, row, question, settings=self.settings, now=clock.now, guide=self.guide)
        if reply.kind == "flow_prompt" and self.rng.random() < TYPES_ORDER:
            return self._follow_flow(row, reply, clock)
        return reply  # a flow's prompt left unanswered: they leave

    def _follow_flow(self, row: BotConversation, reply: bot.Reply, clock: _Clock) -> bot.Reply:
        """Answer a guided flow's prompts with an order number until it answers (returned for the caller
        to read), hands off, or they give up."""
        if self.rng.random() < TYPES_BADLY:
            reply = bot.ask(self.session, row, f"my order is {self.rng.randint(10_000, 99_999)}",
                            settings=self.settings, now=clock.later(20, 60).now, guide=self.guide)
        while reply.kind == "flow_prompt":
            number = f"BR-{self.rng.randint(100_000_000, 999_999_999)}"
            reply = bot.ask(self.session, row, number, settings=self.settings, now=clock.later(20, 90).now,
                            guide=self.guide)
            if reply.kind == "flow_prompt" and self.rng.random() >= TRIES_AGAIN:
                break  # they give up
        return reply

    @staticmethod
    def _right(reply: bot.Reply, plan: Planned) -> bool:
        """Whether the answer is about what they asked: its article's, or their order's (a flow looked it up)."""
        return reply.flow is not None or (plan.article_key is not None and reply.article_key == plan.article_key)

    def _read(self, row: BotConversation, reply: bot.Reply, clock: _Clock, *, right: bool) -> None:
        """The customer reads an answer: may open the article, may say it helped, else leaves."""
        self.tally.answered += 1
        clicked = False
        if reply.article_key and self.rng.random() < CLICK:
            clicked = self._click(row, reply, clock)
        chance = self._helped_chance(reply.confidence, clicked) if right else HELPED_ANYWAY
        if self.rng.random() < chance:
            bot.helped(self.session, row, now=clock.later(30, 150).now)
            self.tally.helped += 1

    def _click(self, row: BotConversation, reply: bot.Reply, clock: _Clock) -> bool:
        assert reply.article_key is not None
        opened = bot.record_click(self.session, row, reply.article_key, now=clock.later(10, 60).now)
        self.tally.clicked += opened
        return opened

    def _helped_chance(self, confidence: float | None, clicked: bool) -> float:
        """From HELPED_AT_THRESHOLD at the bot's threshold to HELPED_WHEN_SURE at SURE and above; a flow's
        answer (no confidence: it looked the order up) counts as sure."""
        low = self.settings.kb_answer_threshold
        sure = 1.0 if confidence is None or low >= SURE else min(1.0, max(0.0, (confidence - low) / (SURE - low)))
        return HELPED_AT_THRESHOLD + (HELPED_WHEN_SURE - HELPED_AT_THRESHOLD) * sure + (0.05 if clicked else 0.0)


class _Clock:
    """A conversation's time, moving on by a few seconds with each thing the customer does."""

    def __init__(self, start: datetime, rng: random.Random) -> None:
        self.now, self.rng = start, rng

    def later(self, low: int, high: int) -> _Clock:
        self.now += timedelta(seconds=self.rng.randint(low, high))
        return self
