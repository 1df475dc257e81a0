"""The SLA sweep with a million open cases on PostgreSQL (issue #4; not in CI).

1. Drops and recreates a scratch database (default ``trustdesk_sla_bench``; the name must contain
   "bench"), runs the migrations, and writes one market, team, queue and party, ``--cases`` open
   cases and two timers each (first reply and resolution) with due and warning times spread over the
   next 30 days — set-based SQL, so seeding a million cases takes a minute, not an hour.
2. Times what the sweep asks every 30 seconds: "which timers are due for a warning or a breach in the
   next minute" (the two indexed range scans, ``--rounds`` times), then one real sweep announcing that
   minute's warnings and breaches (events, outbox rows, marks) in one transaction.

Prints the figures and the command that reproduces them:

    .venv/bin/python bench/sla.py [--cases 1000000] [--rounds 20] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import drop_database, recreate_database

from trustdesk.core.db import make_engine, make_session_factory, transaction
from trustdesk.core.migrate import upgrade
from trustdesk.sla import timers
from trustdesk.sla.models import SlaTimer

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/trustdesk_sla_bench"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

SEED = [
    """INSERT INTO markets (code, name, time_zone, languages, default_language, currency, is_active, created_at)
       VALUES ('US', 'United States', 'America/New_York', '["en"]', 'en', 'USD', true, :now)""",
    "INSERT INTO teams (key, name, tier, created_at) VALUES ('t1', 'Tier 1', 't1', :now)",
    """INSERT INTO queues (key, name, team_id, market_id, intake_channels, intake_party_kinds, intake_order,
                           auto_assign, is_triage, is_active, created_at)
       VALUES ('q', 'Queue', 1, 1, '[]', '[]', 100, false, false, true, :now)""",
    """INSERT INTO parties (kind, market_id, external_id, display_name, created_at)
       VALUES ('buyer', 1, 'bench', 'Bench Buyer', :now)""",
    # Open cases created over the last 30 days.
    """INSERT INTO cases (reference, channel, market_id, language, party_id, subject, team_id, queue_id, priority,
                          status, tags, custom_fields, version, created_at, updated_at, last_customer_message_at)
       SELECT 'B-' || n, 'web_form', 1, 'en', 1, 'Bench case ' || n, 1, 1, 'normal', 'open', '[]', '{}', 1,
              :now - (n % 43200) * interval '1 minute', :now, :now
       FROM generate_series(1, :cases) AS n""",
    # Two timers per case, due over the next 30 days; a tenth already announced.
    """INSERT INTO sla_timers (case_id, metric, seq, started_at, due_at, warn_at, warning_sent_at, breach_sent_at)
       SELECT c.id, m.metric, 0, c.created_at,
              :now + ((c.id::bigint * 7919 + m.k * 104729) % 43200) * interval '1 minute',
              :now + ((c.id::bigint * 7919 + m.k * 104729) % 43200 - 60) * interval '1 minute',
              CASE WHEN c.id % 10 = 0 THEN :now END, NULL
       FROM cases c CROSS JOIN (VALUES ('first_reply', 1), ('resolution', 2)) AS m(metric, k)""",
    "ANALYZE",
]

SCAN = """EXPLAIN (ANALYZE, FORMAT JSON)
SELECT id FROM sla_timers WHERE {column} IS NOT NULL AND {column} <= :until AND {sent} IS NULL
ORDER BY {column} LIMIT 1000"""


def _describe(node: dict[str, object]) -> str:
    """The plan's nodes, outermost first: "Limit > Index Scan (ix_sla_timers_breach_pending)"."""
    name = str(node["Node Type"]) + (f" ({node['Index Name']})" if "Index Name" in node else "")
    children = node.get("Plans") or []
    assert isinstance(children, list)
    return " > ".join([name, *(_describe(child) for child in children)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    url = make_url(args.database_url)
    if "bench" not in (url.database or "") or url.get_backend_name() != "postgresql":
        parser.error("a PostgreSQL scratch database whose name contains 'bench' (it is dropped and recreated)")
    recreate_database(url)
    engine = make_engine(args.database_url)
    try:
        upgrade(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in SEED:
                conn.execute(text(statement), {"now": NOW, "cases": args.cases})
        seeded = time.perf_counter() - started
        factory = make_session_factory(engine)
        with transaction(factory) as session:
            rows = session.scalar(select(func.count()).select_from(SlaTimer))
        print(f"seeded {args.cases:,} open cases and {rows:,} timers in {seeded:.1f} s", flush=True)

        until = NOW + timedelta(minutes=1)
        scans: dict[str, list[float]] = {"warning": [], "breach": []}
        planned: dict[str, str] = {}
        with engine.connect() as conn:
            for _ in range(args.rounds):
                for name, column, sent in (("warning", "warn_at", "warning_sent_at"),
                                           ("breach", "due_at", "breach_sent_at")):
                    plan = conn.execute(text(SCAN.format(column=column, sent=sent)), {"until": until}).scalar_one()
                    scans[name].append(float(plan[0]["Execution Time"]))
                    planned[name] = _describe(plan[0]["Plan"])
        for name, timings in scans.items():
            print(f"{name} scan (due in the next minute): p50 {statistics.median(timings):.3f} ms, "
                  f"max {max(timings):.3f} ms over {args.rounds} rounds; plan uses {planned[name]}")

        started = time.perf_counter()
        with transaction(factory) as session:
            warned, breached = timers.sweep(session, now=until)
        swept = time.perf_counter() - started
        print(f"one sweep announcing the next minute: {warned} warnings, {breached} breaches in {swept * 1000:.1f} ms")
        started = time.perf_counter()
        with transaction(factory) as session:
            again = timers.sweep(session, now=until)
        print(f"a second sweep of the same minute: {again} in {(time.perf_counter() - started) * 1000:.1f} ms")
        print(f"reproduce: .venv/bin/python bench/sla.py --cases {args.cases} --rounds {args.rounds}")
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
