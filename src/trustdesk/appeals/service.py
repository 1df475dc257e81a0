"""The rules of appeals: the decisions registry, filing an appeal, who may decide it and how.

An appeal is filed against one enforcement decision, within the market's window counted from the
day the party was notified (at least six months where the DSA applies), one open appeal per
decision, never by a party suspended for misuse (Art. 23). It opens a case through the appeal form,
so the routing engine puts it in the queue that owns its policy, market and language and the SLA
policy keeps its clock. It is decided by a person qualified for the policy who did not take the
original decision; where the market requires human review, automation alone may not decide. The
appellant gets a reasoned decision with the out-of-court settlement options; an overturn asks the
enforcement system to undo the action (``reversals``) and marks the detection as a false positive.

Functions take a session and typed arguments, append an event (``appeal_events``) and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustdesk.appeals import letters, repository, reversals, sor
from trustdesk.appeals.events import record_event
from trustdesk.appeals.models import (
    AUTOMATED_SOURCES,
    REVERSING,
    Appeal,
    AppealReason,
    AppealStatus,
    DecisionStatus,
    DetectionSource,
    EnforcementDecision,
    EnforcementPolicy,
    ItemKind,
    MarketAppealSettings,
    MisuseMeasure,
    Outcome,
    SourceKind,
)
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Channel, Party, Status
from trustdesk.cases.schemas import AttachmentIn, PartyIn
from trustdesk.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from trustdesk.core.events import EventActor
from trustdesk.core.identity import Actor, user_by_email
from trustdesk.core.notifications import notify
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory.models import Market

# The case topic an appeal arrives under, by what the decision restricted (the routing catalogue
# names the appeal queues by these; rules may go finer by the ``policy`` custom field).
APPEAL_TOPICS: dict[str, str] = {
    ItemKind.LISTING.value: "appeal.listing_removed", ItemKind.ACCOUNT.value: "appeal.account_suspended",
    ItemKind.PAYOUT.value: "appeal.payout_withheld", ItemKind.CONTENT.value: "appeal.content_removed",
}
DSA_MIN_WINDOW_MONTHS = 6  # Art. 20(1): at least six months from the notification
MIN_REASONS_CHARS = 40  # a reasoned decision says why, in more than a word
MAX_REASONS_CHARS = 5000
MAX_STATEMENT_CHARS = 5000
PUID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
MEASURE_FIELDS = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
REDRESS_OPTIONS = ("internal_complaint", "out_of_court", "judicial")
DECIDER_HUMAN, DECIDER_AUTOMATION = "human", "automation"


# ---------------------------------------------------------------- policies and detection sources


def policy_by_key(session: Session, key: str, *, field: str = "policy") -> EnforcementPolicy:
    policy = repository.policy_by_key(session, key)
    if policy is None:
        raise Invalid(f"unknown enforcement policy {key!r}", field=field)
    return policy


def source_by_key(session: Session, key: str, *, field: str = "source") -> DetectionSource:
    source = repository.source_by_key(session, key)
    if source is None:
        raise Invalid(f"unknown detection source {key!r}", field=field)
    return source


def upsert_policy(session: Session, *, key: str, name: str, description: str = "", owner_email: str | None = None,
                  is_active: bool = True, now: datetime) -> EnforcementPolicy:
    owner_id = _user_id(session, owner_email, field="owner_email")
    policy = repository.policy_by_key(session, key)
    if policy is None:
        policy = EnforcementPolicy(key=key, name=name, description=description, owner_user_id=owner_id,
                                   is_active=is_active, created_at=now)
        session.add(policy)
        session.flush()
    else:
        policy.name, policy.description, policy.is_active = name, description, is_active
        policy.owner_user_id = owner_id if owner_email is not None else policy.owner_user_id
    return policy


def upsert_source(session: Session, *, key: str, kind: SourceKind, name: str, owner_email: str | None = None,
                  now: datetime) -> DetectionSource:
    owner_id = _user_id(session, owner_email, field="owner_email")
    source = repository.source_by_key(session, key)
    if source is None:
        source = DetectionSource(key=key, kind=kind.value, name=name, owner_user_id=owner_id, created_at=now)
        session.add(source)
        session.flush()
    else:
        source.kind, source.name = kind.value, name
        source.owner_user_id = owner_id if owner_email is not None else source.owner_user_id
    return source


def _user_id(session: Session, email: str | None, *, field: str) -> int | None:
    if not email:
        return None
    user = user_by_email(session, email)
    if user is None:
        raise Invalid(f"no user has the e-mail {email!r}", field=field)
    return user.id


# ---------------------------------------------------------------- the decisions registry


@dataclass
class NewDecision:
    """What the enforcement system tells TrustDesk about a decision it took."""

    external_id: str
    market: Market
    party: PartyIn
    item_kind: ItemKind
    item_ref: str
    policy_key: str
    source_key: str
    decided_at: datetime
    notified_at: datetime
    statement: Mapping[str, Any]
    item_title: str = ""
    decided_by_email: str | None = None
    redress: Sequence[str] = REDRESS_OPTIONS
    puid: str | None = None


def record_decision(session: Session, new: NewDecision, *, actor: EventActor, now: datetime) -> EnforcementDecision:
    """Register a decision with its statement of reasons (in the Transparency Database's shape).

    The statement is checked by the same rules the export applies (``sor``), except that a market
    outside the EEA may name its own country in ``territorial_scope``.
    """
    if repository.decision_by_external(session, new.external_id) is not None:
        raise Conflict(f"decision {new.external_id!r} is recorded already", field="external_id")
    if new.notified_at < new.decided_at:
        raise Invalid("the party cannot be notified before the decision was taken", field="notified_at")
    if new.decided_at > now:
        raise Invalid("decided_at lies in the future", field="decided_at")
    statement = sor.clean_statement({k: v for k, v in new.statement.items() if k != "puid"})
    puid = new.puid or _puid_for(new.external_id)
    sor.raise_if_invalid({**statement, "puid": puid}, for_tdb=False)
    if repository.decision_by_puid(session, puid) is not None:
        raise Conflict(f"puid {puid!r} is taken: a puid is never reused", field="puid")
    unknown = [option for option in new.redress if option not in REDRESS_OPTIONS]
    if unknown:
        raise Invalid(f"unknown redress option {unknown[0]!r}; one of {', '.join(REDRESS_OPTIONS)}", field="redress")
    policy = policy_by_key(session, new.policy_key, field="policy")
    source = source_by_key(session, new.source_key, field="source")
    if source.kind == SourceKind.HUMAN.value and not new.decided_by_email:
        raise Invalid("a decision by a person names them (decided_by_email)", field="decided_by_email")
    if statement["automated_detection"] == "No" and SourceKind(source.kind) in AUTOMATED_SOURCES:
        raise Invalid(f"source {source.key} is automated ({source.kind}) but automated_detection says No",
                      field="statement.automated_detection")
    if statement["automated_detection"] == "Yes" and source.kind == SourceKind.HUMAN.value:
        raise Invalid(f"source {source.key} is people finding content, but automated_detection says Yes",
                      field="statement.automated_detection")
    party = cases.upsert_party(session, new.market, new.party, now=now)
    decider = user_by_email(session, new.decided_by_email) if new.decided_by_email else None
    decision = EnforcementDecision(
        external_id=new.external_id, puid=puid, market_id=new.market.id, party_id=party.id,
        item_kind=new.item_kind.value, item_ref=new.item_ref, item_title=new.item_title, policy_id=policy.id,
        source_id=source.id, decided_by_email=(new.decided_by_email or "").strip().lower() or None,
        decided_by_user_id=decider.id if decider else None, decided_at=new.decided_at, notified_at=new.notified_at,
        decision_ground=statement["decision_ground"], category=statement["category"],
        source_type=statement["source_type"], automated_detection=statement["automated_detection"] == "Yes",
        automated_decision=statement["automated_decision"],
        application_date=date.fromisoformat(statement["application_date"]), statement=statement,
        redress=list(dict.fromkeys(new.redress)), status=DecisionStatus.IN_FORCE.value, false_positive_at=None,
        created_at=now, updated_at=now,
    )
    session.add(decision)
    session.flush()
    record_event(session, "decision.recorded", actor, now, {
        "external_id": decision.external_id, "market": new.market.code, "policy": policy.key, "source": source.key,
        "item_kind": decision.item_kind, "decision_ground": decision.decision_ground,
        "automated_decision": decision.automated_decision,
    }, decision_id=decision.id, party_id=party.id)
    return decision


def _puid_for(external_id: str) -> str:
    return "td-" + PUID_UNSAFE.sub("-", external_id)[:490]


def decision_by_external(session: Session, external_id: str, *, field: str = "decision") -> EnforcementDecision:
    decision = repository.decision_by_external(session, external_id)
    if decision is None:
        raise NotFound(f"no decision {external_id!r}", field=field)
    return decision


def measures_of(decision: EnforcementDecision) -> list[str]:
    """The statement's measure fields that are set (what the decision restricted)."""
    return [name for name in MEASURE_FIELDS if decision.statement.get(name)]


# ---------------------------------------------------------------- market settings


def settings_for(session: Session, market: Market) -> MarketAppealSettings:
    settings = repository.market_settings(session, market.id)
    if settings is None:
        raise Conflict(f"appeals are not set up in {market.code}", field="market")
    return settings


def window_end(decision: EnforcementDecision, settings: MarketAppealSettings) -> datetime:
    """The last moment an appeal may be filed: ``window_months`` calendar months after the
    notification (a decision notified on 31 August may be appealed until the end of 28 February)."""
    end: datetime = decision.notified_at + relativedelta(months=settings.window_months)
    return end


def check_window_months(months: int, *, dsa_applies: bool) -> int:
    if months < 1 or months > 120:
        raise Invalid("the appeal window is 1 to 120 months", field="window_months")
    if dsa_applies and months < DSA_MIN_WINDOW_MONTHS:
        raise Invalid(f"where the DSA applies the window is at least {DSA_MIN_WINDOW_MONTHS} months from the "
                      "notification (Art. 20(1))", field="window_months")
    return months


# ---------------------------------------------------------------- filing


@dataclass
class NewAppeal:
    decision: EnforcementDecision
    reason: AppealReason
    statement: str
    attachments: Sequence[AttachmentIn] = ()
    language: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Filed:
    appeal: Appeal
    case: Case


def appeal_refusal(decision: EnforcementDecision, *, settings: MarketAppealSettings | None, market_code: str,
                   appeals: Sequence[Appeal], suspension: MisuseMeasure | None, now: datetime) -> DomainError | None:
    """Why an appeal against ``decision`` may not be filed now (None: it may), from the facts given: the
    market's settings, the decision's appeals so far and the party's running suspension, if any."""
    if settings is None:
        return Conflict(f"appeals are not set up in {market_code}", field="market")
    if not settings.is_open:
        return Conflict(f"appeals in {market_code} are not open yet", field="market")
    if suspension is not None and suspension.ends_at is not None:
        return Forbidden(f"appeals from this account are suspended until {suspension.ends_at:%Y-%m-%d} "
                         f"(DSA Art. 23): {suspension.reasons}", field="decision")
    if now > window_end(decision, settings):
        return Conflict(f"the appeal window closed on {window_end(decision, settings):%Y-%m-%d} "
                        f"({settings.window_months} months from the notification)", field="decision")
    if any(a.status == AppealStatus.OPEN.value for a in appeals):
        return Conflict("this decision has an open appeal already; add to it instead", field="decision")
    decided = [a for a in appeals if a.status == AppealStatus.DECIDED.value]
    if decided:
        return Conflict(f"the appeal against this decision was decided on {decided[-1].decided_at:%Y-%m-%d}; it "
                        "can go to an out-of-court dispute settlement body or a court, not to a second appeal",
                        field="decision")
    return None


def check_may_appeal(session: Session, decision: EnforcementDecision, *, now: datetime) -> MarketAppealSettings:
    """Refuse an appeal that may not be filed now, naming why; returns the market's settings."""
    market = session.get(Market, decision.market_id)
    assert market is not None
    settings = repository.market_settings(session, market.id)
    refusal = appeal_refusal(decision, settings=settings, market_code=market.code,
                             appeals=repository.appeals_of_decision(session, decision.id),
                             suspension=repository.active_suspension(session, decision.party_id, now), now=now)
    if refusal is not None:
        raise refusal
    assert settings is not None
    return settings


def file_appeal(session: Session, new: NewAppeal, *, actor: EventActor, settings: Settings,
                now: datetime) -> Filed:
    decision = new.decision
    market_settings = check_may_appeal(session, decision, now=now)
    if new.language is not None and new.language not in market_settings.languages:
        raise Invalid(f"appeals in this market are handled in {', '.join(market_settings.languages)}",
                      field="language")
    market = session.get(Market, decision.market_id)
    party = session.get(Party, decision.party_id)
    policy = session.get(EnforcementPolicy, decision.policy_id)
    assert market is not None and party is not None and policy is not None
    statement = cases.clean_text(new.statement, field="statement", max_chars=MAX_STATEMENT_CHARS)
    title = decision.item_title or decision.item_ref
    opened = cases.open_case(session, cases.NewCase(
        channel=Channel.APPEAL_FORM, market=market, party=party, subject=f"Appeal: {title}"[:300], body=statement,
        language=new.language, topic=APPEAL_TOPICS[decision.item_kind], tags=["appeal", *new.tags],
        custom_fields={"decision_reference": decision.external_id, "policy": policy.key,
                       "item_kind": decision.item_kind, "appeal_reason": new.reason.value},
        attachments=new.attachments,
    ), actor=actor, settings=settings, now=now)
    appeal = Appeal(
        decision_id=decision.id, case_id=opened.case.id, party_id=party.id, market_id=market.id,
        policy_id=policy.id, reason=new.reason.value, status=AppealStatus.OPEN.value, filed_at=now,
        deadline_at=window_end(decision, market_settings), outcome=None, lifted_measures=[], decision_reasons=None,
        decision_letter=None, decider_user_id=None, decider_kind=None, manifestly_unfounded=False, decided_at=None,
        created_at=now, updated_at=now,
    )
    try:
        with session.begin_nested():  # a twin filed at the same moment meets the partial unique index
            session.add(appeal)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("this decision has an open appeal already; add to it instead", field="decision") from exc
    appeal.reference = f"AP-{now.year}-{appeal.id:06d}"
    record_event(session, "appeal.filed", actor, now, {
        "reference": appeal.reference, "case_id": opened.case.id, "reason": appeal.reason, "market": market.code,
        "policy": policy.key, "attachments": len(new.attachments),
        "days_after_notification": (now - decision.notified_at).days,
    }, decision_id=decision.id, appeal_id=appeal.id, party_id=party.id)
    return Filed(appeal=appeal, case=opened.case)


# ---------------------------------------------------------------- deciding


def check_may_decide(session: Session, appeal: Appeal, actor: Actor, *, decider_kind: str = DECIDER_HUMAN) -> None:
    """The reviewer may decide this appeal: qualified for its policy, not the original decider, a
    person where the market requires one."""
    if appeal.status != AppealStatus.OPEN.value:
        raise Conflict(f"appeal {appeal.reference} is {appeal.status}", field="appeal")
    if not actor.can(Perm.APPEALS_DECIDE):
        raise Forbidden("deciding appeals needs the appeals.decide permission")
    if actor.vendor_id is not None:
        raise Forbidden("appeals are decided by the platform's own staff, not a vendor's", field="reviewer")
    market = session.get(Market, appeal.market_id)
    assert market is not None
    market_settings = settings_for(session, market)
    if decider_kind not in (DECIDER_HUMAN, DECIDER_AUTOMATION):
        raise Invalid("decider_kind is human or automation", field="decider_kind")
    if decider_kind == DECIDER_AUTOMATION and market_settings.human_review_required:
        raise Conflict(f"in {market.code} an appeal is decided by a person, never by automation alone "
                       "(DSA Art. 20(6))", field="decider_kind")
    decision = session.get(EnforcementDecision, appeal.decision_id)
    assert decision is not None
    if is_original_decider(decision, actor):
        raise Forbidden("you took the original decision: someone else reviews the appeal against it",
                        field="reviewer")
    if not repository.is_qualified(session, actor.user_id, appeal.policy_id):
        policy = session.get(EnforcementPolicy, appeal.policy_id)
        raise Forbidden(f"you are not qualified to decide {policy.name if policy else 'this policy'} appeals",
                        field="reviewer")


def is_original_decider(decision: EnforcementDecision, actor: Actor) -> bool:
    """``actor`` took ``decision`` (by their TrustDesk account or the moderator e-mail the system sent)."""
    if decision.decided_by_user_id is not None and decision.decided_by_user_id == actor.user_id:
        return True
    return bool(decision.decided_by_email and actor.email and decision.decided_by_email == actor.email.lower())


@dataclass
class Verdict:
    outcome: Outcome
    reasons: str
    lifted_measures: Sequence[str] = ()
    manifestly_unfounded: bool = False
    decider_kind: str = DECIDER_HUMAN


def decide_appeal(session: Session, appeal: Appeal, verdict: Verdict, *, actor: Actor, settings: Settings,
                  now: datetime) -> Appeal:
    """Decide, send the appellant the reasoned decision on their case (which is solved), and on an
    overturn ask the enforcement system to undo the action."""
    from trustdesk.appeals import quality  # quality asks this module who decided: imported when needed

    check_may_decide(session, appeal, actor, decider_kind=verdict.decider_kind)
    decision = session.get(EnforcementDecision, appeal.decision_id, with_for_update=True)
    case = session.get(Case, appeal.case_id, with_for_update=True)
    assert decision is not None and case is not None
    if Status(case.status) in cases.FINAL:
        raise Conflict("the appeal's case is closed: reopen it before deciding", field="appeal")
    reasons = cases.clean_text(verdict.reasons, field="reasons", max_chars=MAX_REASONS_CHARS)
    if len(reasons) < MIN_REASONS_CHARS:
        raise Invalid(f"give the reasons in at least {MIN_REASONS_CHARS} characters: the appellant is owed them",
                      field="reasons")
    lifted = _lifted(decision, verdict)
    if verdict.manifestly_unfounded and verdict.outcome is not Outcome.UPHELD:
        raise Invalid("only an upheld decision can make the appeal manifestly unfounded",
                      field="manifestly_unfounded")
    appeal.outcome, appeal.decision_reasons, appeal.lifted_measures = verdict.outcome.value, reasons, lifted
    appeal.decider_user_id, appeal.decider_kind = actor.user_id, verdict.decider_kind
    appeal.manifestly_unfounded = verdict.manifestly_unfounded
    appeal.status, appeal.decided_at, appeal.updated_at = AppealStatus.DECIDED.value, now, now
    letter = letters.compose(session, appeal, decision, case)
    appeal.decision_letter = letter
    session.flush()
    record_event(session, "appeal.decided", actor, now, {
        "reference": appeal.reference, "outcome": appeal.outcome, "lifted_measures": lifted,
        "decider_kind": verdict.decider_kind, "manifestly_unfounded": appeal.manifestly_unfounded,
        "hours_to_decide": round((now - appeal.filed_at).total_seconds() / 3600, 2),
    }, decision_id=decision.id, appeal_id=appeal.id, party_id=appeal.party_id)
    cases.add_agent_reply(session, case, body=letter, actor=actor, settings=settings, now=now,
                          then_status=Status.SOLVED)
    if verdict.outcome in REVERSING:
        decision.status = (DecisionStatus.REVERSED.value if verdict.outcome is Outcome.OVERTURNED
                           else DecisionStatus.PARTIALLY_REVERSED.value)
        decision.updated_at = now
        reversals.request(session, appeal, decision, measures=lifted, actor=actor, now=now)
        _mark_false_positive(session, appeal, decision, actor=actor, now=now)
    quality.maybe_sample(session, appeal, actor=actor, now=now)
    return appeal


def _lifted(decision: EnforcementDecision, verdict: Verdict) -> list[str]:
    measures = measures_of(decision)
    if verdict.outcome is Outcome.UPHELD:
        if verdict.lifted_measures:
            raise Invalid("an upheld decision lifts no measure", field="lifted_measures")
        return []
    if verdict.outcome is Outcome.OVERTURNED:
        return measures
    chosen = list(dict.fromkeys(verdict.lifted_measures))
    for name in chosen:
        if name not in measures:
            raise Invalid(f"{name} is not a measure of this decision; one of {', '.join(measures)}",
                          field="lifted_measures")
    if not chosen:
        raise Invalid("a partial overturn names the measures it lifts", field="lifted_measures")
    if len(chosen) == len(measures):
        raise Invalid("lifting every measure is a full overturn", field="lifted_measures")
    return chosen


def _mark_false_positive(session: Session, appeal: Appeal, decision: EnforcementDecision, *, actor: Actor,
                         now: datetime) -> None:
    """Tell the detection source's and the policy's owners that an appeal found the decision wrong."""
    decision.false_positive_at = now
    source = session.get(DetectionSource, decision.source_id)
    policy = session.get(EnforcementPolicy, decision.policy_id)
    assert source is not None and policy is not None
    record_event(session, "decision.false_positive", actor, now, {
        "source": source.key, "source_kind": source.kind, "policy": policy.key, "appeal": appeal.reference,
        "outcome": appeal.outcome,
    }, decision_id=decision.id, appeal_id=appeal.id, party_id=decision.party_id)
    owners = [uid for uid in (source.owner_user_id, policy.owner_user_id) if uid is not None]
    notify(session, owners, kind="appeals.false_positive",
           title=f"False positive: {source.name} ({policy.name})",
           body=f"Appeal {appeal.reference} {appeal.outcome.replace('_', ' ') if appeal.outcome else ''} decision "
                f"{decision.external_id}: {source.name} acted on {decision.item_kind} {decision.item_ref} wrongly.",
           now=now, link=f"/console/appeals/{appeal.id}",
           dedupe_key=f"appeals.false_positive:{decision.id}", once=True)


def withdraw_appeal(session: Session, appeal: Appeal, *, actor: EventActor, now: datetime) -> Appeal:
    if appeal.status != AppealStatus.OPEN.value:
        raise Conflict(f"appeal {appeal.reference} is {appeal.status}", field="appeal")
    appeal.status, appeal.updated_at = AppealStatus.WITHDRAWN.value, now
    record_event(session, "appeal.withdrawn", actor, now, {"reference": appeal.reference},
                 decision_id=appeal.decision_id, appeal_id=appeal.id, party_id=appeal.party_id)
    case = session.get(Case, appeal.case_id, with_for_update=True)
    assert case is not None
    if Status(case.status) not in (Status.SOLVED, Status.CLOSED):  # nothing left to work: off the queue
        cases.change_status(session, case, Status.SOLVED, actor=actor, now=now, reason="appeal_withdrawn")
    return appeal
