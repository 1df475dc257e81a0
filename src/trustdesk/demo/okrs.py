"""The demo's objectives and key results for the quarter the build falls in, owned by the lead, so the
overview, the OKR page and the weekly report show live progress on the demo's own history.

``ensure_okrs`` is idempotent: once the demo has an objective it writes nothing. The targets are set a
little beyond the history's figures (a stretch, as OKRs are), with baselines near where each metric stood,
so some key results are on track and some are not.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.core.identity import User
from trustdesk.insights import okrs
from trustdesk.insights.models import Objective
from trustdesk.insights.okrs import KeyResultSpec

OWNER_EMAIL = "lead@demo.trustdesk.dev"


def quarter_of(day: date) -> tuple[date, date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def ensure_okrs(session: Session, *, now: datetime) -> str:
    """Two objectives for the build's quarter (see the module docstring); "" when the demo has some."""
    if session.scalar(select(Objective.id).limit(1)) is not None:
        return ""
    owner = session.scalar(select(User.id).where(User.email == OWNER_EMAIL))
    start, end = quarter_of(now.date())
    okrs.create_objective(
        session, title="Customers feel heard the first time", owner_user_id=owner, period_start=start,
        period_end=end, now=now,
        description="Fewer customers have to come back, and those who write to us rate the answer well.",
        key_results=[
            KeyResultSpec(title="CSAT of 82% or better across markets", metric="csat", target=0.82, baseline=0.74),
            KeyResultSpec(title="Spain's CSAT at 82% after the carrier strike", metric="csat",
                          filters={"market": "ES"}, target=0.82, baseline=0.72),
            KeyResultSpec(title="Repeat complaints at 7% or fewer", metric="repeat_rate", target=0.07, baseline=0.10),
        ])
    okrs.create_objective(
        session, title="Answer fast, route right", owner_user_id=owner, period_start=start, period_end=end,
        now=now, description="Cases reach the right team first time and get a first reply within the SLA.",
        key_results=[
            KeyResultSpec(title="Misroute rate at 8% or less", metric="misroute_rate", target=0.08, baseline=0.13),
            KeyResultSpec(title="SLA compliance of 85%", metric="sla_compliance", target=0.85, baseline=0.76),
            KeyResultSpec(title="Median first reply within 30 business minutes",
                          metric="first_reply_business_median", target=30.0, baseline=45.0),
        ])
    return f"2 objectives with 6 key results for {start:%d %b} to {end:%d %b %Y}"
