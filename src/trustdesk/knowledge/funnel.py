"""The deflection funnel: what self-service did with each conversation started with the bot, per
topic, market or language, in a period.

Stages, each counted once per conversation that asked something (an *attempt*):

- ``answers``: the bot answered confidently at least once (it offered an article's passage);
- ``clicks``: the customer opened an offered article (recorded by the help-center assistant's link);
- ``helped``: the customer said "yes, that solved it";
- ``handed_off``: the conversation became a case;
- ``resolved``: deflected, by GLOSSARY's definition — the same person opened no case on any channel
  within ``days`` of the conversation (``deflection.outcome`` is the one rule);
- ``contacted``: not handed off, but the same person opened a case within those days: not deflected;
- ``pending``: the days are not over yet, so it cannot be called either way;
- ``unknown``: nobody was signed in, so whether they came back cannot be known. Never resolved.

The deflection rate is resolved / attempts: pending and unknown conversations stay in the
denominator, so the rate never counts what could not be shown to be deflected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Party
from trustdesk.core.errors import Invalid
from trustdesk.knowledge import deflection
from trustdesk.knowledge.models import BotConversation, BotTurn

GROUPS = deflection.GROUPS  # topic, market, language
COUNTS = ("attempts", "answers", "clicks", "helped", "handed_off", "resolved", "contacted", "pending", "unknown")
MAX_DAYS = 366
CLICK = "click"  # the bot turn kind the assistant's article link records


@dataclass
class FunnelRow:
    key: str | None  # the topic, market code or language; None: a topic-less conversation (nothing offered)
    attempts: int = 0
    answers: int = 0
    clicks: int = 0
    helped: int = 0
    handed_off: int = 0
    resolved: int = 0
    contacted: int = 0
    pending: int = 0
    unknown: int = 0

    def share(self, count: int) -> float | None:
        """``count`` as a share of the attempts (None when there were none)."""
        return count / self.attempts if self.attempts else None

    @property
    def deflection_rate(self) -> float | None:
        return self.share(self.resolved)

    def add(self, other: FunnelRow) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        out |= {name: getattr(self, name) for name in COUNTS}
        for name, count in (("answer_rate", self.answers), ("click_rate", self.clicks),
                            ("helped_rate", self.helped), ("handoff_rate", self.handed_off),
                            ("deflection_rate", self.resolved)):
            rate = self.share(count)
            out[name] = None if rate is None else round(rate, 6)
        return out


@dataclass(frozen=True)
class FunnelReport:
    since: datetime
    until: datetime
    as_of: datetime  # the moment outcomes were judged at (pending ones may turn later)
    days: int  # the deflection window
    by: str
    rows: list[FunnelRow]
    total: FunnelRow = field(default_factory=lambda: FunnelRow(key=None))

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "as_of": self.as_of.isoformat(),
                "window_days": self.days, "by": self.by, "rows": [r.as_dict() for r in self.rows],
                "total": self.total.as_dict()}


def _key(conversation: BotConversation, by: str) -> str | None:
    if by == "topic":
        return conversation.topic
    if by == "market":
        return conversation.market
    return conversation.locale.split("-")[0]


def report(session: Session, *, since: datetime, until: datetime, now: datetime, days: int,
           by: str = "topic") -> FunnelReport:
    """The funnel of conversations started in [since, until), judged at ``now`` with a ``days`` window."""
    if by not in GROUPS:
        raise Invalid(f"group by one of {', '.join(GROUPS)}", field="by")
    if until <= since:
        raise Invalid("the end of the period comes after its start", field="until")
    if (until - since).days > MAX_DAYS:
        raise Invalid(f"a period of at most {MAX_DAYS} days", field="since")
    if days < 1:
        raise Invalid("a deflection window of at least one day", field="days")

    def has(kind: str) -> Any:
        return select(BotTurn.id).where(BotTurn.conversation_id == BotConversation.id, BotTurn.kind == kind).exists()

    # The first case the same signed-in person opened, on any channel, once the conversation had started.
    next_case = (select(func.min(Case.created_at)).join(Party, Party.id == Case.party_id)
                 .where(Party.user_id == BotConversation.user_id, Case.created_at >= BotConversation.started_at)
                 .scalar_subquery())
    rows = session.execute(select(BotConversation, has("answer"), has(CLICK), next_case)
                           .where(BotConversation.started_at >= since, BotConversation.started_at < until,
                                  has("question"))
                           .order_by(BotConversation.id))
    groups: dict[str | None, FunnelRow] = {}
    for conversation, answered, clicked, next_case_at in rows:
        key = _key(conversation, by)
        row = groups.setdefault(key, FunnelRow(key=key))
        row.attempts += 1
        row.answers += bool(answered)
        row.clicks += bool(clicked)
        row.helped += conversation.helped_at is not None
        outcome = deflection.outcome(conversation, next_case_at=next_case_at if conversation.user_id else None,
                                     now=now, days=days)
        setattr(row, outcome, getattr(row, outcome) + 1)
    ordered = sorted(groups.values(), key=lambda r: (-r.attempts, r.key is None, r.key or ""))
    total = FunnelRow(key=None)
    for row in ordered:
        total.add(row)
    return FunnelReport(since=since, until=until, as_of=now, days=days, by=by, rows=ordered, total=total)
