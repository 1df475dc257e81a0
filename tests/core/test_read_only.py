"""A read-only unit of work on the embedded SQLite database takes no write lock: a long report reads its
snapshot while agents go on writing, and whatever it might write is not kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from trustdesk.core.db import make_engine, make_session_factory, read_only, transaction


def test_a_read_only_session_lets_writers_commit_and_keeps_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO notes (body) VALUES ('before')"))
    factory = make_session_factory(engine)

    with read_only(factory) as reader:
        assert reader.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1
        # A writer meanwhile: with BEGIN IMMEDIATE held by the reader this would wait and fail.
        with transaction(factory) as writer:
            writer.execute(text("INSERT INTO notes (body) VALUES ('during')"))
        assert reader.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1  # its own snapshot
    with transaction(factory) as session:
        assert session.execute(text("SELECT count(*) FROM notes")).scalar_one() == 2

    with read_only(factory) as reader:
        reader.execute(text("INSERT INTO notes (body) VALUES ('dropped')"))
    with transaction(factory) as session:
        assert session.execute(text("SELECT body FROM notes ORDER BY id")).scalars().all() == ["before", "during"]
