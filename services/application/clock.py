"""Where the service learns what time and day it is: injected, so tests can move time.

Days are UK days: a clock's ``now`` is an aware datetime in the service's calendar
zone (Europe/London by default, ``LEARNER_RECORDS_TIMEZONE`` to change it), so
``now.date()`` is the day in the UK, and an event sent at 23:30 UTC in summer falls
on the next day, as it does for the people involved.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_ZONE",
    "TIMEZONE_ENV",
    "Clock",
    "FixedClock",
    "SystemClock",
    "calendar_zone",
    "start_of_day",
]

TIMEZONE_ENV = "LEARNER_RECORDS_TIMEZONE"
DEFAULT_ZONE = "Europe/London"


def calendar_zone(name: str | None = None) -> tzinfo:
    """The zone days are counted in: ``name``, else the environment's, else UK time."""
    return ZoneInfo(name or os.environ.get(TIMEZONE_ENV) or DEFAULT_ZONE)


def start_of_day(day: date, zone: tzinfo) -> datetime:
    """The first moment of ``day`` in ``zone``: when decisions that time alone calls for
    are taken, whatever moment the scheduler happened to run (so replays agree)."""
    return datetime.combine(day, time(), tzinfo=zone)


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in the calendar zone."""
        ...


class SystemClock:
    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone or calendar_zone()

    def now(self) -> datetime:
        return datetime.now(self.zone)


class FixedClock:
    """A clock that only moves when told to; a day alone means midday of that day."""

    def __init__(self, at: datetime | date, zone: tzinfo | None = None) -> None:
        self.zone = zone or calendar_zone()
        self._at = self._moment(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime | date) -> None:
        self._at = self._moment(at)

    def advance(self, delta: timedelta) -> None:
        self._at = (self._at + delta).astimezone(self.zone)

    def _moment(self, at: datetime | date) -> datetime:
        if isinstance(at, datetime):
            return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(self.zone)
        return datetime.combine(at, time(12), tzinfo=self.zone)
