"""Batched flushes for writing history through the services: the same rows, a fraction of the SQL.

The case services flush whenever they need a new row's id (the case for its reference and
events, each message for its ``case.message_added`` event). Played one case at a time that is
a dozen round trips per case, each re-UPDATEing the case it just inserted: twenty thousand
cases took minutes. ``HistorySession`` keeps every service call exactly as it is but, while
``deferred()`` is active, its ``flush()`` only hands out primary keys to pending rows; the real
flush happens once per batch (at commit), where SQLAlchemy inserts each table with one
``executemany`` in foreign-key order and every case with its final state.

Ids are taken so that nothing else can collide with them: on SQLite the batch holds the write
lock (``BEGIN IMMEDIATE``) and counts up from the table's largest id; on PostgreSQL they are
reserved from the column's own sequence (``nextval``), as an INSERT would.

Reads inside the services still go to the database and do not see the batch's pending rows.
That is safe for what the demo calls: they read directory rows (queues, memberships, request
types, parties) committed before the batch, attachment counts (the demo adds none) and link
existence (the demo links each pair once).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Integer, event, text
from sqlalchemy.orm import Session, object_mapper

from trustdesk.core.notifications import Notification
from trustdesk.core.outbox import OutboxMessage

# Ids reserved per nextval round trip on PostgreSQL; reserved ids a batch does not use are lost
# (gaps), so tables whose ids people read (case references) are reserved as the batch announces.
_POSTGRES_BLOCK = 500


class HistorySession(Session):
    """A session whose ``flush()`` can be deferred to the end of a batch (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferring = False
        self._next_id: dict[str, int] = {}
        self._reserved: dict[str, list[int]] = {}
        self._expected: dict[str, int] = {}
        # Rows added since the last deferred flush (Session.new rebuilds a set of all pending rows
        # on every call, which would make each of thousands of deferred flushes slower than the last).
        self._fresh: list[Any] = []
        event.listen(self, "transient_to_pending", self._remember)

    def _remember(self, _session: Session, obj: Any) -> None:
        if self._deferring:
            self._fresh.append(obj)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            self._fresh.clear()

    def expect(self, table: str, rows: int) -> None:
        """Announce how many rows of ``table`` the batch will add (sizes the next id reservation)."""
        self._expected[table] = max(1, rows)

    def write_pending(self) -> None:
        """Flush for real now (inside ``deferred()``), e.g. every few hundred cases."""
        self._give_ids()
        super().flush()

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        if not self._deferring:
            super().flush(objects)
            return
        self._give_ids()

    def _give_ids(self) -> None:
        fresh, self._fresh = self._fresh, []
        for obj in fresh:
            if isinstance(obj, OutboxMessage | Notification) or obj not in self:
                continue  # never written (see writer.history_without_side_effects); needs no id
            columns = object_mapper(obj).primary_key
            if len(columns) != 1 or not isinstance(columns[0].type, Integer):
                raise RuntimeError(f"cannot defer the flush of {type(obj).__name__}: not an integer id")
            column = columns[0]
            assert column.key is not None
            if getattr(obj, column.key) is None:
                setattr(obj, column.key, self._take_id(column.table.name, column.name))

    def _take_id(self, table: str, column: str) -> int:
        with self.no_autoflush:
            return self._take_id_unflushed(table, column)

    def _take_id_unflushed(self, table: str, column: str) -> int:
        if self.get_bind().dialect.name == "postgresql":
            reserved = self._reserved.setdefault(table, [])
            if not reserved:
                # Table and column names come from the mapped metadata, never from input.
                block = self._expected.pop(table, _POSTGRES_BLOCK)
                rows = super().execute(text(
                    "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"),
                    {"table": table, "column": column, "n": block})
                reserved.extend(sorted((int(r[0]) for r in rows), reverse=True))
            assert reserved, f"{table}.{column} has no sequence"
            return reserved.pop()
        if table not in self._next_id:
            largest = super().execute(text(f'SELECT max("{column}") FROM "{table}"')).scalar()  # noqa: S608
            self._next_id[table] = int(largest or 0)
        self._next_id[table] += 1
        return self._next_id[table]
