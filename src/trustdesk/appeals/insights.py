"""Where appeals come from, and which decisions they prove wrong.

The cheapest way to reduce appeal volume is to stop wrong decisions: this module puts the appeal
figures next to the decisions that caused them, per policy, detection source, market, appellant
reason and item kind, and ranks the (policy, detection source) pairs by how many of their decisions
appeals overturned, with the owners to talk to.

In the period ``[since, until)``: *decisions* are those recorded (``created_at``, the
``decision.recorded`` event); *appeals* those filed; *decided* and *overturned* count appeals decided
in the period. Appeal rate = appeals / decisions; overturn rate (GLOSSARY) = overturned fully or
partly / decided. A rate with nothing to divide by is None. The appellant's reason has no decisions
(a decision has no reason until it is appealed), so its decisions and appeal rate are None.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from trustdesk.appeals.models import (
    REVERSING,
    Appeal,
    AppealEvent,
    DetectionSource,
    EnforcementDecision,
    EnforcementPolicy,
)
from trustdesk.appeals.transparency import market_ids
from trustdesk.core.errors import Invalid
from trustdesk.core.identity import User
from trustdesk.directory.models import Market

DIMENSIONS = ("policy", "source", "market", "reason", "item_kind")
EXAMPLES = 3
RATE_DIGITS = 4
Q = TypeVar("Q")
_REVERSING = frozenset(o.value for o in REVERSING)


def _rate(part: int, whole: int | None) -> float | None:
    return None if not whole else round(part / whole, RATE_DIGITS)


@dataclass(frozen=True)
class VolumeRow:
    key: str
    decisions: int | None  # None for the appellant's reason
    appeals: int
    decided: int
    overturned: int  # fully or partly

    @property
    def appeal_rate(self) -> float | None:
        return None if self.decisions is None else _rate(self.appeals, self.decisions)

    @property
    def overturn_rate(self) -> float | None:
        return _rate(self.overturned, self.decided)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "decisions": self.decisions, "appeals": self.appeals,
                "appeal_rate": self.appeal_rate, "decided": self.decided, "overturned": self.overturned,
                "overturn_rate": self.overturn_rate}


@dataclass(frozen=True)
class Offender:
    """A (policy, detection source) pair and what appeals found of its decisions."""

    policy: str  # key
    policy_name: str
    policy_owner: str | None  # display name
    source: str  # key
    source_name: str
    source_owner: str | None
    decisions: int
    appeals: int
    decided: int
    overturned: int
    examples: tuple[str, ...]  # references of overturned appeals, first decided first

    @property
    def overturn_rate(self) -> float | None:
        return _rate(self.overturned, self.decided)

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "policy_name": self.policy_name, "policy_owner": self.policy_owner,
                "source": self.source, "source_name": self.source_name, "source_owner": self.source_owner,
                "decisions": self.decisions, "appeals": self.appeals, "decided": self.decided,
                "overturned": self.overturned, "overturn_rate": self.overturn_rate,
                "examples": list(self.examples)}


@dataclass(frozen=True)
class VolumeReport:
    since: datetime
    until: datetime
    markets: tuple[str, ...]
    by: dict[str, tuple[VolumeRow, ...]]  # dimension -> rows, most appeals first
    total: VolumeRow
    worst_offenders: tuple[Offender, ...]  # pairs with an overturn, most overturns first
    pairs: tuple[Offender, ...] = field(default=())  # every pair with a decision or an appeal

    def as_dict(self) -> dict[str, Any]:
        return {"period": {"since": self.since.isoformat(), "until": self.until.isoformat()},
                "markets": list(self.markets), "total": self.total.as_dict(),
                "by": {dim: [row.as_dict() for row in rows] for dim, rows in self.by.items()},
                "worst_offenders": [o.as_dict() for o in self.worst_offenders]}


@dataclass(frozen=True)
class OwnerSection:
    """One owner's policies and detection sources, and the pair to look at first."""

    owner: str  # display name
    owner_email: str
    policies: tuple[VolumeRow, ...]  # the policies they own
    sources: tuple[VolumeRow, ...]  # the detection sources they own
    pairs: tuple[Offender, ...]  # pairs with their policy or their source, worst first
    look_first: Offender | None  # the pair with the most overturns, if any was overturned

    @property
    def overturned(self) -> int:
        return sum(pair.overturned for pair in self.pairs)

    @property
    def advice(self) -> str:
        pair = self.look_first
        if pair is None:
            return "no appeal overturned a decision of yours in the period"
        rate = pair.overturn_rate or 0.0
        return (f"look first at {pair.policy} / {pair.source}: {pair.overturned} of {pair.decided} decided appeals "
                f"overturned ({rate:.1%}), e.g. {', '.join(pair.examples)}")

    def as_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "owner_email": self.owner_email,
                "policies": [row.as_dict() for row in self.policies],
                "sources": [row.as_dict() for row in self.sources],
                "pairs": [pair.as_dict() for pair in self.pairs],
                "look_first": self.look_first.as_dict() if self.look_first else None, "advice": self.advice}


# ---------------------------------------------------------------- the figures


@dataclass
class _Tally:
    decisions: int = 0
    appeals: int = 0
    decided: int = 0
    overturned: int = 0
    examples: list[tuple[datetime, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Decision:
    policy_id: int
    source_id: int
    market_id: int
    item_kind: str


def _in_markets(query: Q, column: Any, ids: list[int] | None) -> Q:
    return query if ids is None else cast(Q, cast(Any, query).where(column.in_(ids)))


def volume(session: Session, *, since: datetime, until: datetime,
           market_codes: Sequence[str] | None = None) -> VolumeReport:
    if until <= since:
        raise Invalid("the period ends after it starts", field="until")
    ids = market_ids(session, market_codes)
    policies = {p.id: p for p in session.scalars(select(EnforcementPolicy))}
    sources = {s.id: s for s in session.scalars(select(DetectionSource))}
    markets = dict(session.execute(select(Market.id, Market.code)).all())
    owner_ids = ({p.owner_user_id for p in policies.values() if p.owner_user_id is not None}
                 | {s.owner_user_id for s in sources.values() if s.owner_user_id is not None})
    owners = {u.id: u for u in session.scalars(select(User).where(User.id.in_(owner_ids)))} if owner_ids else {}

    tallies: dict[str, defaultdict[str, _Tally]] = {dim: defaultdict(_Tally) for dim in DIMENSIONS}
    pairs: defaultdict[tuple[int, int], _Tally] = defaultdict(_Tally)
    total = _Tally()

    def keys(d: _Decision, reason: str | None) -> Iterable[tuple[str, str]]:
        yield "policy", policies[d.policy_id].key
        yield "source", sources[d.source_id].key
        yield "market", markets[d.market_id]
        if reason is not None:
            yield "reason", reason
        yield "item_kind", d.item_kind

    def count(d: _Decision, reason: str | None, bump: Callable[[_Tally], None]) -> None:
        for dim, key in keys(d, reason):
            bump(tallies[dim][key])
        bump(pairs[(d.policy_id, d.source_id)])
        bump(total)

    columns = (EnforcementDecision.policy_id, EnforcementDecision.source_id, EnforcementDecision.market_id,
               EnforcementDecision.item_kind)
    recorded_at = EnforcementDecision.created_at
    # Decisions far outnumber appeals: counted by the database, one row per combination.
    for policy_id, source_id, market_id, item_kind, recorded in session.execute(_in_markets(
            select(*columns, func.count()).where(recorded_at >= since, recorded_at < until).group_by(*columns),
            EnforcementDecision.market_id, ids)):
        count(_Decision(policy_id, source_id, market_id, item_kind), None, partial(_bump_decisions, by=recorded))
    appealed = select(*columns, Appeal.reason).join(Appeal, Appeal.decision_id == EnforcementDecision.id)
    for policy_id, source_id, market_id, item_kind, reason in session.execute(_in_markets(
            appealed.where(Appeal.filed_at >= since, Appeal.filed_at < until), Appeal.market_id, ids)):
        count(_Decision(policy_id, source_id, market_id, item_kind), reason, _bump_appeals)
    decided = appealed.add_columns(Appeal.outcome, Appeal.decided_at, Appeal.id, Appeal.reference).where(
        Appeal.decided_at.is_not(None), Appeal.decided_at >= since, Appeal.decided_at < until)
    for policy_id, source_id, market_id, item_kind, reason, outcome, decided_at, appeal_id, reference in \
            session.execute(_in_markets(decided, Appeal.market_id, ids)):
        overturned = outcome in _REVERSING
        example = (decided_at, appeal_id, reference or str(appeal_id)) if overturned and decided_at else None
        count(_Decision(policy_id, source_id, market_id, item_kind), reason,
              partial(_bump_decided, overturned=overturned, example=example))

    def owner_name(user_id: int | None) -> str | None:
        user = owners.get(user_id) if user_id is not None else None
        return user.display_name if user else None

    offenders = []
    for (policy_id, source_id), tally in pairs.items():
        policy, source = policies[policy_id], sources[source_id]
        offenders.append(Offender(
            policy=policy.key, policy_name=policy.name, policy_owner=owner_name(policy.owner_user_id),
            source=source.key, source_name=source.name, source_owner=owner_name(source.owner_user_id),
            decisions=tally.decisions, appeals=tally.appeals, decided=tally.decided, overturned=tally.overturned,
            examples=tuple(ref for _, _, ref in sorted(tally.examples)[:EXAMPLES])))
    ranked = tuple(sorted(offenders, key=_worst_first))
    by = {dim: tuple(sorted((_row(key, tally, with_decisions=dim != "reason") for key, tally in tallies[dim].items()),
                            key=lambda r: (-r.appeals, -(r.decisions or 0), r.key)))
          for dim in DIMENSIONS}
    return VolumeReport(since=since, until=until, markets=tuple(market_codes or ()), by=by,
                        total=_row("total", total, with_decisions=True),
                        worst_offenders=tuple(o for o in ranked if o.overturned), pairs=ranked)


def _bump_decisions(tally: _Tally, *, by: int = 1) -> None:
    tally.decisions += by


def _bump_appeals(tally: _Tally) -> None:
    tally.appeals += 1


def _bump_decided(tally: _Tally, *, overturned: bool, example: tuple[datetime, int, str] | None) -> None:
    tally.decided += 1
    if overturned:
        tally.overturned += 1
    if example is not None:
        tally.examples.append(example)


def _row(key: str, tally: _Tally, *, with_decisions: bool) -> VolumeRow:
    return VolumeRow(key=key, decisions=tally.decisions if with_decisions else None, appeals=tally.appeals,
                     decided=tally.decided, overturned=tally.overturned)


def _worst_first(o: Offender) -> tuple[int, float, int, str, str]:
    return (-o.overturned, -(o.overturn_rate or 0.0), -o.appeals, o.policy, o.source)


def policy_owner_report(session: Session, *, since: datetime, until: datetime,
                        market_codes: Sequence[str] | None = None) -> list[OwnerSection]:
    """Per owner of a policy or a detection source: their policies and sources with the figures, the
    pairs that involve them, and what to look at first. Most overturns first."""
    report = volume(session, since=since, until=until, market_codes=market_codes)
    policies = session.scalars(select(EnforcementPolicy).where(EnforcementPolicy.owner_user_id.is_not(None))).all()
    sources = session.scalars(select(DetectionSource).where(DetectionSource.owner_user_id.is_not(None))).all()
    user_ids = {p.owner_user_id for p in policies} | {s.owner_user_id for s in sources}
    users = session.scalars(select(User).where(User.id.in_(user_ids)).order_by(User.id)).all() if user_ids else []
    policy_rows = {row.key: row for row in report.by["policy"]}
    source_rows = {row.key: row for row in report.by["source"]}
    sections = []
    for user in users:
        owned_policies = sorted(p.key for p in policies if p.owner_user_id == user.id)
        owned_sources = sorted(s.key for s in sources if s.owner_user_id == user.id)
        pairs = tuple(pair for pair in report.pairs if pair.policy in owned_policies or pair.source in owned_sources)
        sections.append(OwnerSection(
            owner=user.display_name, owner_email=user.email,
            policies=tuple(policy_rows.get(key) or VolumeRow(key, 0, 0, 0, 0) for key in owned_policies),
            sources=tuple(source_rows.get(key) or VolumeRow(key, 0, 0, 0, 0) for key in owned_sources),
            pairs=pairs, look_first=next((pair for pair in pairs if pair.overturned), None)))
    return sorted(sections, key=lambda s: (-s.overturned, s.owner, s.owner_email))


# ---------------------------------------------------------------- CSV


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


VOLUME_HEADER = ("dimension", "key", "decisions", "appeals", "appeal_rate", "decided", "overturned", "overturn_rate")
OFFENDER_HEADER = ("rank", "policy", "source", "policy_owner", "source_owner", "decisions", "appeals", "decided",
                   "overturned", "overturn_rate", "examples")
OWNER_HEADER = ("owner", "owner_email", "kind", "key", "decisions", "appeals", "decided", "overturned",
                "overturn_rate")


def to_csv(report: VolumeReport) -> str:
    """The volume table: one row per dimension and key, then the total."""
    rows = [(dim, r.key, r.decisions, r.appeals, r.appeal_rate, r.decided, r.overturned, r.overturn_rate)
            for dim, table in report.by.items() for r in table]
    t = report.total
    rows.append(("total", "", t.decisions, t.appeals, t.appeal_rate, t.decided, t.overturned, t.overturn_rate))
    return _csv(VOLUME_HEADER, rows)


def offenders_to_csv(report: VolumeReport) -> str:
    return _csv(OFFENDER_HEADER, [
        (rank, o.policy, o.source, o.policy_owner, o.source_owner, o.decisions, o.appeals, o.decided, o.overturned,
         o.overturn_rate, " ".join(o.examples)) for rank, o in enumerate(report.worst_offenders, start=1)])


def owners_to_csv(sections: Sequence[OwnerSection]) -> str:
    rows: list[tuple[Any, ...]] = []
    for s in sections:
        rows += [(s.owner, s.owner_email, "policy", r.key, r.decisions, r.appeals, r.decided, r.overturned,
                  r.overturn_rate) for r in s.policies]
        rows += [(s.owner, s.owner_email, "source", r.key, r.decisions, r.appeals, r.decided, r.overturned,
                  r.overturn_rate) for r in s.sources]
        rows += [(s.owner, s.owner_email, "pair", f"{p.policy}/{p.source}", p.decisions, p.appeals, p.decided,
                  p.overturned, p.overturn_rate) for p in s.pairs]
    return _csv(OWNER_HEADER, rows)


def decided_in(*, since: datetime, until: datetime) -> Select[tuple[int, datetime, bool]]:
    """The appeals decided in [since, until) as the appeal event log records them: the appeal's case, when,
    and whether it was overturned (fully or partly). The insight metrics join it to the case facts."""
    overturned = AppealEvent.data["outcome"].as_string().in_(sorted(_REVERSING))
    return (select(Appeal.case_id.label("case_id"), AppealEvent.occurred_at.label("decided_at"),
                   overturned.label("overturned"))
            .join(Appeal, Appeal.id == AppealEvent.appeal_id)
            .where(AppealEvent.type == "appeal.decided", AppealEvent.occurred_at >= since,
                   AppealEvent.occurred_at < until))
