"""The insight dashboards with a million cases on PostgreSQL (issue #7; not in CI, not a timed test).

Target: every dashboard loads in under a second with 1,000,000 cases.

1. **Scratch database.** Drops and recreates ``trustdesk_bench_insights`` (the name must contain "bench"),
   runs the Alembic migrations and builds the demo marketplace's directory with the demo's own helpers
   (``trustdesk.demo``: four markets, two BPO vendors, Tier 1/Tier 2/appeals/oncall/internal teams and their
   queues, ~45 staff and their agents, the topic tree, the service catalogue and routing rules, the SLA
   calendars and policies, the appeal policies and detection sources). The lead ``lead@demo.trustdesk.dev``
   (in-house, holds insights.read) is who reads the dashboards.
2. **History**, generated in Python and written with ``COPY`` (a million cases through the case service
   would take hours): ``--cases`` cases over the last 90 days (one every ~8 s at a million), of ``--cases``/4
   customers in the demo's market shares, each case with the rows the dashboards read, as the real code
   would have written them:

   - ``cases`` (status, team, queue, assignee, times) and its ``routing_decisions`` row (catalogue, rule,
     intake default, explicit or triage; the classifier's topic when the customer gave none);
   - the ``case_events`` the routing causes replay: ``case.assigned``, ``case.rerouted`` (a misroute to
     another team, a Spanish-speaking US buyer sent on to the Spanish line, an escalation from Tier 1 to
     Tier 2 or oncall, a triaged case sent on) and ``case.updated`` (a topic corrected);
   - ``case_facts``, each column by ``insights.facts.fold``'s rules from that same story: first reply and
     resolution in clock minutes and in business minutes of the case's SLA calendar (the real
     ``sla.calendar.Calendar``), reopens (a reopened case keeps counting from creation, ``first_solved_at``
     stays the first solve), routed / misrouted / hops, handled by and escalated from Tier 1, the latest
     CSAT rating, the customer's first, last and lowest sentiment, and the repeat link (the party's latest
     earlier case on the topic solved before this one opened, as ``facts.link_repeats`` finds it);
   - ``case_target_facts``: the first reply and resolution targets of the case's SLA policy that came due
     (met when answered or solved in time, else breached at the due time), as ``sla.metrics.came_due``;
   - ``case_ratings`` for ~30% of solved cases (scores worse after a misroute, a reopen or a slow answer;
     a reason on most low ratings, a comment on many), and ``sla_timers`` for the open cases (running
     clocks due from hours ago to days ahead; pending and on-hold cases paused), which the "at risk" panel
     and the live queues read;
   - appeals: 1% of the cases are appeals against an enforcement decision (plus four unappealed decisions
     each), filed by sellers and creators, 80% decided (upheld, overturned, partly overturned) with their
     ``appeal.filed`` / ``appeal.decided`` events.

   Not written, because no dashboard reads them: messages, the other events of the log (created, status
   changes, replies), the cases' SLA snapshots and message sentiment rows; so ``trustdesk insights
   rebuild`` on this database would not reproduce these facts. Then the day counts of those facts
   (``insights.days.rebuild``, timed: what a fact refresh keeps up day by day) and ``VACUUM ANALYZE``, as
   autovacuum would have run over 90 days. ``--reuse`` of a database kept before the day counts existed
   counts them in its migration.
3. **Timing**, through the real ASGI app (Starlette's TestClient, signed in through the login form, the
   outbox off): each dashboard (overview, operations, quality, routing, appeals), the routing causes
   fragment (loaded by htmx after the routing page) and one CSV download, with the default period (last
   28 days), a market filter (US) and the last 90 days: one warm-up request, then the median and max of
   ``--runs`` requests each, with the SQL statements each request sent and the slowest of them.
   ``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of the slowest statements.

Prints the figures and the command that reproduces them; exits 1 when a median is over a second:

    .venv/bin/python bench/insights.py [--cases 1000000] [--runs 5] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import drop_database, recreate_database

from trustdesk.app import create_app
from trustdesk.appeals import repository as appeal_repository
from trustdesk.core import identity
from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.migrate import upgrade
from trustdesk.core.settings import Settings
from trustdesk.demo import appeals as demo_appeals
from trustdesk.demo.catalog import DEMO_PASSWORD, MARKETS, T1_TEAM_OF_MARKET, email_of
from trustdesk.demo.routing import ensure_routing
from trustdesk.demo.sla import _ROUND_THE_CLOCK, _T1_CALENDAR, _TIER_1, ensure_calendars, ensure_policies
from trustdesk.demo.structure import ensure_structure
from trustdesk.directory.models import Tier
from trustdesk.feedback.models import LowRatingReason
from trustdesk.insights import days
from trustdesk.insights.models import DayCount
from trustdesk.sla import policies
from trustdesk.sla.calendar import Calendar

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/trustdesk_bench_insights"
DAYS = 90
CHUNK = 50_000  # cases generated and copied at a time
TARGET_SECONDS = 1.0
OPEN_STATUSES = ("new", "open", "pending", "on_hold")
CLOSE_AFTER = timedelta(days=7)  # Settings.reopen_window_days: a solved case closes after a week
LEAD = email_of("lead")
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
T2_OF_FAMILY = {"order": "t2-orders", "delivery": "t2-orders", "shipping": "t2-orders", "refund": "t2-payments",
                "payment": "t2-payments", "invoice": "t2-payments", "cancel": "t2-payments", "seller": "t2-sellers",
                "creator": "t2-sellers"}
LOW_COMMENTS = {
    "slow": ["Three days for a simple answer.", "Nobody replied for ages.", "Far too slow."],
    "not_resolved": ["My problem is still there.", "Still no refund.", "The parcel never arrived, nothing happened."],
    "unhelpful": ["The answer was a copy-paste of the FAQ.", "Did not answer my question."],
    "rude": ["The agent was dismissive.", "Very unfriendly reply."],
    "policy": ["Your refund policy is unfair.", "Why can't I return an opened item?"],
    "transferred": ["I was passed between three teams.", "Had to explain everything again to another team."],
    "other": ["Not happy.", "Bad experience overall."],
}
GOOD_COMMENTS = ["Quick and friendly, thanks!", "Solved in minutes.", "Great help.", ""]
REASONS = [r.value for r in LowRatingReason]


# ---------------------------------------------------------------- the directory


@dataclass
class Directory:
    """What the history is generated from, read back from the demo's directory."""

    markets: list[tuple[int, str, str, tuple[str, ...], float]]  # id, code, default language, languages, share
    teams: dict[str, tuple[int, str]]  # key -> (id, tier)
    queue_of: dict[tuple[str, str], int]  # (team key, "buyers" | "sellers" | "triage" | "any") -> queue id
    agents: dict[int, list[int]]  # team id -> agents who work its cases
    topics: dict[str, list[str]]  # "buyer", "seller", "creator", "appeal" -> leaf topic keys
    entries: dict[tuple[str, str], tuple[int, int]]  # (market, party kind) -> catalogue entry (id, version)
    rule: tuple[int, int, str] | None  # a published rule that sets the team: (id, version, name), and its set
    rule_set_version: int | None
    calendars: dict[str, Calendar]
    policy_ids: list[int]
    source_ids: list[int]
    deciders: list[int]
    first_party_id: int  # the demo's own parties (logins, requesters) come before the generated ones


def build_directory(engine: Engine, settings: Settings, now: datetime) -> Directory:
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        ensure_structure(session, now=now, password_hash=identity.hash_password(DEMO_PASSWORD))
        ensure_routing(session, now=now)
        ensure_calendars(session, now=now)
        ensure_policies(session, now=now)
    with transaction(factory) as session:
        demo_appeals.ensure_appeals_setup(session, now=now, settings=settings)
    with transaction(factory) as session:
        conn = session.connection()
        share = {m.code: m.share for m in MARKETS}
        markets = [(mid, code, lang, tuple(langs), share[code]) for mid, code, lang, langs in conn.execute(text(
            "SELECT id, code, default_language, languages FROM markets ORDER BY id"))]
        teams = {key: (tid, tier) for tid, key, tier in conn.execute(text("SELECT id, key, tier FROM teams"))}
        key_of = {tid: key for key, (tid, _) in teams.items()}
        queue_of: dict[tuple[str, str], int] = {}
        for qid, team_id, triage, kinds in conn.execute(text(
                "SELECT id, team_id, is_triage, intake_party_kinds FROM queues WHERE is_active ORDER BY id")):
            kind = "triage" if triage else "sellers" if "seller" in kinds else "buyers" if "buyer" in kinds else "any"
            queue_of.setdefault((key_of[team_id], kind), qid)
            queue_of.setdefault((key_of[team_id], "any"), qid)
        agents: dict[int, list[int]] = defaultdict(list)
        for team_id, agent_id in conn.execute(text(
                "SELECT m.team_id, a.id FROM team_memberships m JOIN agents a ON a.id = m.agent_id "
                "JOIN users u ON u.id = a.user_id WHERE u.role NOT IN ('lead', 'admin', 'qa') ORDER BY a.id")):
            agents[team_id].append(agent_id)
        topics: dict[str, list[str]] = defaultdict(list)
        keys = [k for (k,) in conn.execute(text("SELECT key FROM topics WHERE is_active ORDER BY key"))]
        for key in keys:
            if any(other.startswith(key + ".") for other in keys):
                continue  # a family: cases carry its leaves
            root = key.split(".", 1)[0]
            topics[root if root in ("seller", "creator", "appeal", "internal") else "buyer"].append(key)
        entries: dict[tuple[str, str], tuple[int, int]] = {}
        for eid, entry_id, version, scope, kind in conn.execute(text(
                "SELECT id, entry_id, version, market_scope, party_kind FROM catalogue_entries "
                "WHERE status = 'approved' ORDER BY id")):
            entries.setdefault((scope, kind or ""), (entry_id or eid, version))
        rule = None
        rule_set_version = None
        found = conn.execute(text("SELECT version, rules FROM routing_rule_sets WHERE status = 'published'")).first()
        if found is not None:
            rule_set_version = int(found[0])
            sets_team = [r for r in found[1] if "team" in (r.get("then") or {})] or list(found[1])
            if sets_team:
                rule = (sets_team[0]["id"], sets_team[0]["version"], sets_team[0].get("name", ""))
        calendars = {key: policies.calendar_for(session, key) for key in (*_T1_CALENDAR.values(), "follow-the-sun")}
        policy_ids = [p.id for p in appeal_repository.policies(session)]
        source_ids = [s.id for s in appeal_repository.sources(session)]
        deciders = [u for (u,) in conn.execute(text("SELECT id FROM users WHERE role IN ('reviewer', 'lead') "
                                                    "AND email LIKE '%@demo.trustdesk.dev' ORDER BY id"))]
        first_party_id = int(conn.execute(text("SELECT COALESCE(max(id), 0) + 1 FROM parties")).scalar_one())
    assert all(c is not None for c in calendars.values())
    return Directory(markets, teams, queue_of, dict(agents), dict(topics), entries, rule, rule_set_version,
                     {k: c for k, c in calendars.items() if c is not None}, policy_ids, source_ids, deciders,
                     first_party_id)


# ---------------------------------------------------------------- the history

CASE_COLUMNS = ("id", "reference", "channel", "market_id", "language", "party_id", "subject", "topic", "team_id",
                "queue_id", "assignee_id", "priority", "status", "tags", "custom_fields", "version", "created_at",
                "updated_at", "opened_at", "pending_at", "on_hold_at", "solved_at", "closed_at",
                "first_agent_reply_at", "last_customer_message_at", "last_agent_reply_at")
FACT_COLUMNS = ("case_id", "reference", "market", "channel", "language", "party_id", "party_kind", "topic",
                "priority", "status", "first_team_id", "team_id", "tier", "agent_id", "calendar", "created_at",
                "first_reply_at", "first_reply_minutes", "first_reply_business_minutes", "solved_at",
                "first_solved_at", "resolution_minutes", "resolution_business_minutes", "reopens", "routed",
                "misrouted", "hops", "handled_by_t1", "escalated_from_t1", "csat_score", "csat_rated_at",
                "repeat_of_case_id", "repeat_gap_minutes", "sentiment_first", "sentiment_last", "sentiment_min",
                "events_through", "refreshed_at")
DECISION_COLUMNS = ("id", "case_id", "decided_at", "source", "topic", "topic_source", "team_id", "queue_id",
                    "priority", "inputs", "rule_set_version", "rules", "catalogue_entry_id", "catalogue_version",
                    "model_version", "confidence", "threshold", "suggestions", "triage_reason", "explanation")
EVENT_COLUMNS = ("id", "case_id", "type", "actor_type", "actor_id", "occurred_at", "data")
TARGET_COLUMNS = ("id", "case_id", "metric", "came_due_at", "met")
RATING_COLUMNS = ("id", "case_id", "party_id", "team_id", "score", "comment", "channel", "rated_at", "reason")
TIMER_COLUMNS = ("id", "case_id", "metric", "seq", "started_at", "due_at", "warn_at", "warning_sent_at",
                 "breach_sent_at", "state")
DECISION_TABLE_COLUMNS = (
    "id", "external_id", "puid", "market_id", "party_id", "item_kind", "item_ref", "item_title", "policy_id",
    "source_id", "decided_by_email", "decided_at", "notified_at", "decision_ground", "category", "source_type",
    "automated_detection", "automated_decision", "application_date", "statement", "redress", "status", "created_at",
    "updated_at")
APPEAL_COLUMNS = ("id", "reference", "decision_id", "case_id", "party_id", "market_id", "policy_id", "reason",
                  "status", "filed_at", "deadline_at", "outcome", "lifted_measures", "decision_reasons",
                  "decision_letter", "decider_user_id", "decider_kind", "manifestly_unfounded", "decided_at",
                  "created_at", "updated_at")
APPEAL_EVENT_COLUMNS = ("id", "decision_id", "appeal_id", "party_id", "type", "actor_type", "actor_id", "occurred_at",
                        "data")
TABLES: dict[str, tuple[str, ...]] = {
    "cases": CASE_COLUMNS, "routing_decisions": DECISION_COLUMNS, "case_events": EVENT_COLUMNS,
    "case_facts": FACT_COLUMNS, "case_target_facts": TARGET_COLUMNS, "case_ratings": RATING_COLUMNS,
    "sla_timers": TIMER_COLUMNS, "enforcement_decisions": DECISION_TABLE_COLUMNS, "appeals": APPEAL_COLUMNS,
    "appeal_events": APPEAL_EVENT_COLUMNS,
}
PRIORITIES = (("low", 0.12), ("normal", 0.68), ("high", 0.15), ("urgent", 0.05))


def _minutes(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 60.0, 4)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


@dataclass
class Party:
    id: int
    kind: str
    market: int  # index into Directory.markets
    usual_topic: str


@dataclass
class Rows:
    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: {name: [] for name in TABLES})

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables[table].append(row)


class History:
    """Generates the cases in time order; keeps what links a case to earlier ones (ids, repeats)."""

    def __init__(self, directory: Directory, cases: int, now: datetime, seed: int = 7) -> None:
        self.d = directory
        self.n = cases
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self.rng = random.Random(seed)
        self.event_id = self.target_id = self.rating_id = self.timer_id = 0
        self.decision_id = self.appeal_id = self.appeal_event_id = 0
        # (party, topic) -> earlier cases' (first_solved_at, case_id), for the repeat link.
        self.threads: dict[tuple[int, str], list[tuple[datetime, int]]] = defaultdict(list)
        weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(directory.topics["buyer"]))]
        self.buyer_topics = list(directory.topics["buyer"])
        random.Random(seed + 1).shuffle(self.buyer_topics)
        self.buyer_cumulative = list(_cumulative(weights))
        self.parties = self._parties(max(1000, cases // 4))
        self.calendar_minutes: dict[str, int] = {}

    # -- customers

    def _parties(self, count: int) -> dict[str, list[Party]]:
        rng = random.Random(11)
        shares = [m[4] for m in self.d.markets]
        market_cumulative = list(_cumulative(shares))
        pools: dict[str, list[Party]] = defaultdict(list)
        for pid in range(self.d.first_party_id, self.d.first_party_id + count):
            kind = _pick(rng, (("buyer", 0.82), ("seller", 0.13), ("creator", 0.05)))
            market = bisect.bisect(market_cumulative, rng.random() * market_cumulative[-1])
            pool = self.d.topics[kind] if kind != "buyer" else self.buyer_topics
            pools[kind].append(Party(pid, kind, min(market, len(self.d.markets) - 1), rng.choice(pool)))
        return pools

    def party_rows(self) -> Iterator[tuple[Any, ...]]:
        for kind, pool in self.parties.items():
            for p in pool:
                market_id = self.d.markets[p.market][0]
                yield (p.id, kind, market_id, f"bench-{p.id}", f"Customer {p.id}", f"customer{p.id}@bench.test",
                       self.d.markets[p.market][2], self.start - timedelta(days=200))

    # -- the cases

    def _topic(self, rng: random.Random, party: Party, kind: str) -> str:
        if rng.random() < 0.35:
            return party.usual_topic  # the same customer, the same trouble: repeats
        if kind == "buyer":
            return self.buyer_topics[bisect.bisect(self.buyer_cumulative, rng.random() * self.buyer_cumulative[-1])]
        return rng.choice(self.d.topics[kind])

    def _t2_for(self, topic: str) -> str:
        family = topic.split(".", 1)[0]
        return next((team for prefix, team in T2_OF_FAMILY.items() if family.startswith(prefix)), "t2-orders")

    def chunk(self, first: int, last: int) -> Rows:
        rows = Rows()
        step = (self.now - self.start) / self.n
        for case_id in range(first, last + 1):
            self._case(rows, case_id, self.start + step * (case_id - 1 + self.rng.random() * 0.9))
        return rows

    def _case(self, rows: Rows, case_id: int, created: datetime) -> None:
        rng, d, now = self.rng, self.d, self.now
        roll = rng.random()
        kind = "appeal" if roll < 0.01 else "seller" if roll < 0.14 else "creator" if roll < 0.18 else "buyer"
        pool = self.parties["seller" if kind == "appeal" else kind]
        party = pool[rng.randrange(len(pool))]
        market_id, code, language, languages, _ = d.markets[party.market]
        if len(languages) > 1 and rng.random() < 0.12:
            language = languages[1]
        topic = rng.choice(d.topics["appeal"]) if kind == "appeal" else self._topic(rng, party, kind)
        priority = _pick(rng, PRIORITIES)
        if kind == "appeal":
            channel = "appeal_form"
        elif kind == "buyer":
            channel = _pick(rng, (("in_app_chat", 0.48), ("web_form", 0.3), ("email", 0.15), ("api", 0.07)))
        else:
            channel = _pick(rng, (("in_app_chat", 0.35), ("web_form", 0.45), ("api", 0.2)))
        tier_of = {tid: tier for tid, tier in d.teams.values()}

        # Routing at intake.
        t1_key = T1_TEAM_OF_MARKET[code]
        triaged = False
        entry: tuple[int, int] | None = None
        rules: list[dict[str, Any]] = []
        if kind == "appeal":
            source, first_key, queue_kind = "explicit", "appeals", "any"
        else:
            queue_kind = "buyers" if kind == "buyer" else "sellers"
            first_key = t1_key
            r = rng.random()
            if r < 0.04:
                source, queue_kind, triaged = "triage", "triage", True
            elif r < 0.12 and d.rule is not None:
                source = "rule"
                rules = [{"id": d.rule[0], "version": d.rule[1], "name": d.rule[2], "changed": ["team"]}]
            elif r < 0.2:
                source = "intake_default"
            elif r < 0.24 and channel == "api":
                source = "explicit"
            else:
                source = "catalogue"
                entry = d.entries.get((code, kind)) or d.entries.get((code, ""))
                if entry is None:
                    source = "intake_default"
        first_team = d.teams[first_key][0]
        first_queue = d.queue_of.get((first_key, queue_kind)) or d.queue_of[(first_key, "any")]
        topic_source = "given" if channel in ("web_form", "api", "appeal_form") else "classifier"
        routed_topic = topic
        corrected = not triaged and kind != "appeal" and rng.random() < 0.03
        if corrected:
            others = d.topics[kind] if kind != "buyer" else self.buyer_topics
            routed_topic = rng.choice([t for t in others if t != topic] or others)
            topic_source = "classifier"
        routed = not triaged
        confidence = round(0.45 + rng.random() * 0.5, 4) if topic_source == "classifier" else None
        decision = (case_id, case_id, created, source, routed_topic, topic_source, first_team, first_queue, priority,
                    json.dumps({"topic": routed_topic if topic_source == "given" else None, "priority": priority,
                                "tags": []}),
                    d.rule_set_version, json.dumps(rules), entry[0] if entry else None, entry[1] if entry else None,
                    3 if topic_source == "classifier" else None, confidence,
                    0.6 if topic_source == "classifier" else None,
                    json.dumps([{"topic": routed_topic, "confidence": confidence}] if confidence else []),
                    "low_confidence" if triaged else None, f"bench: {source}")
        rows.add("routing_decisions", decision)

        # Where it went: reroutes (hops), escalations, the team that has it.
        events: list[tuple[str, datetime, dict[str, Any], int | None]] = []
        moment = created
        team, final_team, hops = first_team, first_team, 0
        handled_by_t1 = tier_of[first_team] == Tier.T1.value
        escalated = False
        moves: list[tuple[int, str]] = []
        if triaged:
            moves.append((d.teams[t1_key][0], "triaged"))
        elif kind != "appeal":
            if code == "US" and language == "es" and rng.random() < 0.5:
                moves.append((d.teams["t1-us-es"][0], "wrong_language"))
            elif rng.random() < 0.06:
                other = rng.choice([k for k in (self._t2_for(topic), "t1-gb", "t1-us", "t1-es", "t1-id")
                                    if k != first_key])
                moves.append((d.teams[other][0], "wrong_team"))
                if rng.random() < 0.15:
                    moves.append((d.teams[self._t2_for(topic)][0], "wrong_team"))
        for to_team, reason in moves:
            moment = moment + timedelta(minutes=5 + rng.random() * 240)
            if to_team == team:
                continue
            events.append(("case.rerouted", moment, {"from_team_id": team, "to_team_id": to_team, "reason": reason},
                           None))
            hops += 1
            team = final_team = to_team
            handled_by_t1 = handled_by_t1 or tier_of[team] == Tier.T1.value
        if corrected:
            moment = moment + timedelta(minutes=2 + rng.random() * 60)
            events.append(("case.updated", moment, {"changes": {"topic": {"from": routed_topic, "to": topic}}}, None))
        misrouted = routed and (final_team != first_team or corrected)

        # Who answers, when: the first reply, on the clock and on the SLA calendar.
        calendar_key = (_T1_CALENDAR[code] if tier_of[first_team] == Tier.T1.value else "follow-the-sun")
        calendar = d.calendars[calendar_key]
        business = calendar_key != "follow-the-sun"
        targets = (_TIER_1 if business else _ROUND_THE_CLOCK)[priority]
        assign_at = moment + timedelta(minutes=1 + rng.random() * 20)
        agents = d.agents.get(team, [])
        assignee = rng.choice(agents) if agents else None
        wait = timedelta(minutes=(2 + 600 * rng.random() ** 3) * (1.8 if misrouted else 1.0))
        first_reply = calendar.add(assign_at, wait) if business else assign_at + wait
        # Escalation from Tier 1 (a move up a tier, not a hop), after the first reply.
        if handled_by_t1 and tier_of[team] == Tier.T1.value and kind != "appeal" and rng.random() < 0.09:
            up = "oncall" if rng.random() < 0.05 else self._t2_for(topic)
            escalate_at = first_reply + timedelta(minutes=10 + rng.random() * 600)
            if escalate_at < now:
                events.append(("case.rerouted", escalate_at, {"from_team_id": team, "to_team_id": d.teams[up][0],
                                                              "reason": "escalated"}, None))
                team = d.teams[up][0]
                escalated = True
        if assignee is not None and assign_at < now:
            events.append(("case.assigned", assign_at, {"from_agent_id": None, "to_agent_id": assignee}, None))
        else:
            assignee = None
        if escalated:  # someone in the team it went up to picks it up
            helpers = d.agents.get(team, [])
            at = max(e[1] for e in events) + timedelta(minutes=3 + rng.random() * 30)
            if helpers and at < now:
                helper = rng.choice(helpers)
                events.append(("case.assigned", at, {"from_agent_id": assignee, "to_agent_id": helper}, None))
                assignee = helper
        replied = assignee is not None and first_reply < now

        # How it ended (or that it is still open).
        stuck = rng.random() < 0.015
        work = timedelta(minutes=20 + 4000 * rng.random() ** 2.5) * (1.5 if escalated or misrouted else 1.0)
        solved: datetime | None = None
        first_solved: datetime | None = None
        reopens = 0
        if replied and not stuck:
            candidate = first_reply + work
            if candidate < now:
                solved = first_solved = candidate
                if rng.random() < 0.04:  # solved, reopened by the customer, solved again later
                    again = candidate + timedelta(hours=2 + rng.random() * 96)
                    if again < now:
                        reopens, solved = 1, again
                    else:
                        solved = None  # reopened and not solved again yet: open
                        reopens = 1
        if solved is not None:
            status = "closed" if solved + CLOSE_AFTER < now else "solved"
        elif not replied:
            status = "new" if assignee is None else "open"
        else:
            status = _pick(rng, (("open", 0.6), ("pending", 0.3), ("on_hold", 0.1)))
        closed = solved + CLOSE_AFTER if status == "closed" and solved else None

        # CSAT: about 30% of solved cases rate, after the solve; worse when it went badly.
        score: int | None = None
        rated: datetime | None = None
        if solved is not None and rng.random() < 0.3:
            at = solved + timedelta(minutes=30 + rng.random() * 2880)
            if at < now:
                mood = rng.random() - (0.25 if misrouted else 0) - (0.25 if reopens else 0) \
                    - (0.15 if wait > timedelta(hours=6) else 0)
                score = 5 if mood > 0.45 else 4 if mood > 0.22 else 3 if mood > 0.12 else 2 if mood > 0.02 else 1
                rated = at
        # Sentiment of the customer's scored messages (three cases in four have one).
        sentiments: tuple[float, float, float] | None = None
        if rng.random() < 0.75:
            first_s = round(rng.uniform(-0.9, 0.6), 4)
            drift = (0.3 if score and score >= 4 else -0.3 if score and score <= 2 else 0.0)
            last_s = round(max(-1.0, min(1.0, first_s + drift + rng.uniform(-0.4, 0.4))), 4)
            sentiments = (first_s, last_s, round(min(first_s, last_s, first_s - rng.random() * 0.2), 4))

        # The facts row (insights.facts.fold's columns) and the repeat link (facts.link_repeats).
        reference = f"B-{case_id:07d}"
        thread = self.threads[(party.id, topic)]
        earlier = [t for t in thread if t[0] <= created]
        link = max(earlier) if earlier else None
        if first_solved is not None:
            thread.append((first_solved, case_id))
        event_rows = sorted(events, key=lambda e: e[1])
        first_event = self.event_id + 1
        for type_, at, data, actor in event_rows:
            self.event_id += 1
            rows.add("case_events", (self.event_id, case_id, type_, "system" if actor is None else "user", actor, at,
                                     json.dumps(data)))
        tier = tier_of.get(team)
        fact = (case_id, reference, code, channel, language, party.id, party.kind if kind != "appeal" else "seller",
                topic, priority, status, first_team, team, tier, assignee, calendar_key, created,
                first_reply if replied else None, _minutes(created, first_reply) if replied else None,
                (round(calendar.between(created, first_reply).total_seconds() / 60, 4) if replied else None),
                solved, first_solved, _minutes(created, solved) if solved else None,
                round(calendar.between(created, solved).total_seconds() / 60, 4) if solved else None,
                reopens, routed, misrouted, hops, handled_by_t1, handled_by_t1 and escalated, score, rated,
                link[1] if link else None, _minutes(link[0], created) if link else None,
                *(sentiments or (None, None, None)),
                self.event_id if self.event_id >= first_event else 0, now)
        rows.add("case_facts", fact)

        # SLA targets that came due (met when done in time, else breached at the due time); open clocks.
        for metric, minutes, done in (("first_reply", int(targets[0] * 60), first_reply if replied else None),
                                      ("resolution", int(targets[3] * 60), solved)):
            due = calendar.add(created, timedelta(minutes=minutes)) if business else created + timedelta(
                minutes=minutes)
            if done is not None and done <= due:
                self.target_id += 1
                rows.add("case_target_facts", (self.target_id, case_id, metric, done, True))
            elif due <= now and (done is not None or status in OPEN_STATUSES):
                self.target_id += 1
                rows.add("case_target_facts", (self.target_id, case_id, metric, due, False))
            if status in OPEN_STATUSES:
                running = done is None and not (metric == "resolution" and status in ("pending", "on_hold"))
                self.timer_id += 1
                rows.add("sla_timers", (self.timer_id, case_id, metric, 0, created, due if running else None,
                                        due - timedelta(minutes=30) if running else None,
                                        due - timedelta(minutes=30) if running and due - timedelta(minutes=30) < now
                                        else None, due if running and due < now else None,
                                        "running" if running else "fulfilled" if done else "paused"))

        # The case row itself.
        updated = max([created, *(e[1] for e in event_rows), *(t for t in (first_reply if replied else None,
                                                                            solved, closed, rated) if t)])
        queue_kind_now = "buyers" if kind == "buyer" else "sellers" if kind != "appeal" else "any"
        queue = d.queue_of.get((next(k for k, v in d.teams.items() if v[0] == team), queue_kind_now)) or \
            d.queue_of.get((next(k for k, v in d.teams.items() if v[0] == team), "any")) or first_queue
        rows.add("cases", (case_id, reference, channel, market_id, language, party.id,
                           f"{topic.replace('.', ' ').replace('_', ' ')} ({reference})", topic, team, queue, assignee,
                           priority, status, "[]", "{}", 1 + len(event_rows), created, updated,
                           first_reply if replied else None,
                           updated if status == "pending" else None, updated if status == "on_hold" else None,
                           solved, closed, first_reply if replied else None, created,
                           first_reply if replied else None))
        if score is not None and rated is not None:
            self.rating_id += 1
            reason, comment = "", rng.choice(GOOD_COMMENTS) if rng.random() < 0.2 else ""
            if score <= 2:
                reason = "" if rng.random() < 0.15 else ("transferred" if misrouted and rng.random() < 0.5 else
                                                         "slow" if wait > timedelta(hours=6) and rng.random() < 0.5
                                                         else rng.choice(REASONS))
                comment = rng.choice(LOW_COMMENTS[reason or "other"]) if rng.random() < 0.6 else ""
            rows.add("case_ratings", (self.rating_id, case_id, party.id, team, score, comment, channel, rated, reason))
        if kind == "appeal":
            self._appeal(rows, case_id, party.id, market_id, created, status, solved)

    def _appeal(self, rows: Rows, case_id: int, party_id: int, market_id: int, filed: datetime, status: str,
                solved: datetime | None) -> None:
        rng, d = self.rng, self.d
        for extra in range(5):  # the appealed decision, and four nobody appealed
            self.decision_id += 1
            did = self.decision_id
            at = filed - timedelta(hours=2 + rng.random() * 200)
            policy, source = rng.choice(d.policy_ids), rng.choice(d.source_ids)
            rows.add("enforcement_decisions", (
                did, f"ext-{did}", f"bench-sor-{did}", market_id, party_id, "listing", f"listing-{did}",
                f"Listing #{did}", policy, source, None, at - timedelta(minutes=5), at,
                "DECISION_GROUND_INCOMPATIBLE_CONTENT", "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
                "SOURCE_VOLUNTARY", False, "AUTOMATED_DECISION_NOT_AUTOMATED", at.date(),
                json.dumps({"decision_facts": "The listing breached the terms."}),
                json.dumps(["internal_complaint", "out_of_court", "judicial"]), "in_force", at, at))
            if extra == 0:
                appealed, appealed_policy = did, policy
        self.appeal_id += 1
        aid = self.appeal_id
        decided = solved is not None and rng.random() < 0.95
        outcome = (_pick(rng, (("upheld", 0.7), ("overturned", 0.2), ("partially_overturned", 0.1)))
                   if decided else None)
        state = "decided" if decided else "withdrawn" if solved is not None else "open"
        rows.add("appeals", (aid, f"AP-{aid:07d}", appealed, case_id, party_id, market_id, appealed_policy,
                             rng.choice(("not_a_violation", "wrong_item", "already_fixed", "disproportionate")),
                             state, filed, filed + timedelta(days=180), outcome,
                             '["decision_monetary"]' if outcome == "partially_overturned" else "[]",
                             "Reviewed the listing and the evidence." if decided else None,
                             "Dear seller, we have reviewed your appeal." if decided else None,
                             rng.choice(d.deciders) if decided and d.deciders else None, "human" if decided else None,
                             False, solved if decided else None, filed, solved or filed))
        self.appeal_event_id += 1
        rows.add("appeal_events", (self.appeal_event_id, appealed, aid, party_id, "appeal.filed", "user", None, filed,
                                   json.dumps({"reference": f"AP-{aid:07d}"})))
        if decided:
            self.appeal_event_id += 1
            rows.add("appeal_events", (self.appeal_event_id, appealed, aid, party_id, "appeal.decided", "user",
                                       None, solved, json.dumps({"outcome": outcome})))


def _cumulative(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def copy_rows(engine: Engine, table: str, columns: tuple[str, ...], rows: Any) -> None:
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
    finally:
        raw.close()


def count_days(engine: Engine) -> int:
    """The day counts of the facts written (``insights.days.rebuild``, as ``trustdesk insights rebuild`` and
    the migration that made them count them), timed."""
    started = time.perf_counter()
    with Session(engine) as session, session.begin():
        counted = days.rebuild(session)
        rows = int(session.scalar(select(func.count()).select_from(DayCount)) or 0)
    print(f"  day counts: {counted} days, {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    return rows


def seed(engine: Engine, directory: Directory, cases: int, now: datetime) -> dict[str, int]:
    history = History(directory, cases, now)
    with engine.connect() as conn:
        def top(table: str) -> int:
            return int(conn.execute(text(f"SELECT COALESCE(max(id), 0) FROM {table}")).scalar_one())

        assert top("cases") == 0, "the directory set-up wrote no case"
        history.event_id, history.target_id = top("case_events"), top("case_target_facts")
        history.rating_id, history.timer_id = top("case_ratings"), top("sla_timers")
        history.decision_id, history.appeal_id = top("enforcement_decisions"), top("appeals")
        history.appeal_event_id = top("appeal_events")
    copy_rows(engine, "parties", ("id", "kind", "market_id", "external_id", "display_name", "email", "locale",
                                  "created_at"), history.party_rows())
    counts: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    for first in range(1, cases + 1, CHUNK):
        rows = history.chunk(first, min(cases, first + CHUNK - 1))
        for table, columns in TABLES.items():
            if rows.tables[table]:
                copy_rows(engine, table, columns, rows.tables[table])
                counts[table] += len(rows.tables[table])
        done = min(cases, first + CHUNK - 1)
        print(f"  {done:,}/{cases:,} cases ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as conn:
        for table in ("parties", "cases", "routing_decisions", "case_events", "case_target_facts", "case_ratings",
                      "sla_timers", "enforcement_decisions", "appeals", "appeal_events"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(max(id), 1) FROM {table}))"))
    counts["case_fact_days"] = count_days(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        vacuum = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        print(f"  vacuum analyze in {time.perf_counter() - vacuum:.1f} s", flush=True)
    return dict(counts)


# ---------------------------------------------------------------- timing


@dataclass
class Recorder:
    """Counts and times the SQL statements each request sends."""

    active: bool = False
    statements: list[tuple[float, str, Any]] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, _cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool) -> None:
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
            if self.active:
                self.statements.append((time.perf_counter() - conn.info.pop("bench_started"), sql, params))


@contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    recorder.statements.clear()
    recorder.active = True
    try:
        yield
    finally:
        recorder.active = False


@dataclass
class Figure:
    page: str
    variant: str
    status: int
    median: float
    worst: float
    queries: int
    sql: float  # seconds in SQL, median request
    slowest: tuple[float, str, Any] | None
    after_page: bool = False  # a fragment loaded after the page: reported, outside the target

    @property
    def over(self) -> bool:
        return self.median > TARGET_SECONDS or self.status != 200


PAGES: tuple[tuple[str, str, str, dict[str, str]], ...] = (  # (--only key, name, path, headers)
    ("overview", "overview", "/console/insights", {}),
    ("operations", "operations", "/console/insights/operations", {}),
    ("quality", "quality", "/console/insights/quality", {}),
    ("routing", "routing", "/console/insights/routing", {}),
    ("causes", "routing causes (htmx)", "/console/insights/routing/causes", {"HX-Request": "true"}),
    ("appeals", "appeals", "/console/insights/appeals", {}),
    ("csv", "CSV volume_trend", "/console/insights/operations/volume_trend.csv", {}),
)
VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("28 days", {}), ("28 days, US", {"market": "US"}), ("90 days", {"period": "90"}),
)


def sign_in(client: TestClient) -> None:
    page = client.get("/login")
    match = CSRF_INPUT.search(page.text)
    assert match, "the login page has no CSRF field"
    response = client.post("/login", data={"email": LEAD, "password": DEMO_PASSWORD, "csrf_token": match.group(1)},
                           follow_redirects=False)
    if response.status_code != 303:
        raise SystemExit(f"signing in as {LEAD} failed: {response.status_code} {response.text[:200]}")


def measure(client: TestClient, recorder: Recorder, runs: int, only: set[str], causes_runs: int, *,
            statements: bool = False) -> list[Figure]:
    figures = []
    for key, name, path, headers in PAGES:
        if only and key not in only:
            continue
        # The routing causes replay every journey of the period in Python, as the routing report does: one
        # request of the default period (its time grows with the period's cases; see docs/benchmarks.md).
        after_page = key == "causes"
        for variant, params in VARIANTS[:1] if after_page else VARIANTS:
            if not after_page:
                client.get(path, params=params, headers=headers)  # warm-up
            samples: list[tuple[float, int, float, int, tuple[float, str, Any] | None]] = []
            for _ in range(causes_runs if after_page else runs):
                with recording(recorder):
                    started = time.perf_counter()
                    response = client.get(path, params=params, headers=headers)
                    elapsed = time.perf_counter() - started
                spent = sum(s[0] for s in recorder.statements)
                slowest = max(recorder.statements, key=lambda s: s[0]) if recorder.statements else None
                samples.append((elapsed, response.status_code, spent, len(recorder.statements), slowest))
            times = sorted(s[0] for s in samples)
            middle = sorted(samples, key=lambda s: s[0])[len(samples) // 2]
            worst_statement = max((s[4] for s in samples if s[4]), key=lambda s: s[0], default=None)
            figure = Figure(name, variant, max(s[1] for s in samples), statistics.median(times), times[-1],
                            middle[3], middle[2], worst_statement, after_page)
            figures.append(figure)
            flag = ("  over (after the page)" if after_page else "  OVER") if figure.over else ""
            print(f"  {name:<24} {variant:<12} {figure.median * 1000:8.0f} ms median, {figure.worst * 1000:6.0f} "
                  f"max; {figure.queries} queries, {figure.sql * 1000:.0f} ms in SQL{flag}", flush=True)
            if statements:  # the last request's statements, in the order sent
                for ms, sql, _ in recorder.statements:
                    print(f"      {ms * 1000:7.1f} ms  {' '.join(sql.split())[:150]}")
    return figures


def print_table(figures: list[Figure]) -> None:
    print("\n| page | period | median ms | max ms | queries | SQL ms | slowest statement ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for f in figures:
        slowest = f"{f.slowest[0] * 1000:,.0f}" if f.slowest else "-"
        status = ("" if f.status == 200 else f" (HTTP {f.status})") + (", after the page" if f.after_page else "")
        print(f"| {f.page}{status} | {f.variant} | {f.median * 1000:,.0f} | {f.worst * 1000:,.0f} | {f.queries} | "
              f"{f.sql * 1000:,.0f} | {slowest} |")


def explain(engine: Engine, figures: list[Figure], top: int) -> None:
    seen: set[str] = set()
    worst = sorted((f for f in figures if f.slowest), key=lambda f: -(f.slowest[0] if f.slowest else 0))
    for f in worst:
        assert f.slowest is not None
        ms, sql, params = f.slowest
        if sql in seen:
            continue
        seen.add(sql)
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the slowest statement of {f.page}, {f.variant} ({ms * 1000:,.0f} ms):")
        print("  " + " ".join(sql.split())[:600])
        with engine.connect() as conn:
            for (line,) in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).all():
                print("  " + str(line))
            conn.rollback()
        if len(seen) >= top:
            break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page and period, after a warm-up")
    parser.add_argument("--causes-runs", type=int, default=1,
                        help="requests of the routing causes fragment (default period only, no warm-up)")
    parser.add_argument("--explain", type=int, nargs="?", const=5, default=0, metavar="N",
                        help="EXPLAIN ANALYZE the N slowest statements (default 5)")
    parser.add_argument("--only", nargs="*", default=[], choices=[p[0] for p in PAGES], metavar="PAGE",
                        help="time only these pages: " + ", ".join(p[0] for p in PAGES))
    parser.add_argument("--statements", action="store_true",
                        help="list the time and the start of each statement of each page's last request")
    parser.add_argument("--reuse", action="store_true", help="time a database kept by --keep, without seeding")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    url = make_url(args.database_url)
    if "bench" not in (url.database or "") or url.get_backend_name() != "postgresql":
        parser.error("a PostgreSQL scratch database whose name contains 'bench' (it is dropped and recreated)")
    command = f".venv/bin/python bench/insights.py --cases {args.cases} --runs {args.runs}" + (
        f" --only {' '.join(args.only)}" if args.only else "")
    print(f"$ {command}", flush=True)
    # "Now" is this hour, frozen for the run: the app's clock and the history agree.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    workdir = Path(tempfile.mkdtemp(prefix="trustdesk-bench-insights-"))
    settings = Settings(data_dir=workdir, database_url=args.database_url, secret_key="bench-insights-" + "x" * 32,
                        run_jobs_in_process=False)
    if not args.reuse:
        recreate_database(url)
    engine = make_engine(args.database_url)
    try:
        if args.reuse:
            upgrade(engine)  # a database kept by an earlier run gets the migrations written since
            with engine.connect() as conn:
                kept = conn.execute(text("SELECT max(refreshed_at), count(*) FROM case_facts")).one()
                counted = conn.execute(text("SELECT count(*) FROM case_fact_days")).scalar_one()
            if not counted:  # kept before the day counts existed
                count_days(engine)
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE case_fact_days"))
            now, seeded, counts = kept[0], 0.0, {"cases": int(kept[1])}
            print(f"reusing {counts['cases']:,} cases, now = {now:%Y-%m-%d %H:%M} UTC", flush=True)
        else:
            upgrade(engine)
            started = time.perf_counter()
            directory = build_directory(engine, settings, now)
            print(f"directory (demo structure, routing, SLA, appeals set-up) in {time.perf_counter() - started:.1f} s",
                  flush=True)
            counts = seed(engine, directory, args.cases, now)
            seeded = time.perf_counter() - started
            print(f"seeded in {seeded:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)
            with engine.connect() as conn:
                size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
                opened = conn.execute(text("SELECT count(*) FROM cases WHERE status IN "
                                           "('new', 'open', 'pending', 'on_hold')")).scalar_one()
            print(f"database size {size}; {opened:,} open cases", flush=True)

        recorder = Recorder()
        recorder.attach(engine)
        app = create_app(settings, clock=FrozenClock(now), engine=engine, jobs="off")
        print(f"timing: one warm-up, then {args.runs} requests per page and period", flush=True)
        with TestClient(app, raise_server_exceptions=True) as client:
            sign_in(client)
            figures = measure(client, recorder, args.runs, set(args.only), args.causes_runs,
                              statements=args.statements)
        print_table(figures)
        if args.explain:
            explain(engine, figures, args.explain)
        over = [f for f in figures if f.over and not f.after_page]
        late = [f for f in figures if f.over and f.after_page]
        if seeded:
            print(f"\nseeding {args.cases:,} cases took {seeded:.0f} s")
        if over:
            print(f"\nOVER {TARGET_SECONDS:.0f} s (median) or failed:")
            for f in over:
                print(f"  {f.page}, {f.variant}: {f.median * 1000:,.0f} ms (HTTP {f.status})")
        else:
            print(f"\nevery dashboard's median is under {TARGET_SECONDS:.0f} s")
        for f in late:
            print(f"  loaded after the page, outside the target: {f.page}, {f.variant}: {f.median * 1000:,.0f} ms")
        print(f"reproduce: {command}")
        return 1 if over else 0
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    raise SystemExit(main())
