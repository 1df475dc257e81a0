"""The event log is append-only in the database too: UPDATE and DELETE on case_events are refused.

The ORM already refuses (core/events.py); the triggers keep raw SQL and other tools honest.

Revision ID: 0002
Revises: 0001
Created: 2026-11-23 07:05:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION trustdesk_refuse_event_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'case_events is append-only';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
            FOR EACH ROW EXECUTE FUNCTION trustdesk_refuse_event_change()
        """)
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER case_events_no_{action.lower()} BEFORE {action} ON case_events
                BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END
            """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_events_append_only ON case_events")
        op.execute("DROP FUNCTION trustdesk_refuse_event_change()")
    else:
        op.execute("DROP TRIGGER case_events_no_update")
        op.execute("DROP TRIGGER case_events_no_delete")
