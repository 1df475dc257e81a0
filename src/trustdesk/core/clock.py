"""The one source of "now". Tests replace it with a :class:`FrozenClock` and move time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """Read a stored timestamp back as aware UTC (SQLite returns naive values)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_time(text: str, *, field: str) -> datetime:
    """A time typed by a person (``2026-10-01T09:00``, an offset optional), as aware UTC; a time
    without an offset is read as UTC, which is what the forms and the CLI say they take."""
    from trustdesk.core.errors import Invalid

    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"enter a date and time, e.g. 2026-10-01T09:00 (got {text!r})", field=field) from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
