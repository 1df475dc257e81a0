"""The demo's routing set-up: the topic taxonomy, the service catalogue, a rule set, and (after the
history is written) a topic model trained on it.

Topics come from the Bitext categories and intents the buyer cases use, plus the seller, creator,
appeal and internal topics of the demo's texts. The catalogue says what the queues' intake
settings used to: each market's Tier 1 team owns its buyers, and its sellers' and creators' chat,
web and API contacts; the appeals team owns the appeal form everywhere. Seller and creator e-mail
is left without an owner on purpose (a catalogue gap: those cases land in triage and the report
shows it). Spanish-speaking US buyers land in the English line and are moved by hand, which is
the misroute the report's recovery plan finds a rule for.

Every step is idempotent: topics are upserted, the catalogue and rules are written once, and a
model is trained only when none exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from trustdesk.cases.models import Channel, PartyKind
from trustdesk.core import identity
from trustdesk.core.errors import Conflict
from trustdesk.core.identity import actor_for
from trustdesk.core.settings import Settings
from trustdesk.demo import texts
from trustdesk.demo.catalog import ADMIN_EMAIL, MARKETS, REQUEST_TYPES, T1_TEAM_OF_MARKET, WORKFORCE_LEAD, email_of
from trustdesk.directory import catalogue
from trustdesk.directory import service as directory
from trustdesk.directory.models import Tier
from trustdesk.directory.schemas import CatalogueEntryIn, TopicIn
from trustdesk.routing import registry
from trustdesk.routing import service as routing

CATALOGUE_SINCE_DAYS = 120  # the catalogue was in force before the history starts
# The demo's texts are templates, so the model's own threshold (chosen for 90% precision on its
# out-of-fold guesses) lands anywhere between 0.5 and 0.95 from one build to the next; the markets
# set theirs, so a vague question reliably reaches triage with its suggestions.
MARKET_THRESHOLD = 0.7
MODEL_DAYS = 60  # the demo model learns from the last two months ...
MODEL_PER_TOPIC = 100  # ... at most this many cases per topic (seconds of training, not a minute)
_SELLER_CHANNELS = (Channel.IN_APP_CHAT.value, Channel.WEB_FORM.value, Channel.API.value)

RULES = [
    {"id": "risk-words", "name": "Fraud and account-takeover words are flagged",
     "when": [{"field": "text", "op": "matches",
               "value": r"\b(fraud|scam|stolen|hacked|unauthori[sz]ed|estafa|penipuan)\b"}],
     "then": {"add_tags": ["risk"]}},
    {"id": "vip-buyers", "name": "VIP buyers are high priority",
     "when": [{"field": "tags", "op": "contains", "value": "vip"}, {"field": "priority", "op": "in",
                                                                   "value": ["low", "normal"]}],
     "then": {"priority": "high"}},
]


def _humanize(key: str) -> str:
    return key.replace("_", " ").capitalize()


def demo_topics() -> list[TopicIn]:
    rows: dict[str, TopicIn] = {}

    def add(key: str, names: dict[str, str]) -> None:
        rows.setdefault(key, TopicIn(key=key, names=names))

    for intent in texts.BUYER_INTENTS:
        add(intent.family, {"en": intent.family.capitalize()})
        add(intent.topic, {"en": _humanize(intent.intent), "es": intent.subject["es"], "id": intent.subject["id"]})
    for root, name in (("seller", "Sellers"), ("creator", "Creators"), ("appeal", "Appeals"),
                       ("internal", "Internal requests")):
        add(root, {"en": name})
    for topic in (*texts.SELLER_TOPICS, *texts.CREATOR_TOPICS):
        add(topic.key, {"en": _humanize(topic.key.split(".", 1)[1]), **{
            lang: subject for lang, subject in topic.subject.items() if lang != "en"}})
    for appeal in texts.APPEALS:
        add(appeal.key, {"en": _humanize(appeal.key.split(".", 1)[1])})
    for request_type in REQUEST_TYPES:
        add(f"internal.{request_type.key.replace('-', '_')}", {"en": request_type.name})
    return list(rows.values())


def ensure_routing(session: Session, *, now: datetime) -> int:
    """Topics, catalogue and rules for the demo; returns how many rows were created."""
    report = catalogue.import_topics(session, demo_topics(), now=now - timedelta(days=CATALOGUE_SINCE_DAYS))
    created = len(report.created)
    for row in directory.list_markets(session):
        if row.routing_threshold is None:
            row.routing_threshold = MARKET_THRESHOLD
    if catalogue.in_force(session, at=now) or catalogue.drafts(session):
        return created
    since = now - timedelta(days=CATALOGUE_SINCE_DAYS)
    lead = identity.user_by_email(session, email_of(WORKFORCE_LEAD))
    admin = identity.user_by_email(session, ADMIN_EMAIL)
    assert lead is not None and admin is not None
    author, approver = actor_for(lead), actor_for(admin)
    teams = {t.key: t for t in directory.list_teams(session)}

    def entry(data: CatalogueEntryIn) -> None:
        draft = catalogue.propose(session, data, author=author, now=since)
        catalogue.approve(session, draft, approver=approver, now=since)

    for market in MARKETS:
        team = teams[T1_TEAM_OF_MARKET[market.code]]
        entry(CatalogueEntryIn(market_scope=market.code, party_kind=PartyKind.BUYER.value, team_id=team.id,
                               tier=Tier.T1, contact_user_id=lead.id, escalation_user_id=lead.id,
                               owner_user_id=lead.id, sla_policy_key="buyers-standard",
                               note=f"{market.name} buyers: every topic, every channel"))
        for kind in (PartyKind.SELLER.value, PartyKind.CREATOR.value):
            for channel in _SELLER_CHANNELS:
                entry(CatalogueEntryIn(market_scope=market.code, party_kind=kind, channel=channel, team_id=team.id,
                                       tier=Tier.T1, contact_user_id=lead.id, owner_user_id=lead.id,
                                       sla_policy_key="sellers-standard"))
        created += 1 + 2 * len(_SELLER_CHANNELS)
    entry(CatalogueEntryIn(topic="appeal", market_scope="*", channel=Channel.APPEAL_FORM.value,
                           team_id=teams["appeals"].id, tier=Tier.APPEALS, owner_user_id=lead.id,
                           sla_policy_key="appeals", note="Appeals against enforcement decisions, every market"))
    entry(CatalogueEntryIn(market_scope="*", channel=Channel.APPEAL_FORM.value, team_id=teams["appeals"].id,
                           tier=Tier.APPEALS, owner_user_id=lead.id, sla_policy_key="appeals",
                           note="Anything sent through the appeal form"))
    created += 2
    if routing.published_rule_set(session) is None:
        draft = routing.save_draft(session, RULES, author=author, now=since, note="Demo rules")
        routing.publish(session, draft, publisher=approver, now=since)
        created += 1
    return created


def ensure_model(session: Session, *, settings: Settings, now: datetime) -> str | None:
    """Train and activate a topic model on the demo history when there is none (TF-IDF: fast)."""
    if registry.models(session):
        return None
    try:
        model = registry.train(session, settings=settings, now=now, trained_by="demo", days=MODEL_DAYS,
                               use_embeddings=False, max_per_topic=MODEL_PER_TOPIC)
    except Conflict:  # a tiny demo (tests) may have too few closed cases
        return None
    registry.activate(session, model, settings=settings, now=now)
    accuracy = model.metrics.get("holdout_accuracy")
    return (f"topic model v{model.version}: {model.n_train:,} cases, {len(model.labels)} topics, held-out accuracy "
            f"{accuracy if accuracy is not None else '-'}")
