"""Read models of the appeals pages (console and help center): the queue, one appeal with its decision and
statement of reasons in words, second reviews, market readiness and a party's Art. 23 standing.

Only reading lives here; the rules stay in ``service``, ``quality``, ``markets`` and ``misuse``. Each
function loads what a page shows in a fixed number of queries (no query per row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from trustdesk.appeals import access, letters, repository, service, sor
from trustdesk.appeals.models import (
    Appeal,
    AppealReason,
    AppealStatus,
    DetectionSource,
    EnforcementDecision,
    EnforcementPolicy,
    MarketAppealSettings,
    Outcome,
    QaReview,
    QaStatus,
    Reversal,
    SourceKind,
)
from trustdesk.cases import repository as cases_repository
from trustdesk.cases.models import Attachment, Case, Message, Party
from trustdesk.core import i18n
from trustdesk.core.errors import Conflict, DomainError, Forbidden, NotFound
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm
from trustdesk.directory import page_queries as directory_queries
from trustdesk.directory.models import Market
from trustdesk.sla import timers as sla_timers

PAGE_SIZE = 25

# ---------------------------------------------------------------- words for codes

OUTCOME_LABELS: dict[str, str] = {
    Outcome.UPHELD.value: "Upheld", Outcome.OVERTURNED.value: "Overturned",
    Outcome.PARTIALLY_OVERTURNED.value: "Partially overturned",
}
OUTCOME_HINTS: dict[str, str] = {
    Outcome.UPHELD.value: "The decision stands: the restriction stays in force.",
    Outcome.OVERTURNED.value: "The decision was wrong: every measure is lifted and the enforcement system is "
                              "asked to undo the action.",
    Outcome.PARTIALLY_OVERTURNED.value: "Some measures go, others stay: choose the measures to lift below.",
}
APPEAL_STATUS_LABELS: dict[str, str] = {
    AppealStatus.OPEN.value: "Open", AppealStatus.DECIDED.value: "Decided", AppealStatus.WITHDRAWN.value: "Withdrawn",
}
DECISION_STATUS_LABELS: dict[str, str] = {
    "in_force": "In force", "reversed": "Reversed", "partially_reversed": "Partially reversed",
}
REASON_LABELS: dict[str, str] = {
    AppealReason.NOT_A_VIOLATION.value: "I did not break the rule",
    AppealReason.WRONG_ITEM.value: "You acted on the wrong item or account",
    AppealReason.ALREADY_FIXED.value: "I have already fixed the problem",
    AppealReason.DISPROPORTIONATE.value: "The measure is too harsh for what happened",
    AppealReason.OTHER.value: "Another reason (explain below)",
}
SOURCE_KIND_LABELS: dict[str, str] = {
    SourceKind.RULE.value: "Automated rule", SourceKind.MODEL.value: "Machine-learning model",
    SourceKind.HASH_MATCH.value: "Hash match", SourceKind.HUMAN.value: "Moderators",
    SourceKind.USER_NOTICE.value: "Notice from a user", SourceKind.TRUSTED_FLAGGER.value: "Trusted flagger",
}
ITEM_KIND_LABELS: dict[str, str] = {"listing": "Listing", "account": "Account", "payout": "Payout",
                                    "content": "Content"}
REDRESS_LABELS: dict[str, str] = {
    "internal_complaint": "An appeal to us (internal complaint)",
    "out_of_court": "A certified out-of-court dispute settlement body",
    "judicial": "The courts",
}
MEASURE_LABELS: dict[str, str] = {
    "decision_visibility": "Visibility of the content", "decision_monetary": "Payments",
    "decision_provision": "The service", "decision_account": "The account",
}
GROUND_LABELS: dict[str, str] = {
    sor.GROUND_ILLEGAL: "Illegal content (against the law)",
    sor.GROUND_INCOMPATIBLE: "Incompatible with the terms and conditions",
}
SOURCE_TYPE_LABELS: dict[str, str] = {
    "SOURCE_ARTICLE_16": "A notice under DSA Art. 16", "SOURCE_TRUSTED_FLAGGER": "A trusted flagger",
    "SOURCE_TYPE_OTHER_NOTIFICATION": "Another kind of notification",
    "SOURCE_VOLUNTARY": "The platform's own initiative",
}
AUTOMATED_DECISION_LABELS: dict[str, str] = {
    "AUTOMATED_DECISION_FULLY": "Fully automated", "AUTOMATED_DECISION_PARTIALLY": "Partly automated",
    "AUTOMATED_DECISION_NOT_AUTOMATED": "Not automated: a person decided",
}
_PREFIXES = ("DECISION_VISIBILITY_", "DECISION_MONETARY_", "DECISION_PROVISION_", "DECISION_ACCOUNT_",
             "CONTENT_TYPE_", "STATEMENT_CATEGORY_", "KEYWORD_", "ACCOUNT_TYPE_")
_END_DATE_OF = {measure: end for end, measure in sor.END_DATES.items()}


def code_words(code: str) -> str:
    """``DECISION_VISIBILITY_CONTENT_REMOVED`` -> ``Content removed`` (the TDB's codes, readable)."""
    text = str(code)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    words = text.replace("_", " ").lower()
    for short in (" tc", " eu "):
        words = words.replace(short, short.upper())
    return words[:1].upper() + words[1:]


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


# ---------------------------------------------------------------- the statement of reasons in words


@dataclass(frozen=True)
class MeasureWords:
    field: str
    label: str  # what is restricted
    what: list[str]  # how, in words
    ends: str | None  # "until 2026-05-01" or None (no end date)


@dataclass(frozen=True)
class StatementWords:
    ground: str
    ground_reference: str | None  # the law or the clause of the terms
    explanation: str | None
    also_illegal: bool | None  # incompatible content that is illegal too
    measures: list[MeasureWords]
    territorial_scope: list[str]
    content_types: list[str]
    category: str
    extra_categories: list[str]
    keywords: list[str]
    automated_detection: bool
    automated_decision: str
    source_type: str
    facts: str
    content_date: str | None
    application_date: str | None
    content_language: str | None
    reference_url: str | None


def statement_words(statement: Mapping[str, Any]) -> StatementWords:
    ground = str(statement.get("decision_ground", ""))
    illegal = ground == sor.GROUND_ILLEGAL
    measures = []
    for name in service.MEASURE_FIELDS:
        values = _as_list(statement.get(name))
        if not values:
            continue
        what = [code_words(v) for v in values]
        other = statement.get(f"{name}_other")
        if other:
            what.append(str(other))
        end = statement.get(_END_DATE_OF.get(name, ""))
        measures.append(MeasureWords(field=name, label=MEASURE_LABELS.get(name, name), what=what,
                                     ends=f"until {end}" if end else None))
    keywords = [code_words(k) for k in _as_list(statement.get("category_specification"))]
    if statement.get("category_specification_other"):
        keywords.append(str(statement["category_specification_other"]))
    content_types = [code_words(c) for c in _as_list(statement.get("content_type"))]
    if statement.get("content_type_other"):
        content_types.append(str(statement["content_type_other"]))
    also_illegal = statement.get("incompatible_content_illegal")
    return StatementWords(
        ground=GROUND_LABELS.get(ground, code_words(ground)),
        ground_reference=statement.get("illegal_content_legal_ground" if illegal else "incompatible_content_ground"),
        explanation=statement.get("illegal_content_explanation" if illegal else "incompatible_content_explanation"),
        also_illegal=None if also_illegal is None else also_illegal == "Yes",
        measures=measures, territorial_scope=_as_list(statement.get("territorial_scope")),
        content_types=content_types, category=code_words(str(statement.get("category", ""))),
        extra_categories=[code_words(c) for c in _as_list(statement.get("category_addition"))],
        keywords=keywords, automated_detection=statement.get("automated_detection") == "Yes",
        automated_decision=AUTOMATED_DECISION_LABELS.get(str(statement.get("automated_decision")),
                                                         str(statement.get("automated_decision", ""))),
        source_type=SOURCE_TYPE_LABELS.get(str(statement.get("source_type")), str(statement.get("source_type", ""))),
        facts=str(statement.get("decision_facts", "")), content_date=statement.get("content_date"),
        application_date=statement.get("application_date"), content_language=statement.get("content_language"),
        reference_url=statement.get("decision_ground_reference_url"),
    )


def measure_options(decision: EnforcementDecision) -> list[tuple[str, str]]:
    """The decision's measures for the "lift these" checkboxes: (field, in words)."""
    words = {m.field: m for m in statement_words(decision.statement).measures}
    return [(name, f"{MEASURE_LABELS.get(name, name)}: {', '.join(words[name].what).lower()}" if name in words
             else MEASURE_LABELS.get(name, name)) for name in service.measures_of(decision)]


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueFilters:
    status: str = AppealStatus.OPEN.value
    market: str = ""  # a market code
    policy: str = ""  # a policy key
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    appeal: Appeal
    case_reference: str
    item: str
    item_kind: str
    policy: str
    market: str
    language: str
    due_metric: str | None
    due_at: datetime | None
    reviewer: str | None  # the case's assignee, or the decider once decided


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    has_next: bool


def queue(session: Session, filters: QueueFilters) -> QueuePage:
    """Appeals by status (open by default), the soonest SLA due first, then the oldest filed.

    Two steps: the page's ids from ``appeals`` alone (filters resolved to ids first, the due time
    correlated on the appeal's case), then those rows with their case, decision, policy and market.
    Sorting tens of thousands of open appeals joined to their decisions' statements cost more than a
    second on a large history (``bench/appeals.py``); this way only the page's rows are joined.
    """
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(Appeal.status == filters.status)
    if filters.market:
        conditions.append(Appeal.market_id.in_(select(Market.id).where(Market.code == filters.market)))
    if filters.policy:
        conditions.append(Appeal.policy_id.in_(select(EnforcementPolicy.id)
                                               .where(EnforcementPolicy.key == filters.policy)))
    ids = select(Appeal.id).where(*conditions)
    if filters.status == AppealStatus.OPEN.value:
        ids = ids.order_by(sla_timers.soonest_due(Appeal.case_id).asc().nulls_last(), Appeal.filed_at, Appeal.id)
    else:
        ids = ids.order_by(Appeal.decided_at.desc().nulls_last(), Appeal.filed_at.desc(), Appeal.id.desc())
    offset = (max(filters.page, 1) - 1) * PAGE_SIZE
    page_ids = list(session.scalars(ids.offset(offset).limit(PAGE_SIZE + 1)))
    shown_ids = page_ids[:PAGE_SIZE]
    found = {row[0].id: row for row in session.execute(
        select(Appeal, Case, EnforcementDecision.item_title, EnforcementDecision.item_ref,
               EnforcementDecision.item_kind, EnforcementPolicy.name, Market.code)
        .join(Case, Case.id == Appeal.case_id)
        .join(EnforcementDecision, EnforcementDecision.id == Appeal.decision_id)
        .join(EnforcementPolicy, EnforcementPolicy.id == Appeal.policy_id)
        .join(Market, Market.id == Appeal.market_id)
        .where(Appeal.id.in_(shown_ids)))} if shown_ids else {}
    shown = [found[appeal_id] for appeal_id in shown_ids]
    cases = [row[1] for row in shown]
    next_due = sla_timers.next_due(session, [c.id for c in cases])
    agents = directory_queries.agent_names(session, {c.assignee_id for c in cases})
    deciders = directory_queries.user_names(session, {row[0].decider_user_id for row in shown})
    rows = []
    for appeal, case, item_title, item_ref, item_kind, policy_name, market_code in shown:
        due_metric, due_at = next_due.get(case.id, (None, None)) if appeal.status == AppealStatus.OPEN.value \
            else (None, None)
        reviewer = (deciders.get(appeal.decider_user_id) if appeal.decider_user_id
                    else agents.get(case.assignee_id) if case.assignee_id else None)
        rows.append(QueueRow(appeal=appeal, case_reference=case.reference or f"#{case.id}",
                             item=item_title or item_ref, item_kind=item_kind,
                             policy=policy_name, market=market_code, language=case.language, due_metric=due_metric,
                             due_at=due_at, reviewer=reviewer))
    total = int(session.scalar(select(func.count(Appeal.id)).where(*conditions)) or 0)
    return QueuePage(rows=rows, total=total, page=max(filters.page, 1), has_next=len(page_ids) > PAGE_SIZE)


def filter_options(session: Session) -> dict[str, list[tuple[str, str]]]:
    markets = session.execute(select(Market.code, Market.name).join(
        MarketAppealSettings, MarketAppealSettings.market_id == Market.id).order_by(Market.code)).all()
    return {
        "statuses": [(k, v) for k, v in APPEAL_STATUS_LABELS.items()],
        "markets": [(code, f"{name} ({code})") for code, name in markets],
        "policies": [(p.key, p.name) for p in repository.policies(session)],
    }


# ---------------------------------------------------------------- one appeal


@dataclass(frozen=True)
class DecisionView:
    decision: EnforcementDecision
    policy: EnforcementPolicy
    source: DetectionSource
    market: Market
    party: Party
    statement: StatementWords
    decided_by: str | None  # the moderator's e-mail (staff only)
    redress: list[str]
    window_end: datetime | None
    market_settings: MarketAppealSettings | None


@dataclass
class AppealView:
    appeal: Appeal
    decision: DecisionView
    case: Case
    messages: Sequence[Message]  # the appellant's messages (the replies, the letter among them, are the case's)
    attachments: Sequence[Attachment]
    others: list[Appeal]  # other appeals against the same decision
    decider: str | None
    reversal: Reversal | None
    qa: QaReview | None
    qa_reviewer: str | None
    measure_options: list[tuple[str, str]]
    may_decide: bool = False
    why_not: str | None = None  # why this actor may not decide, in words
    blind: bool = False  # a second review before it is submitted: the decision's status would tell the outcome
    extra: dict[str, Any] = field(default_factory=dict)


def decision_view(session: Session, decision: EnforcementDecision) -> DecisionView:
    policy = session.get(EnforcementPolicy, decision.policy_id)
    source = session.get(DetectionSource, decision.source_id)
    market = session.get(Market, decision.market_id)
    party = session.get(Party, decision.party_id)
    assert policy is not None and source is not None and market is not None and party is not None
    settings = repository.market_settings(session, market.id)
    return DecisionView(
        decision=decision, policy=policy, source=source, market=market, party=party,
        statement=statement_words(decision.statement), decided_by=decision.decided_by_email,
        redress=[REDRESS_LABELS.get(r, r) for r in decision.redress],
        window_end=service.window_end(decision, settings) if settings is not None else None,
        market_settings=settings,
    )


def why_not_decide(session: Session, appeal: Appeal, actor: Actor) -> str | None:
    """None when ``actor`` may decide ``appeal`` now; else the reason, as the service gives it."""
    try:
        service.check_may_decide(session, appeal, actor)
    except (Forbidden, Conflict) as refused:
        return refused.detail
    return None


def appeal_view(session: Session, appeal: Appeal, actor: Actor, *, blind: bool = False) -> AppealView:
    """Everything the appeal page shows; ``blind`` leaves out what a second reviewer must not see first
    (the outcome, the reasons, the letter and every reply on the case)."""
    decision = session.get(EnforcementDecision, appeal.decision_id)
    case = session.get(Case, appeal.case_id)
    assert decision is not None and case is not None
    messages = [m for m in cases_repository.messages(session, case.id, public_only=True)
                if m.author_type == "customer"]
    reversal = None if blind else repository.reversal_of(session, appeal.id)
    qa = None if blind else repository.qa_review_of(session, appeal.id)
    names = directory_queries.user_names(session, {appeal.decider_user_id, qa.reviewer_user_id if qa else None})
    why_not = None if blind else why_not_decide(session, appeal, actor)
    return AppealView(
        appeal=appeal, decision=decision_view(session, decision), case=case, messages=messages,
        attachments=cases_repository.attachments(session, case.id),
        others=[a for a in repository.appeals_of_decision(session, decision.id) if a.id != appeal.id],
        decider=None if blind else names.get(appeal.decider_user_id) if appeal.decider_user_id else None,
        reversal=reversal, qa=qa, qa_reviewer=names.get(qa.reviewer_user_id) if qa and qa.reviewer_user_id else None,
        measure_options=measure_options(decision), may_decide=why_not is None and not blind, why_not=why_not,
        blind=blind,
    )


def letter_preview(session: Session, appeal: Appeal, *, outcome: str, reasons: str,
                   lifted: Sequence[str]) -> str | None:
    """The letter the appellant would get for this outcome and these reasons (nothing is kept)."""
    decision = session.get(EnforcementDecision, appeal.decision_id)
    case = session.get(Case, appeal.case_id)
    if decision is None or case is None or outcome not in OUTCOME_LABELS:
        return None
    draft = Appeal(id=appeal.id, reference=appeal.reference, market_id=appeal.market_id, policy_id=appeal.policy_id,
                   outcome=outcome, decision_reasons=reasons.strip() or "…", lifted_measures=list(lifted),
                   decided_at=None)
    try:
        return letters.compose(session, draft, decision, case)
    except DomainError:
        return None


# ---------------------------------------------------------------- second reviews


@dataclass(frozen=True)
class QaRow:
    review: QaReview
    appeal: Appeal
    policy: str
    market: str
    item: str
    decider: str | None
    reviewer: str | None


def qa_rows(session: Session, status: QaStatus, *, limit: int = 100) -> list[QaRow]:
    ordering = QaReview.sampled_at if status is QaStatus.PENDING else QaReview.reviewed_at.desc()
    found = session.execute(
        select(QaReview, Appeal, EnforcementPolicy.name, Market.code, EnforcementDecision)
        .join(Appeal, Appeal.id == QaReview.appeal_id)
        .join(EnforcementPolicy, EnforcementPolicy.id == Appeal.policy_id)
        .join(Market, Market.id == Appeal.market_id)
        .join(EnforcementDecision, EnforcementDecision.id == Appeal.decision_id)
        .where(QaReview.status == status.value).order_by(ordering, QaReview.id).limit(limit)
    ).all()
    names = directory_queries.user_names(session, {a.decider_user_id for _r, a, *_ in found}
                                         | {r.reviewer_user_id for r, *_ in found})
    return [QaRow(review=r, appeal=a, policy=p, market=m, item=d.item_title or d.item_ref,
                  decider=names.get(a.decider_user_id) if a.decider_user_id else None,
                  reviewer=names.get(r.reviewer_user_id) if r.reviewer_user_id else None)
            for r, a, p, m, d in found]


def qa_review_by_id(session: Session, review_id: int) -> QaReview:
    review = session.get(QaReview, review_id)
    if review is None:
        raise NotFound(f"second review {review_id} does not exist", field="review_id")
    return review


def why_not_review(session: Session, review: QaReview, appeal: Appeal, actor: Actor) -> str | None:
    from trustdesk.appeals import quality

    try:
        quality.check_may_review(session, review, appeal, actor)
    except (Forbidden, Conflict) as refused:
        return refused.detail
    return None


# ---------------------------------------------------------------- markets


@dataclass(frozen=True)
class MarketRow:
    market: Market
    settings: MarketAppealSettings | None
    readiness: Any  # markets.Readiness


def market_rows(session: Session, *, settings: Any, now: datetime) -> list[MarketRow]:
    from trustdesk.appeals import markets

    rows = []
    for market in session.scalars(select(Market).where(Market.is_active.is_(True)).order_by(Market.code)):
        rows.append(MarketRow(market=market, settings=repository.market_settings(session, market.id),
                              readiness=markets.check(session, market, settings=settings, now=now)))
    return rows


def market_by_code(session: Session, code: str) -> Market:
    market = session.scalar(select(Market).where(Market.code == code.upper()))
    if market is None:
        raise NotFound(f"market {code} does not exist", field="market")
    return market


# ---------------------------------------------------------------- parties (Art. 23)


def measure_issuers(session: Session, user_ids: set[int]) -> dict[int, str]:
    return directory_queries.user_names(session, user_ids)


# ---------------------------------------------------------------- the help center


@dataclass(frozen=True)
class CustomerDecision:
    decision: EnforcementDecision
    policy: str
    market: Market
    statement: StatementWords
    window_end: datetime | None
    open_appeal: Appeal | None
    appeals: list[tuple[Appeal, str]]  # (appeal, its case's reference), oldest first
    may_appeal: bool
    why_not: str | None
    redress: list[str]  # the options the party was told of, in words


def customer_decision(session: Session, decision: EnforcementDecision, *, now: datetime) -> CustomerDecision:
    return _customer_decisions(session, [decision], now=now)[0]


def customer_decisions(session: Session, user_id: int, *, now: datetime) -> list[CustomerDecision]:
    return _customer_decisions(session, list(repository.decisions_of_user(session, user_id)), now=now)


def _customer_decisions(session: Session, decisions: list[EnforcementDecision], *,
                        now: datetime) -> list[CustomerDecision]:
    """The help center's view of ``decisions`` in a fixed number of queries (whatever their number)."""
    policies = {p.id: p for p in session.scalars(select(EnforcementPolicy))}
    markets = {m.id: m for m in session.scalars(select(Market))}
    settings = repository.all_market_settings(session)
    appeals = repository.appeals_of_decisions(session, [d.id for d in decisions])
    suspensions = repository.active_suspensions(session, list({d.party_id for d in decisions}), now)
    case_ids = [a.case_id for rows in appeals.values() for a in rows]
    refs = {case_id: ref for case_id, ref in session.execute(
        select(Case.id, Case.reference).where(Case.id.in_(case_ids)))} if case_ids else {}
    views = []
    for decision in decisions:
        market, market_settings, own = markets[decision.market_id], settings.get(decision.market_id), \
            appeals[decision.id]
        refusal = service.appeal_refusal(decision, settings=market_settings, market_code=market.code, appeals=own,
                                         suspension=suspensions.get(decision.party_id), now=now)
        views.append(CustomerDecision(
            decision=decision, policy=policies[decision.policy_id].name, market=market,
            statement=statement_words(decision.statement),
            window_end=service.window_end(decision, market_settings) if market_settings is not None else None,
            open_appeal=next((a for a in own if a.status == AppealStatus.OPEN.value), None),
            appeals=[(a, refs.get(a.case_id) or "") for a in own], may_appeal=refusal is None,
            why_not=refusal.detail if refusal is not None else None,
            redress=[REDRESS_LABELS.get(r, r) for r in decision.redress],
        ))
    return views


def appeal_language(session: Session, decision: EnforcementDecision) -> str:
    """The party's locale (or its language) when the market handles appeals in it, else the market's
    default language, else the first language appeals are handled in."""
    party = session.get(Party, decision.party_id)
    market = session.get(Market, decision.market_id)
    assert party is not None and market is not None
    settings = repository.market_settings(session, market.id)
    handled = settings.languages if settings is not None and settings.languages else market.languages
    return i18n.negotiate([party.locale, market.default_language], list(handled))


def user_display(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.display_name if user else None


@dataclass(frozen=True)
class CasePanel:
    """What the case page says about the appeal a case carries (for in-house appeals staff)."""

    appeal_id: int
    reference: str
    status: str
    outcome: str | None
    decision_ref: str
    policy: str
    deadline_at: datetime


def case_panel(session: Session, actor: Actor, case_id: int) -> CasePanel | None:
    """The appeal behind ``case_id``, or None when there is none or the actor does not work appeals."""
    if actor.vendor_id is not None or not actor.can(Perm.APPEALS_READ):
        return None
    appeal = repository.appeal_of_case(session, case_id)
    if appeal is None:
        return None
    decision = session.get(EnforcementDecision, appeal.decision_id)
    policy = session.get(EnforcementPolicy, appeal.policy_id)
    assert decision is not None and policy is not None
    return CasePanel(appeal_id=appeal.id, reference=appeal.reference or "", status=appeal.status,
                     outcome=appeal.outcome, decision_ref=decision.external_id, policy=policy.name,
                     deadline_at=appeal.deadline_at)


def blind_review_url(session: Session, actor: Actor, case: Case) -> str | None:
    """Where a second reviewer goes instead of an appeal's case page while their review is pending (the case's
    thread holds the decision letter)."""
    if case.channel != "appeal_form" or not access.reviews_blind(actor):
        return None
    appeal = repository.appeal_of_case(session, case.id)
    review = access.blind_review_for(session, actor, appeal) if appeal is not None else None
    return f"/console/appeals/qa/{review.id}" if review is not None else None
