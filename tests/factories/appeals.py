"""Builders for the appeals domain: policies, sources, a market ready for appeals, decisions, appeals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tests.factories.directory import make_queue, make_team
from tests.factories.world import World
from trustdesk.appeals import letters, markets, service
from trustdesk.appeals.models import (
    Appeal,
    AppealReason,
    DetectionSource,
    EnforcementDecision,
    EnforcementPolicy,
    ItemKind,
    MarketAppealSettings,
    Outcome,
    ReviewerQualification,
    SourceKind,
)
from trustdesk.cases.models import Channel, PartyKind
from trustdesk.cases.schemas import PartyIn
from trustdesk.core import webhooks
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import Actor, User, actor_for
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory.models import Agent, Market, Queue, Team, Tier
from trustdesk.directory.schemas import CatalogueEntryIn
from trustdesk.sla import policies as sla_policies
from trustdesk.sla.schemas import PolicyIn

LETTERS = {
    Outcome.UPHELD: "Your appeal {appeal_reference} about {item} was reviewed by a person. We keep the decision "
                    "{decision_reference} under {policy}.\n\nWhy: {reasons}\n\n{out_of_court}",
    Outcome.OVERTURNED: "Your appeal {appeal_reference} about {item} succeeded: decision {decision_reference} is "
                        "reversed.\n\nWhy: {reasons}\n\n{out_of_court}",
    Outcome.PARTIALLY_OVERTURNED: "Your appeal {appeal_reference} about {item} partly succeeded: we lift {lifted}."
                                  "\n\nWhy: {reasons}\n\n{out_of_court}",
}
OUT_OF_COURT = ("If you disagree, you may take this decision to a certified out-of-court dispute settlement body "
                "(DSA Art. 21), such as the Appeals Centre Europe (appealscentre.eu), or to the courts.")
REASONS = "The invoices show the goods came from the brand's authorised distributor, so the listing is genuine."


def statement(**overrides: Any) -> dict[str, Any]:
    """A valid statement of reasons (the Transparency Database's shape) for a removed listing in ES."""
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "Seller policy 4.2 (counterfeit goods)",
        "incompatible_content_explanation": "The listing offers replica branded goods.",
        "content_type": ["CONTENT_TYPE_PRODUCT"],
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "territorial_scope": ["ES"],
        "content_date": "2026-02-20",
        "application_date": "2026-02-21",
        "decision_facts": "The listing matched a brand owner's notice.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
    } | overrides


@dataclass
class AppealsWorld:
    world: World
    market: Market  # ES, where the DSA applies
    team: Team
    queue: Queue
    policy: EnforcementPolicy
    source: DetectionSource  # a moderator team (human)
    model: DetectionSource  # a classifier
    settings_row: MarketAppealSettings
    reviewer: Actor
    moderator: User  # the person who took the original decisions
    seller: Actor

    def actor(self, who: str) -> Actor:
        return actor_for(self.world.users[who], agent_id=self.world.agents[who].id if who in self.world.agents
                         else None)


def make_appeals_world(session: Session, world: World, *, now: datetime, settings: Settings,
                       open_market: bool = True, receiver_url: str = "https://enforcement.example.test/hooks",
                       qa_percent: int = 0) -> AppealsWorld:
    """ES takes appeals: an appeals team and queue, catalogue entries, an SLA, letters in es and en, a
    qualified reviewer who speaks both, a reversal receiver; the market opened when ``open_market``."""
    es = session.get(Market, world.es.id)
    assert es is not None
    lead = world.users["lead"]
    team = make_team(session, now=now, key="appeals", tier=Tier.APPEALS, name="Appeals Review")
    queue = make_queue(session, now=now, key="appeals-es", team=team, market=es,
                       intake_channels=[Channel.APPEAL_FORM.value],
                       intake_party_kinds=[PartyKind.SELLER.value, PartyKind.CREATOR.value], auto_assign=False)
    reviewer_user = world.users["reviewer"]
    reviewer_agent = session.get(Agent, world.agents["reviewer"].id)  # this session's copy
    assert reviewer_agent is not None
    from trustdesk.directory import service as directory
    from trustdesk.directory.schemas import AgentUpdate

    directory.update_agent(session, reviewer_agent, AgentUpdate(languages=["es", "en"], team_ids=[team.id]))
    lead_actor = actor_for(lead, agent_id=world.agents["lead"].id)
    admin_actor = actor_for(world.users["admin"], agent_id=world.agents["admin"].id)
    draft = catalogue.propose(session, CatalogueEntryIn(market_scope="*", channel=Channel.APPEAL_FORM.value,
                                                        team_id=team.id, tier=Tier.APPEALS), author=lead_actor,
                              now=now)
    catalogue.approve(session, draft, approver=admin_actor, now=now)
    if not any(p.is_default for p in sla_policies.list_policies(session)):
        sla_policies.create_policy(session, PolicyIn(key="default", name="Default", is_default=True, targets={
            p: {"first_reply": {"minutes": 480}} for p in ("low", "normal", "high", "urgent")}), now=now)
    sla_policies.create_policy(session, PolicyIn(
        key="appeals", name="Appeals", conditions={"channels": [Channel.APPEAL_FORM.value]},
        targets={p: {"first_reply": {"minutes": 1440, "business": False},
                     "resolution": {"minutes": 7 * 1440, "business": False}}
                 for p in ("low", "normal", "high", "urgent")},
    ), now=now)
    policy = service.upsert_policy(session, key="counterfeit", name="Counterfeit goods",
                                   owner_email=lead.email, now=now)
    source = service.upsert_source(session, key="brand-protection-team", kind=SourceKind.HUMAN,
                                   name="Brand protection moderators", now=now)
    model = service.upsert_source(session, key="counterfeit-model", kind=SourceKind.MODEL,
                                  name="Counterfeit image model v3", owner_email=world.users["oncall_sme"].email,
                                  now=now)
    session.add(ReviewerQualification(user_id=reviewer_user.id, policy_id=policy.id, granted_by_user_id=lead.id,
                                      granted_at=now))
    for who in ("lead", "admin"):
        session.add(ReviewerQualification(user_id=world.users[who].id, policy_id=policy.id,
                                          granted_by_user_id=lead.id, granted_at=now))
    for outcome, body in LETTERS.items():
        for locale in ("es", "en"):
            letters.save_template(session, outcome=outcome, locale=locale, body=body, user_id=lead.id, now=now)
    row = markets.configure(session, es, languages=["es", "en"], window_months=6, dsa_applies=True,
                            human_review_required=True, qa_sample_percent=qa_percent,
                            out_of_court={"es": OUT_OF_COURT, "en": OUT_OF_COURT}, actor=SYSTEM, now=now)
    webhooks.create_endpoint(session, key="enforcement", url=receiver_url,
                             event_types=["enforcement.reversal_requested"], now=now)
    session.flush()
    if open_market:
        markets.open_market(session, es, actor=SYSTEM, settings=settings, now=now)
    seller_user = world.users["seller"]
    return AppealsWorld(world=world, market=es, team=team, queue=queue, policy=policy, source=source, model=model,
                        settings_row=row, reviewer=actor_for(reviewer_user, agent_id=reviewer_agent.id),
                        moderator=world.users["agent_t2"], seller=actor_for(seller_user))


def make_decision(session: Session, aw: AppealsWorld, *, now: datetime, external_id: str = "dec-1",
                  notified_at: datetime | None = None, decided_at: datetime | None = None,
                  source: DetectionSource | None = None, item_kind: ItemKind = ItemKind.LISTING,
                  party_user: User | None = None, **statement_overrides: Any) -> EnforcementDecision:
    """A decision about the seller's listing, taken by ``aw.moderator`` (human source by default)."""
    decided = decided_at or now - timedelta(days=1)
    source = source or aw.source
    user = party_user or aw.world.users["seller"]
    party = PartyIn(kind=PartyKind.SELLER, external_id=f"user-{user.id}", display_name=user.display_name,
                    email=user.email)
    overrides = dict(statement_overrides)
    if source.kind != SourceKind.HUMAN.value:
        overrides.setdefault("automated_detection", "Yes")
    decision = service.record_decision(session, service.NewDecision(
        external_id=external_id, market=aw.market, party=party, item_kind=item_kind, item_ref=f"listing-{external_id}",
        item_title="Leather handbag", policy_key=aw.policy.key, source_key=source.key, decided_at=decided,
        notified_at=notified_at or decided, statement=statement(**overrides),
        decided_by_email=aw.moderator.email if source.kind == SourceKind.HUMAN.value else None,
    ), actor=SYSTEM, now=now)
    _link_party_to_user(session, decision, user)
    return decision


def _link_party_to_user(session: Session, decision: EnforcementDecision, user: User) -> None:
    from trustdesk.cases.models import Party

    party = session.get(Party, decision.party_id)
    assert party is not None
    party.user_id = user.id
    session.flush()


def make_appeal(session: Session, aw: AppealsWorld, decision: EnforcementDecision, *, now: datetime,
                settings: Settings, reason: AppealReason = AppealReason.NOT_A_VIOLATION,
                text: str = "The bag is genuine; the supplier's invoices are attached.") -> Appeal:
    filed = service.file_appeal(session, service.NewAppeal(decision=decision, reason=reason, statement=text,
                                                           language="es"),
                                actor=aw.seller, settings=settings, now=now)
    return filed.appeal


def decide(session: Session, aw: AppealsWorld, appeal: Appeal, outcome: Outcome, *, now: datetime,
           settings: Settings, reviewer: Actor | None = None, manifestly_unfounded: bool = False,
           lifted: tuple[str, ...] = ()) -> Appeal:
    return service.decide_appeal(session, appeal, service.Verdict(
        outcome=outcome, reasons=REASONS, lifted_measures=lifted, manifestly_unfounded=manifestly_unfounded,
    ), actor=reviewer or aw.reviewer, settings=settings, now=now)
