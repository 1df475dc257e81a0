"""The demo's appeals: the set-up a market needs to take appeals, and 90 days of decisions and appeals
that agree with the case history.

``ensure_appeals_setup`` (idempotent, found by key): seven enforcement policies and nine detection
sources of every kind with their owners, who may decide which policy (Chris Taylor and the lead for
all, Ayu Setiawan for some), the decision letters in English and Spanish, each market's settings,
and the reversal receiver. Spain (DSA), the US and the UK are open; Indonesia is deliberately half
set up (Indonesian and English chosen, but no Indonesian letters, no Indonesian out-of-court text
and nobody who speaks Indonesian qualified for two policies), so its readiness check lists gaps.

The reversal receiver: readiness asks for an active endpoint for ``enforcement.reversal_requested``,
and the demo has no enforcement system. The endpoint ``enforcement-demo`` is active and points at
``http://127.0.0.1:9/enforcement/reversals`` (the discard port: nothing listens), and every
historical reversal is written as confirmed, so a fresh install queues no delivery at all. An
appeal overturned in the console after the build queues a delivery that fails and is retried with
back-off until the outbox's attempts run out, then re-sent every six hours while unconfirmed;
point the endpoint at a real receiver, or confirm the reversal through the API, to finish it.

``ensure_appeal_history`` writes, once, in bulk rows (never through ``file_appeal``, which would open
new cases): for every demo appeal case (channel ``appeal_form``, custom field ``decision_reference``)
the decision it contests, notified 1-20 days before, with a valid statement of reasons, and its
appeal, decided as the case's thread says (outcome from the tags, the reviewer's reply as the
letter); reversals (confirmed) and false positives for overturns; about four decisions nobody
appealed per appeal; second reviews; one shop warned and then suspended from appealing (Art. 23);
a few out-of-court disputes; and a fresh decision the seller login can appeal. A decision's
detection source is drawn after its outcome is known, weighted by each source's overturn
propensity, so a noisy model and a noisy rule are overturned far more often than hash matches and
trusted flaggers.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.appeals import letters, markets, repository, service
from trustdesk.appeals import sor as sor_rules
from trustdesk.appeals.models import (
    AUTOMATED_SOURCES,
    REVERSING,
    Appeal,
    AppealEvent,
    AppealReason,
    AppealStatus,
    DecisionStatus,
    DetectionSource,
    Dispute,
    DisputeOutcome,
    EnforcementDecision,
    EnforcementPolicy,
    MarketAppealSettings,
    MisuseKind,
    MisuseMeasure,
    Outcome,
    QaReview,
    QaStatus,
    Reversal,
    ReversalStatus,
    ReviewerQualification,
    SourceKind,
)
from trustdesk.appeals.reversals import ACTIONS, EVENT_TYPE
from trustdesk.appeals.service import APPEAL_TOPICS, REDRESS_OPTIONS
from trustdesk.cases.models import Case, Channel, Message, Party, PartyKind, Status
from trustdesk.core import webhooks
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import User
from trustdesk.core.settings import Settings
from trustdesk.demo import appeal_texts as words
from trustdesk.demo import texts
from trustdesk.demo.catalog import HISTORY_DAYS, LOGIN_DOMAIN, MARKETS, email_of
from trustdesk.demo.people import ITEMS, VIDEO_TITLES
from trustdesk.demo.structure import PARTY_PREFIX
from trustdesk.directory.models import Agent, Market

ENDPOINT_KEY = "enforcement-demo"
ENDPOINT_URL = "http://127.0.0.1:9/enforcement/reversals"  # the discard port: see the module docstring
SELLER_LOGIN_PARTY = f"{PARTY_PREFIX}login-seller"
STANDALONE_PER_APPEAL = 4  # most decisions are never appealed
MIN_STANDALONE = 60
PARTIAL_SHARE = 0.35  # of overturns of a decision with 2+ measures: only the added measure goes
DISAGREE_PERCENT = 12


@dataclass(frozen=True)
class MarketSetup:
    code: str
    languages: tuple[str, ...]
    dsa_applies: bool
    qa_sample_percent: int
    open: bool


MARKET_SETUP: tuple[MarketSetup, ...] = (
    MarketSetup("ES", ("es", "en"), True, 10, True),
    MarketSetup("US", ("en", "es"), False, 10, True),
    MarketSetup("GB", ("en",), False, 10, True),
    MarketSetup("ID", ("id", "en"), False, 10, False),  # half set up on purpose: the readiness gaps
)
WINDOW_MONTHS = 6
# The policy an appeal case contests, by what was restricted: the reviewer's reply in the case names
# this ground (``texts.AppealText.ground``), so the decision must agree with it.
CASE_POLICY = {"listing": "counterfeit", "account": "off-platform-payment", "payout": "chargeback-risk",
               "content": "undisclosed-promotion"}
ITEM_OF_TOPIC = {topic: kind for kind, topic in APPEAL_TOPICS.items()}
REASONS_OF_ITEM: dict[str, tuple[tuple[AppealReason, float], ...]] = {
    "listing": ((AppealReason.NOT_A_VIOLATION, 0.7), (AppealReason.WRONG_ITEM, 0.15),
                (AppealReason.ALREADY_FIXED, 0.15)),
    "account": ((AppealReason.NOT_A_VIOLATION, 0.6), (AppealReason.WRONG_ITEM, 0.2),
                (AppealReason.DISPROPORTIONATE, 0.2)),
    "payout": ((AppealReason.NOT_A_VIOLATION, 0.65), (AppealReason.DISPROPORTIONATE, 0.35)),
    "content": ((AppealReason.NOT_A_VIOLATION, 0.75), (AppealReason.OTHER, 0.25)),
}
STANDALONE_ITEMS = (("listing", 0.55), ("account", 0.15), ("payout", 0.12), ("content", 0.18))
ITEM_TITLE_RE = re.compile(r"'([^']+)' \(")  # the quoted title before "(decision ...)"; not "I'm"
AMOUNT_RE = re.compile(r"(?:payout of|liquidación de|pencairan) (.+?) \(")


# ---------------------------------------------------------------- set-up


def ensure_appeals_setup(session: Session, *, now: datetime, settings: Settings) -> int:
    """Policies, sources, qualifications, letters, the reversal receiver and the four markets' settings
    (three opened); returns how many things were created."""
    since = now - timedelta(days=HISTORY_DAYS + 10)
    created = 0
    policies = {p.key: p for p in repository.policies(session)}
    for spec in words.POLICIES:
        if spec.key not in policies:
            policies[spec.key] = service.upsert_policy(session, key=spec.key, name=spec.name,
                                                       description=spec.description, owner_email=email_of(spec.owner),
                                                       now=since)
            created += 1
    known_sources = {s.key for s in repository.sources(session)}
    for source in words.SOURCES:
        if source.key not in known_sources:
            service.upsert_source(session, key=source.key, kind=source.kind, name=source.name,
                                  owner_email=email_of(source.owner), now=since)
            created += 1
    users = _staff(session)
    lead = users["lead"]
    granted = {(q.user_id, q.policy_id) for q in repository.qualifications(session)}
    wanted = [(users["reviewer"], key) for key in policies] + [(lead, key) for key in policies]
    wanted += [(users["ayu.setiawan"], key) for key in words.AYU_POLICIES]
    for user, key in wanted:
        if (user.id, policies[key].id) not in granted:
            session.add(ReviewerQualification(user_id=user.id, policy_id=policies[key].id, granted_by_user_id=lead.id,
                                              granted_at=since))
            granted.add((user.id, policies[key].id))
            created += 1
    for outcome, bodies in words.LETTERS.items():
        for locale, body in bodies.items():
            if repository.template_for(session, outcome.value, locale) is None:
                letters.save_template(session, outcome=outcome, locale=locale, body=body, user_id=lead.id, now=since)
                created += 1
    if session.scalar(select(webhooks.WebhookEndpoint.id).where(webhooks.WebhookEndpoint.key == ENDPOINT_KEY)) is None:
        webhooks.create_endpoint(session, key=ENDPOINT_KEY, url=ENDPOINT_URL, event_types=[EVENT_TYPE],
                                 description="Demo stand-in for the enforcement system (nothing listens on port 9); "
                                             "point it at the real receiver", now=since)
        created += 1
    session.flush()
    by_code = {m.code: m for m in session.scalars(select(Market))}
    for setup in MARKET_SETUP:
        market = by_code[setup.code]
        if repository.market_settings(session, market.id) is None:
            markets.configure(session, market, languages=setup.languages, window_months=WINDOW_MONTHS,
                              dsa_applies=setup.dsa_applies, human_review_required=True,
                              qa_sample_percent=setup.qa_sample_percent, out_of_court=words.OUT_OF_COURT[setup.code],
                              actor=SYSTEM, now=since)
            created += 1
    session.flush()
    for setup in MARKET_SETUP:
        row = repository.market_settings(session, by_code[setup.code].id)
        if setup.open and row is not None and not row.is_open:
            markets.open_market(session, by_code[setup.code], actor=SYSTEM, settings=settings, now=since)
            created += 1
    return created


def _staff(session: Session) -> dict[str, User]:
    return {u.email.split("@", 1)[0]: u
            for u in session.scalars(select(User).where(User.email.like(f"%@{LOGIN_DOMAIN}")))}


# ---------------------------------------------------------------- statements of reasons


def measures_for(item_kind: str, rng: random.Random) -> dict[str, Any]:
    """The measure fields of a decision on ``item_kind``: the main one, and half the time a second."""
    two = rng.random() < 0.5
    if item_kind == "listing":
        out: dict[str, Any] = {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]}
        if two:
            out["decision_provision"] = "DECISION_PROVISION_PARTIAL_SUSPENSION"  # new listings paused
    elif item_kind == "account":
        out = {"decision_account": "DECISION_ACCOUNT_SUSPENDED"}
        if two:
            out["decision_monetary"] = "DECISION_MONETARY_SUSPENSION"  # payouts held while suspended
    elif item_kind == "payout":
        out = {"decision_monetary": "DECISION_MONETARY_SUSPENSION"}
        if two:
            out["decision_provision"] = "DECISION_PROVISION_PARTIAL_SUSPENSION"  # selling paused
    else:
        out = {"decision_visibility": [rng.choice(("DECISION_VISIBILITY_CONTENT_REMOVED",
                                                   "DECISION_VISIBILITY_CONTENT_DEMOTED"))]}
        if two:
            out["decision_monetary"] = "DECISION_MONETARY_SUSPENSION"  # commissions held
    return out


# Rules and hash lists act alone; a model's match is confirmed by a moderator; people decide the rest.
AUTOMATED_DECISION = {SourceKind.RULE: "AUTOMATED_DECISION_FULLY", SourceKind.HASH_MATCH: "AUTOMATED_DECISION_FULLY",
                      SourceKind.MODEL: "AUTOMATED_DECISION_PARTIALLY"}
CONTENT_TYPES = {"listing": ["CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_IMAGE"], "account": ["CONTENT_TYPE_TEXT"],
                 "payout": ["CONTENT_TYPE_OTHER"], "content": ["CONTENT_TYPE_VIDEO"]}


def statement_for(*, policy: words.PolicySpec, source: words.SourceSpec, item_kind: str, measures: dict[str, Any],
                  market: str, language: str, party_kind: str, decided_at: datetime,
                  rng: random.Random) -> dict[str, Any]:
    """A statement of reasons in the Transparency Database's shape (without ``puid``)."""
    kind = source.kind
    automated = kind in AUTOMATED_SOURCES
    automated_decision = AUTOMATED_DECISION.get(kind, "AUTOMATED_DECISION_NOT_AUTOMATED")
    source_type = {SourceKind.USER_NOTICE: "SOURCE_ARTICLE_16",
                   SourceKind.TRUSTED_FLAGGER: "SOURCE_TRUSTED_FLAGGER"}.get(kind, "SOURCE_VOLUNTARY")
    statement: dict[str, Any] = {
        **measures,
        "decision_ground": sor_rules.GROUND_INCOMPATIBLE,
        "incompatible_content_ground": policy.section,
        "incompatible_content_explanation": policy.explanation,
        "content_type": list(CONTENT_TYPES[item_kind]),
        "category": policy.category,
        "territorial_scope": [market],
        "content_language": language.upper(),
        "content_date": (decided_at - timedelta(days=rng.randint(0, 30))).date().isoformat(),
        "application_date": decided_at.date().isoformat(),
        "decision_facts": words.FACTS[kind.value].format(source=source.name, thing=words.THING[item_kind]),
        "source_type": source_type,
        "automated_detection": "Yes" if automated else "No",
        "automated_decision": automated_decision,
        "account_type": "ACCOUNT_TYPE_BUSINESS" if party_kind == PartyKind.SELLER.value else "ACCOUNT_TYPE_PRIVATE",
    }
    if policy.illegal_too:
        statement["incompatible_content_illegal"] = "Yes"
    if policy.keyword:
        statement["category_specification"] = [policy.keyword]
        if policy.keyword_other:
            statement["category_specification_other"] = policy.keyword_other
    if item_kind == "payout":
        statement["content_type_other"] = "Seller payout of marketplace sales"
    if kind is SourceKind.TRUSTED_FLAGGER:
        statement["source_identity"] = "Brand protection association (trusted flagger)"
    return sor_rules.clean_statement(statement)


# ---------------------------------------------------------------- history


@dataclass
class _CaseRow:
    id: int
    reference: str
    market: str
    market_id: int
    party_id: int
    party_kind: str
    party_external: str
    party_name: str
    party_user_id: int | None
    language: str
    topic: str
    status: str
    tags: list[str]
    decision_reference: str
    created_at: datetime
    solved_at: datetime | None
    assignee_user_id: int | None
    first_body: str = ""
    last_reply: str | None = None


@dataclass
class _Written:
    """One appeal as written, for the steps after it (QA, misuse, disputes, the summary)."""

    appeal: Appeal
    decision: EnforcementDecision
    case: _CaseRow
    source: words.SourceSpec
    extra_events: list[AppealEvent] = field(default_factory=list)


class _Writer:
    def __init__(self, session: Session, *, now: datetime, seed: int) -> None:
        self.session, self.now, self.seed = session, now, seed
        self.policies = {p.key: p for p in session.scalars(select(EnforcementPolicy))}
        self.sources = {s.key: s for s in session.scalars(select(DetectionSource))}
        self.users = _staff(session)
        self.markets = {m.id: m for m in session.scalars(select(Market))}
        self.market_by_code = {m.code: m for m in self.markets.values()}
        self.events: list[AppealEvent] = []
        self.used_external: set[str] = set(session.scalars(select(EnforcementDecision.external_id)))

    def rng(self, *parts: object) -> random.Random:
        return random.Random("/".join([str(self.seed), "appeals", *map(str, parts)]))

    def event(self, type_: str, at: datetime, data: dict[str, Any], *, actor_type: str = "system",
              actor_id: int | None = None, decision_id: int | None = None, appeal_id: int | None = None,
              party_id: int | None = None) -> AppealEvent:
        row = AppealEvent(type=type_, actor_type=actor_type, actor_id=actor_id, occurred_at=at, data=data,
                          decision_id=decision_id, appeal_id=appeal_id, party_id=party_id)
        self.events.append(row)
        return row

    # -------------------------------------------------------- decisions

    def decision(self, *, external_id: str, market: Market, party_id: int, party_kind: str, item_kind: str,
                 item_ref: str, item_title: str, policy_key: str, source: words.SourceSpec, decided_at: datetime,
                 notified_at: datetime, language: str, rng: random.Random) -> EnforcementDecision:
        policy = words.POLICY_BY_KEY[policy_key]
        statement = statement_for(policy=policy, source=source, item_kind=item_kind,
                                  measures=measures_for(item_kind, rng), market=market.code, language=language,
                                  party_kind=party_kind, decided_at=decided_at, rng=rng)
        moderator = None
        if source.kind not in (SourceKind.RULE, SourceKind.HASH_MATCH):
            moderator = self.users[rng.choice(words.MODERATORS)]
        redress = list(REDRESS_OPTIONS) if market.code == "ES" else ["internal_complaint", "judicial"]
        self.used_external.add(external_id)
        return EnforcementDecision(
            external_id=external_id, puid="td-" + service.PUID_UNSAFE.sub("-", external_id), market_id=market.id,
            party_id=party_id, item_kind=item_kind, item_ref=item_ref, item_title=item_title[:300],
            policy_id=self.policies[policy_key].id, source_id=self.sources[source.key].id,
            decided_by_email=moderator.email if moderator else None,
            decided_by_user_id=moderator.id if moderator else None, decided_at=decided_at, notified_at=notified_at,
            decision_ground=statement["decision_ground"], category=statement["category"],
            source_type=statement["source_type"], automated_detection=statement["automated_detection"] == "Yes",
            automated_decision=statement["automated_decision"], application_date=decided_at.date(),
            statement=statement, redress=redress, status=DecisionStatus.IN_FORCE.value, false_positive_at=None,
            created_at=notified_at, updated_at=notified_at,
        )

    def recorded(self, decision: EnforcementDecision, policy_key: str, source_key: str) -> None:
        self.event("decision.recorded", decision.notified_at, {
            "external_id": decision.external_id, "market": self.markets[decision.market_id].code,
            "policy": policy_key, "source": source_key, "item_kind": decision.item_kind,
            "decision_ground": decision.decision_ground, "automated_decision": decision.automated_decision,
        }, decision_id=decision.id, party_id=decision.party_id)


def _choose_source(rng: random.Random, policy_key: str, outcome: str | None) -> words.SourceSpec:
    """The detection source, drawn after the outcome is known: overturns favour noisy sources."""
    pairs = words.SOURCES_OF_POLICY[policy_key]
    specs = [words.SOURCE_BY_KEY[key] for key, _ in pairs]
    weights = []
    for spec, (_key, prior) in zip(specs, pairs, strict=True):
        if outcome is None:
            weights.append(prior)
        elif outcome == Outcome.UPHELD.value:
            weights.append(prior * (1 - spec.overturn_propensity))
        else:
            weights.append(prior * spec.overturn_propensity)
    return rng.choices(specs, weights)[0]


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def _appeal_cases(session: Session) -> list[_CaseRow]:
    rows = session.execute(
        select(Case.id, Case.reference, Market.code, Case.market_id, Party.id, Party.kind, Party.external_id,
               Party.display_name, Party.user_id, Case.language, Case.topic, Case.status, Case.tags,
               Case.custom_fields, Case.created_at, Case.solved_at, Agent.user_id)
        .join(Party, Party.id == Case.party_id).join(Market, Market.id == Case.market_id)
        .outerjoin(Agent, Agent.id == Case.assignee_id)
        .where(Case.channel == Channel.APPEAL_FORM.value, Party.external_id.like(f"{PARTY_PREFIX}%"))
        .order_by(Case.created_at, Case.id)
    ).all()
    cases = [_CaseRow(id=r[0], reference=r[1] or str(r[0]), market=r[2], market_id=r[3], party_id=r[4],
                      party_kind=r[5], party_external=r[6], party_name=r[7], party_user_id=r[8], language=r[9],
                      topic=r[10] or "", status=r[11], tags=list(r[12] or []),
                      decision_reference=str((r[13] or {}).get("decision_reference") or ""), created_at=r[14],
                      solved_at=r[15], assignee_user_id=r[16])
             for r in rows]
    # A market that does not take appeals yet (Indonesia in the demo) had its contests worked as plain
    # cases before the launch: no appeal record, so nothing in the appeals console contradicts "not open".
    open_markets = set(session.scalars(select(MarketAppealSettings.market_id)
                                       .where(MarketAppealSettings.is_open.is_(True))))
    cases = [c for c in cases if c.decision_reference and c.topic in ITEM_OF_TOPIC and c.market_id in open_markets]
    by_id = {c.id: c for c in cases}
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for case_id, author_type, visibility, body in session.execute(
                select(Message.case_id, Message.author_type, Message.visibility, Message.body)
                .where(Message.case_id.in_(chunk)).order_by(Message.id)):
            case = by_id[case_id]
            if author_type == "customer" and not case.first_body:
                case.first_body = body
            elif author_type == "agent" and visibility == "public":
                case.last_reply = body
    return cases


def _item_of(case: _CaseRow, item_kind: str, rng: random.Random) -> tuple[str, str]:
    match = ITEM_TITLE_RE.search(case.first_body)
    if item_kind == "listing":
        return f"LST-{rng.randint(10_000_000, 99_999_999)}", match.group(1) if match else rng.choice(ITEMS)
    if item_kind == "content":
        return f"VID-{rng.randint(10_000_000, 99_999_999)}", match.group(1) if match else rng.choice(VIDEO_TITLES)
    if item_kind == "payout":
        amount = AMOUNT_RE.search(case.first_body)
        return f"PO-{rng.randint(1_000_000, 9_999_999)}", f"Payout of {amount.group(1)}" if amount else "Payout"
    return f"ACC-{case.party_external}", f"Account: {case.party_name}"


def _sentence(key: str, language: str, appeal_topic: str) -> str:
    appeal = texts.APPEAL_BY_KEY[appeal_topic]
    lang = language if language in words.REASONS[key] else "en"
    text = words.REASONS[key][lang].format(ground=appeal.ground.get(lang, appeal.ground["en"]),
                                           remedy=appeal.remedy.get(lang, appeal.remedy["en"]))
    return text[0].upper() + text[1:]


def ensure_appeal_history(session: Session, *, now: datetime, seed: int) -> int:
    """Write the appeals history once (see the module docstring); returns how many appeals were written."""
    if session.scalar(select(Appeal.id).limit(1)) is not None:
        return 0
    if session.scalar(select(EnforcementPolicy.id).limit(1)) is None:
        return 0  # no set-up: nothing to decide under
    writer = _Writer(session, now=now, seed=seed)
    cases = _appeal_cases(session)
    written = _write_appeals(writer, cases)
    _write_standalone(writer, max(MIN_STANDALONE, STANDALONE_PER_APPEAL * len(cases)))
    _write_misuse(writer, written)
    _write_quality(writer, written)
    _write_disputes(writer, written)
    session.add_all(writer.events)
    session.flush()
    return len(written)


def _write_appeals(writer: _Writer, cases: list[_CaseRow]) -> list[_Written]:
    session = writer.session
    plans: list[tuple[_CaseRow, EnforcementDecision, str | None, str, words.SourceSpec, list[str], AppealReason]] = []
    for case in cases:
        rng = writer.rng("case", case.reference)
        item_kind = ITEM_OF_TOPIC[case.topic]
        policy_key = CASE_POLICY[item_kind]
        decided = case.status in (Status.SOLVED.value, Status.CLOSED.value) and case.solved_at is not None
        outcome: str | None = None
        if decided:
            outcome = Outcome.OVERTURNED.value if "appeal-overturned" in case.tags else Outcome.UPHELD.value
        source = _choose_source(rng, policy_key, outcome)
        decided_at = case.created_at - timedelta(days=rng.uniform(1, 20))
        notified_at = decided_at + timedelta(minutes=rng.uniform(1, 90))
        external_id = case.decision_reference
        if external_id in writer.used_external:  # the planner drew the same number twice: keep both apart
            external_id = f"{case.decision_reference}-{case.reference}"
        item_ref, item_title = _item_of(case, item_kind, rng)
        decision = writer.decision(external_id=external_id, market=writer.markets[case.market_id],
                                   party_id=case.party_id, party_kind=case.party_kind, item_kind=item_kind,
                                   item_ref=item_ref, item_title=item_title, policy_key=policy_key, source=source,
                                   decided_at=decided_at, notified_at=notified_at, language=case.language, rng=rng)
        measures = service.measures_of(decision)
        lifted: list[str] = []
        if outcome == Outcome.OVERTURNED.value:
            if len(measures) >= 2 and rng.random() < PARTIAL_SHARE:
                outcome, lifted = Outcome.PARTIALLY_OVERTURNED.value, measures[1:]
            else:
                lifted = measures
        plans.append((case, decision, outcome, policy_key, source, lifted, _weighted(rng, REASONS_OF_ITEM[item_kind])))
    session.add_all([p[1] for p in plans])
    session.flush()
    out: list[_Written] = []
    for case, decision, outcome, policy_key, source, lifted, reason in plans:
        appeal_decided_at = case.solved_at if outcome is not None else None
        appeal = Appeal(
            decision_id=decision.id, case_id=case.id, party_id=case.party_id, market_id=case.market_id,
            policy_id=decision.policy_id, reason=reason.value,
            status=AppealStatus.DECIDED.value if outcome else AppealStatus.OPEN.value, filed_at=case.created_at,
            deadline_at=decision.notified_at + relativedelta(months=WINDOW_MONTHS), outcome=outcome,
            lifted_measures=lifted, decision_reasons=None, decision_letter=case.last_reply if outcome else None,
            decider_user_id=case.assignee_user_id if outcome else None, decider_kind="human" if outcome else None,
            manifestly_unfounded=False, decided_at=appeal_decided_at, created_at=case.created_at,
            updated_at=appeal_decided_at or case.created_at,
        )
        if outcome is not None:
            key = "upheld" if outcome == Outcome.UPHELD.value else outcome
            appeal.decision_reasons = _sentence(key, case.language, case.topic)
        out.append(_Written(appeal=appeal, decision=decision, case=case, source=source))
        writer.recorded(decision, policy_key, source.key)
    session.add_all([w.appeal for w in out])
    session.flush()
    for item in out:
        appeal, decision, case = item.appeal, item.decision, item.case
        appeal.reference = f"AP-{appeal.filed_at.year}-{appeal.id:06d}"
        writer.event("appeal.filed", appeal.filed_at, {
            "reference": appeal.reference, "case_id": case.id, "reason": appeal.reason, "market": case.market,
            "policy": CASE_POLICY[decision.item_kind], "attachments": 0,
            "days_after_notification": (appeal.filed_at - decision.notified_at).days,
        }, actor_type="customer", actor_id=case.party_user_id, decision_id=decision.id, appeal_id=appeal.id,
            party_id=case.party_id)
        if appeal.outcome is None or appeal.decided_at is None:
            continue
        _decide(writer, item)
    return out


def _decide(writer: _Writer, item: _Written) -> None:
    """The events, reversal and false positive of a decided appeal (as ``service.decide_appeal`` writes)."""
    appeal, decision = item.appeal, item.decision
    assert appeal.decided_at is not None and appeal.outcome is not None
    at, reviewer = appeal.decided_at, appeal.decider_user_id
    decided = writer.event("appeal.decided", at, {
        "reference": appeal.reference, "outcome": appeal.outcome, "lifted_measures": list(appeal.lifted_measures),
        "decider_kind": "human", "manifestly_unfounded": False,
        "hours_to_decide": round((at - appeal.filed_at).total_seconds() / 3600, 2),
    }, actor_type="agent", actor_id=reviewer, decision_id=decision.id, appeal_id=appeal.id, party_id=appeal.party_id)
    item.extra_events.append(decided)
    if Outcome(appeal.outcome) not in REVERSING:
        return
    rng = writer.rng("reversal", appeal.reference)
    decision.status = (DecisionStatus.REVERSED.value if appeal.outcome == Outcome.OVERTURNED.value
                       else DecisionStatus.PARTIALLY_REVERSED.value)
    decision.false_positive_at, decision.updated_at = at, at
    webhook_id = "msg_rev_" + hashlib.sha256(f"{writer.seed}/{appeal.reference}".encode()).hexdigest()[:32]
    confirmed_at = min(writer.now, at + timedelta(hours=rng.uniform(0.3, 6)))
    reversal = Reversal(appeal_id=appeal.id, decision_id=decision.id, action=ACTIONS[decision.item_kind],
                        measures=list(appeal.lifted_measures), webhook_id=webhook_id,
                        status=ReversalStatus.CONFIRMED.value, requested_at=at, last_sent_at=at, sends=1,
                        confirmed_at=confirmed_at, confirmation_ref=f"ENFSYS-{webhook_id[8:20].upper()}")
    writer.session.add(reversal)
    common: dict[str, Any] = {"decision_id": decision.id, "appeal_id": appeal.id, "party_id": decision.party_id}
    writer.event("appeal.reversal_requested", at, {
        "reversal_id": webhook_id, "action": reversal.action, "measures": list(reversal.measures),
    }, actor_type="agent", actor_id=reviewer, **common)
    writer.event("decision.false_positive", at, {
        "source": item.source.key, "source_kind": item.source.kind.value, "policy": CASE_POLICY[decision.item_kind],
        "appeal": appeal.reference, "outcome": appeal.outcome,
    }, actor_type="agent", actor_id=reviewer, **common)
    writer.event("appeal.reversal_confirmed", confirmed_at, {
        "reversal_id": webhook_id, "reference": reversal.confirmation_ref,
        "hours_to_confirm": round((confirmed_at - at).total_seconds() / 3600, 2),
    }, actor_type="system", **common)


def _write_standalone(writer: _Writer, count: int) -> None:
    """Decisions nobody appealed (most are), spread over the 90 days and the markets, and the seller
    login's fresh one it can appeal in the help center."""
    session, now = writer.session, writer.now
    parties: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for party_id, market_id, kind, external_id in session.execute(
            select(Party.id, Party.market_id, Party.kind, Party.external_id)
            .where(Party.external_id.like(f"{PARTY_PREFIX}%"), ~Party.external_id.like(f"{PARTY_PREFIX}login-%"),
                   Party.kind.in_((PartyKind.SELLER.value, PartyKind.CREATOR.value)))
            .order_by(Party.external_id)):
        parties.setdefault((market_id, kind), []).append((party_id, external_id))
    rows: list[tuple[EnforcementDecision, str, str]] = []
    shares = [(m.code, m.share) for m in MARKETS]
    for n in range(count):
        rng = writer.rng("standalone", n)
        market = writer.market_by_code[_weighted(rng, shares)]
        item_kind = _weighted(rng, STANDALONE_ITEMS)
        kind = PartyKind.CREATOR.value if item_kind == "content" or (item_kind == "account" and rng.random() < 0.3) \
            else PartyKind.SELLER.value
        pool = parties.get((market.id, kind))
        if not pool:
            continue
        party_id, external = pool[min(len(pool) - 1, int(len(pool) * rng.random() ** 1.5))]
        policy_key = _weighted(rng, words.POLICIES_OF_ITEM[item_kind])
        source = _choose_source(rng, policy_key, None)
        decided_at = now - timedelta(days=rng.uniform(0.2, HISTORY_DAYS))
        language = rng.choice(market.languages)
        title = rng.choice(ITEMS if item_kind == "listing" else VIDEO_TITLES) if item_kind in ("listing", "content") \
            else ("Account" if item_kind == "account" else "Payout")
        ref = {"listing": "LST", "content": "VID", "payout": "PO", "account": "ACC"}[item_kind]
        external_id = f"ENF-{decided_at.year}-{100_000 + n * 7 + rng.randint(0, 6):06d}"
        decision = writer.decision(external_id=external_id, market=market, party_id=party_id, party_kind=kind,
                                   item_kind=item_kind, item_ref=f"{ref}-{rng.randint(10_000_000, 99_999_999)}"
                                   if item_kind != "account" else f"ACC-{external}", item_title=title,
                                   policy_key=policy_key, source=source, decided_at=decided_at,
                                   notified_at=decided_at + timedelta(minutes=rng.uniform(1, 60)), language=language,
                                   rng=rng)
        rows.append((decision, policy_key, source.key))
    seller = session.scalar(select(Party).where(Party.external_id == SELLER_LOGIN_PARTY))
    if seller is not None:
        rng = writer.rng("seller-login")
        market = writer.markets[seller.market_id]
        decided_at = now - timedelta(days=2, hours=5)
        source = words.SOURCE_BY_KEY["counterfeit-image-model"]
        decision = writer.decision(
            external_id=f"ENF-{decided_at.year}-{rng.randint(900_000, 999_999)}", market=market, party_id=seller.id,
            party_kind=seller.kind, item_kind="listing", item_ref=f"LST-{rng.randint(10_000_000, 99_999_999)}",
            item_title="Hand-embroidered linen cushion cover", policy_key="counterfeit", source=source,
            decided_at=decided_at, notified_at=decided_at + timedelta(minutes=12), language="en", rng=rng)
        rows.append((decision, "counterfeit", source.key))
    session.add_all([r[0] for r in rows])
    session.flush()
    for decision, policy_key, source_key in rows:
        writer.recorded(decision, policy_key, source_key)


def _write_misuse(writer: _Writer, written: list[_Written]) -> None:
    """Art. 23: the shop with the most upheld appeals (all filed before the suspension would start) is
    warned after half of them and suspended after the rest, the suspension still running now."""
    now = writer.now
    open_codes = {s.code for s in MARKET_SETUP if s.open}
    by_party: dict[int, list[_Written]] = {}
    for item in written:
        by_party.setdefault(item.case.party_id, []).append(item)
    candidates = []
    for party_id, items in by_party.items():
        first = items[0].case
        if first.party_kind != PartyKind.SELLER.value or first.market not in open_codes \
                or first.party_external.startswith(f"{PARTY_PREFIX}login-"):
            continue
        upheld = sorted((i for i in items if i.appeal.outcome == Outcome.UPHELD.value and i.appeal.decided_at),
                        key=lambda i: (i.appeal.decided_at, i.appeal.id))[-6:]
        if len(upheld) < 2:
            continue
        last = upheld[-1].appeal.decided_at
        assert last is not None
        starts = last + timedelta(hours=3)
        if starts >= now or (now - starts).days > 75 or any(i.appeal.filed_at >= starts for i in items):
            continue
        candidates.append((-len(upheld), -last.timestamp(), first.party_external, party_id, upheld, starts))
    if not candidates:
        return
    _n, _last, _external, party_id, upheld, starts = min(candidates)
    lead = writer.users["lead"]
    for item in upheld:
        item.appeal.manifestly_unfounded = True
        item.appeal.decision_reasons = _sentence("unfounded", item.case.language, item.case.topic)
        for event in item.extra_events:
            if event.type == "appeal.decided":
                event.data = {**event.data, "manifestly_unfounded": True}
    half = math.ceil(len(upheld) / 2)
    warned_refs = [i.appeal.reference or str(i.appeal.id) for i in upheld[:half]]
    after = [i.appeal.reference or str(i.appeal.id) for i in upheld[half:]]
    warned_at = upheld[half - 1].appeal.decided_at
    assert warned_at is not None
    next_decided = upheld[half].appeal.decided_at if half < len(upheld) else starts
    assert next_decided is not None
    warned_at = min(warned_at + timedelta(hours=2), warned_at + (next_decided - warned_at) / 2)
    warning = MisuseMeasure(party_id=party_id, kind=MisuseKind.WARNING.value,
                            reasons=words.MISUSE_WARNING.format(n=len(warned_refs)), unfounded_appeal_ids=warned_refs,
                            starts_at=warned_at, ends_at=None, issued_by_user_id=lead.id, created_at=warned_at)
    days = min(90, max(30, (now - starts).days + 21))
    writer.session.add(warning)
    writer.session.flush()
    suspension = MisuseMeasure(party_id=party_id, kind=MisuseKind.SUSPENSION.value,
                               reasons=words.MISUSE_SUSPENSION.format(warned=warned_at, n=len(after), days=days),
                               unfounded_appeal_ids=after, starts_at=starts, ends_at=starts + timedelta(days=days),
                               issued_by_user_id=lead.id, created_at=starts)
    writer.session.add(suspension)
    writer.event("party.appeals_warned", warned_at, {"unfounded": warned_refs, "reasons": warning.reasons},
                 actor_type="agent", actor_id=lead.id, party_id=party_id)
    writer.event("party.appeals_suspended", starts, {
        "unfounded": after, "reasons": suspension.reasons, "days": days, "warning_id": warning.id,
    }, actor_type="agent", actor_id=lead.id, party_id=party_id)
    # A decision taken while the suspension runs: the shop cannot appeal it until the suspension ends.
    rng = writer.rng("misuse", party_id)
    case = upheld[-1].case
    decided_at = starts + (now - starts) * rng.uniform(0.3, 0.7)
    source = _choose_source(rng, "counterfeit", None)
    item_ref, item_title = f"LST-{rng.randint(10_000_000, 99_999_999)}", rng.choice(ITEMS)
    decision = writer.decision(external_id=f"ENF-{decided_at.year}-{rng.randint(800_000, 899_999)}",
                               market=writer.markets[case.market_id], party_id=party_id, party_kind=case.party_kind,
                               item_kind="listing", item_ref=item_ref, item_title=item_title, policy_key="counterfeit",
                               source=source, decided_at=decided_at,
                               notified_at=decided_at + timedelta(minutes=rng.uniform(1, 60)), language=case.language,
                               rng=rng)
    writer.session.add(decision)
    writer.session.flush()
    writer.recorded(decision, "counterfeit", source.key)


def _write_quality(writer: _Writer, written: list[_Written]) -> None:
    """Second reviews by QA of the market's sample (at least three): mostly agreed, a few disagreed,
    the oldest disagreements calibrated by the lead; the most recent still pending."""
    now, session = writer.now, writer.session
    percent = {writer.market_by_code[s.code].id: s.qa_sample_percent for s in MARKET_SETUP}
    decided = [w for w in written if w.appeal.decided_at is not None and w.appeal.decider_user_id is not None]
    sampled = [w for w in decided if _in_sample(w.appeal.id, percent.get(w.appeal.market_id, 0))]
    for extra in sorted(decided, key=lambda w: _digest("extra", w.appeal.id)):
        if len(sampled) >= 3:
            break
        if extra not in sampled:
            sampled.append(extra)
    sampled.sort(key=lambda w: (w.appeal.decided_at, w.appeal.id))
    qa, lead = writer.users["qa"], writer.users["lead"]
    done: list[tuple[_Written, QaReview]] = []
    for item in sampled:
        appeal = item.appeal
        assert appeal.decided_at is not None and appeal.outcome is not None
        rng = writer.rng("qa", appeal.reference)
        review = QaReview(appeal_id=appeal.id, status=QaStatus.PENDING.value, sampled_at=appeal.decided_at)
        session.add(review)
        common: dict[str, Any] = {"decision_id": appeal.decision_id, "appeal_id": appeal.id,
                                  "party_id": appeal.party_id}
        writer.event("appeal.qa_sampled", appeal.decided_at, {"reference": appeal.reference}, actor_type="agent",
                     actor_id=appeal.decider_user_id, **common)
        reviewed_at = appeal.decided_at + timedelta(hours=rng.uniform(20, 96))
        if reviewed_at < now:
            review.reviewer_user_id, review.reviewed_at = qa.id, reviewed_at
            done.append((item, review))
    disagree = [pair for pair in done if _digest("disagree", pair[0].appeal.id) % 100 < DISAGREE_PERCENT]
    if not disagree and len(done) >= 3:
        disagree = [done[1]]
    for item, review in done:
        appeal = item.appeal
        assert appeal.outcome is not None and review.reviewed_at is not None
        agrees = (item, review) not in disagree
        second = appeal.outcome if agrees else (
            Outcome.OVERTURNED.value if appeal.outcome == Outcome.UPHELD.value else Outcome.UPHELD.value)
        review.outcome = second
        review.status = QaStatus.AGREED.value if agrees else QaStatus.DISAGREED.value
        review.notes = words.QA_NOTES["agreed" if agrees else "disagreed"]
        writer.event("appeal.qa_reviewed", review.reviewed_at, {
            "reference": appeal.reference, "first_outcome": appeal.outcome, "second_outcome": second,
            "agrees": agrees, "decider_user_id": appeal.decider_user_id,
        }, actor_type="agent", actor_id=qa.id, decision_id=appeal.decision_id, appeal_id=appeal.id,
            party_id=appeal.party_id)
    for index, (item, review) in enumerate(disagree[:2]):
        appeal = item.appeal
        assert review.reviewed_at is not None
        calibrated_at = review.reviewed_at + timedelta(days=3)
        if calibrated_at >= now:
            continue
        which = "second" if index == 0 else "first"
        outcome = review.outcome if which == "second" else appeal.outcome
        review.status, review.calibrated_outcome = QaStatus.CALIBRATED.value, outcome
        review.calibration_note, review.calibrated_by_user_id = words.CALIBRATION_NOTES[which], lead.id
        review.calibrated_at = calibrated_at
        writer.event("appeal.calibrated", calibrated_at, {
            "reference": appeal.reference, "first_outcome": appeal.outcome, "second_outcome": review.outcome,
            "calibrated_outcome": outcome,
        }, actor_type="agent", actor_id=lead.id, decision_id=appeal.decision_id, appeal_id=appeal.id,
            party_id=appeal.party_id)


def _digest(kind: str, appeal_id: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{kind}:{appeal_id}".encode()).digest()[:4], "big")


def _in_sample(appeal_id: int, percent: int) -> bool:
    from trustdesk.appeals.quality import in_sample

    return in_sample(appeal_id, percent)


def _write_disputes(writer: _Writer, written: list[_Written]) -> None:
    """Out-of-court disputes (Art. 21) over Spanish appeals the platform did not reverse in full: two
    closed (the body upheld the decision; a settlement), the most recent still pending."""
    now = writer.now
    candidates = [w for w in written if w.case.market == "ES" and w.appeal.decided_at is not None
                  and w.appeal.outcome in (Outcome.UPHELD.value, Outcome.PARTIALLY_OVERTURNED.value)
                  and not w.appeal.manifestly_unfounded]
    candidates.sort(key=lambda w: (w.appeal.decided_at, w.appeal.id))
    if not candidates:
        return
    chosen = candidates[:2] + ([candidates[-1]] if len(candidates) > 2 else [])
    lead = writer.users["lead"]
    outcomes = (DisputeOutcome.DECISION_UPHELD, DisputeOutcome.SETTLED, DisputeOutcome.PENDING)
    for index, item in enumerate(chosen):
        appeal = item.appeal
        assert appeal.decided_at is not None
        rng = writer.rng("dispute", appeal.reference)
        body = words.ODS_BODIES[index % len(words.ODS_BODIES)]
        opened = min(now - timedelta(hours=2), appeal.decided_at + timedelta(days=rng.uniform(3, 12)))
        closed: datetime | None = opened + timedelta(days=rng.uniform(20, 45))
        outcome = outcomes[index]
        if outcome is DisputeOutcome.PENDING or closed is None or closed >= now:
            outcome, closed = DisputeOutcome.PENDING, None
        dispute = Dispute(appeal_id=appeal.id, body_name=body, opened_at=opened, outcome=outcome.value,
                          closed_at=closed, recorded_by_user_id=lead.id)
        writer.session.add(dispute)
        writer.session.flush()
        # The same data ``appeals.disputes`` records.
        common: dict[str, Any] = {"decision_id": appeal.decision_id, "appeal_id": appeal.id,
                                  "party_id": appeal.party_id}
        writer.event("appeal.dispute_opened", opened, {
            "reference": appeal.reference, "dispute_id": dispute.id, "body_name": body,
            "opened_at": opened.isoformat(), "appeal_outcome": appeal.outcome,
        }, actor_type="agent", actor_id=lead.id, **common)
        if closed is not None:
            writer.event("appeal.dispute_closed", closed, {
                "reference": appeal.reference, "dispute_id": dispute.id, "body_name": body,
                "outcome": outcome.value, "days_open": (closed - opened).days,
            }, actor_type="agent", actor_id=lead.id, **common)


# ---------------------------------------------------------------- the summary


@dataclass(frozen=True)
class AppealsFigures:
    decisions: int
    appeals: int
    open_appeals: int
    decided: int
    overturned: int  # overturned or partially
    by_source: tuple[tuple[str, int, int], ...]  # source key, decided appeals, overturned
    open_markets: tuple[str, ...]
    second_reviews: int
    disputes: int
    suspended_parties: int

    def describe(self) -> str:
        rate = f"{100 * self.overturned / self.decided:.0f}%" if self.decided else "-"
        sources = ", ".join(f"{key} {100 * over / n:.0f}% of {n}" for key, n, over in self.by_source if n)
        return (f"Appeals: {self.decisions:,} decisions, {self.appeals:,} appeals ({self.open_appeals:,} open), "
                f"overturned {rate}; open in {', '.join(self.open_markets) or 'no market'}; "
                f"{self.second_reviews} second reviews, {self.disputes} out-of-court disputes, "
                f"{self.suspended_parties} party suspended from appealing\n"
                f"Overturned by detection source: {sources}")


def figures(session: Session, *, now: datetime) -> AppealsFigures:
    def count(*clauses: Any, of: Any = Appeal.id) -> int:
        query = select(func.count(of))
        for clause in clauses:
            query = query.where(clause)
        return int(session.scalar(query) or 0)

    reversing = [o.value for o in REVERSING]
    by_source = session.execute(
        select(DetectionSource.key, func.count(Appeal.id),
               func.count(Appeal.id).filter(Appeal.outcome.in_(reversing)))
        .join(EnforcementDecision, EnforcementDecision.source_id == DetectionSource.id)
        .join(Appeal, Appeal.decision_id == EnforcementDecision.id)
        .where(Appeal.status == AppealStatus.DECIDED.value).group_by(DetectionSource.key)
        .order_by(DetectionSource.key)).all()
    rows = tuple((str(key), int(n), int(over)) for key, n, over in by_source)
    rows = tuple(sorted(rows, key=lambda r: (-(r[2] / r[1]) if r[1] else 0, r[0])))
    open_markets = tuple(session.scalars(
        select(Market.code).join(MarketAppealSettings,
                                 MarketAppealSettings.market_id == Market.id)
        .where(MarketAppealSettings.is_open.is_(True)).order_by(Market.code)))
    return AppealsFigures(
        decisions=count(of=EnforcementDecision.id), appeals=count(),
        open_appeals=count(Appeal.status == AppealStatus.OPEN.value),
        decided=count(Appeal.status == AppealStatus.DECIDED.value),
        overturned=count(Appeal.outcome.in_(reversing)), by_source=rows, open_markets=open_markets,
        second_reviews=count(of=QaReview.id), disputes=count(of=Dispute.id),
        suspended_parties=count(MisuseMeasure.kind == MisuseKind.SUSPENSION.value, MisuseMeasure.starts_at <= now,
                                MisuseMeasure.ends_at > now, of=func.distinct(MisuseMeasure.party_id)),
    )
