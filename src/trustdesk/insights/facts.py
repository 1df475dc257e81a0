"""Case facts: each case folded from its own events into one row that metrics read (``case_facts``).

The fold is the definition, and GLOSSARY's words are its rules:

- **created**: the ``case.created`` event; **first reply**: the first public ``case.message_added`` by an
  agent (bot replies and internal notes do not count); both times on the clock and, on the case's SLA
  calendar, in business minutes;
- **solved**: the last ``case.status_changed`` to solved, while the case stays solved or closed (a
  reopened case is unresolved until solved again, and its resolution time keeps counting from creation);
  **reopens**: changes marked ``reopened``;
- **routed / misrouted / hops**: as the misroute report (``routing.analysis``): routing named a team that
  was not triage; a reroute to another team that is not an escalation is a hop and moves the final team;
  misrouted when the final team is not the first, or the routed topic was corrected;
- **handled by T1 / escalated from T1**: the case was with a Tier 1 team at some point; it left a T1
  team for a higher tier, or a ladder started (``case.escalated``) while a T1 team had it;
- **CSAT**: the latest ``csat.rated`` score; **SLA targets** that came due, by the same fold as the SLA
  compliance report (``sla.metrics.came_due``);
- **repeat**: the party's latest earlier case on the same topic solved before this one opened, and the gap
  (linked after the fold, across cases);
- **sentiment**: the customer's first, last and lowest scored message (``feedback.sentiment``).

Each refresh also counts again, in the same transaction, the days the refreshed facts are counted on
(``insights.days``), so the day counts always agree with the facts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case
from trustdesk.core.errors import Invalid
from trustdesk.core.events import CaseEvent, StaleCase
from trustdesk.directory.models import Agent, Market, Team, Tier
from trustdesk.feedback.models import MessageSentiment
from trustdesk.insights import days
from trustdesk.insights.models import CaseFact, TargetFact
from trustdesk.sla import policies
from trustdesk.sla.calendar import Calendar
from trustdesk.sla.clocks import run_periods
from trustdesk.sla.metrics import came_due
from trustdesk.sla.models import CaseSla

CHUNK = 500
STALE_BATCH = 5_000
ESCALATION_REASON = "escalated"
UPPER_TIERS = frozenset({Tier.T2.value, Tier.ONCALL.value})


@dataclass
class Folded:
    fact: dict[str, Any]
    targets: list[tuple[str, datetime, bool]]


def _minutes(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 60.0, 4)


def _business_minutes(calendar: Calendar | None, start: datetime, end: datetime) -> float | None:
    if calendar is None:
        return None
    return round(calendar.between(start, end).total_seconds() / 60.0, 4)


def fold(case: Case, market: str, events: Sequence[Any], *, tiers: dict[int, str], calendar: Calendar | None,
         calendar_key: str | None = None, sentiments: Sequence[float] = (), agents: dict[int, int] | None = None,
         now: datetime) -> dict[str, Any]:
    """The fact row of one case from its events in order (``type``, ``occurred_at``, ``data``, ``id``,
    ``actor_id``). ``agents``: the agent of each user id (who answered, when nobody was assigned)."""
    agents = agents or {}
    created = next((e for e in events if e.type == "case.created"), None)
    created_at = created.occurred_at if created is not None else case.created_at
    party_kind = str(created.data.get("party_kind", "")) if created is not None else ""
    first_team: int | None = None
    final_team: int | None = None
    team_now: int | None = None
    routed = topic_corrected = False
    routed_topic: str | None = None
    hops = reopens = 0
    first_reply_at: datetime | None = None
    solved_at: datetime | None = None
    first_solved_at: datetime | None = None
    handled_by_t1 = escalated = False
    csat_score: int | None = None
    csat_rated_at: datetime | None = None
    assignee: int | None = None
    replier: int | None = None  # the agent of the last public reply
    solver: int | None = None
    for event in events:
        data = event.data
        kind = event.type
        if kind == "case.routed" and first_team is None:
            first_team = final_team = team_now = data.get("team_id")
            routed_topic = data.get("topic")
            routed = data.get("source") != "triage" and first_team is not None
            handled_by_t1 = handled_by_t1 or tiers.get(team_now or 0) == Tier.T1.value
        elif kind == "case.rerouted":
            to_team, from_team = data.get("to_team_id"), data.get("from_team_id")
            if to_team != from_team and data.get("reason") != ESCALATION_REASON:
                hops += 1
                final_team = to_team
            if tiers.get(from_team or 0) == Tier.T1.value and tiers.get(to_team or 0) in UPPER_TIERS:
                escalated = True
            team_now = to_team
            handled_by_t1 = handled_by_t1 or tiers.get(team_now or 0) == Tier.T1.value
            if data.get("reason") == ESCALATION_REASON and first_team is None:
                first_team = final_team = to_team
        elif kind == "case.assigned":
            assignee = data.get("to_agent_id")
        elif kind == "case.escalated":
            if tiers.get(team_now or 0) == Tier.T1.value:
                escalated = True
        elif kind == "case.updated":
            change = data.get("changes", {}).get("topic")
            if change and routed_topic is not None and change.get("from") != change.get("to"):
                topic_corrected = True
        elif kind == "case.message_added":
            if data.get("visibility") == "public" and data.get("author_type") == "agent":
                first_reply_at = first_reply_at or event.occurred_at
                replier = agents.get(event.actor_id or 0, replier)
        elif kind == "case.status_changed":
            to = data.get("to")
            if to == "solved":
                solved_at = event.occurred_at
                solver = assignee or replier
                first_solved_at = first_solved_at or event.occurred_at
            elif data.get("from") == "solved" and to != "closed":
                solved_at = None
                reopens += 1 if data.get("reopened", True) else 0
        elif kind == "csat.rated":
            csat_score = int(data["score"])
            csat_rated_at = event.occurred_at
    fact: dict[str, Any] = {
        "case_id": case.id, "reference": case.reference, "market": market, "channel": case.channel,
        "language": case.language, "party_id": case.party_id, "party_kind": party_kind, "topic": case.topic,
        "priority": case.priority, "status": case.status, "first_team_id": first_team, "team_id": case.team_id,
        "tier": tiers.get(case.team_id) if case.team_id is not None else None,
        "agent_id": solver if solved_at is not None else (case.assignee_id or replier), "calendar": calendar_key,
        "created_at": created_at, "first_reply_at": first_reply_at,
        "first_reply_minutes": _minutes(created_at, first_reply_at) if first_reply_at else None,
        "first_reply_business_minutes": (_business_minutes(calendar, created_at, first_reply_at)
                                         if first_reply_at else None),
        "solved_at": solved_at, "first_solved_at": first_solved_at,
        "resolution_minutes": _minutes(created_at, solved_at) if solved_at else None,
        "resolution_business_minutes": _business_minutes(calendar, created_at, solved_at) if solved_at else None,
        "reopens": reopens, "routed": routed, "misrouted": routed and (final_team != first_team or topic_corrected),
        "hops": hops, "handled_by_t1": handled_by_t1, "escalated_from_t1": handled_by_t1 and escalated,
        "csat_score": csat_score, "csat_rated_at": csat_rated_at,
        "sentiment_first": sentiments[0] if sentiments else None,
        "sentiment_last": sentiments[-1] if sentiments else None,
        "sentiment_min": min(sentiments) if sentiments else None,
        "events_through": max((e.id for e in events), default=0), "refreshed_at": now,
        "repeat_of_case_id": None, "repeat_gap_minutes": None,
    }
    return fact


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


class _Context:
    """What folding needs besides the events, read once per refresh."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tiers = {team_id: tier for team_id, tier in session.execute(select(Team.id, Team.tier))}
        self.markets = {market_id: code for market_id, code in session.execute(select(Market.id, Market.code))}
        self.agents = {user_id: agent_id for agent_id, user_id in session.execute(select(Agent.id, Agent.user_id))}
        self._calendars: dict[str | None, Calendar | None] = {}

    def calendar(self, key: str | None) -> Calendar:
        if key not in self._calendars:
            self._calendars[key] = policies.calendar_for(self.session, key)
        found = self._calendars[key]
        assert found is not None
        return found


def refresh(session: Session, case_ids: Iterable[int], *, now: datetime, recount: bool = True) -> int:
    """Fold these cases again from their events (and link their repeats), and count their days again
    (``recount=False``: the caller counts every day afterwards). Returns the facts written."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    context = _Context(session)
    counted_on = days.touched(session, ids) if recount else set()  # the days these facts were counted on
    written = 0
    for chunk in _chunks(ids):
        written += _refresh_chunk(session, context, chunk, now=now)
    relinked = link_repeats(session, ids)
    if recount:  # ... and the days they are counted on now, with the solves whose follow-ups changed
        counted_on |= days.touched(session, ids) | days.solve_days(session, sorted(relinked))
        days.recount(session, counted_on)
    return written


def _refresh_chunk(session: Session, context: _Context, chunk: Sequence[int], *, now: datetime) -> int:
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(chunk), Case.merged_into_id.is_(None)))}
    events: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(select(CaseEvent.id, CaseEvent.case_id, CaseEvent.type, CaseEvent.occurred_at,
                                      CaseEvent.data, CaseEvent.actor_id)
                               .where(CaseEvent.case_id.in_(list(cases)))
                               .order_by(CaseEvent.case_id, CaseEvent.occurred_at, CaseEvent.id)):
        events[row.case_id].append(row)
    snapshots = {s.case_id: s for s in session.scalars(select(CaseSla).where(CaseSla.case_id.in_(list(cases))))}
    sentiments: dict[int, list[float]] = defaultdict(list)
    for case_id, score in session.execute(select(MessageSentiment.case_id, MessageSentiment.score)
                                          .where(MessageSentiment.case_id.in_(list(cases)))
                                          .order_by(MessageSentiment.case_id, MessageSentiment.message_id)):
        sentiments[case_id].append(score)
    session.execute(delete(TargetFact).where(TargetFact.case_id.in_(chunk)))
    session.execute(delete(CaseFact).where(CaseFact.case_id.in_(chunk)))  # merged or deleted cases leave
    facts: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    for case_id, case in cases.items():
        snapshot = snapshots.get(case_id)
        calendar = context.calendar(snapshot.calendar_key) if snapshot is not None else None
        case_events = events.get(case_id, [])
        facts.append(fold(case, context.markets.get(case.market_id, "?"), case_events, tiers=context.tiers,
                          calendar=calendar, calendar_key=snapshot.calendar_key if snapshot else None,
                          sentiments=sentiments.get(case_id, ()), agents=context.agents, now=now))
        if snapshot is None:
            continue
        try:
            periods = policies.periods_of(session, snapshot, calendar=context.calendar)
            clocks = run_periods(periods, policies.happenings(case_events), now=now.astimezone(UTC))
        except Invalid:  # a calendar with no open time: nothing can come due
            continue
        targets.extend({"case_id": case_id, "metric": metric, "came_due_at": at, "met": met}
                       for metric, at, met in came_due(clocks))
    if facts:
        session.execute(insert(CaseFact), facts)
    if targets:
        session.execute(insert(TargetFact), targets)
    return len(facts)


def link_repeats(session: Session, case_ids: Sequence[int]) -> set[int]:
    """Link each of these cases to the same party's latest earlier case on the same topic that was solved
    before it was opened; and cases opened after one of these was solved, to it. Returns the cases whose
    follow-ups changed (each changed link's old and new earlier case)."""
    relinked: set[int] = set()
    if not case_ids:
        return relinked
    parties: set[int] = set()
    for chunk in _chunks(list(case_ids)):
        parties.update(session.scalars(select(CaseFact.party_id).where(CaseFact.case_id.in_(chunk))))
    for party_chunk in _chunks(sorted(parties)):
        rows = session.execute(select(CaseFact.case_id, CaseFact.party_id, CaseFact.topic, CaseFact.created_at,
                                      CaseFact.first_solved_at, CaseFact.repeat_of_case_id,
                                      CaseFact.repeat_gap_minutes)
                               .where(CaseFact.party_id.in_(party_chunk), CaseFact.topic.is_not(None))
                               .order_by(CaseFact.party_id, CaseFact.topic, CaseFact.created_at,
                                         CaseFact.case_id)).all()
        by_thread: dict[tuple[int, str], list[Any]] = defaultdict(list)
        for row in rows:
            by_thread[(row.party_id, row.topic)].append(row)
        for thread in by_thread.values():
            for index, row in enumerate(thread):
                earlier = [e for e in thread[:index] if e.first_solved_at is not None
                           and e.first_solved_at <= row.created_at]
                link = max(earlier, key=lambda e: (e.first_solved_at, e.case_id)) if earlier else None
                repeat_of = link.case_id if link is not None else None
                gap = _minutes(link.first_solved_at, row.created_at) if link is not None else None
                if (repeat_of, gap) != (row.repeat_of_case_id, row.repeat_gap_minutes):
                    session.execute(update(CaseFact).where(CaseFact.case_id == row.case_id)
                                    .values(repeat_of_case_id=repeat_of, repeat_gap_minutes=gap))
                    relinked.update(i for i in (repeat_of, row.repeat_of_case_id) if i is not None)
    return relinked


def refresh_stale(session: Session, *, now: datetime, limit: int = STALE_BATCH) -> int:
    """Fold the cases whose events changed since they were last folded; at most ``limit`` cases a call."""
    marks = session.execute(select(StaleCase.id, StaleCase.case_id).order_by(StaleCase.id).limit(limit)).all()
    if not marks:
        return 0
    case_ids = {m.case_id for m in marks}
    refresh(session, case_ids, now=now)
    # Exactly the marks read: one a concurrent transaction commits meanwhile stays for the next call.
    mark_ids = [m.id for m in marks]
    for chunk in _chunks(mark_ids):
        session.execute(delete(StaleCase).where(StaleCase.id.in_(chunk)))
    return len(case_ids)


def rebuild(session: Session, *, now: datetime) -> int:
    """Fold every case again from the log (after a bulk load, or to prove the read model)."""
    session.execute(delete(StaleCase))
    ids = list(session.scalars(select(Case.id).order_by(Case.id)))
    written = refresh(session, ids, now=now, recount=False)
    days.rebuild(session)
    return written


def stale_count(session: Session) -> int:
    return int(session.scalar(select(func.count(func.distinct(StaleCase.case_id)))) or 0)
