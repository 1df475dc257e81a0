"""Where routing fails and why: misroute metrics, breakdowns, root causes and a replayed recovery plan.

Definitions (GLOSSARY "Misroute"):

- a **routed case** is one whose intake decision named an owning team (not triage): triage is
  asking a human on purpose, counted on its own line;
- a routed case is **misrouted** when its final team is not its first routed team, or when the
  topic routing chose was later corrected;
- **hops** = team changes (reroutes to another team);
- **time to final team** = from creation to the reroute that brought the case to its final team;
- **time lost** = that time minus the time the first team would have taken had it been right,
  i.e. the first team's median wait from creation to first assignment over the cases it owned
  from start to end in the period (routed right, never rerouted), never below zero.

The recovery plan replays the period's cases under each proposed change and counts the cases it
would have sent straight to their final team (fixed) and the correctly routed cases it would
have sent elsewhere (broken); only changes that fix more than they break are proposed.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from trustdesk.core.errors import Invalid
from trustdesk.core.settings import Settings
from trustdesk.directory import catalogue
from trustdesk.directory import service as directory
from trustdesk.directory.models import Market
from trustdesk.routing import registry, repository
from trustdesk.routing.models import DecisionSource, RoutingDecision

CONFIDENCE_BANDS = ((0.9, "≥ 90%"), (0.7, "70-90%"), (0.5, "50-70%"), (0.0, "< 50%"))
MIN_CASES = 3  # a proposal must fix at least this many cases
EXAMPLES = 5
DRIFT_WEEKS = 4  # the baseline a week is compared with
DRIFT_P = 0.01
DRIFT_MIN_RISE = 0.02


@dataclass
class Journey:
    """One case's way through the teams after intake."""

    case_id: int
    reference: str
    created_at: datetime
    market: str
    channel: str
    party_kind: str
    language: str
    decision: RoutingDecision
    first_team: int | None
    final_team: int | None
    final_topic: str | None
    hops: int = 0
    arrived_final_at: datetime | None = None
    first_assigned_at: datetime | None = None
    topic_corrected: bool = False
    reroute_reasons: list[str] = field(default_factory=list)

    @property
    def routed(self) -> bool:
        return self.decision.source != DecisionSource.TRIAGE.value and self.first_team is not None

    @property
    def team_changed(self) -> bool:
        return self.final_team != self.first_team

    @property
    def misrouted(self) -> bool:
        return self.routed and (self.team_changed or self.topic_corrected)

    @property
    def to_final_seconds(self) -> float:
        if not self.team_changed or self.arrived_final_at is None:
            return 0.0
        return (self.arrived_final_at - self.created_at).total_seconds()


def journeys(session: Session, *, since: datetime, until: datetime) -> list[Journey]:
    decisions = repository.decisions_between(session, since, until)
    if not decisions:
        return []
    by_case = {d.case_id: d for d in decisions}
    facts = repository.case_facts(session, list(by_case))
    events = repository.events_of(session, list(by_case), ("case.rerouted", "case.updated", "case.assigned"))
    out: dict[int, Journey] = {}
    for case_id, decision in by_case.items():
        row = facts.get(case_id)
        if row is None:
            continue
        out[case_id] = Journey(case_id=case_id, reference=row.reference, created_at=row.created_at, market=row.market,
                               channel=row.channel, party_kind=row.party_kind, language=row.language,
                               decision=decision, first_team=decision.team_id, final_team=decision.team_id,
                               final_topic=row.topic)
    for event in events:
        journey = out.get(event.case_id)
        if journey is None:
            continue
        data = event.data
        if (event.type == "case.rerouted" and data.get("to_team_id") != data.get("from_team_id")
                and data.get("reason") != "escalated"):  # moving up a tier on purpose is not a misroute
            journey.hops += 1
            journey.final_team = data.get("to_team_id")
            journey.arrived_final_at = event.occurred_at
            journey.reroute_reasons.append(str(data.get("reason")))
        elif event.type == "case.updated":
            change = data.get("changes", {}).get("topic")
            if change and journey.decision.topic is not None and change.get("from") != change.get("to"):
                journey.topic_corrected = True
        elif event.type == "case.assigned" and journey.first_assigned_at is None and data.get("to_agent_id"):
            journey.first_assigned_at = event.occurred_at
    return sorted(out.values(), key=lambda j: (j.created_at, j.case_id))


# ---------------------------------------------------------------- metrics


@dataclass
class Figures:
    cases: int = 0
    routed: int = 0
    triaged: int = 0
    misrouted: int = 0
    team_changes: int = 0
    topic_corrections: int = 0
    hops: int = 0
    to_final_seconds: list[float] = field(default_factory=list)
    lost_seconds: list[float] = field(default_factory=list)

    def add(self, journey: Journey, lost: float) -> None:
        self.cases += 1
        if not journey.routed:
            self.triaged += 1
            return
        self.routed += 1
        self.hops += journey.hops
        if journey.misrouted:
            self.misrouted += 1
            self.team_changes += int(journey.team_changed)
            self.topic_corrections += int(journey.topic_corrected)
            if journey.team_changed:
                self.to_final_seconds.append(journey.to_final_seconds)
                self.lost_seconds.append(lost)

    def out(self) -> dict[str, Any]:
        return {
            "cases": self.cases, "routed": self.routed, "triaged": self.triaged, "misrouted": self.misrouted,
            "misroute_rate": round(self.misrouted / self.routed, 4) if self.routed else None,
            "team_changes": self.team_changes, "topic_corrections": self.topic_corrections,
            "hops": self.hops, "hops_per_case": round(self.hops / self.routed, 4) if self.routed else None,
            "median_hours_to_final_team": _hours(statistics.median(self.to_final_seconds))
            if self.to_final_seconds else None,
            "hours_lost": _hours(sum(self.lost_seconds)),
            "median_hours_lost": _hours(statistics.median(self.lost_seconds)) if self.lost_seconds else None,
        }


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


def baselines(items: Sequence[Journey]) -> dict[int | None, float]:
    """Per first team: the median wait from creation to first assignment of the cases it owned
    throughout (routed right and never rerouted: a case that bounced waited for other reasons)."""
    waits: dict[int | None, list[float]] = defaultdict(list)
    for j in items:
        if j.routed and not j.misrouted and j.hops == 0 and j.first_assigned_at is not None:
            waits[j.first_team].append((j.first_assigned_at - j.created_at).total_seconds())
    return {team: statistics.median(values) for team, values in waits.items()}


def time_lost(journey: Journey, base: dict[int | None, float]) -> float:
    if not journey.team_changed:
        return 0.0
    return max(0.0, journey.to_final_seconds - base.get(journey.first_team, 0.0))


def band(confidence: float | None) -> str:
    if confidence is None:
        return "no model"
    return next(label for floor, label in CONFIDENCE_BANDS if confidence >= floor)


# ---------------------------------------------------------------- causes


@dataclass
class Cause:
    key: str
    kind: str  # rule | catalogue | model | catalogue_gap | explicit
    title: str
    cases: list[Journey] = field(default_factory=list)
    lost_seconds: float = 0.0


def rule_that_set(fired: Sequence[dict[str, Any]], what: str) -> dict[str, Any] | None:
    """The last rule that changed ``what`` (team, topic, ...) of the case, from a decision's rules."""
    return next((r for r in reversed(fired) if what in r.get("changed", [])), None)


def cause_of(journey: Journey, team_key: Callable[[int | None], str],
             entry_scope: Callable[[int | None, int | None], str]) -> tuple[str, str, str]:
    """(key, kind, title) of what sent a misrouted case the wrong way."""
    d = journey.decision
    if journey.topic_corrected and d.topic_source == "classifier":
        return (f"model:{d.model_version}:{d.topic}->{journey.final_topic}", "model",
                f"model v{d.model_version} read {journey.final_topic} as {d.topic}")
    team_rule = rule_that_set(d.rules, "team")
    if d.source == DecisionSource.RULE.value and team_rule is not None:
        return (f"rule:{team_rule['id']}:{team_rule['version']}", "rule",
                f"rule {team_rule['id']} v{team_rule['version']} sends cases to {team_key(d.team_id)}")
    topic_rule = rule_that_set(d.rules, "topic")
    if journey.topic_corrected and d.topic_source == "rule" and topic_rule is not None:
        return (f"rule:{topic_rule['id']}:{topic_rule['version']}", "rule",
                f"rule {topic_rule['id']} v{topic_rule['version']} sets topic {d.topic}")
    if d.source == DecisionSource.CATALOGUE.value:
        return (f"catalogue:{d.catalogue_entry_id}:{d.catalogue_version}", "catalogue",
                f"catalogue entry {d.catalogue_entry_id} v{d.catalogue_version} "
                f"({entry_scope(d.catalogue_entry_id, d.catalogue_version)}) gives its cases to {team_key(d.team_id)}")
    if d.source == DecisionSource.INTAKE_DEFAULT.value:
        return (f"gap:{d.topic}:{journey.market}", "catalogue_gap",
                f"no catalogue entry for {d.topic or 'cases without a topic'} in {journey.market}: "
                f"queue intake settings sent them to {team_key(d.team_id)}")
    return (f"explicit:{d.queue_id}", "explicit", f"the caller named a queue of {team_key(d.team_id)}")


# ---------------------------------------------------------------- the recovery plan


@dataclass(frozen=True)
class Replay:
    fixed: list[Journey]
    broken: int

    @property
    def net(self) -> int:
        return len(self.fixed) - self.broken

    @property
    def examples(self) -> list[str]:
        return [j.reference for j in self.fixed[:EXAMPLES]]

    @property
    def cases(self) -> frozenset[int]:
        return frozenset(j.case_id for j in self.fixed)


@dataclass
class Proposal:
    """One change, with what replaying the period under it gave."""

    kind: str  # catalogue | rule | new_rule | threshold | retrain
    title: str
    detail: str
    replay: Replay
    replayed: bool = True  # False: an estimate (a retrain before the model exists)
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def fixed(self) -> int:
        return len(self.replay.fixed)

    @property
    def broken(self) -> int:
        return self.replay.broken

    @property
    def net(self) -> int:
        return self.replay.net

    @property
    def cases(self) -> frozenset[int]:  # the cases it fixes (for one change per group of cases)
        return self.replay.cases

    def out(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "detail": self.detail, "fixed": self.fixed,
                "broken": self.broken, "net": self.net, "replayed": self.replayed, "examples": self.replay.examples,
                "target": self.target}


def _reassign(group: Sequence[Journey]) -> tuple[int | None, Replay] | None:
    """The team that, given to every case of ``group``, fixes the most cases net of those it breaks."""
    best: tuple[int | None, Replay] | None = None
    for team, _ in Counter(j.final_team for j in group).most_common():
        replay = Replay(fixed=[j for j in group if j.final_team == team and j.first_team != team],
                        broken=sum(1 for j in group if j.first_team == j.final_team and j.final_team != team
                                   and not j.topic_corrected))
        if replay.net > 0 and len(replay.fixed) >= MIN_CASES and (best is None or replay.net > best[1].net):
            best = (team, replay)
    return best


def recovery_plan(session: Session, items: Sequence[Journey], *, settings: Settings,
                  team_key: Callable[[int | None], str], markets: dict[str, Market]) -> list[Proposal]:
    routed = [j for j in items if j.routed]
    plan: list[Proposal] = []
    # Catalogue: the topic's owner in the market, where the cases really end.
    by_topic: dict[tuple[str | None, str], list[Journey]] = defaultdict(list)
    for j in routed:
        if j.decision.source == DecisionSource.CATALOGUE.value and not j.topic_corrected:
            by_topic[(j.decision.topic, j.market)].append(j)
    for (topic, market), group in by_topic.items():
        best = _reassign(group)
        if best is None:
            continue
        team, replay = best
        entries = Counter((j.decision.catalogue_entry_id, j.decision.catalogue_version) for j in group)
        (entry_id, version), _ = entries.most_common(1)[0]
        plan.append(Proposal(
            kind="catalogue", title=f"Give {topic or 'cases without a topic'} in {market} to {team_key(team)}",
            detail=f"catalogue entry {entry_id} v{version} sends them to {team_key(group[0].first_team)}; "
                   f"propose an entry for topic {topic or '(any)'} in {market} owned by {team_key(team)}",
            replay=replay,
            target={"topic": topic, "market": market, "team": team_key(team), "entry_id": entry_id}))
    # Rules: the rule's team, where its cases really end; or the catalogue's answer without it.
    by_rule: dict[tuple[str, int], list[Journey]] = defaultdict(list)
    for j in routed:
        rule = rule_that_set(j.decision.rules, "team")
        if j.decision.source == DecisionSource.RULE.value and rule is not None and not j.topic_corrected:
            by_rule[(rule["id"], int(rule["version"]))].append(j)
    for (rule_id, version), group in by_rule.items():
        best = _reassign(group)
        if best is not None:
            team, replay = best
            plan.append(Proposal(kind="rule", title=f"Rule {rule_id}: send to {team_key(team)}",
                                 detail=f"rule {rule_id} v{version} sends {len(group)} cases to "
                                        f"{team_key(group[0].first_team)}; {len(replay.fixed)} ended at "
                                        f"{team_key(team)}",
                                 replay=replay,
                                 target={"rule": rule_id, "version": version, "team": team_key(team)}))
            continue
        without = _replay_without_rule(session, group, markets)
        if without is not None:
            plan.append(Proposal(kind="rule", title=f"Retire rule {rule_id}",
                                 detail=f"without rule {rule_id} v{version} the service catalogue would have sent "
                                        f"{len(without.fixed)} of its misrouted cases to the team that finally "
                                        "took them",
                                 replay=without, target={"rule": rule_id, "version": version, "retire": True}))
    # New rules: a market's cases in one language (or from one channel) that all end at one team.
    for attribute in ("language", "channel", "party_kind"):
        groups: dict[tuple[str, str], list[Journey]] = defaultdict(list)
        for j in routed:
            groups[(j.market, getattr(j, attribute))].append(j)
        for (market, value), group in groups.items():
            if not any(j.team_changed for j in group):
                continue
            best = _reassign(group)
            if best is None:
                continue
            team, replay = best
            plan.append(Proposal(
                kind="new_rule", title=f"Rule: {attribute.replace('_', ' ')} {value} in {market} → {team_key(team)}",
                detail=f"{len(replay.fixed)} of {len(group)} {value} cases in {market} were rerouted to "
                       f"{team_key(team)}; a rule on market = {market} and {attribute} = {value} sends them there "
                       "first",
                replay=replay,
                target={"when": [{"field": "market", "op": "eq", "value": market},
                                 {"field": attribute, "op": "eq", "value": value}],
                        "then": {"team": team_key(team)}}))
    plan.extend(_threshold_proposals(routed, markets))
    plan.extend(_retrain_proposals(session, routed, settings=settings))
    # One change per group of cases: when two proposals fix the same cases, the stronger one stays.
    plan.sort(key=lambda p: (-p.net, -p.fixed, p.kind, p.title))
    kept: list[Proposal] = []
    claimed: set[int] = set()
    for proposal in plan:
        if proposal.cases and proposal.cases <= claimed:
            continue
        claimed.update(proposal.cases)
        kept.append(proposal)
    return kept


def _replay_without_rule(session: Session, group: Sequence[Journey], markets: dict[str, Market],
                         ) -> Replay | None:
    fixed: list[Journey] = []
    broken = 0
    for j in group:
        market = markets.get(j.market)
        if market is None:
            continue
        try:
            owner = catalogue.who_owns(session, topic=j.decision.topic, market=market, channel=j.channel,
                                       party_kind=j.party_kind, at=j.decision.decided_at).entry
        except Invalid:  # a topic unknown to the taxonomy: no catalogue answer
            owner = None
        team = owner.team_id if owner else None
        if team == j.final_team and j.first_team != j.final_team:
            fixed.append(j)
        elif j.first_team == j.final_team and team != j.final_team:
            broken += 1
    replay = Replay(fixed=fixed, broken=broken)
    if replay.net <= 0 or len(fixed) < MIN_CASES:
        return None
    return replay


def _threshold_proposals(routed: Sequence[Journey], markets: dict[str, Market]) -> list[Proposal]:
    """Raise a market's confidence threshold where the model's unsure guesses were wrong."""
    out = []
    by_market: dict[str, list[Journey]] = defaultdict(list)
    for j in routed:
        if j.decision.topic_source == "classifier" and j.decision.confidence is not None:
            by_market[j.market].append(j)
    for market, group in by_market.items():
        current = group[-1].decision.threshold or 0.0
        best: tuple[float, Replay] | None = None
        for candidate in sorted({j.decision.confidence for j in group if j.decision.confidence is not None}):
            new = round(candidate + 0.005, 3)  # just above this confidence: cases at or below go to triage
            if new <= current or new > 1:
                continue
            replay = Replay(fixed=[j for j in group if (j.decision.confidence or 0) < new and j.misrouted],
                            broken=sum(1 for j in group if (j.decision.confidence or 0) < new and not j.misrouted))
            if replay.net > 0 and len(replay.fixed) >= MIN_CASES and (best is None or replay.net > best[1].net):
                best = (new, replay)
        if best is not None:
            threshold, replay = best
            out.append(Proposal(
                kind="threshold", title=f"Raise {market}'s routing threshold to {threshold:.0%}",
                detail=f"from {current:.0%}: {len(replay.fixed)} misrouted cases would have gone to triage for a "
                       f"person to route, and {replay.broken} correctly routed ones would have waited in triage "
                       "as well",
                replay=replay,
                target={"market": market, "threshold": threshold}))
    return out


def _retrain_proposals(session: Session, routed: Sequence[Journey], *, settings: Settings) -> list[Proposal]:
    """Topics the model confused; replayed with a newer trained model when there is one."""
    confused: dict[tuple[str | None, str | None], list[Journey]] = defaultdict(list)
    for j in routed:
        if j.topic_corrected and j.decision.topic_source == "classifier":
            confused[(j.decision.topic, j.final_topic)].append(j)
    if not confused:
        return []
    newest = max(repository.models(session), key=lambda m: m.version, default=None)
    used = {j.decision.model_version for group in confused.values() for j in group}
    candidate = newest if newest is not None and newest.version > max(v or 0 for v in used) else None
    classifier = None
    if candidate is not None:
        try:
            classifier = registry.load(candidate, settings=settings)
        except registry.ModelUnavailable:
            classifier = None
    if classifier is not None and candidate is not None:
        # Replay the swap over every case the model routed: the corrections it now reads right, and the
        # cases the old model read right that it would now read wrong. It learnt from the corrections,
        # so its figure is an upper bound until it meets new cases.
        read = [j for j in routed if j.decision.topic_source == "classifier"]
        texts = repository.case_texts_by_id(session, [j.case_id for j in read])
        guesses = classifier.predict([texts.get(j.case_id, "") for j in read])
        fixed = [j for j, p in zip(read, guesses, strict=True) if j.topic_corrected and p.label == j.final_topic]
        broken = sum(1 for j, p in zip(read, guesses, strict=True)
                     if not j.topic_corrected and p.label != j.decision.topic)
        top = sorted(confused.items(), key=lambda kv: -len(kv[1]))[:3]
        pairs = "; ".join(f"{final} read as {predicted} ({len(group)})" for (predicted, final), group in top)
        return [Proposal(kind="retrain", title=f"Activate model v{candidate.version}",
                         detail=f"the model in use confused {pairs}; v{candidate.version} was trained with the "
                                "corrections (an upper bound: it learnt from these cases)",
                         replay=Replay(fixed=fixed, broken=broken), target={"model": candidate.version})]
    out = []
    for (predicted, final), group in sorted(confused.items(), key=lambda kv: -len(kv[1])):
        if len(group) < MIN_CASES:
            continue
        out.append(Proposal(
            kind="retrain", title=f"Retrain: {predicted} taken for {final}",
            detail=f"{len(group)} cases corrected from {predicted} to {final} join the next training set; "
                   "run `trustdesk routing train` and this report replays them with the new model",
            replay=Replay(fixed=list(group), broken=0), replayed=False,
            target={"topic": final, "confused_with": predicted}))
    return out


# ---------------------------------------------------------------- drift


def weekly_rates(items: Iterable[Journey], *, until: datetime, weeks: int) -> list[dict[str, Any]]:
    """Misroute rate per 7-day window ending at ``until``, oldest first."""
    windows = [(until - timedelta(days=7 * (k + 1)), until - timedelta(days=7 * k)) for k in range(weeks)][::-1]
    rows = []
    for start, end in windows:
        routed = [j for j in items if j.routed and start <= j.created_at < end]
        misrouted = sum(1 for j in routed if j.misrouted)
        rows.append({"from": start, "to": end, "routed": len(routed), "misrouted": misrouted,
                     "rate": round(misrouted / len(routed), 4) if routed else None})
    return rows


def drift(weeks: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The last week against the weeks before, by a one-sided two-proportion z-test."""
    if len(weeks) < 2:
        return None
    last, before = weeks[-1], weeks[-1 - DRIFT_WEEKS:-1]
    n1, x1 = last["routed"], last["misrouted"]
    n0, x0 = sum(w["routed"] for w in before), sum(w["misrouted"] for w in before)
    if n1 == 0 or n0 == 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    pooled = (x0 + x1) / (n0 + n1)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1)) if 0 < pooled < 1 else 0.0
    z = (p1 - p0) / spread if spread else 0.0
    p_value = 0.5 * math.erfc(z / math.sqrt(2))
    return {"week_rate": round(p1, 4), "baseline_rate": round(p0, 4), "z": round(z, 2), "p_value": p_value,
            "alert": p_value < DRIFT_P and p1 - p0 >= DRIFT_MIN_RISE, "week_from": last["from"], "week_to": last["to"]}


# ---------------------------------------------------------------- the report


def report(session: Session, *, since: datetime, until: datetime, settings: Settings) -> dict[str, Any]:
    items = journeys(session, since=since, until=until)
    teams = {t.id: t.key for t in directory.list_teams(session)}
    markets = {m.code: m for m in directory.list_markets(session)}

    def team_key(team_id: int | None) -> str:
        return teams.get(team_id, "(none)") if team_id is not None else "(none)"

    scopes = catalogue.scope_labels(session, {(j.decision.catalogue_entry_id, j.decision.catalogue_version)
                                              for j in items if j.decision.catalogue_entry_id is not None
                                              and j.decision.catalogue_version is not None})

    def entry_scope(entry_id: int | None, version: int | None) -> str:
        return scopes.get((entry_id or 0, version or 0), "retired")

    base = baselines(items)
    lost = {j.case_id: time_lost(j, base) for j in items}
    total = Figures()
    breakdowns: dict[str, dict[str, Figures]] = {name: defaultdict(Figures) for name in (
        "topic", "market", "channel", "source", "rule", "catalogue_entry", "model_version", "confidence_band",
        "first_team")}
    confusion: Counter[tuple[str, str]] = Counter()
    causes: dict[str, Cause] = {}
    reasons: Counter[str] = Counter()
    for j in items:
        d = j.decision
        total.add(j, lost[j.case_id])
        keys = {
            "topic": [d.topic or "(none)"], "market": [j.market], "channel": [j.channel], "source": [d.source],
            "rule": [f"{r['id']} v{r['version']}" for r in d.rules] or ["(no rule)"],
            "catalogue_entry": [f"entry {d.catalogue_entry_id} v{d.catalogue_version}"
                                if d.catalogue_entry_id is not None else "(no entry)"],
            "model_version": [f"v{d.model_version}" if d.model_version is not None else "(no model)"],
            "confidence_band": [band(d.confidence)], "first_team": [team_key(j.first_team)],
        }
        for name, values in keys.items():
            for value in values:
                breakdowns[name][value].add(j, lost[j.case_id])
        if not j.routed:
            continue
        confusion[(team_key(j.first_team), team_key(j.final_team))] += 1
        if j.misrouted:
            reasons.update(j.reroute_reasons[:1] or (["topic_corrected"] if j.topic_corrected else []))
            key, kind, title = cause_of(j, team_key, entry_scope)
            cause = causes.setdefault(key, Cause(key=key, kind=kind, title=title))
            cause.cases.append(j)
            cause.lost_seconds += lost[j.case_id]
    ranked = sorted(causes.values(), key=lambda c: (-len(c.cases), -c.lost_seconds, c.key))
    weeks = weekly_rates(journeys(session, since=until - timedelta(days=7 * (DRIFT_WEEKS + 1)), until=until)
                         if since > until - timedelta(days=7 * (DRIFT_WEEKS + 1)) else items,
                         until=until, weeks=DRIFT_WEEKS + 1)
    return {
        "period": {"from": since, "to": until},
        "summary": total.out(),
        "baseline_hours": {team_key(t): _hours(v) for t, v in sorted(base.items(), key=lambda kv: team_key(kv[0]))},
        "reroute_reasons": dict(reasons.most_common()),
        "causes": [{"key": c.key, "kind": c.kind, "title": c.title, "misrouted": len(c.cases),
                    "hours_lost": _hours(c.lost_seconds), "examples": [j.reference for j in c.cases[:EXAMPLES]]}
                   for c in ranked],
        "recovery_plan": [p.out() for p in recovery_plan(session, items, settings=settings, team_key=team_key,
                                                         markets=markets)],
        "breakdowns": {name: [{"key": key} | fig.out() for key, fig in sorted(
            groups.items(), key=lambda kv: (-kv[1].misrouted, kv[0]))] for name, groups in breakdowns.items()},
        "confusion": [{"routed_team": a, "final_team": b, "cases": n}
                      for (a, b), n in sorted(confusion.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))],
        "weekly": weeks,
        "drift": drift(weeks),
    }


def render_text(report: dict[str, Any]) -> str:
    """The report as a person reads it in a terminal."""
    s = report["summary"]
    period = report["period"]
    lines = [f"Routing {period['from']:%Y-%m-%d} to {period['to']:%Y-%m-%d}"]
    if not s["routed"]:
        lines.append(f"No routed cases in the period ({s['triaged']} went to triage).")
        return "\n".join(lines)
    lines += [
        f"Misroute rate {s['misroute_rate']:.1%} ({s['misrouted']} of {s['routed']} routed cases; "
        f"{s['team_changes']} changed team, {s['topic_corrections']} had their topic corrected)",
        f"Hops per case {s['hops_per_case']:.2f} · median time to final team "
        f"{_or_dash(s['median_hours_to_final_team'])} h · time lost {s['hours_lost']} h "
        f"(median {_or_dash(s['median_hours_lost'])} h) · {s['triaged']} to triage",
        "", "Causes, worst first:",
    ]
    for cause in report["causes"][:10]:
        lines.append(f"  {cause['misrouted']:>5}  {cause['hours_lost']:>8} h  {cause['title']}")
    lines += ["", "Recovery plan (replayed over the period):"]
    if not report["recovery_plan"]:
        lines.append("  nothing to change: no single change fixes more cases than it breaks")
    for step in report["recovery_plan"]:
        replayed = "" if step["replayed"] else " (estimate until a new model is trained)"
        lines.append(f"  {step['title']}: fixes {step['fixed']}, breaks {step['broken']}{replayed}")
        lines.append(f"      {step['detail']}")
    found = report.get("drift")
    if found and found["alert"]:
        lines += ["", f"DRIFT: last week's misroute rate {found['week_rate']:.1%} against {found['baseline_rate']:.1%} "
                      f"before (p = {found['p_value']:.2g})"]
    return "\n".join(lines)


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value}"
