"""Time moves on its own: decisions that only the calendar calls for.

When a registration's claim-by date passes without a certificate, ``window_expired``
(and a unit certificate where units were achieved) is due even if no event arrives. The
scheduler asks the status view which learners have an open registration past its
claim-by date and has the application review them, as of the start of the day: on
start, and whenever the clock's date changes (daily in production, whenever a test
moves its clock). Each replica reviews only the learners of the partitions it owns,
in its one writer, so a learner still has exactly one writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

import structlog

from projections.follower import first_of
from projections.status_view import StatusView
from services.application.ingest import Writer
from services.application.records import LearnerRecords

__all__ = ["ExpiryScheduler"]

log = structlog.get_logger(__name__)


class ExpiryScheduler:
    def __init__(
        self,
        records: LearnerRecords,
        view: StatusView,
        writer: Writer,
        *,
        owns: Callable[[str], bool] = lambda uln: True,
        on_decided: Callable[[], None] = lambda: None,
        tick: float = 60.0,
        chunk: int = 200,
    ) -> None:
        self.records = records
        self.view = view
        self.writer = writer
        self.owns = owns
        self.on_decided = on_decided
        self.tick = tick
        self.chunk = chunk
        self.reviewed_on: date | None = None
        self.decisions = 0
        self._reviewed = asyncio.Condition()

    async def review_due(self) -> int:
        """Review every learner due as of the clock's today; the decisions taken."""
        today = self.records.clock.now().date()
        taken, reviewed, after = 0, 0, ""
        while due := await asyncio.to_thread(
            self.view.due_for_review, today, after=after, limit=self.chunk
        ):
            after = due[-1]
            ulns = [uln for uln in due if self.owns(uln)]
            if not ulns:
                continue
            # One transaction per chunk: a learner reviewed twice (the view lagging behind
            # the decisions) is harmless, as review only takes decisions not yet taken.
            decisions = await self.writer(self.records.review, ulns, today)
            taken += len(decisions)
            reviewed += len(ulns)
            if decisions:
                self.on_decided()
        self.decisions += taken
        log.info("scheduler.reviewed", day=today.isoformat(), learners=reviewed, decisions=taken)
        async with self._reviewed:
            self.reviewed_on = today
            self._reviewed.notify_all()
        return taken

    async def wait_reviewed(self, day: date, timeout: float = 10.0) -> None:
        """Return once a review as of ``day`` (or later) has finished."""
        async with asyncio.timeout(timeout), self._reviewed:
            await self._reviewed.wait_for(
                lambda: self.reviewed_on is not None and self.reviewed_on >= day
            )

    async def run(self, stop: asyncio.Event) -> None:
        log.info("scheduler.started", tick=self.tick)
        while not stop.is_set():
            if self.records.clock.now().date() != self.reviewed_on:
                try:
                    await self.review_due()
                except Exception:
                    # The date stays unreviewed, so the next tick tries again.
                    log.exception("scheduler.review_failed")
            await first_of(stop, timeout=self.tick)
        log.info("scheduler.stopped")
