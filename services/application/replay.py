"""Replay as lived: recorded inbound events through the application, each at its own time.

A live service receives each event at (about) its ``time`` and reviews, once a day,
the learners whose claim-by date has just passed. A replay that processed every event
as if it arrived on the replay's day would decide differently: a learner certificated
well before claim-by would be found ``window_expired`` instead of ``eligible``. So
here the clock is set to each event's own ``time`` (monotonic: an event that says it
was sent earlier than the last is processed at the last one's moment; never later
than the end of ``as_of``), and before an event on a later day the time-driven review
is run for each claim-by day passed meanwhile, at the start of the day after it, as the
scheduler would have; last, up to ``as_of``. The decisions come out in the order a
live service would have published them.

Used by ``learner-records replay`` (an auditor's what-if on a temporary store) and
``learner-records backfill`` (old histories into a real store, as lived).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from domain.learner import Decision
from services.application.clock import start_of_day
from services.application.records import Inbound, LearnerRecords, Outcome

__all__ = ["Replayed", "replay_as_lived"]

BATCH_SIZE = 500

Progress = Callable[[int], None]


@dataclass(slots=True)
class Replayed:
    """What a replay did: every message's outcome and every decision, in order."""

    outcomes: list[Outcome] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    reviewed_days: list[date] = field(default_factory=list)


def replay_as_lived(
    records: LearnerRecords,
    lines: Sequence[bytes],
    as_of: date,
    progress: Progress = lambda n: None,
    batch_size: int = BATCH_SIZE,
) -> Replayed:
    zone = records.zone
    end = start_of_day(as_of + timedelta(days=1), zone) - timedelta(microseconds=1)
    # The scheduler reviews at the start of the day after each claim-by day.
    reviews = [(day + timedelta(days=1), q) for day, q in _claim_by_days(records)]
    registered: dict[str, set[str]] = {}  # qualification -> learners registered on it
    result = Replayed()
    clock: datetime | None = None
    pending: list[Inbound] = []

    def flush() -> None:
        if not pending:
            return
        outcomes = records.receive_batch(pending)
        for message, outcome in zip(pending, outcomes, strict=True):
            result.outcomes.append(outcome)
            result.decisions.extend(outcome.decisions)
            if outcome.outcome == "recorded" and outcome.uln is not None:
                qualification = _registered_on(message)
                if qualification is not None:
                    registered.setdefault(qualification, set()).add(outcome.uln)
        progress(len(pending))
        pending.clear()

    def reviews_until(day: date) -> list[tuple[date, tuple[str, ...]]]:
        """The scheduler's reviews due from the clock's day up to ``day``."""
        start = clock.date() if clock is not None else None
        return [
            (review_day, qualifications)
            for review_day, qualifications in reviews
            if (start is None or review_day > start) and review_day <= day
        ]

    def review_until(day: date) -> None:
        # Every event before a review is stored first, as the live service would have.
        due = reviews_until(day)
        if due:
            flush()
        for review_day, qualifications in due:
            ulns = sorted({u for q in qualifications for u in registered.get(q, ())})
            if ulns:
                result.decisions.extend(records.review(ulns, review_day))
            result.reviewed_days.append(review_day)

    for line in lines:
        moment = min(_sent_at(line, zone) or clock or end, end)
        if clock is not None and moment < clock:
            moment = clock
        # Each message carries its own moment, so a batch may span days; it is cut only
        # where the scheduler would have reviewed in between (a handful of claim-by days),
        # not at every change of day, which made batches of one or two events.
        if clock is None or moment.date() != clock.date():
            review_until(moment.date())
        clock = moment
        pending.append(Inbound(line, at=moment))
        if len(pending) >= batch_size:
            flush()
    flush()
    review_until(as_of)
    return result


def _claim_by_days(records: LearnerRecords) -> list[tuple[date, tuple[str, ...]]]:
    by_day: dict[date, list[str]] = {}
    for qualification in records.catalogue.qualifications.values():
        by_day.setdefault(qualification.dates.claim_by, []).append(qualification.id)
    return sorted((day, tuple(ids)) for day, ids in by_day.items())


def _sent_at(line: bytes, zone: Any) -> datetime | None:
    """The event's own ``time``, if the line is readable enough to say."""
    try:
        event = orjson.loads(line)
        return datetime.fromisoformat(event["time"]).astimezone(zone)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _registered_on(message: Inbound) -> str | None:
    try:
        event = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("type") != "learner.registered.v1":
        return None
    data = event.get("data")
    qualification = data.get("qualification") if isinstance(data, dict) else None
    return qualification if isinstance(qualification, str) else None


def lines_of(data: bytes) -> list[bytes]:
    """Blank lines carry no event; every other line is one message, bytes as published."""
    return [line for line in data.splitlines() if line.strip()]


def iter_decisions(replayed: Replayed) -> Iterable[Decision]:
    return iter(replayed.decisions)
