"""Plans each demo case as a script of timed steps, from the seed alone (no database).

A slot of the timeline becomes one case (sometimes two: a customer who writes again about the
same thing, linked as a duplicate). The script says who does what and when: the customer's first
message, assignment, replies after realistic delays, pending and on-hold periods, reroutes with
the reason a real agent would give, reopenings and the close after the reopen window. The writer
(``writer.py``) plays the steps that lie before "now" through the case services, so a recent case
simply stops part-way: new, open, pending or on hold.

Reroutes are deliberate, not random noise, so that misroute analysis finds causes:

- payment and refund cases land in the general Tier 1 buyer queue and some need Payments T2
  (``needs_specialist``, or ``wrong_tier`` for refunds above the Tier 1 limit);
- US buyers writing in Spanish land in Blue Harbor's English queue; the in-house workforce lead
  moves them to Meridian's Spanish line (``wrong_language``);
- sellers and creators contesting an enforcement decision by the normal form go to Appeals
  (``wrong_topic``); payouts, verification and disputes go to Tier 2 (``needs_specialist``);
- complaints asking for a supervisor go to Tier 2 (``customer_request``);
- a few Tier 2 cases bounce back to Tier 1 (``wrong_tier``), and during the payments outage
  Tier 2 pages the oncall SMEs (``needs_specialist``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from trustdesk.cases.models import Channel, PartyKind, Priority, RerouteReason, Status
from trustdesk.demo import texts
from trustdesk.demo.bitext import Utterances
from trustdesk.demo.catalog import (
    MARKET_BY_CODE,
    QUEUE_BY_KEY,
    REQUEST_TYPES,
    STAFF,
    TEAMS,
    WORKFORCE_LEAD,
    StaffSpec,
    expected_intake_queue,
)
from trustdesk.demo.people import ITEMS, VIDEO_TITLES, CustomerSpec
from trustdesk.demo.timeline import SPIKES, Slot


class Action(StrEnum):
    ASSIGN = "assign"
    REPLY = "reply"
    CUSTOMER = "customer"
    NOTE = "note"
    STATUS = "status"
    REROUTE = "reroute"
    LINK = "link"
    UPDATE = "update"
    CLOSE = "close"
    RATE = "rate"


@dataclass
class Step:
    at: datetime
    action: Action
    actor: str  # "customer", "assignee", "system" or a staff key (e-mail local part)
    text: str = ""
    status: Status | None = None  # REPLY: submit as; STATUS: the new status
    reason: str | None = None
    queue: str | None = None  # REROUTE: target queue key
    agent: str | None = None  # ASSIGN: the planned agent
    claimed: bool = False  # ASSIGN: the agent took it (Get next) rather than auto-assignment
    changes: dict[str, Any] = field(default_factory=dict)  # UPDATE
    score: int | None = None  # RATE: the customer's CSAT rating, 1-5
    status_after: Status = Status.NEW
    assignee_after: str | None = None


@dataclass
class CasePlan:
    slot: int
    at: datetime
    market: str
    channel: Channel
    party: str  # external id of the party
    kind: PartyKind
    language: str
    subject: str
    body: str
    topic: str
    priority: Priority
    queue: str  # the queue intake will choose (checked by the writer)
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    request_type: str | None = None
    requester: str | None = None  # staff key of an internal requester
    duplicate_of_primary: bool = False
    values: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Override:
    """Forces a slot onto a login's party, so demo logins have cases with threads."""

    kind: str  # buyer | seller | creator | appeal | internal
    party: str
    topic: str | None = None


STAFF_BY_KEY = {s.email: s for s in STAFF}
TEAM_TIER = {t.key: t.tier.value for t in TEAMS}
REQUESTERS_BY_MARKET: dict[str, list[StaffSpec]] = {}
for _staff in STAFF:
    if _staff.role.value == "internal_requester":
        REQUESTERS_BY_MARKET.setdefault(_staff.market, []).append(_staff)

HOLDING = (Status.NEW, Status.OPEN, Status.ON_HOLD)
SPIKE_KEYS = frozenset(s.key for s in SPIKES)
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
}
KIND_WEIGHTS = (("buyer", 0.73), ("seller", 0.12), ("creator", 0.05), ("appeal", 0.04), ("internal", 0.06))
BUYER_CHANNELS = ((Channel.IN_APP_CHAT, 0.36), (Channel.WEB_FORM, 0.38), (Channel.EMAIL, 0.2), (Channel.API, 0.06))
SELLER_CHANNELS = ((Channel.WEB_FORM, 0.55), (Channel.IN_APP_CHAT, 0.2), (Channel.EMAIL, 0.25))
# (probability, target queue, reason) of a Tier 1 case being rerouted, by topic.
REROUTES: dict[str, tuple[float, str, RerouteReason]] = {
    "payment.payment_issue": (0.22, "t2-payments", RerouteReason.NEEDS_SPECIALIST),
    "refund.get_refund": (0.11, "t2-payments", RerouteReason.WRONG_TIER),
    "refund.track_refund": (0.1, "t2-payments", RerouteReason.NEEDS_SPECIALIST),
    "order.cancel_order": (0.06, "t2-orders", RerouteReason.NEEDS_SPECIALIST),
    "order.change_order": (0.05, "t2-orders", RerouteReason.NEEDS_SPECIALIST),
    "order.track_order": (0.06, "t2-orders", RerouteReason.NEEDS_SPECIALIST),
    "delivery.delivery_period": (0.05, "t2-orders", RerouteReason.NEEDS_SPECIALIST),
    "feedback.complaint": (0.16, "t2-orders", RerouteReason.CUSTOMER_REQUEST),
    "seller.payouts_delayed": (0.28, "t2-sellers", RerouteReason.NEEDS_SPECIALIST),
    "seller.listing_removed": (0.36, "appeals", RerouteReason.WRONG_TOPIC),
    "seller.account_verification": (0.16, "t2-sellers", RerouteReason.NEEDS_SPECIALIST),
    "seller.fee_question": (0.1, "t2-sellers", RerouteReason.WRONG_TIER),
    "seller.buyer_dispute": (0.24, "t2-orders", RerouteReason.NEEDS_SPECIALIST),
    "seller.shipping_label": (0.04, "t2-orders", RerouteReason.NEEDS_SPECIALIST),
    "seller.stock_sync": (0.12, "t2-sellers", RerouteReason.NEEDS_SPECIALIST),
    "creator.commissions_missing": (0.24, "t2-sellers", RerouteReason.NEEDS_SPECIALIST),
    "creator.content_restricted": (0.32, "appeals", RerouteReason.WRONG_TOPIC),
    "creator.payout_tax_form": (0.2, "t2-payments", RerouteReason.WRONG_TOPIC),
    "creator.affiliate_links": (0.08, "t2-sellers", RerouteReason.NEEDS_SPECIALIST),
}
SPIKE_REROUTES = {
    ("incident-payments-outage", "payment.payment_issue"): 0.6,
    ("carrier-strike", "order.track_order"): 0.25,
    ("carrier-strike", "delivery.delivery_period"): 0.25,
}
SPIKE_INTENTS = {
    "incident-payments-outage": (("payment_issue", 0.85), ("track_refund", 0.15)),
    # One topic, so the emerging-issue detector finds one issue (order.track_order in ES), as a lead would.
    "carrier-strike": (("track_order", 1.0),),
    "mega-sale": (("place_order", 0.3), ("payment_issue", 0.25), ("track_order", 0.25), ("cancel_order", 0.2)),
}
CURRENCY_RANGES = {"USD": (9, 260), "GBP": (7, 210), "EUR": (8, 240), "IDR": (45_000, 3_500_000)}


def _weighted(rng: random.Random, pairs: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def format_amount(rng: random.Random, currency: str) -> str:
    low, high = CURRENCY_RANGES[currency]
    if currency == "IDR":
        value = round(rng.uniform(low, high), -3)
        return "Rp " + f"{int(value):,}".replace(",", ".")
    value = round(rng.uniform(low, high), 2)
    if currency == "EUR":
        return f"{value:.2f}".replace(".", ",") + " €"
    return ("$" if currency == "USD" else "£") + f"{value:.2f}"


def format_date(moment: datetime, language: str) -> str:
    month = MONTHS.get(language, MONTHS["en"])[moment.month - 1]
    if language == "en":
        return f"{month} {moment.day}"
    if language == "es":
        return f"{moment.day} de {month}"
    return f"{moment.day} {month}"


class CaseScript:
    """Builds the steps of one case while tracking its status and assignee, so the script only
    contains transitions the case services accept."""

    def __init__(self, plan: CasePlan, rng: random.Random) -> None:
        self.plan = plan
        self.rng = rng
        self.t = plan.at
        self.status = Status.NEW
        self.assignee: str | None = None
        self.queue = plan.queue
        self.zone = ZoneInfo(MARKET_BY_CODE[plan.market].time_zone)

    # ---------------------------------------------------------------- time

    def wait(self, median_minutes: float, sigma: float = 0.9, *, low: float = 1.0,
             high: float = 60 * 24 * 4) -> datetime:
        minutes = self.rng.lognormvariate(math.log(median_minutes), sigma)
        self.t += timedelta(minutes=min(high, max(low, minutes)))
        return self.t

    def staffing_factor(self) -> float:
        """Waits are longer at night, at weekends and during a spike (backlogs build up)."""
        local = self.t.astimezone(self.zone)
        factor = 1.0
        if local.hour < 7 or local.hour >= 23:
            factor *= 3.0
        if local.weekday() >= 5:
            factor *= 1.4
        if any(tag in SPIKE_KEYS for tag in self.plan.tags):
            factor *= 4.0
        return factor

    # ---------------------------------------------------------------- steps

    def _add(self, step: Step) -> Step:
        step.status_after, step.assignee_after = self.status, self.assignee
        self.plan.steps.append(step)
        return step

    def assign(self, agent: str, *, claimed: bool) -> None:
        self.assignee = agent
        if self.status is Status.NEW:
            self.status = Status.OPEN
        self._add(Step(self.t, Action.ASSIGN, agent if claimed else "system", agent=agent, claimed=claimed))

    def reply(self, text: str, then: Status | None = None) -> None:
        if self.status is Status.NEW:
            self.status = Status.OPEN
        if then is not None:
            self.status = then
        self._add(Step(self.t, Action.REPLY, "assignee", text=text, status=then))

    def customer(self, text: str) -> None:
        if self.status in (Status.PENDING, Status.SOLVED):
            self.status = Status.OPEN
        self._add(Step(self.t, Action.CUSTOMER, "customer", text=text))

    def note(self, text: str) -> None:
        self._add(Step(self.t, Action.NOTE, "assignee", text=text))

    def set_status(self, to: Status, reason: str, actor: str = "assignee") -> None:
        self.status = to
        self._add(Step(self.t, Action.STATUS, actor, status=to, reason=reason))

    def reroute(self, queue: str, reason: RerouteReason, note: str, actor: str = "assignee") -> None:
        self.assignee = None
        self.queue = queue
        self._add(Step(self.t, Action.REROUTE, actor, text=note, queue=queue, reason=reason.value))

    def update(self, **changes: Any) -> None:
        self._add(Step(self.t, Action.UPDATE, "assignee", changes=changes))

    def link_to_primary(self) -> None:
        self._add(Step(self.t, Action.LINK, "assignee"))

    def rate(self, at: datetime, score: int) -> None:
        """The customer rates the solved case at ``at`` (the script's clock does not move)."""
        self._add(Step(at, Action.RATE, "customer", score=score))

    def close(self) -> None:
        self.status = Status.CLOSED
        self._add(Step(self.t, Action.CLOSE, "system", reason="reopen_window_elapsed"))


class Planner:
    def __init__(self, seed: int, utterances: Utterances, pools: dict[tuple[str, PartyKind], list[CustomerSpec]],
                 logins: dict[str, CustomerSpec], overrides: dict[int, Override]) -> None:
        self.seed = seed
        self.utterances = utterances
        self.pools = pools
        self.logins = logins
        self.overrides = overrides
        self.intents = [(i, i.weight) for i in texts.BUYER_INTENTS if i.intent in utterances.by_intent]
        self.members: dict[str, list[StaffSpec]] = {}
        for staff in STAFF:
            for team in staff.teams:
                if staff.works_cases:
                    self.members.setdefault(team, []).append(staff)

    # ---------------------------------------------------------------- public

    def rng_for(self, slot: Slot) -> random.Random:
        return random.Random(f"{self.seed}/case/{slot.index}")

    def plan(self, slot: Slot) -> list[CasePlan]:
        """The case (and its duplicate, if the customer writes twice) of one slot."""
        rng = self.rng_for(slot)
        # The first draw decides the duplicate, so counting cases needs no full plan (see count()).
        has_duplicate = rng.random() < 0.03
        override = self.overrides.get(slot.index)
        kind = override.kind if override else ("buyer" if slot.spike else _weighted(rng, KIND_WEIGHTS))
        if kind == "buyer":
            plans = self._buyer(slot, rng, override, has_duplicate)
        elif kind in ("seller", "creator"):
            plans = [self._seller_or_creator(slot, rng, PartyKind(kind), override)]
        elif kind == "appeal":
            plans = [self._appeal(slot, rng, override)]
        else:
            plans = [self._internal(slot, rng, override)]
        return plans

    def count(self, slot: Slot) -> int:
        rng = self.rng_for(slot)
        has_duplicate = rng.random() < 0.03
        override = self.overrides.get(slot.index)
        kind = override.kind if override else ("buyer" if slot.spike else _weighted(rng, KIND_WEIGHTS))
        return 2 if has_duplicate and kind == "buyer" else 1

    # ---------------------------------------------------------------- helpers

    def _party(self, rng: random.Random, market: str, kind: PartyKind) -> CustomerSpec:
        pool = self.pools[(market, kind)]
        # A heavy head: some customers write often, most once.
        return pool[min(len(pool) - 1, int(len(pool) * rng.random() ** 1.7))]

    def _values(self, rng: random.Random, plan: CasePlan, first: str) -> dict[str, str]:
        currency = MARKET_BY_CODE[plan.market].currency
        before = plan.at - timedelta(days=rng.randint(2, 12))
        last_month = (plan.at.replace(day=1) - timedelta(days=1))
        fee = rng.choice((8, 10, 12, 15))
        return {
            "first": first, "order": f"BR-{rng.randint(100_000_000, 999_999_999)}",
            "amount": format_amount(rng, currency), "days": str(rng.randint(2, 6)),
            "date": format_date(before, plan.language), "item": rng.choice(ITEMS),
            "period": MONTHS.get(plan.language, MONTHS["en"])[last_month.month - 1],
            "n": str(rng.randint(12, 140)), "n2": str(rng.randint(2, 9)), "fee": str(fee + 3),
            "fee2": str(fee), "diff": "3", "title": rng.choice(VIDEO_TITLES),
            # The draw stays (the random stream, and so the demo, stay the same); the slot makes it unique.
            "decision": f"ENF-{plan.at.year}-{rng.randint(10_000, 99_999)}-{plan.slot:05d}",
            "ticket": f"TR-{rng.randint(100_000, 999_999)}", "digits": f"{rng.randint(0, 9999):04d}",
            "ref": "", "shop": "", "area": "", "question": "", "tool": "", "level": "", "team": "",
        }

    def _new_plan(self, slot: Slot, rng: random.Random, *, channel: Channel, party: CustomerSpec | None,
                  kind: PartyKind, language: str, subject: str, body: str, topic: str,
                  priority: Priority = Priority.NORMAL, party_key: str | None = None, first: str = "") -> CasePlan:
        queue = expected_intake_queue(slot.market, channel.value, kind.value)
        if queue is None:
            raise RuntimeError(f"no demo queue takes {channel.value} from {kind.value} in {slot.market}")
        plan = CasePlan(slot=slot.index, at=slot.at, market=slot.market, channel=channel,
                        party=party_key or (party.external_id if party else ""), kind=kind, language=language,
                        subject=subject, body=body, topic=topic, priority=priority, queue=queue.key)
        if slot.spike:
            plan.tags.append(slot.spike)
        plan.values = self._values(rng, plan, first or (party.first_name if party else ""))
        plan.values["shop"] = party.display_name if party and kind is PartyKind.SELLER else ""
        return plan

    def pick(self, rng: random.Random, team: str, language: str) -> str:
        members = self.members.get(team, [])
        speakers = [m for m in members if language in m.languages] or members
        if not speakers:
            raise RuntimeError(f"demo team {team} has nobody to work cases")
        return rng.choice(speakers).email

    def _team_of(self, queue: str) -> str:
        return QUEUE_BY_KEY[queue].team

    def _first_reply_wait(self, script: CaseScript, channel: Channel) -> None:
        medians = {Channel.IN_APP_CHAT: 4, Channel.WEB_FORM: 240, Channel.EMAIL: 420, Channel.API: 240,
                   Channel.APPEAL_FORM: 60, Channel.INTERNAL_FORM: 90}
        script.wait(medians[channel] * script.staffing_factor(), 1.0, high=60 * 30)

    def _auto_assign(self, script: CaseScript, rng: random.Random) -> None:
        chat = script.plan.channel is Channel.IN_APP_CHAT
        script.wait((2 if chat else 18) * script.staffing_factor(), 1.1, low=0.2, high=60 * 36)
        script.assign(self.pick(rng, self._team_of(script.queue), script.plan.language), claimed=False)

    def _claim(self, script: CaseScript, rng: random.Random, median_minutes: float) -> None:
        script.wait(median_minutes * script.staffing_factor(), 1.0, low=2, high=60 * 24 * 5)
        script.assign(self.pick(rng, self._team_of(script.queue), script.plan.language), claimed=True)

    def _take(self, script: CaseScript, rng: random.Random) -> None:
        """The case's current queue hands it to an agent: pushed by auto-assignment or pulled."""
        queue = QUEUE_BY_KEY[script.queue]
        if queue.auto_assign:
            self._auto_assign(script, rng)
            return
        tier = TEAM_TIER[queue.team]
        median = {"t2": 360, "appeals": 900, "internal": 300, "oncall": 8}.get(tier, 300)
        self._claim(script, rng, median)

    # ---------------------------------------------------------------- resolution

    def _resolve(self, script: CaseScript, rng: random.Random, *, solve: str, ask: str, family: str,
                 provide: tuple[str, ...]) -> None:
        """The assignee answers: solved at once, or after a question, a hold or a working reply;
        sometimes the customer reopens; the case closes after the reopen window."""
        plan, lang = script.plan, script.plan.language
        chat = plan.channel is Channel.IN_APP_CHAT
        self._first_reply_wait(script, plan.channel)
        if rng.random() < 0.1:
            script.note(rng.choice(texts.GENERIC_NOTES))
        carrier_spike = "carrier-strike" in plan.tags
        p_solve = 0.7 if chat else 0.5
        p_pending = 0.22 if chat else 0.3
        p_hold = 0.25 if carrier_spike else 0.1
        roll = rng.random()
        if roll < p_solve:
            script.reply(solve, Status.SOLVED)
        elif roll < p_solve + p_pending:
            script.reply(ask, Status.PENDING)
            if rng.random() < 0.82:
                script.wait(5 if chat else 360, 1.3, low=1, high=60 * 24 * 3)
                script.customer(rng.choice(provide))
                script.wait(4 if chat else 180 * script.staffing_factor(), 1.0, high=60 * 24 * 2)
                script.reply(solve, Status.SOLVED)
            else:
                script.t += timedelta(days=3, minutes=rng.uniform(0, 60 * 24))
                script.reply(texts.NO_RESPONSE[lang], Status.SOLVED)
        elif roll < p_solve + p_pending + p_hold and family in texts.HOLD_NOTES:
            reason, note = texts.HOLD_NOTES[family]
            script.reply(texts.INVESTIGATING[lang])
            script.wait(3, 0.8, high=30)
            script.note(note)
            script.set_status(Status.ON_HOLD, reason)
            hold_days = rng.lognormvariate(math.log(1.8 if not carrier_spike else 3.5), 0.6)
            if rng.random() < 0.25:
                script.t += timedelta(days=hold_days * 0.6)
                script.customer(rng.choice(texts.CHASER[lang]))
                hold_days *= 0.4
            script.t += timedelta(days=hold_days, minutes=rng.uniform(5, 90))
            script.reply(solve, Status.SOLVED)
        else:
            script.reply(texts.WORKING_ON_IT[lang])
            script.wait(900, 0.9, high=60 * 60)
            script.reply(solve, Status.SOLVED)
        if rng.random() < 0.06:
            script.t += timedelta(hours=rng.uniform(4, 24 * 5))
            script.customer(rng.choice(texts.REOPEN[lang]))
            script.wait(150 * script.staffing_factor(), 1.0, high=60 * 30)
            script.reply(texts.FIX_AFTER_REOPEN[lang], Status.SOLVED)
        self._csat(script)
        script.t += timedelta(days=7, seconds=rng.uniform(0, 300))
        script.close()

    # Of 100 customers who rate, how many give 1..5: a smooth case, a slow or reopened one.
    SMOOTH = (3, 3, 8, 30, 56)
    ROUGH = (22, 20, 24, 20, 14)

    def _csat(self, script: CaseScript) -> None:
        """About a third of solved cases get a CSAT rating within two days; a case that was reopened,
        left unanswered by the customer or waited days on hold is rated lower. Its own random stream,
        so the rest of the history is the same with or without ratings."""
        rng = random.Random(f"{self.seed}/csat/{script.plan.slot}")
        if rng.random() >= 0.35:
            return
        lang = script.plan.language
        replies = [s.text for s in script.plan.steps if s.action is Action.REPLY]
        rough = (texts.FIX_AFTER_REOPEN[lang] in replies or texts.NO_RESPONSE[lang] in replies
                 or any(s.action is Action.STATUS and s.status is Status.ON_HOLD for s in script.plan.steps))
        score = rng.choices((1, 2, 3, 4, 5), weights=self.ROUGH if rough else self.SMOOTH)[0]
        script.rate(script.t + timedelta(minutes=rng.uniform(20, 60 * 48)), score)

    def _escalate(self, script: CaseScript, rng: random.Random, queue: str, reason: RerouteReason,
                  note: str, *, handover: bool = True) -> None:
        """Tier 1 hands the case to the team that owns it: often a holding reply first, then the reroute."""
        if handover and rng.random() < 0.6:
            self._first_reply_wait(script, script.plan.channel)
            script.reply(texts.HANDOVER[script.plan.language])
        script.wait(12, 1.0, low=1, high=240)
        script.reroute(queue, reason, note)
        self._take(script, rng)

    # ---------------------------------------------------------------- buyers

    def _buyer(self, slot: Slot, rng: random.Random, override: Override | None, has_duplicate: bool) -> list[CasePlan]:
        party = self.logins[override.party] if override is not None else self._party(rng, slot.market, PartyKind.BUYER)
        if override and override.topic:
            intent = texts.BUYER_INTENT_BY_NAME[override.topic.split(".", 1)[1]]
        elif slot.spike:
            intent = texts.BUYER_INTENT_BY_NAME[_weighted(rng, SPIKE_INTENTS[slot.spike])]
        else:
            intent = rng.choices([i for i, _ in self.intents], [w for _, w in self.intents])[0]
        language = party.language
        channel: Channel = _weighted(rng, BUYER_CHANNELS)
        if language == "en":
            body = rng.choice(self.utterances.by_intent[intent.intent])
        else:
            body = rng.choice(intent.utterances[language])
        priority = self._buyer_priority(rng, intent.intent, slot.spike)
        plan = self._new_plan(slot, rng, channel=channel, party=party, kind=PartyKind.BUYER, language=language,
                              subject=intent.subject[language], body=body, topic=intent.topic, priority=priority)
        if slot.spike == "carrier-strike" and override is None:
            # What people stuck with the carrier write; its own stream, so the case's other draws stay the same.
            words = random.Random(f"{self.seed}/carrier-strike/{slot.index}")
            plan.body = words.choice(texts.CARRIER_STRIKE[language]).format_map(plan.values)
        if rng.random() < 0.3 and intent.family in ("order", "delivery", "refund", "payment", "shipping"):
            plan.subject = f"{plan.subject} ({plan.values['order']})"
        self._buyer_script(plan, rng, intent)
        plans = [plan]
        if has_duplicate:
            plans.append(self._duplicate(slot, rng, plan, intent))
        return plans

    @staticmethod
    def _buyer_priority(rng: random.Random, intent: str, spike: str | None) -> Priority:
        roll = rng.random()
        if spike == "incident-payments-outage" and roll < 0.5:
            return Priority.HIGH
        high = {"payment_issue": 0.25, "complaint": 0.2, "recover_password": 0.1, "get_refund": 0.1}.get(intent, 0.0)
        if roll < high:
            return Priority.HIGH
        if intent in ("newsletter_subscription", "review", "check_payment_methods", "check_refund_policy",
                      "delivery_options", "check_invoices") and roll > 0.5:
            return Priority.LOW
        return Priority.NORMAL

    def _buyer_solution(self, intent: texts.BuyerIntent, language: str) -> tuple[str, str, tuple[str, ...]]:
        solve = intent.solve_en if language == "en" else texts.SOLVE_BY_FAMILY[intent.family][language]
        ask = texts.ASK_BY_FAMILY[intent.family][language]
        provide = (texts.PROVIDE_ACCOUNT_INFO if intent.family == "account" else texts.PROVIDE_INFO)[language]
        return solve, ask, provide

    def _buyer_script(self, plan: CasePlan, rng: random.Random, intent: texts.BuyerIntent) -> None:
        script = CaseScript(plan, rng)
        solve, ask, provide = self._buyer_solution(intent, plan.language)
        market = MARKET_BY_CODE[plan.market]
        t1_team = self._team_of(plan.queue)
        t1_speaks = any(plan.language in m.languages for m in self.members.get(t1_team, []))
        wrong_language = plan.language not in ("en",) and market.code == "US"
        if wrong_language and (not t1_speaks or rng.random() < 0.85):
            # Nobody on Blue Harbor's US site but one agent reads Spanish; the case waits in the
            # queue until the workforce lead moves it to Meridian's Spanish line.
            script.wait(150 * script.staffing_factor(), 0.9, low=10, high=60 * 20)
            script.reroute("us-buyers-es", RerouteReason.WRONG_LANGUAGE, texts.REROUTE_NOTES["language"],
                           actor=WORKFORCE_LEAD)
        self._take(script, rng)
        chance, target, reason = REROUTES.get(intent.topic, (0.0, "", RerouteReason.OTHER))
        if plan.tags:
            chance = SPIKE_REROUTES.get((plan.tags[0], intent.topic), chance)
        if target and rng.random() < chance:
            tier1_queue = script.queue
            self._escalate(script, rng, target, reason, texts.REROUTE_NOTES[intent.topic])
            if "incident-payments-outage" in plan.tags and target == "t2-payments" and rng.random() < 0.3:
                script.wait(20, 0.8, high=120)
                script.update(priority=Priority.URGENT.value)
                script.reroute("oncall-escalations", RerouteReason.NEEDS_SPECIALIST, texts.REROUTE_NOTES["oncall"])
                self._take(script, rng)
            elif rng.random() < 0.06:
                # Tier 2 finds nothing for a specialist to do and sends it back.
                script.wait(30, 0.8, high=240)
                script.reroute(tier1_queue, RerouteReason.WRONG_TIER, texts.REROUTE_NOTES["bounce"])
                self._take(script, rng)
        self._resolve(script, rng, solve=solve, ask=ask, family=intent.family, provide=provide)

    def _duplicate(self, slot: Slot, rng: random.Random, primary: CasePlan, intent: texts.BuyerIntent) -> CasePlan:
        channel = Channel.EMAIL if primary.channel is Channel.IN_APP_CHAT else Channel.IN_APP_CHAT
        opener = texts.DUPLICATE_OPENER[primary.language]
        dup_slot = Slot(slot.index, primary.at + timedelta(minutes=rng.uniform(40, 60 * 8)), slot.market, slot.spike)
        plan = self._new_plan(dup_slot, rng, channel=channel, party=None, kind=PartyKind.BUYER,
                              language=primary.language, subject=primary.subject, body=opener + primary.body,
                              topic=primary.topic, priority=primary.priority, party_key=primary.party,
                              first=primary.values["first"])
        plan.values = dict(primary.values)
        plan.duplicate_of_primary = True
        script = CaseScript(plan, rng)
        if primary.language != "en" and primary.market == "US":
            script.wait(150, 0.9, low=10, high=60 * 20)
            script.reroute("us-buyers-es", RerouteReason.WRONG_LANGUAGE, texts.REROUTE_NOTES["language"],
                           actor=WORKFORCE_LEAD)
        self._take(script, rng)
        self._first_reply_wait(script, channel)
        script.link_to_primary()
        script.reply(texts.DUPLICATE_REPLY[plan.language], Status.SOLVED)
        script.t += timedelta(days=7, seconds=rng.uniform(0, 300))
        script.close()
        return plan

    # ---------------------------------------------------------------- sellers and creators

    def _seller_or_creator(self, slot: Slot, rng: random.Random, kind: PartyKind,
                           override: Override | None) -> CasePlan:
        topics = texts.SELLER_TOPICS if kind is PartyKind.SELLER else texts.CREATOR_TOPICS
        party = self.logins[override.party] if override is not None else self._party(rng, slot.market, kind)
        if override and override.topic:
            topic = next(t for t in topics if t.key == override.topic)
        else:
            topic = rng.choices(topics, [t.weight for t in topics])[0]
        language = party.language
        channel: Channel = _weighted(rng, SELLER_CHANNELS)
        priority = Priority.HIGH if topic.key in ("seller.payouts_delayed", "seller.listing_removed") and \
            rng.random() < 0.25 else Priority.NORMAL
        plan = self._new_plan(slot, rng, channel=channel, party=party, kind=kind, language=language,
                              subject=topic.subject[language], body="", topic=topic.key, priority=priority)
        plan.body = rng.choice(topic.bodies[language]).format_map(plan.values)
        script = CaseScript(plan, rng)
        self._take(script, rng)  # the sellers queue pushes; seller e-mail waits in triage to be pulled
        chance, target, reason = REROUTES.get(topic.key, (0.0, "", RerouteReason.OTHER))
        family = topic.key.split(".", 1)[0]
        if target and rng.random() < chance:
            self._escalate(script, rng, target, reason, texts.REROUTE_NOTES[topic.key],
                           handover=target != "appeals")
            if target == "appeals":
                self._decide_appeal(script, rng, self._appeal_text_for(topic.key))
                return plan
        self._resolve(script, rng, solve=topic.solve[language], ask=topic.ask[language], family=family,
                      provide=texts.PROVIDE_INFO[language])
        return plan

    @staticmethod
    def _appeal_text_for(topic: str) -> texts.AppealText:
        key = {"seller.listing_removed": "appeal.listing_removed",
               "creator.content_restricted": "appeal.content_removed"}.get(topic, "appeal.listing_removed")
        return texts.APPEAL_BY_KEY[key]

    # ---------------------------------------------------------------- appeals

    def _appeal(self, slot: Slot, rng: random.Random, override: Override | None) -> CasePlan:
        if override is not None:
            party = self.logins[override.party]
            appeal = texts.APPEAL_BY_KEY[override.topic or "appeal.listing_removed"]
        else:
            appeal = rng.choice(texts.APPEALS)
            kind = PartyKind(rng.choice(appeal.party_kinds))
            party = self._party(rng, slot.market, kind)
        language = party.language
        plan = self._new_plan(slot, rng, channel=Channel.APPEAL_FORM, party=party, kind=party.kind,
                              language=language, subject=appeal.subject[language], body="", topic=appeal.key)
        plan.body = appeal.body[language].format_map(plan.values)
        plan.custom_fields = {"decision_reference": plan.values["decision"]}
        script = CaseScript(plan, rng)
        self._take(script, rng)
        self._decide_appeal(script, rng, appeal)
        return plan

    def _decide_appeal(self, script: CaseScript, rng: random.Random, appeal: texts.AppealText) -> None:
        """A reviewer decides: sometimes after asking for evidence; about a third are overturned."""
        lang = script.plan.language
        self._first_reply_wait(script, Channel.APPEAL_FORM)
        evidence = True
        if rng.random() < 0.2:
            script.reply(texts.APPEAL_ASK[lang], Status.PENDING)
            evidence = rng.random() < 0.85
            if evidence:
                script.wait(600, 1.0, high=60 * 24 * 4)
                script.customer(texts.APPEAL_EVIDENCE[lang])
                script.wait(600, 1.0, high=60 * 24 * 3)
            else:
                script.t += timedelta(days=5, minutes=rng.uniform(0, 600))
        overturn = evidence and rng.random() < (0.4 if appeal.key == "appeal.content_removed" else 0.3)
        outcome = "appeal-overturned" if overturn else "appeal-upheld"
        script.update(tags=[*script.plan.tags, outcome])
        template = texts.APPEAL_OVERTURNED if overturn else texts.APPEAL_UPHELD
        script.plan.values["ground"] = appeal.ground[lang]
        script.plan.values["remedy"] = appeal.remedy[lang]
        script.reply(template[lang], Status.SOLVED)
        script.t += timedelta(days=7, seconds=rng.uniform(0, 300))
        script.close()

    # ---------------------------------------------------------------- internal requests

    def _internal(self, slot: Slot, rng: random.Random, override: Override | None) -> CasePlan:
        requesters = REQUESTERS_BY_MARKET.get(slot.market) or REQUESTERS_BY_MARKET["US"]
        requester = STAFF_BY_KEY[override.party] if override else rng.choice(requesters)
        market = requester.market
        request_type = rng.choices(REQUEST_TYPES, [r.share for r in REQUEST_TYPES])[0]
        party_key = staff_party_key(requester.email, market)
        first = requester.name.split()[0]
        plan = self._new_plan(Slot(slot.index, slot.at, market, None), rng, channel=Channel.INTERNAL_FORM,
                              party=None, kind=PartyKind.INTERNAL, language="en", subject="", body="",
                              topic=f"internal.{request_type.key.replace('-', '_')}", party_key=party_key, first=first)
        plan.queue = request_type.queue
        plan.request_type = request_type.key
        plan.requester = requester.email
        values = plan.values
        shop_pool = self.pools[(market, PartyKind.SELLER)]
        values["shop"] = rng.choice(shop_pool).display_name
        values["area"] = rng.choice(("listings", "payments & refunds", "creator content", "seller standards"))
        values["question"] = rng.choice(texts.POLICY_QUESTIONS)
        values["tool"] = rng.choice(("TrustDesk console", "Payments admin", "Seller admin", "Reporting warehouse"))
        values["level"] = rng.choice(("read", "read", "write", "admin"))
        values["team"] = rng.choice(("Orders & Delivery T2", "Payments & Refunds T2", "Trust & Safety Ops",
                                     "T1 US (Blue Harbor)"))
        plan.subject = rng.choice(texts.INTERNAL_SUBJECTS[request_type.key]).format_map(values)
        plan.body = rng.choice(texts.INTERNAL_BODIES[request_type.key]).format_map(values)
        plan.custom_fields = self._request_fields(rng, request_type.key, plan, values)
        if request_type.key == "refund-exception" and rng.random() < 0.3:
            plan.priority = Priority.HIGH
        script = CaseScript(plan, rng)
        self._take(script, rng)
        self._first_reply_wait(script, Channel.INTERNAL_FORM)
        roll = rng.random()
        if roll < 0.2:
            script.reply(texts.INTERNAL_ASK["en"], Status.PENDING)
            script.wait(90, 1.0, high=60 * 24 * 2)
            script.customer(texts.INTERNAL_ANSWER["en"])
            script.wait(240, 1.0, high=60 * 24 * 3)
        elif roll < 0.35:
            reason, note = texts.HOLD_NOTES["internal"]
            script.note(note)
            script.set_status(Status.ON_HOLD, reason)
            script.t += timedelta(days=rng.lognormvariate(math.log(1.2), 0.6))
        script.reply(texts.INTERNAL_REPLIES[request_type.key]["en"], Status.SOLVED)
        script.t += timedelta(days=7, seconds=rng.uniform(0, 300))
        script.close()
        return plan

    @staticmethod
    def _request_fields(rng: random.Random, key: str, plan: CasePlan, values: dict[str, str]) -> dict[str, Any]:
        currency = MARKET_BY_CODE[plan.market].currency
        if key == "refund-exception":
            low, high = CURRENCY_RANGES[currency]
            return {"order_id": values["order"], "amount": str(round(rng.uniform(low * 3, high * 2), 0)),
                    "currency": currency, "reason": rng.choice(("carrier lost parcel", "seller unresponsive",
                                                                 "goodwill", "duplicate charge")),
                    "details": plan.body}
        if key == "seller-account-review":
            shop_id = f"shop-{rng.randint(10_000, 99_999)}"
            return {"shop_id": shop_id, "shop_url": f"https://bramble.example/shops/{shop_id}",
                    "concern": rng.choice(("counterfeit items", "prohibited items", "fake reviews",
                                           "off-platform payment")),
                    "evidence": f"Cases from {rng.randint(2, 6)} buyers; see the linked references."}
        if key == "policy-clarification":
            return {"policy_area": values["area"], "question": values["question"],
                    "needed_by": (plan.at + timedelta(days=rng.randint(2, 10))).date().isoformat()}
        return {"tool": values["tool"], "access_level": values["level"],
                "justification": f"Works escalations on {values['team']}.",
                "manager_email": "lead@demo.trustdesk.dev"}


def staff_party_key(local: str, market: str) -> str:
    return f"demo-staff-{local.replace('.', '-')}-{market.lower()}"

