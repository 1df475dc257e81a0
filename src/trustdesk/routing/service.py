"""The routing engine: where a new case goes, and why.

Order of decision, each step recorded:

1. a queue named by the caller (an integration, an internal request type) is used as given;
2. the published **rules** run (they may set the topic, team, priority and tags);
3. without a topic, the active **classifier** predicts one; below the market's confidence
   threshold the case goes to the market's **triage** queue with the top-3 suggestions
   (unless a rule already chose the team);
4. without a team, the **service catalogue** names the owner of the topic in the market for the
   channel and party kind at this moment;
5. nobody owns it: the queue intake settings take it if one fits (else triage), and the
   catalogue's owners are told of the gap, once per gap while it is unread;
6. the team's queue for the market is where the case waits.

The decision (source, rule ids and versions, catalogue entry and version, model version,
confidence, threshold, top-3) is stored in ``routing_decisions`` and on the ``case.routed`` event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.events import EventActor, record_case_event
from trustdesk.core.identity import Actor
from trustdesk.core.notifications import holders_of, notify
from trustdesk.core.permissions import Perm
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory import service as directory
from trustdesk.directory.models import Market, Queue, Team
from trustdesk.routing import registry, repository, rules
from trustdesk.routing.classifier import Prediction, TopicClassifier
from trustdesk.routing.models import DecisionSource, RoutingDecision, RoutingModel, RuleSet, RuleSetStatus


@dataclass(frozen=True)
class Arrival:
    """A case as routing sees it when it arrives."""

    channel: str
    market: Market
    party_kind: str
    language: str
    subject: str
    body: str
    topic: str | None = None
    priority: str = "normal"
    tags: Sequence[str] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Route:
    topic: str | None
    priority: str
    tags: list[str]
    source: DecisionSource
    topic_source: str | None
    inputs: dict[str, Any]
    queue: Queue | None = None  # set by the time ``route`` returns
    team_id: int | None = None
    rule_set_version: int | None = None
    fired: list[dict[str, Any]] = field(default_factory=list)
    loop: list[str] = field(default_factory=list)
    entry_id: int | None = None
    entry_version: int | None = None
    sla_policy_key: str | None = None
    model_version: int | None = None
    confidence: float | None = None
    threshold: float | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    triage_reason: str | None = None
    why: list[str] = field(default_factory=list)

    @property
    def queue_id(self) -> int:
        assert self.queue is not None, "a route always ends in a queue"
        return self.queue.id

    def payload(self) -> dict[str, Any]:
        return {
            "source": self.source.value, "queue_id": self.queue_id, "team_id": self.team_id, "topic": self.topic,
            "topic_source": self.topic_source, "priority": self.priority, "rule_set_version": self.rule_set_version,
            "rules": self.fired, "loop_guard": self.loop or None, "catalogue_entry_id": self.entry_id,
            "catalogue_version": self.entry_version, "sla_policy_key": self.sla_policy_key,
            "model_version": self.model_version, "confidence": self.confidence, "threshold": self.threshold,
            "suggestions": self.suggestions, "triage_reason": self.triage_reason,
        }


class TriageReason:
    LOW_CONFIDENCE = "low_confidence"
    NO_OWNER = "no_owner"
    NO_QUEUE = "no_queue"


# ---------------------------------------------------------------- the engine


def route(session: Session, arrival: Arrival, *, settings: Settings, now: datetime,
          explicit_queue: Queue | None = None) -> Route:
    """Decide where ``arrival`` goes. Raises ``Invalid`` only when the market has no queue at all."""
    inputs = {"topic": arrival.topic, "priority": arrival.priority, "tags": list(arrival.tags)}
    if explicit_queue is not None:
        return Route(queue=explicit_queue, team_id=explicit_queue.team_id, topic=arrival.topic,
                     priority=arrival.priority, tags=list(arrival.tags), source=DecisionSource.EXPLICIT,
                     topic_source="given" if arrival.topic else None, inputs=inputs,
                     why=[f"the request named queue {explicit_queue.key}"])
    facts = rules.Facts(channel=arrival.channel, market=arrival.market.code, region=arrival.market.region,
                        language=arrival.language, party_kind=arrival.party_kind, subject=arrival.subject,
                        body=arrival.body, topic=arrival.topic, priority=arrival.priority, tags=list(arrival.tags),
                        custom_fields=dict(arrival.custom_fields))
    why: list[str] = []
    topic_source = "given" if arrival.topic else None
    bulk = _bulk(session)
    rule_set = bulk.rule_set if bulk is not None else repository.published_rule_set(session)
    outcome = rules.Outcome(fired=[])
    if rule_set is not None:
        outcome = rules.evaluate(_parsed(rule_set), facts)
        if outcome.fired:
            why.append("rules fired: " + ", ".join(f"{r.id} v{r.version}" for r in outcome.fired))
        if outcome.loop:
            why.append("loop guard stopped rules undoing each other: " + ", ".join(outcome.loop))
        if facts.topic != arrival.topic:
            topic_source = "rule"
    result = Route(topic=facts.topic, priority=facts.priority, tags=list(facts.tags), source=DecisionSource.RULE,
                   topic_source=topic_source, inputs=inputs, rule_set_version=rule_set.version if rule_set else None,
                   fired=outcome.refs, loop=outcome.loop, why=why)
    market = arrival.market
    prediction: Prediction | None = None
    if facts.topic is None:
        model, classifier, problem = (bulk.model if bulk is not None
                                      else registry.active_classifier(session, settings=settings))
        if classifier is not None and model is not None:
            prediction = classifier.predict_one(registry.case_text(arrival.subject, arrival.body))
            threshold = market.routing_threshold if market.routing_threshold is not None else model.threshold
            result.model_version, result.threshold = model.version, round(threshold, 4)
            result.confidence = round(prediction.confidence, 4)
            result.suggestions = [{"topic": t, "confidence": c} for t, c in prediction.top]
            if prediction.confidence >= threshold:
                facts.topic, result.topic, result.topic_source = prediction.label, prediction.label, "classifier"
                why.append(f"model v{model.version} read the topic as {prediction.label} "
                           f"({prediction.confidence:.0%} sure, threshold {threshold:.0%})")
            else:
                why.append(f"model v{model.version} was {prediction.confidence:.0%} sure of {prediction.label}, "
                           f"below {market.code}'s threshold of {threshold:.0%}")
        elif problem:
            why.append(f"no classifier: {problem}")

    team: Team | None = None
    if facts.team is not None:
        team = directory.team_by_key(session, facts.team)
        if team is None:  # a team renamed after the rules were published; the rule cannot route
            why.append(f"rule team {facts.team!r} no longer exists")
    if team is not None:
        result.source = DecisionSource.RULE
        why.append(f"a rule chose team {team.key}")
    elif prediction is not None and facts.topic is None:
        return _to_triage(session, result, market, arrival, TriageReason.LOW_CONFIDENCE, why)
    else:
        ownership = _who_owns(session, facts.topic, arrival, now)
        if ownership is not None and ownership.entry is not None:
            entry = ownership.entry
            team = directory.team_by_id(session, entry.team_id)
            result.source = DecisionSource.CATALOGUE
            result.entry_id, result.entry_version = entry.entry_id, entry.version
            result.sla_policy_key = entry.sla_policy_key
            why.append(f"the service catalogue: {ownership.explanation}")
        else:
            _tell_catalogue_owners(session, facts.topic, arrival, now)
            fallback = directory.intake_queue_for(session, market_id=market.id, channel=arrival.channel,
                                                  party_kind=arrival.party_kind)
            if fallback is not None and not fallback.is_triage:
                result.queue, result.team_id, result.source = fallback, fallback.team_id, DecisionSource.INTAKE_DEFAULT
                why.append(f"no catalogue entry covers {facts.topic or 'this case'} in {market.code}; queue "
                           f"{fallback.key} takes {arrival.channel} cases from {arrival.party_kind}s")
                return _finish(result)
            return _to_triage(session, result, market, arrival, TriageReason.NO_OWNER, why)
    queue = _queue_for_team(session, bulk, team.id, market, arrival)
    if queue is None:
        why.append(f"team {team.key} has no active queue in {market.code}")
        return _to_triage(session, result, market, arrival, TriageReason.NO_QUEUE, why)
    result.queue, result.team_id = queue, team.id
    why.append(f"queue {queue.key}")
    return _finish(result)


def _parsed(rule_set: RuleSet) -> list[rules.Rule]:
    """A published set never changes (a change is a new version): parse it once per loaded row."""
    parsed: list[rules.Rule] | None = getattr(rule_set, "_parsed_rules", None)
    if parsed is None:
        parsed = rules.load(rule_set.rules)
        rule_set._parsed_rules = parsed  # type: ignore[attr-defined]  # a plain attribute, not a column
    return parsed


def _who_owns(session: Session, topic: str | None, arrival: Arrival, now: datetime) -> catalogue.Ownership | None:
    bulk = _bulk(session)
    using = bulk.catalogue if bulk is not None else None
    try:
        return catalogue.who_owns(session, topic=topic, market=arrival.market, channel=arrival.channel,
                                  party_kind=arrival.party_kind, at=now, using=using)
    except Invalid:  # a topic the taxonomy does not know: only entries for any topic can own it
        return catalogue.who_owns(session, topic=None, market=arrival.market, channel=arrival.channel,
                                  party_kind=arrival.party_kind, at=now, using=using)


@dataclass
class Bulk:
    """What routing reads, read once for a transaction that routes many cases (loading history)."""

    rule_set: RuleSet | None
    model: tuple[RoutingModel | None, TopicClassifier | None, str | None]
    catalogue: catalogue.Snapshot
    queues: dict[tuple[int, int, str, str], Queue | None] = field(default_factory=dict)


_BULK = "routing.bulk"


def start_bulk(session: Session, *, settings: Settings) -> None:
    """Route the cases of this transaction from one read of the rules, model and catalogue. Only for
    transactions that change none of them (the caller's promise)."""
    session.info[_BULK] = Bulk(rule_set=repository.published_rule_set(session),
                               model=registry.active_classifier(session, settings=settings),
                               catalogue=catalogue.snapshot(session))


def _bulk(session: Session) -> Bulk | None:
    found = session.info.get(_BULK)
    return found if isinstance(found, Bulk) else None


def _queue_for_team(session: Session, bulk: Bulk | None, team_id: int, market: Market, arrival: Arrival,
                    ) -> Queue | None:
    if bulk is None:
        return directory.queue_for_team(session, team_id=team_id, market_id=market.id, channel=arrival.channel,
                                        party_kind=arrival.party_kind)
    key = (team_id, market.id, arrival.channel, arrival.party_kind)
    if key not in bulk.queues:
        bulk.queues[key] = directory.queue_for_team(session, team_id=team_id, market_id=market.id,
                                                    channel=arrival.channel, party_kind=arrival.party_kind)
    return bulk.queues[key]


def _to_triage(session: Session, result: Route, market: Market, arrival: Arrival, reason: str,
               why: list[str]) -> Route:
    queue = directory.triage_queue_for(session, market_id=market.id) or directory.intake_queue_for(
        session, market_id=market.id, channel=arrival.channel, party_kind=arrival.party_kind)
    if queue is None:
        raise Invalid(f"no queue takes {arrival.channel} cases from {arrival.party_kind}s in {market.code}; "
                      "add a triage queue for the market", field="market")
    result.queue, result.team_id = queue, queue.team_id
    result.source, result.triage_reason = DecisionSource.TRIAGE, reason
    why.append(f"to triage ({reason.replace('_', ' ')}): queue {queue.key}")
    return _finish(result)


def _finish(result: Route) -> Route:
    assert result.queue is not None
    if not result.queue.is_active:
        raise Invalid(f"queue {result.queue.key} is not active", field="queue_id")
    return result


def _tell_catalogue_owners(session: Session, topic: str | None, arrival: Arrival, now: datetime) -> None:
    market = arrival.market
    what = topic or "cases without a topic"
    notify(session, holders_of(session, Perm.CATALOGUE_APPROVE), kind="catalogue.gap",
           title=f"Nobody owns {what} in {market.code} ({arrival.channel}, {arrival.party_kind})",
           body=(f"A {arrival.party_kind}'s {arrival.channel} case about {what} in {market.code} matched no service "
                 "catalogue entry. Add an entry so such cases reach their owner; until then they go to the "
                 "queue intake settings or triage."),
           link=f"/console/catalogue?market={market.code}" + (f"&topic={topic}" if topic else ""),
           dedupe_key=f"catalogue.gap:{market.code}:{arrival.channel}:{arrival.party_kind}", now=now)


def record(session: Session, case_id: int, result: Route, *, actor: EventActor, now: datetime) -> RoutingDecision:
    """Store the decision for the case and append ``case.routed``."""
    decision = RoutingDecision(
        case_id=case_id, decided_at=now, source=result.source.value, topic=result.topic,
        topic_source=result.topic_source, team_id=result.team_id, queue_id=result.queue_id, priority=result.priority,
        inputs=result.inputs, rule_set_version=result.rule_set_version, rules=result.fired,
        catalogue_entry_id=result.entry_id, catalogue_version=result.entry_version,
        model_version=result.model_version, confidence=result.confidence, threshold=result.threshold,
        suggestions=result.suggestions, triage_reason=result.triage_reason, explanation="; ".join(result.why),
    )
    session.add(decision)
    record_case_event(session, case_id, "case.routed", actor, now, result.payload())
    return decision


def decision_for_case(session: Session, case_id: int) -> RoutingDecision:
    decision = repository.decision_for(session, case_id)
    if decision is None:  # cases opened before the routing engine existed
        raise NotFound(f"case {case_id} has no recorded routing decision", field="case_id")
    return decision


# ---------------------------------------------------------------- owners of a topic (triage)


def owner_queue(session: Session, *, topic: str, market: Market, channel: str, party_kind: str,
                now: datetime) -> tuple[Queue | None, str]:
    """Where a case of ``topic`` would go now by the catalogue: (queue, explanation)."""
    ownership = catalogue.who_owns(session, topic=topic, market=market, channel=channel, party_kind=party_kind,
                                   at=now)
    if ownership.entry is None:
        return None, ownership.explanation
    team = directory.team_by_id(session, ownership.entry.team_id)
    queue = directory.queue_for_team(session, team_id=team.id, market_id=market.id, channel=channel,
                                     party_kind=party_kind)
    if queue is None:
        return None, f"team {team.key} owns it but has no active queue in {market.code}"
    return queue, ownership.explanation


@dataclass(frozen=True)
class Suggestion:
    topic: str
    confidence: float
    queue: Queue | None
    why: str


@dataclass(frozen=True)
class CaseRouting:
    """What the case page shows under "Why it went here"."""

    decision: RoutingDecision
    team_key: str | None
    queue_key: str
    suggestions: list[Suggestion]


def case_routing(session: Session, *, case_id: int, market: Market, channel: str, party_kind: str,
                 now: datetime, with_owners: bool) -> CaseRouting | None:
    decision = repository.decision_for(session, case_id)
    if decision is None:
        return None
    suggestions = []
    for item in decision.suggestions:
        queue, why = None, ""
        if with_owners:
            try:
                queue, why = owner_queue(session, topic=str(item["topic"]), market=market, channel=channel,
                                         party_kind=party_kind, now=now)
            except Invalid:  # a topic retired since the model learnt it
                queue, why = None, f"{item['topic']} is no longer a topic"
        suggestions.append(Suggestion(topic=str(item["topic"]), confidence=float(item["confidence"]), queue=queue,
                                      why=why))
    team = directory.team_by_id(session, decision.team_id) if decision.team_id is not None else None
    queue = directory.queue_by_id(session, decision.queue_id)
    return CaseRouting(decision=decision, team_key=team.key if team else None, queue_key=queue.key,
                       suggestions=suggestions)


# ---------------------------------------------------------------- rule sets


def _check_references(session: Session, parsed: Sequence[rules.Rule]) -> None:
    for where, kind, key in rules.references(parsed):
        if kind == "team" and directory.team_by_key(session, key) is None:
            raise Invalid(f"no team {key!r}", field=where)
        if kind == "topic":
            catalogue.topic_by_key(session, key, field=where)


def _latest_versions(session: Session) -> list[rules.Rule]:
    """Each rule id's newest version in any rule set ever saved: a new behaviour for an id takes the
    next number after it, so "rule x v3" names one behaviour for good, even if x was deleted between."""
    newest: dict[str, dict[str, Any]] = {}
    for rule_set in repository.rule_sets(session):
        for item in rule_set.rules:
            known = newest.get(item["id"])
            if known is None or int(item.get("version", 1)) > int(known.get("version", 1)):
                newest[item["id"]] = item
    return rules.load(list(newest.values()))


def save_draft(session: Session, raw: Any, *, author: Actor, now: datetime, note: str | None = None) -> RuleSet:
    """Store a new draft version of the whole rule set (validated, references checked)."""
    parsed = rules.parse(raw, previous=_latest_versions(session))
    _check_references(session, parsed)
    rule_set = RuleSet(version=repository.next_rule_set_version(session), status=RuleSetStatus.DRAFT.value,
                       rules=[rules.dump(r) for r in parsed], note=note, author_user_id=author.user_id or None,
                       publisher_user_id=None, created_at=now, published_at=None, retired_at=None)
    session.add(rule_set)
    session.flush()
    return rule_set


def rule_set_by_version(session: Session, version: int) -> RuleSet:
    rule_set = repository.rule_set_by_version(session, version)
    if rule_set is None:
        raise NotFound(f"rule set version {version} does not exist", field="version")
    return rule_set


def publish(session: Session, rule_set: RuleSet, *, publisher: Actor, now: datetime) -> RuleSet:
    """Route with this draft from now on. Someone other than its author publishes it (rules can
    override the catalogue, whose changes need a second person too)."""
    if rule_set.status != RuleSetStatus.DRAFT.value:
        raise Conflict(f"rule set v{rule_set.version} is {rule_set.status}; only a draft can be published",
                       field="version")
    if rule_set.author_user_id is not None and rule_set.author_user_id == publisher.user_id:
        raise Forbidden("someone other than the draft's author must publish it")
    _check_references(session, rules.load(rule_set.rules))
    current = repository.published_rule_set(session, for_update=True)
    if current is not None:
        current.status, current.retired_at = RuleSetStatus.RETIRED.value, now
        session.flush()
    rule_set.status, rule_set.published_at, rule_set.publisher_user_id = (RuleSetStatus.PUBLISHED.value, now,
                                                                          publisher.user_id or None)
    session.flush()
    return rule_set


def rule_sets(session: Session) -> Sequence[RuleSet]:
    return repository.rule_sets(session)


def published_rule_set(session: Session) -> RuleSet | None:
    return repository.published_rule_set(session)
