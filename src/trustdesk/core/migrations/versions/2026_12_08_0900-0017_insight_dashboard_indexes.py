"""Indexes for the insight dashboards at a million cases (bench/insights.py): the moments metrics count from
that had none (first solved, rated, and the open cases by status), and the reply and resolution times and the
SLA targets' outcome carried in the indexes of their moments, so PostgreSQL reads them from the index alone;
and the follow-ups (cases linked to an earlier solved case) by when they were opened, for the repeat rate.

Revision ID: 0017
Revises: 0016
Created: 2026-12-08 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns, columns carried on PostgreSQL)
COVERING = [
    ("ix_case_facts_solved_at", "case_facts", ["solved_at"], ["resolution_minutes", "resolution_business_minutes"]),
    ("ix_case_facts_first_reply_at", "case_facts", ["first_reply_at"],
     ["first_reply_minutes", "first_reply_business_minutes"]),
    ("ix_case_target_facts_came_due_at", "case_target_facts", ["came_due_at"], ["met", "metric", "case_id"]),
]
NEW = [
    ("ix_case_facts_first_solved_at", "case_facts", ["first_solved_at"]),
    ("ix_case_facts_csat_rated_at", "case_facts", ["csat_rated_at"]),
    ("ix_case_facts_status_created_at", "case_facts", ["status", "created_at"]),
]


def upgrade() -> None:
    for name, table, columns, carried in COVERING:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False, postgresql_include=carried)
    for name, table, columns in NEW:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    linked = sa.text("repeat_of_case_id IS NOT NULL")
    with op.batch_alter_table("case_facts", schema=None) as batch_op:
        batch_op.create_index("ix_case_facts_follow_ups", ["created_at"], unique=False,
                              postgresql_include=["repeat_of_case_id", "repeat_gap_minutes"],
                              postgresql_where=linked, sqlite_where=linked)


def downgrade() -> None:
    with op.batch_alter_table("case_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_case_facts_follow_ups")
    for name, table, _ in reversed(NEW):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    for name, table, columns, _ in reversed(COVERING):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
