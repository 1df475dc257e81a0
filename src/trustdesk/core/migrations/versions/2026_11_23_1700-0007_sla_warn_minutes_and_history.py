"""SLA warnings a number of minutes before due (a policy's alternative to a fraction of the target),
and each timer's last known state, so a refresh can tell a clock paused, resumed or met and record it
on the case's timeline once.

Timers written before this revision get ``running`` when they have a due time (only a running clock
has one); the others stay unknown (paused or stopped: the row cannot tell), and a refresh records no
change from an unknown state.

Revision ID: 0007
Revises: 0006
Created: 2026-11-23 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warn_minutes_before', sa.Integer(), nullable=True))
    with op.batch_alter_table('sla_timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=12), nullable=True))
    op.execute("UPDATE sla_timers SET state = 'running' WHERE due_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('sla_timers', schema=None) as batch_op:
        batch_op.drop_column('state')
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_column('warn_minutes_before')
