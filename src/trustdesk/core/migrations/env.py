"""Alembic environment: the URL comes from the caller (``trustdesk migrate``) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from trustdesk.core.db import make_engine
from trustdesk.core.models_registry import metadata
from trustdesk.core.settings import get_settings

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url()
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
