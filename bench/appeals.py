"""Appeals reporting at a year's volume on PostgreSQL (not in CI).

1. Drops and recreates the schema ``bench_appeals`` in the database of ``TRUSTDESK_BENCH_DATABASE_URL``
   (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), runs the migrations into it, and writes
   a year of history with set-based ``INSERT ... SELECT`` (no ORM, no row-by-row round trip): 4 markets
   (DE, FR, ES under the DSA, US not), 7 policies, 9 detection sources, ``--decisions`` enforcement decisions
   recorded evenly over the last 365 days, each with a statement of reasons of one shape varied by policy,
   source, item kind and market (1 in 200 has no facts, so the export rejects it), and ``--appeals`` appeals
   filed up to two weeks after their decision: about 80% decided (upheld, overturned, partly overturned;
   sources differ in how often they are overturned), the rest open (the last 90 days) or withdrawn. Each
   appeal has its case (and a running resolution clock while open), about two appeal events, a reversal
   when it overturned; then second reviews, out-of-court disputes and misuse measures (10,000, 500 and 200
   at 200,000 appeals, in proportion otherwise).
2. Times what people run on that history, each in a fresh session, the first (cold) run and the median of
   ``--runs`` more: the transparency report for 6 months and for 1 month of one market, the volume and
   policy-owner insights for 90 days, the first page of the appeal queue (open appeals), and a month's
   statements-of-reasons export (the query of ``trustdesk appeals export-sor``, then clean, validate, batch
   and validate each batch). Every SQL statement is timed on the way; the slowest is EXPLAIN ANALYZEd.
3. With ``--proposals`` (the default), creates the indexes proposed in docs/benchmarks.md in this schema
   with raw SQL and times the same operations again (nothing in ``src/`` changes).

Prints the figures and the command that reproduces them:

    .venv/bin/python bench/appeals.py [--decisions 1000000] [--appeals 200000] [--runs 5] [--no-proposals] [--keep]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.appeals import insights, sor, transparency
from trustdesk.appeals import page_queries as queries
from trustdesk.appeals.models import EnforcementDecision, MarketAppealSettings
from trustdesk.core.db import make_engine, make_session_factory
from trustdesk.core.migrate import upgrade

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_appeals"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SOR_MONTH = (date(2026, 11, 1), date(2026, 11, 30))  # the export's FROM and TO (inclusive days)
LAST_EXPORT: dict[str, int] = {}  # what the last export read and rejected

# (name, SQL): the indexes this benchmark proposes, created in its own schema for the "after" figures.
PROPOSED_INDEXES = [
    ("enforcement_decisions (created_at) INCLUDE (policy_id, source_id, market_id, item_kind)",
     "CREATE INDEX ix_bench_decisions_created_cover ON enforcement_decisions "
     "(created_at) INCLUDE (policy_id, source_id, market_id, item_kind)"),
    ("appeals (filed_at)", "CREATE INDEX ix_bench_appeals_filed_at ON appeals (filed_at)"),
    ("enforcement_decisions (application_date)",
     "CREATE INDEX ix_bench_decisions_application_date ON enforcement_decisions (application_date)"),
]

# ---------------------------------------------------------------- the history

REFERENCE = [
    """INSERT INTO markets (id, code, name, time_zone, languages, default_language, currency, region, is_active,
                           created_at)
       VALUES (1, 'DE', 'Germany', 'Europe/Berlin', '["de", "en"]', 'de', 'EUR', 'EU', true, :start),
              (2, 'FR', 'France', 'Europe/Paris', '["fr", "en"]', 'fr', 'EUR', 'EU', true, :start),
              (3, 'ES', 'Spain', 'Europe/Madrid', '["es", "en"]', 'es', 'EUR', 'EU', true, :start),
              (4, 'US', 'United States', 'America/New_York', '["en", "es"]', 'en', 'USD', NULL, true, :start)""",
    """INSERT INTO users (id, email, display_name, role, locale, is_active, session_generation, created_at)
       SELECT n, 'user' || n || '@bench.test',
              (ARRAY['Olga Owner', 'Omar Owner', 'Oona Owner', 'Rita Reviewer', 'Raj Reviewer', 'Rosa Reviewer',
                     'Remy Reviewer', 'Quinn QA', 'Quentin QA', 'Ada Admin'])[n],
              (ARRAY['lead', 'lead', 'lead', 'reviewer', 'reviewer', 'reviewer', 'reviewer', 'qa', 'qa',
                     'admin'])[n],
              'en', true, 0, :start
       FROM generate_series(1, 10) n""",
    "INSERT INTO teams (id, key, name, tier, created_at) VALUES (1, 'appeals', 'Appeals', 't2', :start)",
    """INSERT INTO queues (id, key, name, team_id, market_id, intake_channels, intake_party_kinds, intake_order,
                          auto_assign, is_triage, is_active, created_at)
       VALUES (1, 'appeals', 'Appeals', 1, NULL, '["appeal_form"]', '[]', 10, false, false, true, :start)""",
    """INSERT INTO enforcement_policies (id, key, name, description, owner_user_id, is_active, created_at)
       SELECT id, key, name, '', owner, true, :start FROM (VALUES
         (1, 'counterfeit-goods', 'Counterfeit goods', 1), (2, 'prohibited-items', 'Prohibited items', 1),
         (3, 'off-platform-payment', 'Off-platform payment', 2), (4, 'fake-reviews', 'Fake reviews', 2),
         (5, 'misleading-listing', 'Misleading listings', 3), (6, 'hate-speech', 'Hate speech', 3),
         (7, 'unsafe-products', 'Unsafe products', NULL)) AS p(id, key, name, owner)""",
    """INSERT INTO detection_sources (id, key, kind, name, owner_user_id, created_at)
       SELECT id, key, kind, name, owner, :start FROM (VALUES
         (1, 'rule-prohibited', 'rule', 'Prohibited-items rules', 1),
         (2, 'model-counterfeit', 'model', 'Counterfeit classifier', 2),
         (3, 'model-scam-text', 'model', 'Scam text classifier', 2),
         (4, 'hash-stolen-images', 'hash_match', 'Stolen image hashes', 3),
         (5, 'moderators-emea', 'human', 'Moderators EMEA', NULL),
         (6, 'moderators-amer', 'human', 'Moderators AMER', NULL),
         (7, 'notice-form', 'user_notice', 'Notice form', 3),
         (8, 'notice-ip', 'user_notice', 'IP notices', 1),
         (9, 'flagger-brands', 'trusted_flagger', 'Brand protection flagger', 1)) AS s(id, key, kind, name, owner)""",
    """INSERT INTO appeal_market_settings (market_id, is_open, dsa_applies, window_months, human_review_required,
                                          languages, qa_sample_percent, misuse_threshold, misuse_window_days,
                                          misuse_max_suspension_days, out_of_court, opened_at, created_at,
                                          updated_at)
       SELECT id, true, id <= 3, 6, id <= 3, languages, 5, 3, 180, 90, '{"en": "A certified body"}', :start,
              :start, :start
       FROM markets""",
    """INSERT INTO parties (id, kind, market_id, external_id, display_name, email, locale, created_at)
       SELECT n, CASE WHEN n % 3 = 0 THEN 'buyer' ELSE 'seller' END, (n - 1) % 4 + 1, 'party-' || n,
              'Party ' || n, 'party' || n || '@bench.test', (ARRAY['de', 'fr', 'es', 'en'])[(n - 1) % 4 + 1],
              :start
       FROM generate_series(1, :parties) n""",
]

# One statement-of-reasons shape; policy, source, item kind (two measure variants each) and market vary it.
DECISIONS = """
INSERT INTO enforcement_decisions (id, external_id, puid, market_id, party_id, item_kind, item_ref, item_title,
    policy_id, source_id, decided_by_email, decided_by_user_id, decided_at, notified_at, decision_ground, category,
    source_type, automated_detection, automated_decision, application_date, statement, redress, status,
    false_positive_at, created_at, updated_at)
SELECT g.n, 'ext-' || g.n, 'bench-sor-' || g.n, pa.market_id, pa.id, k.item_kind, k.item_kind || '-' || g.n,
       k.thing || ' #' || g.n, pw.id, s.id,
       CASE WHEN NOT s.automated THEN 'moderator' || (g.h % 40) || '@bench.test' END, NULL,
       g.at - interval '5 minutes', g.at + interval '1 minute', pw.ground, pw.category, s.source_type, s.automated,
       s.automated_decision, (g.at AT TIME ZONE 'UTC')::date,
       jsonb_strip_nulls(k.measures || jsonb_build_object(
           'decision_ground', pw.ground,
           'incompatible_content_ground', CASE WHEN NOT pw.illegal THEN pw.section END,
           'incompatible_content_explanation', CASE WHEN NOT pw.illegal THEN pw.explanation END,
           'illegal_content_legal_ground', CASE WHEN pw.illegal THEN pw.section END,
           'illegal_content_explanation', CASE WHEN pw.illegal THEN pw.explanation END,
           'content_type', k.content_type,
           'content_type_other', k.content_type_other,
           'category', pw.category,
           'category_specification', CASE WHEN pw.keyword IS NOT NULL THEN jsonb_build_array(pw.keyword) END,
           'territorial_scope', jsonb_build_array(m.code),
           'content_language', m.language,
           'content_date', to_char(g.at - (g.h % 30) * interval '1 day', 'YYYY-MM-DD'),
           'application_date', to_char(g.at, 'YYYY-MM-DD'),
           'decision_facts', CASE WHEN g.n % 200 = 0 THEN ''
                                  ELSE s.facts || ' ' || k.thing || ' ext-' || g.n || ' breached our ' || pw.name
                                       || ' policy, so we restricted it as the terms set out.' END,
           'source_type', s.source_type,
           'source_identity', s.identity,
           'automated_detection', CASE WHEN s.automated THEN 'Yes' ELSE 'No' END,
           'automated_decision', s.automated_decision,
           'account_type', CASE WHEN pa.kind = 'seller' THEN 'ACCOUNT_TYPE_BUSINESS' ELSE 'ACCOUNT_TYPE_PRIVATE' END)),
       '["internal_complaint", "out_of_court", "judicial"]', 'in_force', NULL, g.at, g.at
FROM (SELECT n, h, :start + (n - 1) * (interval '365 days' / CAST(:decisions AS float8)) AS at
      FROM (SELECT n, (n::bigint * 2654435761) % 4294967296 AS h FROM generate_series(1, :decisions) n) x) g
JOIN parties pa ON pa.id = 1 + (g.h / 13) % :parties
JOIN (VALUES (1, 'DE', 'DE'), (2, 'FR', 'FR'), (3, 'ES', 'ES'), (4, 'US', 'EN')) AS m(id, code, language)
  ON m.id = pa.market_id
JOIN (VALUES
  (1, 'Counterfeit goods', 'Terms 4.2 (counterfeit goods)', 'The item copies a protected brand.', false,
   'STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS', 'KEYWORD_TRADEMARK_INFRINGEMENT'),
  (2, 'Prohibited items', 'Terms 4.1 (prohibited items)', 'The item is on the list of prohibited items.', false,
   'STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS', 'KEYWORD_PROHIBITED_PRODUCTS'),
  (3, 'Off-platform payment', 'Terms 6.3 (payments)', 'The buyer was asked to pay outside the platform.', false,
   'STATEMENT_CATEGORY_SCAMS_AND_FRAUD', NULL),
  (4, 'Fake reviews', 'Terms 7.1 (reviews)', 'The reviews were written by the seller.', false,
   'STATEMENT_CATEGORY_CONSUMER_INFORMATION', 'KEYWORD_INAUTHENTIC_USER_REVIEWS'),
  (5, 'Misleading listings', 'Terms 4.5 (listing accuracy)', 'The listing misdescribes the item.', false,
   'STATEMENT_CATEGORY_CONSUMER_INFORMATION', 'KEYWORD_MISLEADING_INFO_GOODS_SERVICES'),
  (6, 'Hate speech', 'Criminal code 130 (incitement)', 'The text incites hatred against a group.', true,
   'STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH', 'KEYWORD_HATE_SPEECH'),
  (7, 'Unsafe products', 'Regulation (EU) 2023/988 art. 5', 'The product is recalled as unsafe.', true,
   'STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS', 'KEYWORD_UNSAFE_PRODUCTS')
  ) AS pw0(id, name, section, explanation, illegal, category, keyword)
  ON pw0.id = 1 + g.h % 7
CROSS JOIN LATERAL (SELECT pw0.*, CASE WHEN pw0.illegal THEN 'DECISION_GROUND_ILLEGAL_CONTENT'
                                       ELSE 'DECISION_GROUND_INCOMPATIBLE_CONTENT' END AS ground) pw
JOIN (VALUES
  (1, true, 'SOURCE_VOLUNTARY', 'AUTOMATED_DECISION_FULLY', NULL, 'An automated rule found that'),
  (2, true, 'SOURCE_VOLUNTARY', 'AUTOMATED_DECISION_PARTIALLY', NULL, 'A classifier, confirmed by a moderator, found'),
  (3, true, 'SOURCE_VOLUNTARY', 'AUTOMATED_DECISION_PARTIALLY', NULL, 'A classifier, confirmed by a moderator, found'),
  (4, true, 'SOURCE_VOLUNTARY', 'AUTOMATED_DECISION_FULLY', NULL, 'A match against known images showed that'),
  (5, false, 'SOURCE_VOLUNTARY', 'AUTOMATED_DECISION_NOT_AUTOMATED', NULL, 'A moderator found that'),
  (6, false, 'SOURCE_VOLUNTARY', 'AUTOMATED_DECISION_NOT_AUTOMATED', NULL, 'A moderator found that'),
  (7, false, 'SOURCE_ARTICLE_16', 'AUTOMATED_DECISION_NOT_AUTOMATED', NULL, 'After a notice, a moderator found'),
  (8, false, 'SOURCE_ARTICLE_16', 'AUTOMATED_DECISION_NOT_AUTOMATED', 'Rights holder', 'After a notice, we found'),
  (9, false, 'SOURCE_TRUSTED_FLAGGER', 'AUTOMATED_DECISION_NOT_AUTOMATED', 'Brand protection association',
   'A trusted flagger reported, and a moderator found, that')
  ) AS s(id, automated, source_type, automated_decision, identity, facts)
  ON s.id = 1 + (g.h / 7) % 9
JOIN (VALUES
  (0, 'listing', 'the listing', '{"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]}'::jsonb,
   '["CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_IMAGE"]'::jsonb, NULL),
  (1, 'listing', 'the listing', '{"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
   "decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION"}', '["CONTENT_TYPE_PRODUCT"]', NULL),
  (2, 'account', 'the account', '{"decision_account": "DECISION_ACCOUNT_SUSPENDED"}', '["CONTENT_TYPE_TEXT"]', NULL),
  (3, 'account', 'the account', '{"decision_account": "DECISION_ACCOUNT_SUSPENDED",
   "decision_monetary": "DECISION_MONETARY_SUSPENSION"}', '["CONTENT_TYPE_TEXT"]', NULL),
  (4, 'payout', 'the payout', '{"decision_monetary": "DECISION_MONETARY_SUSPENSION"}', '["CONTENT_TYPE_OTHER"]',
   'Seller payout of marketplace sales'),
  (5, 'payout', 'the payout', '{"decision_monetary": "DECISION_MONETARY_SUSPENSION",
   "decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION"}', '["CONTENT_TYPE_OTHER"]',
   'Seller payout of marketplace sales'),
  (6, 'content', 'the video', '{"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]}',
   '["CONTENT_TYPE_VIDEO"]', NULL),
  (7, 'content', 'the video', '{"decision_visibility": ["DECISION_VISIBILITY_CONTENT_DEMOTED"],
   "decision_monetary": "DECISION_MONETARY_SUSPENSION"}', '["CONTENT_TYPE_VIDEO"]', NULL)
  ) AS k(variant, item_kind, thing, measures, content_type, content_type_other)
  ON k.variant = (g.h / 63) % 8
"""

# Which decision each appeal contests, when it was filed, and what became of it (kept for the other inserts).
PLAN = """
CREATE TEMP TABLE bench_plan AS
SELECT q.*,
       CASE WHEN q.status = 'decided' THEN GREATEST(q.filed_at, LEAST(
                q.filed_at + interval '1 hour' + (q.h % 14400) * interval '1 minute', :now - interval '1 minute'))
       END AS decided_at,
       CASE WHEN q.status <> 'decided' THEN NULL
            WHEN q.r2 < 8 + 3 * q.source_id THEN 'overturned'
            WHEN q.r2 < 16 + 3 * q.source_id THEN 'partially_overturned'
            ELSE 'upheld' END AS outcome
FROM (SELECT p.*,
             CASE WHEN p.filed_at > :now - interval '90 days' AND p.r < 70 THEN 'open'
                  WHEN p.r >= 98 THEN 'withdrawn' ELSE 'decided' END AS status
      FROM (SELECT a.n, a.h, (a.h / 7) % 100 AS r, (a.h / 701) % 100 AS r2, d.id AS decision_id, d.party_id,
                   d.market_id, d.policy_id, d.source_id, d.notified_at,
                   d.notified_at + (a.h % GREATEST(1, LEAST(20160,
                       floor(EXTRACT(EPOCH FROM (:now - d.notified_at)) / 60)::int - 1))) * interval '1 minute'
                       AS filed_at
            FROM (SELECT n, (n::bigint * 2246822519) % 4294967296 AS h FROM generate_series(1, :appeals) n) a
            JOIN enforcement_decisions d ON d.id = LEAST(:decisions, (a.n - 1) * :stride + 1 + a.h % :stride)) p
     ) q
"""

HISTORY = [
    """INSERT INTO cases (id, reference, channel, market_id, language, party_id, subject, team_id, queue_id,
                         priority, status, tags, custom_fields, version, created_at, updated_at, opened_at,
                         closed_at, last_customer_message_at)
       SELECT n, 'C-' || n, 'appeal_form', market_id, (ARRAY['de', 'fr', 'es', 'en'])[market_id], party_id,
              'Appeal against decision ext-' || decision_id, 1, 1, 'normal',
              CASE WHEN status = 'open' THEN 'open' ELSE 'closed' END, '[]', '{}', 1, filed_at,
              COALESCE(decided_at, filed_at), filed_at,
              CASE WHEN status = 'decided' THEN decided_at
                   WHEN status = 'withdrawn' THEN filed_at + interval '2 days' END, filed_at
       FROM bench_plan""",
    """INSERT INTO appeals (id, reference, decision_id, case_id, party_id, market_id, policy_id, reason, status,
                           filed_at, deadline_at, outcome, lifted_measures, decision_reasons, decision_letter,
                           decider_user_id, decider_kind, manifestly_unfounded, decided_at, created_at, updated_at)
       SELECT n, 'AP-' || lpad(n::text, 7, '0'), decision_id, n, party_id, market_id, policy_id,
              (ARRAY['not_a_violation', 'not_a_violation', 'wrong_item', 'already_fixed', 'disproportionate',
                     'other'])[1 + h % 6],
              status, filed_at, notified_at + interval '6 months', outcome,
              CASE WHEN outcome = 'partially_overturned' THEN '["decision_monetary"]' ELSE '[]' END::jsonb,
              CASE WHEN status = 'decided' THEN 'Reviewed the listing and the evidence the appellant sent.' END,
              CASE WHEN status = 'decided' THEN 'Dear seller, we have reviewed your appeal.' END,
              CASE WHEN status = 'decided' AND h % 10 <> 0 THEN 4 + h % 4 END,
              CASE WHEN status <> 'decided' THEN NULL WHEN h % 10 = 0 THEN 'automation' ELSE 'human' END,
              status = 'decided' AND outcome = 'upheld' AND h % 20 = 0, decided_at, filed_at,
              COALESCE(decided_at, filed_at)
       FROM bench_plan""",
    """INSERT INTO sla_timers (case_id, metric, seq, started_at, due_at, warn_at, state)
       SELECT n, 'resolution', 0, filed_at, filed_at + interval '14 days', filed_at + interval '13 days', 'running'
       FROM bench_plan WHERE status = 'open'""",
    """INSERT INTO appeal_reversals (appeal_id, decision_id, action, measures, webhook_id, status, requested_at,
                                    last_sent_at, sends, confirmed_at, confirmation_ref)
       SELECT n, decision_id, 'restore_listing', '["decision_visibility"]', 'wh-bench-' || n,
              CASE WHEN h % 20 = 0 THEN 'requested' ELSE 'confirmed' END, decided_at, decided_at, 1,
              CASE WHEN h % 20 <> 0 THEN decided_at + interval '10 minutes' END,
              CASE WHEN h % 20 <> 0 THEN 'enf-' || n END
       FROM bench_plan WHERE outcome IN ('overturned', 'partially_overturned')""",
    """UPDATE enforcement_decisions d
       SET status = CASE WHEN p.outcome = 'overturned' THEN 'reversed' ELSE 'partially_reversed' END
       FROM bench_plan p WHERE d.id = p.decision_id AND p.outcome IN ('overturned', 'partially_overturned')""",
    # About two events per appeal: filed; decided or withdrawn; the reversal request of an overturn.
    """INSERT INTO appeal_events (decision_id, appeal_id, party_id, type, actor_type, actor_id, occurred_at, data)
       SELECT decision_id, n, party_id, 'appeal.filed', 'user', NULL, filed_at,
              jsonb_build_object('reference', 'AP-' || lpad(n::text, 7, '0'))
       FROM bench_plan
       UNION ALL
       SELECT decision_id, n, party_id, 'appeal.decided', 'user', 4 + h % 4, decided_at,
              jsonb_build_object('outcome', outcome)
       FROM bench_plan WHERE status = 'decided'
       UNION ALL
       SELECT decision_id, n, party_id, 'appeal.withdrawn', 'user', NULL, filed_at + interval '2 days', '{}'
       FROM bench_plan WHERE status = 'withdrawn'
       UNION ALL
       SELECT decision_id, n, party_id, 'appeal.reversal_requested', 'system', NULL, decided_at, '{}'
       FROM bench_plan WHERE outcome IN ('overturned', 'partially_overturned')""",
    """INSERT INTO appeal_qa_reviews (appeal_id, status, sampled_at, reviewer_user_id, outcome, notes, reviewed_at,
                                     calibrated_outcome, calibrated_by_user_id, calibrated_at)
       SELECT n, st, decided_at, CASE WHEN st <> 'pending' THEN 8 + h % 2 END,
              CASE WHEN st IN ('agreed', 'calibrated') THEN outcome WHEN st = 'disagreed' THEN 'upheld' END,
              CASE WHEN st <> 'pending' THEN 'Checked the evidence.' END,
              CASE WHEN st <> 'pending' THEN decided_at + interval '1 day' END,
              CASE WHEN st = 'calibrated' THEN outcome END, CASE WHEN st = 'calibrated' THEN 10 END,
              CASE WHEN st = 'calibrated' THEN decided_at + interval '3 days' END
       FROM (SELECT *, (ARRAY['pending', 'agreed', 'agreed', 'agreed', 'agreed', 'agreed', 'agreed', 'agreed',
                              'disagreed', 'calibrated'])[1 + (h / 3) % 10] AS st
             FROM bench_plan WHERE status = 'decided' ORDER BY (h * 7) % 4294967296 LIMIT :qa) s""",
    """INSERT INTO appeal_disputes (appeal_id, body_name, opened_at, outcome, closed_at, recorded_by_user_id)
       SELECT n, 'Certified body ' || (1 + h % 3), o.opened_at,
              CASE WHEN o.opened_at + interval '30 days' >= :now OR h % 5 = 0 THEN 'pending'
                   ELSE (ARRAY['decision_upheld', 'decision_reversed', 'settled', 'discontinued'])[1 + (h / 5) % 4]
              END,
              CASE WHEN o.opened_at + interval '30 days' < :now AND h % 5 <> 0 THEN o.opened_at + interval '30 days'
              END, 10
       FROM (SELECT *, LEAST(decided_at + interval '5 days' + (h % 20) * interval '1 day',
                             GREATEST(decided_at, :now - interval '1 hour')) AS opened_at
             FROM bench_plan WHERE outcome = 'upheld' ORDER BY (h * 11) % 4294967296 LIMIT :disputes) o""",
    """INSERT INTO appeal_misuse_measures (party_id, kind, reasons, unfounded_appeal_ids, starts_at, ends_at,
                                          issued_by_user_id, created_at)
       SELECT party_id, CASE WHEN h % 10 < 7 THEN 'warning' ELSE 'suspension' END,
              'Repeated manifestly unfounded appeals.', jsonb_build_array('AP-' || lpad(n::text, 7, '0')), at,
              CASE WHEN h % 10 >= 7 THEN at + interval '30 days' END, 10, at
       FROM (SELECT DISTINCT ON (party_id) *, LEAST(decided_at + interval '1 day', :now - interval '1 hour') AS at
             FROM bench_plan WHERE outcome = 'upheld' ORDER BY party_id, n) m
       ORDER BY (h * 13) % 4294967296 LIMIT :misuse""",
]
SEQUENCES = ["markets", "users", "teams", "queues", "enforcement_policies", "detection_sources", "parties",
             "enforcement_decisions", "cases", "appeals"]
COUNTED = ["enforcement_decisions", "parties", "cases", "appeals", "appeal_events", "sla_timers", "appeal_reversals",
           "appeal_qa_reviews", "appeal_disputes", "appeal_misuse_measures"]


def schema_url(base: str, schema: str) -> str:
    """The URL with every connection's search_path set to ``schema`` (as the PostgreSQL tests do)."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


def recreate_schema(base: str) -> None:
    engine = make_engine(base, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    engine.dispose()


def drop_schema(base: str) -> None:
    engine = make_engine(base, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    engine.dispose()


def seed(engine: Engine, decisions: int, appeals: int) -> dict[str, int]:
    ratio = appeals / 200_000
    params: dict[str, Any] = {
        "now": NOW, "start": NOW - timedelta(days=365), "decisions": decisions, "appeals": appeals,
        "stride": decisions // appeals, "parties": max(100, decisions // 10), "qa": max(1, round(10_000 * ratio)),
        "disputes": max(1, round(500 * ratio)), "misuse": max(1, round(200 * ratio)),
    }
    steps: list[tuple[str, list[str]]] = [("reference data and parties", REFERENCE), ("decisions", [DECISIONS]),
                                          ("appeals and the rest", [PLAN, *HISTORY])]
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))
        for name, statements in steps:
            started = time.perf_counter()
            for statement in statements:
                conn.execute(text(statement), params)
            print(f"  seeded {name} in {time.perf_counter() - started:.1f} s", flush=True)
        for table in SEQUENCES:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(max(id), 1) FROM {table}))"))
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # what autovacuum would have done over the year
    print(f"  vacuum analyze in {time.perf_counter() - started:.1f} s", flush=True)
    with engine.connect() as conn:
        counts = {table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()) for table in COUNTED}
        statuses = dict(conn.execute(text("SELECT status, count(*) FROM appeals GROUP BY status")).all())
        outcomes = dict(conn.execute(text("SELECT outcome, count(*) FROM appeals WHERE outcome IS NOT NULL "
                                          "GROUP BY outcome")).all())
        size = conn.execute(text("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c "
                                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE n.nspname = :schema AND c.relkind = 'r'"), {"schema": SCHEMA}).scalar_one()
    print("  rows: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    print("  appeals by status: " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))
          + "; decided by outcome: " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
          + f"; schema size {size}")
    return counts


# ---------------------------------------------------------------- what is timed


def sor_export(session: Session) -> int:
    """A month of ``trustdesk appeals export-sor``: its query, then clean, validate, batch, validate each batch
    (the JSON files are not written). Returns the number of statements read."""
    start, end = SOR_MONTH
    found = session.execute(
        select(EnforcementDecision.puid, EnforcementDecision.statement)
        .join(MarketAppealSettings, MarketAppealSettings.market_id == EnforcementDecision.market_id)
        .where(MarketAppealSettings.dsa_applies.is_(True), EnforcementDecision.application_date >= start,
               EnforcementDecision.application_date <= end)
        .order_by(EnforcementDecision.application_date, EnforcementDecision.id)).all()
    valid: list[dict[str, Any]] = []
    rejected = 0
    for puid, statement in found:
        cleaned = sor.clean_statement({**statement, "puid": puid})
        if sor.validate_statement(cleaned, for_tdb=True):
            rejected += 1
        else:
            valid.append(cleaned)
    for chunk in sor.batches(valid):
        if sor.validate_batch(chunk):
            rejected += len(chunk)
    LAST_EXPORT.update(read=len(found), rejected=rejected)
    return len(found)


def operations() -> list[tuple[str, Callable[[Session], object]]]:
    six_months = (datetime(2026, 6, 1, tzinfo=UTC), NOW)
    month = (datetime(2026, 11, 1, tzinfo=UTC), NOW)
    ninety = (NOW - timedelta(days=90), NOW)
    return [
        ("transparency.report, 6 months, all markets",
         lambda s: transparency.report(s, since=six_months[0], until=six_months[1])),
        ("transparency.report, 1 month, DE",
         lambda s: transparency.report(s, since=month[0], until=month[1], market_codes=["DE"])),
        ("insights.volume, 90 days", lambda s: insights.volume(s, since=ninety[0], until=ninety[1])),
        ("insights.policy_owner_report, 90 days",
         lambda s: insights.policy_owner_report(s, since=ninety[0], until=ninety[1])),
        ("appeal queue, first page of open appeals", lambda s: queries.queue(s, queries.QueueFilters())),
        ("SoR export, November (query + clean + validate + batch)", sor_export),
    ]


@dataclass
class Statement:
    sql: str
    parameters: Any
    ms: float
    operation: str


@dataclass
class Recorder:
    """Times every SQL statement the operations send (cursor execute to its return, rows fetched after)."""

    operation: str = ""
    statements: list[Statement] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, _cursor: Any, _sql: str, _params: Any, context: Any, _many: bool) -> None:
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
            if self.operation:
                ms = (time.perf_counter() - conn.info.pop("bench_started")) * 1000
                self.statements.append(Statement(sql, params, ms, self.operation))


@dataclass
class Figure:
    name: str
    cold_ms: float
    median_ms: float
    queries: int


@contextmanager
def recording(recorder: Recorder, name: str) -> Iterator[None]:
    recorder.operation = name
    try:
        yield
    finally:
        recorder.operation = ""


def time_operations(factory: sessionmaker[Session], recorder: Recorder, runs: int) -> list[Figure]:
    figures = []
    for name, work in operations():
        samples = []
        for run in range(runs + 1):
            before = len(recorder.statements)
            with factory() as session, recording(recorder, name):
                started = time.perf_counter()
                work(session)
                samples.append((time.perf_counter() - started) * 1000)
                session.rollback()
            if run == 0:
                queries = len(recorder.statements) - before
        figures.append(Figure(name, samples[0], statistics.median(samples[1:]), queries))
        extra = ""
        if work is sor_export:
            read, rejected = LAST_EXPORT["read"], LAST_EXPORT["rejected"]
            extra = (f"; {read:,} statements, {rejected:,} rejected, "
                     f"{read / (figures[-1].median_ms / 1000):,.0f} statements/s")
            figures[-1].name += f" [{read:,} statements, {read / (figures[-1].median_ms / 1000):,.0f}/s]"
        print(f"  {name}: cold {samples[0]:,.0f} ms, median {figures[-1].median_ms:,.0f} ms "
              f"of {runs} ({queries} queries){extra}", flush=True)
    return figures


# Query changes proposed in docs/benchmarks.md, measured as raw SQL against the same schema.
QUEUE_PAGE_IDS = """
SELECT a.id FROM appeals a
WHERE a.status = 'open'
ORDER BY (SELECT min(t.due_at) FROM sla_timers t WHERE t.case_id = a.case_id AND t.due_at IS NOT NULL) IS NULL,
         (SELECT min(t.due_at) FROM sla_timers t WHERE t.case_id = a.case_id AND t.due_at IS NOT NULL),
         a.filed_at, a.id
LIMIT 26"""
QUEUE_PAGE_ROWS = """
SELECT a.*, c.*, d.*, p.name, m.code FROM appeals a JOIN cases c ON c.id = a.case_id
JOIN enforcement_decisions d ON d.id = a.decision_id JOIN enforcement_policies p ON p.id = a.policy_id
JOIN markets m ON m.id = a.market_id WHERE a.id = ANY(:ids)"""
VOLUME_DECISIONS_GROUPED = """
SELECT policy_id, source_id, market_id, item_kind, count(*) FROM enforcement_decisions
WHERE created_at >= :since AND created_at < :until GROUP BY policy_id, source_id, market_id, item_kind"""


def time_query_proposals(factory: sessionmaker[Session], runs: int) -> list[Figure]:
    """Median of ``runs`` (after one cold run) for each proposed query change, as raw SQL."""

    def queue_without_jit(session: Session) -> None:
        session.execute(text("SET LOCAL jit = off"))
        queries.queue(session, queries.QueueFilters())

    def queue_two_steps(session: Session) -> None:
        ids = list(session.scalars(text(QUEUE_PAGE_IDS)))
        session.execute(text(QUEUE_PAGE_ROWS), {"ids": ids}).all()
        session.scalar(text("SELECT count(*) FROM appeals WHERE status = 'open'"))

    def volume_decisions_grouped(session: Session) -> None:
        session.execute(text(VOLUME_DECISIONS_GROUPED), {"since": NOW - timedelta(days=90), "until": NOW}).all()

    def volume_decisions_rows(session: Session) -> None:
        session.execute(select(EnforcementDecision.policy_id, EnforcementDecision.source_id,
                               EnforcementDecision.market_id, EnforcementDecision.item_kind)
                        .where(EnforcementDecision.created_at >= NOW - timedelta(days=90),
                               EnforcementDecision.created_at < NOW)).all()

    figures = []
    for name, work in [("appeal queue page as the page runs it, with jit off (SET LOCAL jit = off)", queue_without_jit),
                       ("appeal queue page in two steps: the 26 ids (order + limit on appeals), then their rows, "
                        "then the count (raw SQL)", queue_two_steps),
                       ("volume's decisions query as today: 90 days of rows fetched", volume_decisions_rows),
                       ("volume's decisions counted in SQL (GROUP BY policy, source, market, item kind)",
                        volume_decisions_grouped)]:
        samples = []
        for _ in range(runs + 1):
            with factory() as session:
                started = time.perf_counter()
                work(session)
                samples.append((time.perf_counter() - started) * 1000)
                session.rollback()
        figures.append(Figure(name, samples[0], statistics.median(samples[1:]), 0))
        print(f"  {name}: cold {samples[0]:,.0f} ms, median {figures[-1].median_ms:,.0f} ms", flush=True)
    return figures


def explain(engine: Engine, statement: Statement) -> list[str]:
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + statement.sql,
                                    statement.parameters).scalars().all()
        conn.rollback()
    return [str(line) for line in plan]


def print_table(title: str, figures: list[Figure], before: list[Figure] | None = None) -> None:
    print(f"\n{title}")
    header = "| operation | queries | cold ms | median ms |" + (" before (median ms) |" if before else "")
    print(header)
    print("| --- | ---: | ---: | ---: |" + (" ---: |" if before else ""))
    for i, f in enumerate(figures):
        row = f"| {f.name} | {f.queries} | {f.cold_ms:,.0f} | {f.median_ms:,.0f} |"
        print(row + (f" {before[i].median_ms:,.0f} |" if before else ""))


def slowest_statements(recorder: Recorder, top: int = 5) -> list[Statement]:
    """The slowest distinct statements (by SQL text), each with its slowest run's time and parameters."""
    worst: dict[str, Statement] = {}
    for s in recorder.statements:
        if s.sql not in worst or s.ms > worst[s.sql].ms:
            worst[s.sql] = s
    return sorted(worst.values(), key=lambda s: -s.ms)[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("TRUSTDESK_BENCH_DATABASE_URL",
                                                                  DEFAULT_DATABASE_URL))
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--appeals", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the cold one (median)")
    parser.add_argument("--no-proposals", dest="proposals", action="store_false",
                        help="skip the run with the proposed indexes")
    parser.add_argument("--keep", action="store_true", help=f"keep the schema {SCHEMA} afterwards")
    args = parser.parse_args(argv)
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("a PostgreSQL URL (the benchmark works in its own schema, bench_appeals)")
    if not 1 <= args.appeals <= args.decisions:
        parser.error("--appeals must be between 1 and --decisions (each appeal contests its own decision)")
    command = (f".venv/bin/python bench/appeals.py --decisions {args.decisions} --appeals {args.appeals} "
               f"--runs {args.runs}" + ("" if args.proposals else " --no-proposals"))
    print(f"$ {command}", flush=True)
    recreate_schema(args.database_url)
    engine = make_engine(schema_url(args.database_url, SCHEMA))
    try:
        upgrade(engine)
        started = time.perf_counter()
        seed(engine, args.decisions, args.appeals)
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
        recorder = Recorder()
        recorder.attach(engine)
        factory = make_session_factory(engine)
        print("timing (cold = the first run in this process, then the median of the runs after it):", flush=True)
        baseline = time_operations(factory, recorder, args.runs)
        print_table("figures", baseline)

        print("\nslowest statements (slowest run of each):")
        worst = slowest_statements(recorder)
        for s in worst:
            print(f"  {s.ms:,.0f} ms  [{s.operation}]  {' '.join(s.sql.split())[:200]}")
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the slowest ({worst[0].operation}):")
        for line in explain(engine, worst[0]):
            print("  " + line)

        if args.proposals:
            print("\nwith the proposed indexes (created in this schema with raw SQL):", flush=True)
            with engine.begin() as conn:
                for name, ddl in PROPOSED_INDEXES:
                    started = time.perf_counter()
                    conn.execute(text(ddl))
                    print(f"  created {name} in {time.perf_counter() - started:.1f} s")
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            recorder.statements.clear()
            after = time_operations(factory, recorder, args.runs)
            print_table("figures with the proposed indexes", after, before=baseline)
            print("\nquery changes (with the proposed indexes in place):", flush=True)
            print_table("query changes", time_query_proposals(factory, args.runs))
            print("\nslowest statements now:")
            for s in slowest_statements(recorder, top=3):
                print(f"  {s.ms:,.0f} ms  [{s.operation}]  {' '.join(s.sql.split())[:200]}")
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the slowest now ({slowest_statements(recorder, 1)[0].operation}):")
            for line in explain(engine, slowest_statements(recorder, 1)[0]):
                print("  " + line)

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak RSS of this process: {peak:,.0f} MiB")
        print(f"reproduce: {command}")
    finally:
        engine.dispose()
        if not args.keep:
            drop_schema(args.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
