"""When the demo's cases arrive: 90 days of contacts with a shape a support lead recognises.

Volume per market follows local time: quiet nights, a late-morning peak and an evening bump;
Mondays are busiest and weekends quiet; volume grows a little over the quarter; and three
incidents make spikes (a payments outage, a carrier strike, a mega-sale). The grid is anchored
on the UTC day the build runs, so history is always "the last 90 days"; the same seed gives the
same sequence of cases, only their dates move with the calendar.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from trustdesk.demo.catalog import HISTORY_DAYS, MARKETS

# Contacts by local hour (relative).
HOUR_PROFILE = (0.30, 0.20, 0.15, 0.12, 0.12, 0.20, 0.40, 0.70, 1.00, 1.30, 1.50, 1.50,
                1.45, 1.40, 1.35, 1.30, 1.25, 1.20, 1.25, 1.35, 1.40, 1.20, 0.90, 0.55)
# Monday .. Sunday.
WEEKDAY_PROFILE = (1.15, 1.10, 1.05, 1.00, 0.95, 0.75, 0.80)
GROWTH = 0.12  # the last day of the quarter is 12% busier than the first


@dataclass(frozen=True)
class Spike:
    key: str  # also the tag its cases carry
    markets: tuple[str, ...]
    days_ago: int  # local calendar day, counted back from the build's UTC day
    duration_days: int
    from_hour: int  # local
    to_hour: int
    multiplier: float  # volume on top of the usual, e.g. 3.0 = three times as many contacts


SPIKES: tuple[Spike, ...] = (
    Spike("incident-payments-outage", ("US", "GB"), 33, 1, 13, 23, 3.5),
    Spike("carrier-strike", ("ES",), 12, 2, 7, 23, 2.5),
    Spike("mega-sale", ("ID",), 26, 2, 8, 24, 2.2),
)


@dataclass(frozen=True)
class Slot:
    """One contact: when it arrives, in which market, and the spike it belongs to (if any)."""

    index: int
    at: datetime
    market: str
    spike: str | None


def day_anchor(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def build_slots(seed: int, count: int, now: datetime) -> list[Slot]:
    """``count`` contacts between 90 days before the build's UTC day and ``now``, oldest first."""
    rng = random.Random(f"{seed}/timeline")
    start = day_anchor(now) - timedelta(days=HISTORY_DAYS)
    span_days = (now - start).total_seconds() / 86400
    cells: list[tuple[datetime, str, str | None, float]] = []  # hour start, market, spike, spike share
    weights: list[float] = []
    for market in MARKETS:
        zone = ZoneInfo(market.time_zone)
        local_day0 = start.astimezone(zone).date()
        hour = start
        while hour < now:
            local = hour.astimezone(zone)
            days_ago = (local_day0 - local.date()).days + HISTORY_DAYS
            weight = (market.share * WEEKDAY_PROFILE[local.weekday()] * HOUR_PROFILE[local.hour]
                      * (1 + GROWTH * ((hour - start).total_seconds() / 86400) / span_days))
            spike, share = None, 0.0
            for candidate in SPIKES:
                if (market.code in candidate.markets
                        and candidate.days_ago - candidate.duration_days < days_ago <= candidate.days_ago
                        and candidate.from_hour <= local.hour < candidate.to_hour):
                    spike, share = candidate.key, (candidate.multiplier - 1) / candidate.multiplier
                    weight *= candidate.multiplier
            # The hour in progress only counts for the part that has passed.
            fraction = min(1.0, (now - hour).total_seconds() / 3600)
            cells.append((hour, market.code, spike, share))
            weights.append(weight * fraction)
            hour += timedelta(hours=1)
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    drawn: list[tuple[datetime, str, str | None]] = []
    for _ in range(count):
        cell = min(bisect_right(cumulative, rng.random() * total), len(cells) - 1)
        hour, market_code, spike, share = cells[cell]
        limit = min(3600.0, (now - hour).total_seconds())
        at = hour + timedelta(seconds=rng.random() * limit)
        in_spike = spike if spike is not None and rng.random() < share else None
        drawn.append((at.replace(microsecond=0), market_code, in_spike))
    drawn.sort(key=lambda item: (item[0], item[1]))
    return [Slot(index, at, market, spike) for index, (at, market, spike) in enumerate(drawn)]
