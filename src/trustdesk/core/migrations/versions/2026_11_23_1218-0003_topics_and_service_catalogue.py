"""Topics and the service catalogue: the topic taxonomy, versioned catalogue entries (who owns
topic x market x channel x party kind), and a region per market for catalogue scopes.

Revision ID: 0003
Revises: 0002
Created: 2026-11-23 12:18:51+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import trustdesk.core.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['topics.id'], name=op.f('fk_topics_parent_id_topics'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('key', name=op.f('uq_topics_key'))
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topics_parent_id'), ['parent_id'], unique=False)

    op.create_table('catalogue_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('market_scope', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('party_kind', sa.String(length=16), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('contact_user_id', sa.Integer(), nullable=True),
    sa.Column('escalation_user_id', sa.Integer(), nullable=True),
    sa.Column('sla_policy_key', sa.String(length=64), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('valid_from', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_to', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('author_user_id', sa.Integer(), nullable=False),
    sa.Column('approver_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('review_interval_days', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_reminded_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', trustdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from', name=op.f('ck_catalogue_entries_valid_period')),
    sa.ForeignKeyConstraint(['approver_user_id'], ['users.id'], name=op.f('fk_catalogue_entries_approver_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['author_user_id'], ['users.id'], name=op.f('fk_catalogue_entries_author_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['contact_user_id'], ['users.id'], name=op.f('fk_catalogue_entries_contact_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['escalation_user_id'], ['users.id'], name=op.f('fk_catalogue_entries_escalation_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_catalogue_entries_owner_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_catalogue_entries_team_id_teams'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_catalogue_entries_topic_id_topics'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_entries')),
    sa.UniqueConstraint('entry_id', 'version', name=op.f('uq_catalogue_entries_entry_id_version'))
    )
    with op.batch_alter_table('catalogue_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_entries_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_entries_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_entries_topic_id'), ['topic_id'], unique=False)

    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.drop_column('region')

    with op.batch_alter_table('catalogue_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_entries_topic_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_entries_team_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_entries_entry_id'))

    op.drop_table('catalogue_entries')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topics_parent_id'))

    op.drop_table('topics')
