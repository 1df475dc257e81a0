"""Try a draft rule set on the last N days of cases before publishing it.

Each case is replayed from what it arrived with (``routing_decisions.inputs``), once under the
rule set in force and once under the draft, with everything else held equal: the same text, the
same classifier reading (the one recorded, or the active model's for cases it did not read),
and the service catalogue as it stood when the case arrived. The answer lists what would change
and, against where each case really ended, how many misroutes the draft would fix or cause.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.core.errors import Invalid
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory import service as directory
from trustdesk.routing import analysis, registry, repository, rules
from trustdesk.routing.models import DecisionSource, RuleSet

MAX_CASES = 5000
MAX_EXAMPLES = 25


@dataclass(frozen=True)
class Result:
    team: str | None
    topic: str | None
    priority: str
    tags: tuple[str, ...]
    fired: tuple[str, ...]
    loop: bool

    def out(self) -> dict[str, Any]:
        return {"team": self.team, "topic": self.topic, "priority": self.priority, "tags": list(self.tags),
                "rules": list(self.fired)}


def simulate(session: Session, draft: RuleSet, *, days: int, now: datetime, settings: Settings) -> dict[str, Any]:
    if not 1 <= days <= 90:
        raise Invalid("must be between 1 and 90 days", field="days")
    published = repository.published_rule_set(session)
    before_rules = rules.load(published.rules) if published else []
    after_rules = rules.load(draft.rules)
    items = [j for j in analysis.journeys(session, since=now - timedelta(days=days), until=now)
             if j.decision.source != DecisionSource.EXPLICIT.value][-MAX_CASES:]
    texts = repository.case_texts_by_id(session, [j.case_id for j in items])
    # The case's custom fields now (an agent may have filled more in since it arrived).
    fields = repository.custom_fields_of(session, [j.case_id for j in items])
    markets = {m.code: m for m in directory.list_markets(session)}
    teams = {t.key: t.id for t in directory.list_teams(session)}
    team_keys = {v: k for k, v in teams.items()}
    model, classifier, _ = registry.active_classifier(session, settings=settings)
    owners: dict[tuple[Any, ...], int | None] = {}

    def owner(topic: str | None, j: analysis.Journey) -> int | None:
        key = (topic, j.market, j.channel, j.party_kind, j.decision.decided_at)
        if key not in owners:
            try:
                found = catalogue.who_owns(session, topic=topic, market=markets[j.market], channel=j.channel,
                                           party_kind=j.party_kind, at=j.decision.decided_at).entry
            except Invalid:
                found = None
            owners[key] = found.team_id if found else None
        return owners[key]

    def run(rule_set: list[rules.Rule], j: analysis.Journey) -> Result:
        d = j.decision
        subject, _, body = texts.get(j.case_id, "\n").partition("\n")
        market = markets[j.market]
        facts = rules.Facts(channel=j.channel, market=j.market, region=market.region, language=j.language,
                            party_kind=j.party_kind, subject=subject, body=body, topic=d.inputs.get("topic"),
                            priority=d.inputs.get("priority", d.priority), tags=list(d.inputs.get("tags", [])),
                            custom_fields=fields.get(j.case_id, {}))
        outcome = rules.evaluate(rule_set, facts)
        team: int | None = teams.get(facts.team) if facts.team else None
        topic = facts.topic
        if topic is None:
            if d.topic_source == "classifier" or (d.confidence is not None and d.topic_source is None):
                topic = d.topic  # the reading recorded at intake (None when it was too unsure)
            elif classifier is not None and model is not None:
                guess = classifier.predict_one(texts.get(j.case_id, ""))
                threshold = market.routing_threshold if market.routing_threshold is not None else model.threshold
                topic = guess.label if guess.confidence >= threshold else None
        if team is None:
            team = owner(topic, j) if topic is not None or d.source != DecisionSource.TRIAGE.value else None
            if team is None and d.source in (DecisionSource.INTAKE_DEFAULT.value, DecisionSource.TRIAGE.value):
                team = d.team_id  # the same fallback the case met
        return Result(team=team_keys.get(team) if team is not None else None, topic=topic, priority=facts.priority,
                      tags=tuple(sorted(facts.tags)), fired=tuple(r.id for r in outcome.fired), loop=bool(outcome.loop))

    changes: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    changed = fixes = breaks = loops = 0
    for j in items:
        old, new = run(before_rules, j), run(after_rules, j)
        fired.update(new.fired)
        loops += int(new.loop)
        what = [name for name in ("team", "topic", "priority", "tags") if getattr(old, name) != getattr(new, name)]
        if not what:
            continue
        changed += 1
        changes.update(what)
        final = team_keys.get(j.final_team) if j.final_team is not None else None
        fixes += int(new.team == final and old.team != final)
        breaks += int(old.team == final and new.team != final)
        if len(examples) < MAX_EXAMPLES:
            examples.append({"case_id": j.case_id, "reference": j.reference, "changes": what, "before": old.out(),
                             "after": new.out(), "final_team": final})
    return {
        "draft_version": draft.version, "published_version": published.version if published else None,
        "days": days, "cases": len(items), "changed": changed, "changes": dict(changes), "fixes": fixes,
        "breaks": breaks, "loop_guard_hits": loops, "rules_fired": dict(fired.most_common()), "examples": examples,
    }
