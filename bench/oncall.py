"""Oncall: resolving schedules, and the scheduler tick with many escalations due (issue #4; not in CI).

1. Pure schedule resolution: a three-region follow-the-sun schedule with daily handoffs and
   restriction windows, plus a weekly backstop layer, an override and a swap; the final schedule
   for 1, 14 and 400 days (``--rounds`` times each).
2. The tick: a scratch PostgreSQL database (default ``trustdesk_oncall_bench``; the name must contain
   "bench") with ``--escalations`` cases, each with an escalation whose next step (page the oncall of
   the schedule) is due; times one tick running them all (one transaction each: the claim row, the
   page, its webhook and email outbox rows, the events), then a second tick that must find nothing.

Prints the figures and the command that reproduces them:

    .venv/bin/python bench/oncall.py [--escalations 1000] [--rounds 20] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import drop_database, recreate_database

from trustdesk.core.clock import FrozenClock
from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.migrate import upgrade
from trustdesk.oncall import jobs
from trustdesk.oncall.models import Page
from trustdesk.oncall.rotation import Layer, Override, Restriction, Swap, resolve

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/trustdesk_oncall_bench"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EVERY_DAY = frozenset(range(7))


def _layers() -> list[Layer]:
    def sun(name: str, zone: str, hours: tuple[int, int], people: tuple[str, ...]) -> Layer:
        tz = ZoneInfo(zone)
        return Layer(name=name, zone=tz, starts_at=datetime(2026, 1, 5, hours[0], tzinfo=tz), handoff="FREQ=DAILY",
                     participants=people, restrictions=(Restriction(EVERY_DAY, wall(hours[0]), wall(hours[1])),))

    backstop = Layer(name="backstop", zone=ZoneInfo("UTC"), starts_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
                     handoff="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", participants=("b1", "b2", "b3"))
    return [backstop, sun("apac", "Asia/Jakarta", (7, 17), ("a1", "a2", "a3")),
            sun("emea", "Europe/Madrid", (9, 19), ("e1", "e2", "e3")),
            sun("amer", "America/New_York", (12, 21), ("n1", "n2", "n3"))]


def bench_resolution(rounds: int) -> None:
    layers = _layers()
    overrides = [Override(NOW + timedelta(days=2), NOW + timedelta(days=2, hours=6), "x1")]
    swaps = [Swap(NOW + timedelta(days=3), NOW + timedelta(days=4), giver="e2", taker="e3")]
    for days in (1, 14, 400):
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            shifts = resolve(layers, overrides, swaps, NOW, NOW + timedelta(days=days))
            samples.append(time.perf_counter() - started)
        print(f"resolve {days:>3} days: {len(shifts):>5} shifts, median {statistics.median(samples) * 1000:.1f} ms "
              f"(min {min(samples) * 1000:.1f}, {rounds} rounds)")


SEED = [
    """INSERT INTO markets (code, name, time_zone, languages, default_language, currency, is_active, created_at)
       VALUES ('US', 'United States', 'America/New_York', '["en"]', 'en', 'USD', true, :now)""",
    "INSERT INTO teams (key, name, tier, created_at) VALUES ('t2', 'T2', 't2', :now)",
    """INSERT INTO queues (key, name, team_id, market_id, intake_channels, intake_party_kinds, intake_order,
                          auto_assign, is_triage, is_active, created_at)
       SELECT 'q', 'Q', t.id, m.id, '[]', '[]', 100, false, false, true, :now FROM teams t, markets m""",
    """INSERT INTO parties (market_id, kind, external_id, display_name, created_at)
       SELECT id, 'buyer', 'bench', 'Bench Buyer', :now FROM markets""",
    """INSERT INTO users (email, display_name, role, locale, is_active, session_generation, created_at)
       VALUES ('sme@bench.test', 'Sam Bench', 'oncall_sme', 'en', true, 0, :now)""",
    """INSERT INTO oncall_schedules (key, name, team_id, time_zone, description, created_at, updated_at)
       SELECT 'bench', 'Bench', id, 'UTC', '', :now, :now FROM teams""",
    """INSERT INTO oncall_layers (schedule_id, position, name, time_zone, starts_at, handoff, participants,
                                 restrictions)
       SELECT s.id, 0, 'all', 'UTC', :now - interval '1 day', 'FREQ=WEEKLY', json_build_array(u.id), '[]'
       FROM oncall_schedules s, users u""",
    """INSERT INTO cases (reference, channel, market_id, language, party_id, subject, team_id, queue_id, priority,
                         status, tags, custom_fields, version, created_at, updated_at)
       SELECT 'B-' || g, 'api', m.id, 'en', p.id, 'Bench case ' || g, q.team_id, q.id, 'high', 'open', '[]', '{}',
              1, :now, :now
       FROM generate_series(1, :n) g, markets m, parties p, queues q""",
    """INSERT INTO escalations (case_id, ladder_key, ladder_version, steps, trigger, reason, started_at, status,
                               round, step_index, repeats_done, next_run_at, ack_timeouts)
       SELECT id, 'bench', 1, '[{"type": "notify_oncall", "schedule": "bench"}]', 'breach', 'bench', :now,
              'active', 0, 0, 0, :now, 0
       FROM cases""",
]


def bench_tick(raw_url: str, escalations: int, keep: bool) -> None:
    url = make_url(raw_url)
    recreate_database(url)
    engine = make_engine(raw_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            for statement in SEED:
                conn.execute(text(statement), {"now": NOW, "n": escalations})
        factory = make_session_factory(engine)
        clock = FrozenClock(NOW)
        started = time.perf_counter()
        ran = jobs.tick(factory, clock)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = jobs.tick(factory, clock)
        second = time.perf_counter() - started
        with transaction(factory) as session:
            pages = int(session.scalar(select(func.count()).select_from(Page)) or 0)
        print(f"tick with {escalations:,} escalations due: {ran:,} steps in {first:.2f} s "
              f"({first / max(ran, 1) * 1000:.1f} ms per escalation: claim, page, outbox, events); "
              f"{pages:,} pages")
        print(f"second tick at the same instant: {again} steps in {second * 1000:.0f} ms (nothing sent twice)")
    finally:
        engine.dispose()
        if not keep:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--escalations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args()
    if "bench" not in (make_url(args.database_url).database or ""):
        parser.error("the database name must contain 'bench': it is dropped and recreated")
    print(f"$ .venv/bin/python bench/oncall.py --escalations {args.escalations} --rounds {args.rounds}")
    bench_resolution(args.rounds)
    bench_tick(args.database_url, args.escalations, args.keep)


if __name__ == "__main__":
    main()
