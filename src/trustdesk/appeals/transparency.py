"""The transparency figures on internal complaints (DSA Art. 15(1)(d) and Art. 24(1)) for a period.

Every figure counts rows by the moment that puts them in the period, always half-open ``[since, until)``:
- complaints received: appeals *filed* in the period, with their basis (the contested decision's
  ground, category, item kind, policy and automation, and the appellant's reason);
- decisions: appeals *decided* in the period, by outcome and by who decided (a person or
  automation), and their median decision time (filed to decided); withdrawals by when they happened;
- reversals: the overturned (fully or partly) decisions among them, and how many of those the
  enforcement system had confirmed undoing by the end of the period (so a published report does not
  change when it is run again later);
- out-of-court disputes (Art. 21): opened in the period, closed in the period by outcome, and still
  pending at its end;
- Art. 23 measures: warnings and suspensions that started in the period.

``market_codes`` narrows every figure to appeals, disputes and parties of those markets.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.appeals.models import (
    REVERSING,
    Appeal,
    AppealEvent,
    DisputeOutcome,
    EnforcementDecision,
    EnforcementPolicy,
    MisuseKind,
    MisuseMeasure,
    Outcome,
    Reversal,
)
from trustdesk.appeals.models import Dispute as DisputeRow
from trustdesk.appeals.service import DECIDER_AUTOMATION, DECIDER_HUMAN
from trustdesk.cases.models import Party
from trustdesk.core.errors import Invalid
from trustdesk.directory.models import Market

NOT_AUTOMATED = "AUTOMATED_DECISION_NOT_AUTOMATED"
BASES = ("decision_ground", "category", "item_kind", "policy", "reason", "automated_decision")
CLOSED_DISPUTE_OUTCOMES = tuple(o.value for o in DisputeOutcome if o is not DisputeOutcome.PENDING)
CSV_HEADER = ("section", "dimension", "value", "count")
Q = TypeVar("Q")  # a select() of any row shape


@dataclass(frozen=True)
class DisputeFigures:
    opened: int
    closed: Mapping[str, int]  # every closed outcome, zeros included
    pending_at_end: int

    @property
    def closed_total(self) -> int:
        return sum(self.closed.values())


@dataclass(frozen=True)
class MisuseFigures:
    warnings: int
    suspensions: int


@dataclass(frozen=True)
class TransparencyReport:
    since: datetime
    until: datetime
    markets: tuple[str, ...]  # empty: every market
    complaints_received: int
    received_by: Mapping[str, Mapping[str, int]]  # basis -> value -> count (non-zero, most first)
    withdrawn: int
    decided: int
    decided_by_outcome: Mapping[str, int]  # every outcome, zeros included
    decided_by_decider: Mapping[str, int]  # human, automation
    median_decision_hours: float | None
    median_decision_days: float | None
    reversals: int
    reversals_confirmed: int
    disputes: DisputeFigures
    misuse: MisuseFigures


def market_ids(session: Session, market_codes: Sequence[str] | None) -> list[int] | None:
    """The ids of ``market_codes`` (None: no filter); an unknown code is refused."""
    if not market_codes:
        return None
    codes = list(dict.fromkeys(code.strip().upper() for code in market_codes if code.strip()))
    found = dict(session.execute(select(Market.code, Market.id).where(Market.code.in_(codes))).all())
    for index, code in enumerate(codes):
        if code not in found:
            raise Invalid(f"unknown market {code!r}", field=f"market[{index}]" if len(codes) > 1 else "market")
    return [found[code] for code in codes]


def _check_period(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise Invalid("the period's bounds are timezone-aware", field="since")
    if until <= since:
        raise Invalid("the period ends after it starts", field="until")


def _in_markets(query: Q, column: Any, ids: list[int] | None) -> Q:
    return query if ids is None else cast(Q, cast(Any, query).where(column.in_(ids)))


def report(session: Session, *, since: datetime, until: datetime,
           market_codes: Sequence[str] | None = None) -> TransparencyReport:
    _check_period(since, until)
    ids = market_ids(session, market_codes)
    received = session.execute(_in_markets(
        select(Appeal.reason, EnforcementDecision.decision_ground, EnforcementDecision.category,
               EnforcementDecision.item_kind, EnforcementPolicy.key, EnforcementDecision.automated_decision)
        .join(EnforcementDecision, EnforcementDecision.id == Appeal.decision_id)
        .join(EnforcementPolicy, EnforcementPolicy.id == Appeal.policy_id)
        .where(Appeal.filed_at >= since, Appeal.filed_at < until), Appeal.market_id, ids)).all()
    counters: dict[str, Counter[str]] = {basis: Counter() for basis in BASES}
    for reason, ground, category, item_kind, policy_key, automated in received:
        counters["decision_ground"][ground] += 1
        counters["category"][category] += 1
        counters["item_kind"][item_kind] += 1
        counters["policy"][policy_key] += 1
        counters["reason"][reason] += 1
        counters["automated_decision"]["not_automated" if automated == NOT_AUTOMATED else "automated"] += 1

    decided = session.execute(_in_markets(
        select(Appeal.id, Appeal.outcome, Appeal.decider_kind, Appeal.filed_at, Appeal.decided_at,
               Reversal.confirmed_at)
        .outerjoin(Reversal, Reversal.appeal_id == Appeal.id)
        .where(Appeal.decided_at.is_not(None), Appeal.decided_at >= since, Appeal.decided_at < until),
        Appeal.market_id, ids)).all()
    by_outcome = Counter(outcome for _, outcome, *_ in decided)
    by_decider = Counter(kind for _, _, kind, *_ in decided)
    seconds = [(decided_at - filed_at).total_seconds() for _, _, _, filed_at, decided_at, _ in decided
               if decided_at is not None]
    median_seconds = statistics.median(seconds) if seconds else None
    reversing = [row for row in decided if row[1] in {o.value for o in REVERSING}]
    confirmed = [row for row in reversing if row[5] is not None and row[5] < until]

    withdrawn = session.scalar(_in_markets(
        select(func.count(AppealEvent.id)).join(Appeal, Appeal.id == AppealEvent.appeal_id)
        .where(AppealEvent.type == "appeal.withdrawn", AppealEvent.occurred_at >= since,
               AppealEvent.occurred_at < until), Appeal.market_id, ids))

    return TransparencyReport(
        since=since, until=until, markets=tuple(market_codes or ()),
        complaints_received=len(received),
        received_by={basis: _ranked(counter) for basis, counter in counters.items()},
        withdrawn=int(withdrawn or 0), decided=len(decided),
        decided_by_outcome={o.value: by_outcome.get(o.value, 0) for o in Outcome},
        decided_by_decider={kind: by_decider.get(kind, 0) for kind in (DECIDER_HUMAN, DECIDER_AUTOMATION)},
        median_decision_hours=None if median_seconds is None else round(median_seconds / 3600, 2),
        median_decision_days=None if median_seconds is None else round(median_seconds / 86400, 2),
        reversals=len(reversing), reversals_confirmed=len(confirmed),
        disputes=_disputes(session, since=since, until=until, ids=ids),
        misuse=_misuse(session, since=since, until=until, ids=ids),
    )


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _disputes(session: Session, *, since: datetime, until: datetime, ids: list[int] | None) -> DisputeFigures:
    rows = session.execute(_in_markets(
        select(DisputeRow.opened_at, DisputeRow.closed_at, DisputeRow.outcome)
        .join(Appeal, Appeal.id == DisputeRow.appeal_id).where(DisputeRow.opened_at < until),
        Appeal.market_id, ids)).all()
    opened = sum(1 for opened_at, _, _ in rows if opened_at >= since)
    closed = Counter(outcome for _, closed_at, outcome in rows
                     if closed_at is not None and since <= closed_at < until)
    pending = sum(1 for _, closed_at, _ in rows if closed_at is None or closed_at >= until)
    return DisputeFigures(opened=opened, closed={o: closed.get(o, 0) for o in CLOSED_DISPUTE_OUTCOMES},
                          pending_at_end=pending)


def _misuse(session: Session, *, since: datetime, until: datetime, ids: list[int] | None) -> MisuseFigures:
    kinds = Counter(session.scalars(_in_markets(
        select(MisuseMeasure.kind).join(Party, Party.id == MisuseMeasure.party_id)
        .where(MisuseMeasure.starts_at >= since, MisuseMeasure.starts_at < until), Party.market_id, ids)))
    return MisuseFigures(warnings=kinds.get(MisuseKind.WARNING.value, 0),
                         suspensions=kinds.get(MisuseKind.SUSPENSION.value, 0))


# ---------------------------------------------------------------- shapes


def to_json(r: TransparencyReport) -> dict[str, Any]:
    return {
        "period": {"since": r.since.isoformat(), "until": r.until.isoformat()},
        "markets": list(r.markets),
        "complaints": {"received": r.complaints_received,
                       "by_basis": {basis: dict(values) for basis, values in r.received_by.items()},
                       "withdrawn": r.withdrawn},
        "decisions": {"total": r.decided, "by_outcome": dict(r.decided_by_outcome),
                      "by_decider": dict(r.decided_by_decider), "median_hours": r.median_decision_hours,
                      "median_days": r.median_decision_days},
        "reversals": {"total": r.reversals, "confirmed": r.reversals_confirmed},
        "out_of_court": {"opened": r.disputes.opened, "closed": dict(r.disputes.closed),
                         "pending_at_end": r.disputes.pending_at_end},
        "misuse": {"warnings": r.misuse.warnings, "suspensions": r.misuse.suspensions},
    }


def rows(r: TransparencyReport) -> list[tuple[str, str, str, int | float | None]]:
    """The report in long format: (section, dimension, value, count)."""
    out: list[tuple[str, str, str, int | float | None]] = [("complaints", "received", "", r.complaints_received)]
    for basis, values in r.received_by.items():
        out += [("complaints", basis, value, count) for value, count in values.items()]
    out.append(("complaints", "withdrawn", "", r.withdrawn))
    out.append(("decisions", "total", "", r.decided))
    out += [("decisions", "outcome", outcome, count) for outcome, count in r.decided_by_outcome.items()]
    out += [("decisions", "decider", kind, count) for kind, count in r.decided_by_decider.items()]
    out.append(("decisions", "median_hours", "", r.median_decision_hours))
    out.append(("decisions", "median_days", "", r.median_decision_days))
    out.append(("reversals", "total", "", r.reversals))
    out.append(("reversals", "confirmed", "", r.reversals_confirmed))
    out.append(("out_of_court", "opened", "", r.disputes.opened))
    out += [("out_of_court", "closed", outcome, count) for outcome, count in r.disputes.closed.items()]
    out.append(("out_of_court", "pending_at_end", "", r.disputes.pending_at_end))
    out.append(("misuse", "warnings", "", r.misuse.warnings))
    out.append(("misuse", "suspensions", "", r.misuse.suspensions))
    return out


def to_csv(r: TransparencyReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for section, dimension, value, count in rows(r):
        writer.writerow((section, dimension, value, "" if count is None else count))
    return buffer.getvalue()
