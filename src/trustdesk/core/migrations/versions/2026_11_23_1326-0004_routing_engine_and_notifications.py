"""The routing engine: rule set versions, the topic model registry, the routing decision log, a
per-market confidence threshold, and each user's notifications (catalogue gaps, drift alerts).

Revision ID: 0004
Revises: 0003
Created: 2026-11-23 13:26:20+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import trustdesk.core.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('routing_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('algorithm', sa.String(length=100), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('n_train', sa.Integer(), nullable=False),
    sa.Column('data_from', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('data_to', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('trained_by', sa.String(length=200), nullable=False),
    sa.Column('trained_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('activated_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('replaced_model_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['replaced_model_id'], ['routing_models.id'],
                            name=op.f('fk_routing_models_replaced_model_id_routing_models'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_models')),
    sa.UniqueConstraint('version', name=op.f('uq_routing_models_version'))
    )
    with op.batch_alter_table('routing_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_models_status'), ['status'], unique=False)
        batch_op.create_index('uq_routing_models_one_active', ['status'], unique=True,
                              sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.String(length=4000), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('dedupe_key', sa.String(length=300), nullable=True),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)

    op.create_table('routing_rule_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('author_user_id', sa.Integer(), nullable=True),
    sa.Column('publisher_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_routing_rule_sets_author_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['publisher_user_id'], ['users.id'], name=op.f('fk_routing_rule_sets_publisher_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rule_sets')),
    sa.UniqueConstraint('version', name=op.f('uq_routing_rule_sets_version'))
    )
    with op.batch_alter_table('routing_rule_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rule_sets_status'), ['status'], unique=False)
        batch_op.create_index('uq_routing_rule_sets_one_published', ['status'], unique=True,
                              sqlite_where=sa.text("status = 'published'"),
                              postgresql_where=sa.text("status = 'published'"))

    op.create_table('routing_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=True),
    sa.Column('topic_source', sa.String(length=16), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('inputs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rule_set_version', sa.Integer(), nullable=True),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('catalogue_entry_id', sa.Integer(), nullable=True),
    sa.Column('catalogue_version', sa.Integer(), nullable=True),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('suggestions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('triage_reason', sa.String(length=32), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_routing_decisions_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_routing_decisions_queue_id_queues'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_routing_decisions_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_decisions')),
    sa.UniqueConstraint('case_id', name=op.f('uq_routing_decisions_case_id'))
    )
    with op.batch_alter_table('routing_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_routing_decisions_decided_at', ['decided_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_decisions_team_id'), ['team_id'], unique=False)

    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routing_threshold', sa.Double(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.drop_column('routing_threshold')

    with op.batch_alter_table('routing_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_decisions_team_id'))
        batch_op.drop_index('ix_routing_decisions_decided_at')

    op.drop_table('routing_decisions')
    with op.batch_alter_table('routing_rule_sets', schema=None) as batch_op:
        batch_op.drop_index('uq_routing_rule_sets_one_published')
        batch_op.drop_index(batch_op.f('ix_routing_rule_sets_status'))

    op.drop_table('routing_rule_sets')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')

    op.drop_table('notifications')
    with op.batch_alter_table('routing_models', schema=None) as batch_op:
        batch_op.drop_index('uq_routing_models_one_active')
        batch_op.drop_index(batch_op.f('ix_routing_models_status'))

    op.drop_table('routing_models')
