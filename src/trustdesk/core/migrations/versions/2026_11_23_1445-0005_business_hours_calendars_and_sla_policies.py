"""Business-hours calendars (weekly hours in a time zone or 24x7, holidays closed or with short hours,
by hand or from iCalendar files), SLA policies (ordered conditions, a default, targets per
priority) and the terms snapshotted onto each case.

Revision ID: 0005
Revises: 0004
Created: 2026-11-23 14:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import trustdesk.core.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('always_open', sa.Boolean(), nullable=False),
    sa.Column('weekly', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendars')),
    sa.UniqueConstraint('key', name=op.f('uq_calendars_key'))
    )
    op.create_table('sla_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('calendar_key', sa.String(length=64), nullable=True),
    sa.Column('targets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('warn_fraction', sa.Double(), nullable=False),
    sa.Column('pause_on', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('key', name=op.f('uq_sla_policies_key'))
    )
    op.create_table('calendar_holidays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('calendar_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_uid', sa.String(length=300), nullable=True),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_calendar_holidays_calendar_id_calendars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_holidays')),
    sa.UniqueConstraint('calendar_id', 'day', name=op.f('uq_calendar_holidays_calendar_id_day'))
    )
    with op.batch_alter_table('calendar_holidays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_holidays_calendar_id'), ['calendar_id'], unique=False)

    op.create_table('case_slas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('policy_key', sa.String(length=64), nullable=False),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('calendar_key', sa.String(length=64), nullable=True),
    sa.Column('terms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('applied_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_slas_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_case_slas_policy_id_sla_policies'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_slas')),
    sa.UniqueConstraint('case_id', name=op.f('uq_case_slas_case_id'))
    )


def downgrade() -> None:
    op.drop_table('case_slas')
    with op.batch_alter_table('calendar_holidays', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_holidays_calendar_id'))

    op.drop_table('calendar_holidays')
    op.drop_table('sla_policies')
    op.drop_table('calendars')
