"""``trustdesk demo``: one coherent, deterministic demo marketplace with 90 days of history.

What it builds (see ``catalog.py``): four markets in three time zones and three languages, two
BPO vendors, Tier 1/Tier 2/appeals/oncall/internal teams with their queues, ~45 staff with demo
logins, thousands of customers, internal request types, and about ``case_count`` cases played
through the case services (``planner.py`` plans them, ``writer.py`` writes them). After the cases,
``appeals.py`` sets up appeals (policies, sources, letters, markets) and writes, in bulk, the
decisions and appeals the appeal cases are about.

Deterministic: the same seed gives the same customers, the same sequence of cases and the same
threads; times are laid on the last 90 days before the build (``timeline.py``).

Idempotent: everything is found by its key before it is created; the cases are written in
batches of ``BATCH`` slots, one transaction each, and the number of demo cases in the database
says how many batches are done. A second run finds them all and changes nothing; a run that was
interrupted resumes at the next batch, on the original timeline (the admin's ``created_at``
keeps the first build's "now").
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from trustdesk.cases import repository as case_repository
from trustdesk.cases.models import Case, CaseLink, Message, Party, RequestType, Status
from trustdesk.core import identity
from trustdesk.core.clock import Clock
from trustdesk.core.db import transaction
from trustdesk.core.events import CaseEvent
from trustdesk.core.identity import User
from trustdesk.core.settings import Settings, get_settings
from trustdesk.demo import appeals as demo_appeals
from trustdesk.demo.batching import HistorySession
from trustdesk.demo.bitext import find_data_dir, load_utterances
from trustdesk.demo.bot_history import ensure_bot_history
from trustdesk.demo.catalog import DEMO_PASSWORD, LOGINS, MARKETPLACE, LoginRow
from trustdesk.demo.insights import ensure_emerging
from trustdesk.demo.kb import ensure_kb, ensure_search_tuning
from trustdesk.demo.okrs import ensure_okrs
from trustdesk.demo.oncall import ensure_oncall
from trustdesk.demo.people import CustomerSpec, customers
from trustdesk.demo.planner import STAFF_BY_KEY, CasePlan, Override, Planner
from trustdesk.demo.qa import ensure_qa
from trustdesk.demo.routing import ensure_model, ensure_routing
from trustdesk.demo.sentiment import ensure_sentiment
from trustdesk.demo.sla import ensure_calendars, ensure_policies
from trustdesk.demo.structure import (
    build_now_from,
    demo_case_count,
    ensure_customers,
    ensure_structure,
    load_directory,
    login_customers,
    parties_by_key,
)
from trustdesk.demo.surveys import ensure_surveys
from trustdesk.demo.templates import ensure_templates
from trustdesk.demo.timeline import Slot, build_slots
from trustdesk.demo.writer import CaseWriter, history_without_side_effects
from trustdesk.directory.models import Agent, Market, Presence, Queue, Team, Vendor
from trustdesk.insights import facts as insight_facts
from trustdesk.routing import service as routing
from trustdesk.sla import timers as sla_timers

BATCH = 500  # slots per transaction: memory stays flat and progress shows

# Where the logins' own cases fall on the timeline (fraction of all slots), so that each has old
# closed cases and recent live ones: (fraction, kind, topic).
LOGIN_CASES: dict[str, tuple[tuple[float, str, str | None], ...]] = {
    "demo-login-buyer": ((0.12, "buyer", "order.track_order"), (0.34, "buyer", "refund.get_refund"),
                         (0.58, "buyer", "payment.payment_issue"), (0.8, "buyer", "delivery.delivery_period"),
                         (0.93, "buyer", "order.change_order"), (0.985, "buyer", "refund.track_refund"),
                         (0.997, "buyer", "order.track_order")),
    "demo-login-seller": ((0.2, "seller", "seller.fee_question"), (0.5, "seller", "seller.payouts_delayed"),
                          (0.75, "appeal", "appeal.listing_removed"), (0.9, "seller", "seller.listing_removed"),
                          (0.99, "seller", "seller.payouts_delayed")),
    "demo-login-creator": ((0.3, "creator", "creator.commissions_missing"),
                           (0.7, "creator", "creator.content_restricted"), (0.96, "appeal", "appeal.content_removed"),
                           (0.995, "creator", "creator.payout_tax_form")),
    "demo-login-shop.staff": ((0.45, "seller", "seller.stock_sync"), (0.97, "seller", "seller.shipping_label")),
    "requester": ((0.25, "internal", None), (0.6, "internal", None), (0.9, "internal", None),
                  (0.985, "internal", None), (0.998, "internal", None)),
}


@dataclass
class DemoSummary:
    changed: bool
    seed: int
    seconds: float
    now: datetime
    counts: dict[str, int]
    cases_by_status: dict[str, int]
    teams_by_tier: dict[str, int]
    markets: list[str]
    history: tuple[datetime, datetime] | None
    note: str = ""
    logins: tuple[LoginRow, ...] = field(default=LOGINS)
    appeals: demo_appeals.AppealsFigures | None = None

    def describe(self) -> str:
        c = self.counts
        head = (f"TrustDesk demo marketplace \"{MARKETPLACE}\" (seed {self.seed}): "
                + (f"built in {self.seconds:.1f} s." if self.changed
                   else f"already loaded; nothing changed ({self.seconds:.1f} s)."))
        lines = [head]
        if self.note:
            lines.append(self.note)
        if self.history:
            first, last = self.history
            lines.append(f"History: {first:%Y-%m-%d} to {last:%Y-%m-%d %H:%M} UTC "
                         f"({(last - first).days} days).")
        lines.append("Markets: " + "; ".join(self.markets))
        tiers = ", ".join(f"{tier} {n}" for tier, n in sorted(self.teams_by_tier.items()))
        lines.append(f"Vendors {c['vendors']} · teams {c['teams']} ({tiers}) · queues {c['queues']} · "
                     f"agents {c['agents']} ({c['agents_online']} online) · users {c['users']:,} · "
                     f"parties {c['parties']:,} · request types {c['request_types']}")
        statuses = ", ".join(f"{s.value} {self.cases_by_status.get(s.value, 0):,}" for s in Status)
        lines.append(f"Cases {c['cases']:,}: {statuses}")
        reroute_share = 100 * c["rerouted_cases"] / c["cases"] if c["cases"] else 0.0
        lines.append(f"Messages {c['messages']:,} · events {c['events']:,} · rerouted cases "
                     f"{c['rerouted_cases']:,} ({reroute_share:.1f}%) · unassigned open work "
                     f"{c['unassigned_open']:,} · case links {c['links']:,}")
        if self.appeals is not None:
            lines.append(self.appeals.describe())
        lines.append("")
        lines.append(f"Demo logins (password for all: {DEMO_PASSWORD})")
        width = max(len(row.email) for row in self.logins)
        role_width = max(len(row.role) for row in self.logins)
        lines.append(f"  {'e-mail':<{width}}  {'role':<{role_width}}  what to look at")
        for row in self.logins:
            lines.append(f"  {row.email:<{width}}  {row.role:<{role_width}}  {row.look_at}")
        return "\n".join(lines)


def login_overrides(slots: list[Slot], logins: dict[str, CustomerSpec]) -> dict[int, Override]:
    """Pin the logins' cases to slots of their market (never inside a spike)."""
    overrides: dict[int, Override] = {}
    for party, wanted in LOGIN_CASES.items():
        market = logins[party].market if party in logins else STAFF_BY_KEY[party].market
        for fraction, kind, topic in wanted:
            index = min(len(slots) - 1, int(fraction * len(slots)))
            for candidate in (*range(index, len(slots)), *range(index - 1, -1, -1)):
                slot = slots[candidate]
                if candidate not in overrides and slot.market == market and slot.spike is None:
                    overrides[candidate] = Override(kind, party, topic)
                    break
    return overrides


def build_demo(factory: sessionmaker[Session], clock: Clock, *, seed: int = 7, case_count: int = 21_000,
               data_dir: Path | None = None, settings: Settings | None = None,
               progress: TextIO | None = sys.stderr) -> DemoSummary:
    """Build (or finish, or find) the demo marketplace; see the module docstring."""
    started = time.perf_counter()
    settings = settings or get_settings()

    def say(message: str) -> None:
        if progress is not None:
            print(f"demo: {message} ({time.perf_counter() - started:.1f} s)", file=progress, flush=True)

    utterances = load_utterances(data_dir or find_data_dir())
    with transaction(factory) as session:
        now = build_now_from(session) or clock.now()
    pools = customers(seed, case_count)
    logins = login_customers()
    slots = build_slots(seed, case_count, now)
    planner = Planner(seed, utterances, pools, logins, login_overrides(slots, logins))
    boundaries = [0]
    for slot in slots:
        boundaries.append(boundaries[-1] + planner.count(slot))

    with transaction(factory) as session:
        created = ensure_structure(session, now=now, password_hash=identity.hash_password(DEMO_PASSWORD))
        created += ensure_customers(session, pools.values(), now=now)
        created += ensure_routing(session, now=now)
        created += ensure_calendars(session, now=now)
        created += ensure_policies(session, now=now)
        created += ensure_oncall(session, now=now)
        created += ensure_kb(session, now=now)
        created += ensure_templates(session, now=now)
        done = demo_case_count(session)
        loads = case_repository.agent_loads(session, list(session.scalars(select(Agent.id))))
    if created:
        say(f"directory, staff and {sum(len(p) for p in pools.values()):,} customers ready")
    with transaction(factory) as session:
        tuned = ensure_search_tuning(session, data_dir=data_dir or find_data_dir(), now=now)
    if tuned:
        say(f"knowledge search: {tuned}")

    note = ""
    start_slot = len(slots)
    if done == 0:
        start_slot = 0
    elif done < boundaries[-1]:
        resumable = [i for i in range(0, len(slots), BATCH) if boundaries[i] == done]
        if resumable:
            start_slot = resumable[0]
            say(f"resuming an interrupted build at case {done:,}")
        else:
            note = (f"The database holds {done:,} demo cases, not a batch boundary of this plan "
                    f"({boundaries[-1]:,} cases for seed {seed}); left as it is.")
    written = 0
    history_factory = sessionmaker(class_=HistorySession, **factory.kw)
    for batch_start in range(start_slot, len(slots), BATCH):
        plans = [planner.plan(slot) for slot in slots[batch_start:batch_start + BATCH]]
        with transaction(history_factory) as session:
            assert isinstance(session, HistorySession)
            directory = load_directory(session)
            parties = parties_by_key(session, _party_keys(plans))
            session.expect("cases", sum(len(group) for group in plans))
            # The batch changes no rules, model or catalogue: route its cases from one read of them.
            routing.start_bulk(session, settings=settings)
            session.info[sla_timers.DEFER] = True  # history's clocks are refreshed once, at the end
            with session.deferred(), history_without_side_effects(session):
                writer = CaseWriter(session, directory, parties, settings=settings, now=now, loads=loads)
                for group in plans:
                    written += len(writer.write(group))
                session.write_pending()
        say(f"cases {boundaries[min(len(slots), batch_start + BATCH)]:,}/{boundaries[-1]:,}")

    if written:
        with transaction(factory) as session:
            sla_timers.refresh_open(session)
    # Appeals come after the cases they belong to: the set-up, then one bulk write of their history.
    with transaction(factory) as session:
        created += demo_appeals.ensure_appeals_setup(session, now=now, settings=settings)
    appealed_started = time.perf_counter()
    with transaction(factory) as session:
        appealed = demo_appeals.ensure_appeal_history(session, now=now, seed=seed)
    if appealed:
        say(f"appeals: {appealed:,} appeals and their decisions written in "
            f"{time.perf_counter() - appealed_started:.1f} s")
    with transaction(factory) as session:
        talked = ensure_bot_history(session, data_dir=data_dir or find_data_dir(), now=now, seed=seed,
                                    settings=settings, case_count=case_count)
    if talked:
        say(f"bot conversations: {talked}")
    with transaction(factory) as session:
        trained = ensure_model(session, settings=settings, now=now)
    if trained:
        say(trained)
    with transaction(factory) as session:
        scored = ensure_sentiment(session, now=now)
    if scored:
        say(f"sentiment: {scored}")
    with transaction(factory) as session:
        surveyed = ensure_surveys(session, now=now, seed=seed)
    if surveyed:
        say(f"csat surveys: {surveyed:,} written")
    if changed_any := bool(created or written or trained or talked or appealed or scored or surveyed):
        with transaction(factory) as session:
            folded = insight_facts.rebuild(session, now=now)
        say(f"insights: {folded:,} cases folded into facts")
    # QA samples the weeks from the case facts: after they are folded.
    qa_started = time.perf_counter()
    with transaction(factory) as session:
        reviewed = ensure_qa(session, now=now, seed=seed)
    if reviewed:
        say(f"quality reviews: {reviewed} (in {time.perf_counter() - qa_started:.1f} s)")
    emerging_started = time.perf_counter()
    with transaction(factory) as session:
        emerged = ensure_emerging(session, now=now)
    if emerged:
        say(f"insights: {emerged} (detector replayed hourly in {time.perf_counter() - emerging_started:.1f} s)")
    with transaction(factory) as session:
        objectives = ensure_okrs(session, now=now)
    if objectives:
        say(f"okrs: {objectives}")
    with transaction(factory) as session:
        changed = changed_any or bool(reviewed) or bool(emerged) or bool(objectives)
        summary = summarize(session, seed=seed, now=now, changed=changed, seconds=time.perf_counter() - started,
                            note=note)
    return summary


def _party_keys(plans: list[list[CasePlan]]) -> set[str]:
    return {plan.party for group in plans for plan in group}


def summarize(session: Session, *, seed: int, now: datetime, changed: bool, seconds: float,
              note: str = "") -> DemoSummary:
    def count(column: ColumnElement[Any] | InstrumentedAttribute[Any], *where: ColumnElement[bool]) -> int:
        query = select(func.count(column))
        for clause in where:
            query = query.where(clause)
        return int(session.scalar(query) or 0)

    demo_parties = select(Party.id).where(Party.external_id.like("demo-%"))
    counts = {
        "vendors": count(Vendor.id), "teams": count(Team.id), "queues": count(Queue.id), "agents": count(Agent.id),
        "agents_online": count(Agent.id, Agent.presence == Presence.ONLINE.value), "users": count(User.id),
        "parties": count(Party.id), "request_types": count(RequestType.id),
        "cases": count(Case.id), "messages": count(Message.id), "events": count(CaseEvent.id),
        "rerouted_cases": int(session.scalar(select(func.count(func.distinct(CaseEvent.case_id)))
                                             .where(CaseEvent.type == "case.rerouted")) or 0),
        "unassigned_open": count(Case.id, Case.assignee_id.is_(None),
                                 Case.status.in_((Status.NEW.value, Status.OPEN.value))),
        "links": count(CaseLink.id),
    }
    by_status = {status: int(n) for status, n in session.execute(
        select(Case.status, func.count(Case.id)).group_by(Case.status))}
    by_tier = {tier: int(n) for tier, n in session.execute(select(Team.tier, func.count(Team.id)).group_by(Team.tier))}
    markets = [f"{m.code} {m.name} ({m.time_zone}; {', '.join(m.languages)}; {m.currency})"
               for m in session.scalars(select(Market).order_by(Market.code))]
    first, last = session.execute(select(func.min(Case.created_at), func.max(Case.created_at))
                                  .where(Case.party_id.in_(demo_parties))).one()
    history = (first, last) if first is not None and last is not None else None
    return DemoSummary(changed=changed, seed=seed, seconds=seconds, now=now, counts=counts,
                       cases_by_status=by_status, teams_by_tier=by_tier, markets=markets, history=history, note=note,
                       appeals=demo_appeals.figures(session, now=now))

