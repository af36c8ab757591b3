"""Where the service learns what day it is: injected, so tests can move time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime | date) -> None:
        self._at = at if isinstance(at, datetime) else _midday(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime | date) -> None:
        self._at = at if isinstance(at, datetime) else _midday(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def _midday(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
