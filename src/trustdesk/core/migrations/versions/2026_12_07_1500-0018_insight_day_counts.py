"""The insight day counts (``case_fact_days``): the counted metrics' numbers per UTC day, moment and
dimensions, which the dashboards add up instead of counting every fact; and the reply and resolution times'
buckets per day and market (``case_time_days``) with the minutes indexed in order, so a median reads one
bucket's values instead of sorting the period's; the ratings' index carries what their breakdowns read, and
the low ratings have their own (bench/insights.py). Counted from the facts already folded,
so an upgraded database reads the same figures as before.

Revision ID: 0018
Revises: 0017
Created: 2026-12-07 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ("volume_n", "csat_n", "csat_h", "csat_mean_n", "csat_mean_t", "escalation_rate_n", "escalation_rate_h",
            "reopen_rate_n", "reopen_rate_h", "repeat_rate_n", "repeat_rate_h", "misroute_rate_n", "misroute_rate_h",
            "hops_per_case_n", "hops_per_case_t", "negative_sentiment_rate_n", "negative_sentiment_rate_h",
            "sentiment_worsened_rate_n", "sentiment_worsened_rate_h", "sla_compliance_n", "sla_compliance_h")

TIMES = (("first_reply_minutes", "first_reply_at"), ("first_reply_business_minutes", "first_reply_at"),
         ("resolution_minutes", "solved_at"), ("resolution_business_minutes", "solved_at"))

RATED = ['csat_score', 'market', 'team_id', 'tier', 'channel', 'topic']  # what a rating's breakdowns read
LOW = sa.text('csat_score <= 2')  # the low ratings (insights.models.LOW_RATING)


def upgrade() -> None:
    op.create_table('case_fact_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('moment', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('market', sa.String(length=8), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('first_team_id', sa.Integer(), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=True),
    sa.Column('target', sa.String(length=32), nullable=True),
    *(sa.Column(name, sa.Integer(), server_default=sa.text('0'), nullable=False) for name in MEASURES),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_fact_days'))
    )
    with op.batch_alter_table('case_fact_days', schema=None) as batch_op:
        batch_op.create_index('ix_case_fact_days_moment_day', ['moment', 'day'], unique=False)
    op.create_table('case_time_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('market', sa.String(length=8), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_time_days'))
    )
    with op.batch_alter_table('case_time_days', schema=None) as batch_op:
        batch_op.create_index('ix_case_time_days_measure_day', ['measure', 'day'], unique=False)
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        for minutes, moment in TIMES:
            batch_op.create_index(f'ix_case_facts_{minutes}', [minutes], unique=False,
                                  postgresql_include=[moment, 'market'])
        batch_op.drop_index('ix_case_facts_csat_rated_at')
        batch_op.create_index('ix_case_facts_csat_rated_at', ['csat_rated_at'], unique=False,
                              postgresql_include=[*RATED, 'agent_id'])
        batch_op.create_index('ix_case_facts_low_ratings', ['csat_rated_at'], unique=False,
                              postgresql_include=[*RATED, 'case_id', 'reference'], postgresql_where=LOW,
                              sqlite_where=LOW)
    # The facts folded so far, counted by the module that keeps the counts from now on (a backfill through
    # today's code: the rules are the metrics' own, which a copy here could drift from).
    from trustdesk.insights import days

    session = Session(bind=op.get_bind())
    days.rebuild(session)
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_facts_low_ratings')
        batch_op.drop_index('ix_case_facts_csat_rated_at')
        batch_op.create_index('ix_case_facts_csat_rated_at', ['csat_rated_at'], unique=False)
        for minutes, _ in reversed(TIMES):
            batch_op.drop_index(f'ix_case_facts_{minutes}')
    with op.batch_alter_table('case_time_days', schema=None) as batch_op:
        batch_op.drop_index('ix_case_time_days_measure_day')
    op.drop_table('case_time_days')
    with op.batch_alter_table('case_fact_days', schema=None) as batch_op:
        batch_op.drop_index('ix_case_fact_days_moment_day')
    op.drop_table('case_fact_days')
