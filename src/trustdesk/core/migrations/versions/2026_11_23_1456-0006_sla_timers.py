"""SLA timers: each open case's running and paused clocks with their next warning and due instants,
indexed for the sweep that announces warnings and breaches once.

Revision ID: 0006
Revises: 0005
Created: 2026-11-23 14:56:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustdesk.core.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sla_timers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=20), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('started_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warn_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warning_sent_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breach_sent_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_sla_timers_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_timers')),
    sa.UniqueConstraint('case_id', 'metric', 'seq', name=op.f('uq_sla_timers_case_id_metric_seq'))
    )
    with op.batch_alter_table('sla_timers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_timers_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_sla_timers_breach_pending', ['due_at'], unique=False,
                              sqlite_where=sa.text('breach_sent_at IS NULL'),
                              postgresql_where=sa.text('breach_sent_at IS NULL'))
        batch_op.create_index('ix_sla_timers_warning_pending', ['warn_at'], unique=False,
                              sqlite_where=sa.text('warning_sent_at IS NULL'),
                              postgresql_where=sa.text('warning_sent_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('sla_timers', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_timers_warning_pending')
        batch_op.drop_index('ix_sla_timers_breach_pending')
        batch_op.drop_index(batch_op.f('ix_sla_timers_case_id'))

    op.drop_table('sla_timers')
