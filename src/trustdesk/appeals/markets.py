"""A market's appeals set-up and its launch: the readiness check lists every missing piece, and a
market opens for appeals only when the check passes.

What a market needs before it takes appeals (each a ``Gap`` when missing):
- its settings: the languages appeals are handled in (the market's own), the window (at least six
  months where the DSA applies, and human review required there);
- the out-of-court settlement text in every appeal language;
- a decision letter for every outcome in every appeal language;
- for every active policy and appeal language, a reviewer qualified for the policy who speaks it
  and works in an appeals team;
- for every kind of decision, routing that puts its appeals in an active queue of an appeals team,
  and an SLA policy with a resolution target for them;
- a webhook receiver for reversals (an overturn must reach the enforcement system).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.appeals import repository, reversals
from trustdesk.appeals.events import record_event
from trustdesk.appeals.models import ItemKind, MarketAppealSettings, Outcome
from trustdesk.appeals.service import APPEAL_TOPICS, DSA_MIN_WINDOW_MONTHS, check_window_months
from trustdesk.core.errors import Conflict, Invalid
from trustdesk.core.events import EventActor
from trustdesk.core.identity import User
from trustdesk.core.settings import Settings
from trustdesk.directory.models import Agent, Market, Queue, Team, TeamMembership, Tier
from trustdesk.routing import service as routing
from trustdesk.sla import policies as sla

PARTY_KIND_OF_ITEM = {ItemKind.LISTING.value: "seller", ItemKind.ACCOUNT.value: "seller",
                      ItemKind.PAYOUT.value: "seller", ItemKind.CONTENT.value: "creator"}


@dataclass(frozen=True)
class Gap:
    area: str  # settings | out_of_court | templates | reviewers | routing | sla | reversals
    what: str  # in words, for the person launching the market
    fix: str  # where to fix it


@dataclass(frozen=True)
class Readiness:
    market: Market
    gaps: Sequence[Gap]
    checked: int  # how many pieces were looked at

    @property
    def ready(self) -> bool:
        return not self.gaps


def configure(session: Session, market: Market, *, languages: Sequence[str], window_months: int,
              dsa_applies: bool, human_review_required: bool, qa_sample_percent: int,
              out_of_court: dict[str, str], misuse_threshold: int | None = None,
              misuse_window_days: int | None = None, misuse_max_suspension_days: int | None = None,
              actor: EventActor, now: datetime) -> MarketAppealSettings:
    """Create or change ``market``'s appeals settings; where the DSA applies, a window under six months
    and decisions without human review are refused. Misuse settings left out keep their value (or
    the defaults: 3 appeals in 180 days, suspensions of at most 90 days)."""
    row = repository.market_settings(session, market.id)
    misuse_threshold = misuse_threshold if misuse_threshold is not None else (row.misuse_threshold if row else 3)
    misuse_window_days = (misuse_window_days if misuse_window_days is not None
                          else (row.misuse_window_days if row else 180))
    misuse_max_suspension_days = (misuse_max_suspension_days if misuse_max_suspension_days is not None
                                  else (row.misuse_max_suspension_days if row else 90))
    check_window_months(window_months, dsa_applies=dsa_applies)
    if dsa_applies and not human_review_required:
        raise Invalid("where the DSA applies, appeals are decided under the supervision of qualified staff, "
                      "never by automation alone (Art. 20(6))", field="human_review_required")
    chosen = list(dict.fromkeys(code.strip() for code in languages if code.strip()))
    for index, code in enumerate(chosen):
        if code not in market.languages:
            raise Invalid(f"{code} is not a language of {market.code} ({', '.join(market.languages)})",
                          field=f"languages[{index}]")
    if not 0 <= qa_sample_percent <= 100:
        raise Invalid("the second-review sample is 0 to 100 percent", field="qa_sample_percent")
    if not 1 <= misuse_threshold <= 100:
        raise Invalid("the misuse threshold is 1 to 100 appeals", field="misuse_threshold")
    if not 30 <= misuse_window_days <= 730:
        raise Invalid("the misuse window is 30 to 730 days", field="misuse_window_days")
    if not 1 <= misuse_max_suspension_days <= 365:
        raise Invalid("a suspension lasts at most 1 to 365 days", field="misuse_max_suspension_days")
    texts = {k.strip(): v.strip() for k, v in out_of_court.items() if v.strip()}
    for key, value in texts.items():
        if len(value) > 4000:
            raise Invalid("an out-of-court text holds at most 4,000 characters", field=f"out_of_court.{key}")
    if row is None:
        row = MarketAppealSettings(market_id=market.id, is_open=False, created_at=now, opened_at=None,
                                   out_of_court={}, languages=[])
        session.add(row)
    row.dsa_applies, row.window_months, row.human_review_required = dsa_applies, window_months, human_review_required
    row.languages, row.qa_sample_percent, row.out_of_court = chosen, qa_sample_percent, texts
    row.misuse_threshold, row.misuse_window_days = misuse_threshold, misuse_window_days
    row.misuse_max_suspension_days, row.updated_at = misuse_max_suspension_days, now
    session.flush()
    record_event(session, "market.appeals_configured", actor, now, {
        "market": market.code, "languages": chosen, "window_months": window_months, "dsa_applies": dsa_applies,
        "human_review_required": human_review_required, "qa_sample_percent": qa_sample_percent,
    })
    if row.is_open and not check(session, market, settings=None, now=now).ready:
        raise Conflict(f"{market.code} takes appeals: this change would leave it unready; fix the gaps first",
                       field="market")
    return row


def check(session: Session, market: Market, *, settings: Settings | None, now: datetime) -> Readiness:
    """Everything ``market`` lacks before it may take appeals."""
    gaps: list[Gap] = []
    checked = 1
    row = repository.market_settings(session, market.id)
    if row is None:
        return Readiness(market, [Gap("settings", f"{market.code} has no appeals settings",
                                      f"trustdesk market configure {market.code} (or the console's Markets page)")], 1)
    if not row.languages:
        gaps.append(Gap("settings", "no language is chosen for appeals", "set the market's appeal languages"))
    if row.dsa_applies and row.window_months < DSA_MIN_WINDOW_MONTHS:
        gaps.append(Gap("settings", f"the window is {row.window_months} months; the DSA asks for at least 6",
                        "set window_months to 6 or more"))
    if row.dsa_applies and not row.human_review_required:
        gaps.append(Gap("settings", "human review is not required although the DSA applies",
                        "require human review"))
    for language in row.languages:
        checked += 1
        if not (row.out_of_court.get(language) or "").strip():
            gaps.append(Gap("out_of_court", f"no out-of-court settlement text in {language}",
                            f"write the out-of-court text for {language}"))
        for outcome in Outcome:
            checked += 1
            if repository.template_for(session, outcome.value, language) is None:
                gaps.append(Gap("templates", f"no {outcome.value.replace('_', ' ')} letter in {language}",
                                f"add the {outcome.value} decision letter in {language}"))
    policies = repository.policies(session, active_only=True)
    if not policies:
        gaps.append(Gap("reviewers", "no enforcement policy is defined", "add the policies decisions apply"))
    speakers = _appeal_reviewers(session)
    for policy in policies:
        qualified = set(repository.qualified_user_ids(session, policy.id))
        for language in row.languages:
            checked += 1
            if not any(uid in qualified and language in langs for uid, langs in speakers.items()):
                gaps.append(Gap("reviewers", f"nobody in an appeals team who speaks {language} is qualified for "
                                             f"{policy.name} ({policy.key})",
                                f"qualify a reviewer for {policy.key} who speaks {language}"))
    gaps.extend(_routing_gaps(session, market, row, settings, now))
    checked += 2 * len(APPEAL_TOPICS) * max(1, len(row.languages))
    checked += 1
    if not reversals.has_receiver(session):
        gaps.append(Gap("reversals", "no webhook endpoint receives enforcement.reversal_requested: an overturn "
                                     "could not reach the enforcement system",
                        "add a webhook endpoint for enforcement.reversal_requested"))
    return Readiness(market, gaps, checked)


def _appeal_reviewers(session: Session) -> dict[int, list[str]]:
    """user id -> languages, for active in-house agents in a team of the appeals tier."""
    rows = session.execute(
        select(Agent.user_id, Agent.languages).join(TeamMembership, TeamMembership.agent_id == Agent.id)
        .join(Team, Team.id == TeamMembership.team_id).join(User, User.id == Agent.user_id)
        .where(Team.tier == Tier.APPEALS.value, Agent.vendor_id.is_(None), User.is_active.is_(True))
    ).all()
    return {user_id: list(languages) for user_id, languages in rows}


def _routing_gaps(session: Session, market: Market, row: MarketAppealSettings, settings: Settings | None,
                  now: datetime) -> list[Gap]:
    """Route a would-be appeal of each kind in each appeal language and look where it lands."""
    gaps = []
    for item_kind, topic in APPEAL_TOPICS.items():
        for language in row.languages or [market.default_language]:
            gap = _routing_gap(session, market, item_kind, topic, language, settings, now)
            if gap is not None:
                gaps.append(gap)
    return gaps


def _routing_gap(session: Session, market: Market, item_kind: str, topic: str, language: str,
                 settings: Settings | None, now: datetime) -> Gap | None:
    """Where an appeal of ``item_kind`` in ``language`` would go (routed in a savepoint: nothing is kept),
    and whether an SLA policy gives it a resolution target there."""
    from trustdesk.core.settings import get_settings

    arrival = routing.Arrival(channel="appeal_form", market=market, party_kind=PARTY_KIND_OF_ITEM[item_kind],
                              language=language, subject="Appeal", body="Readiness check", topic=topic,
                              custom_fields={"item_kind": item_kind})
    queue: Queue | None = None
    savepoint = session.begin_nested()
    try:
        queue = routing.route(session, arrival, settings=settings or get_settings(), now=now).queue
    except (Invalid, Conflict):
        queue = None
    finally:
        savepoint.rollback()
    team = session.get(Team, queue.team_id) if queue is not None else None
    if queue is None or team is None or team.tier != Tier.APPEALS.value or not queue.is_active:
        where = f"queue {queue.key} ({team.tier if team else '?'} team)" if queue is not None else "no queue"
        return Gap("routing", f"{item_kind} appeals ({topic}) in {language} land in {where}, not an appeals queue",
                   f"add a catalogue entry or rule sending {topic} in {market.code} to an appeals queue")
    if team.vendor_id is not None:  # a vendor's staff never see enforcement decisions or appeals
        return Gap("routing", f"{item_kind} appeals ({topic}) in {language} land in queue {queue.key} of a "
                              "vendor's team", "send appeals to an in-house appeals team")
    facts = sla.CaseFacts(market=market.code, channel="appeal_form", priority="normal",
                          party_kind=PARTY_KIND_OF_ITEM[item_kind], tier=team.tier, topic=topic)
    policy = sla.matching_policy(session, facts)
    targets: dict[str, Any] = (policy.targets.get("normal") or {}) if policy is not None else {}
    if policy is None or "resolution" not in targets:
        return Gap("sla", f"{item_kind} appeals in {market.code} ({language}) get no resolution target "
                          f"({'no SLA policy' if policy is None else 'policy ' + policy.key})",
                   "add an SLA policy with a resolution target for appeal-form cases")
    return None


def open_market(session: Session, market: Market, *, actor: EventActor, settings: Settings | None,
                now: datetime) -> MarketAppealSettings:
    readiness = check(session, market, settings=settings, now=now)
    if not readiness.ready:
        raise Conflict(f"{market.code} is not ready for appeals: {len(readiness.gaps)} gaps, first: "
                       f"{readiness.gaps[0].what}", field="market",
                       gaps=[{"area": g.area, "what": g.what, "fix": g.fix} for g in readiness.gaps])
    row = repository.market_settings(session, market.id)
    assert row is not None
    if not row.is_open:
        row.is_open, row.opened_at, row.updated_at = True, now, now
        record_event(session, "market.appeals_opened", actor, now, {"market": market.code})
    return row


def close_market(session: Session, market: Market, *, actor: EventActor, now: datetime) -> MarketAppealSettings:
    row = repository.market_settings(session, market.id)
    if row is None:
        raise Conflict(f"appeals are not set up in {market.code}", field="market")
    if row.is_open:
        row.is_open, row.updated_at = False, now
        record_event(session, "market.appeals_closed", actor, now, {"market": market.code})
    return row
