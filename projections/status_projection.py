"""Feeds the learner status view from the event store's notification log.

A page of notifications names the learners it touched; each is loaded once and its
registrations' statuses written, with the page's last position, in one transaction.
The learner is loaded as it is now, which may be ahead of the page: the view is then
briefly ahead of its position, and replaying those notifications rewrites the same rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from domain.learner import Learner, registration_views
from projections.documents import registration_document
from projections.follower import Follower
from projections.status_view import PositionConflictError, StatusView

if TYPE_CHECKING:
    from services.records import LearnerRecords

__all__ = ["Progress", "StatusProjection"]

# Called after each page with (position reached, last position in the store).
Progress = Callable[[int, int], None]

_LEARNER_TOPIC = get_topic(Learner) + "."


class StatusProjection(Follower):
    def __init__(
        self,
        records: LearnerRecords,
        view: StatusView,
        *,
        name: str = "status-projection",
        batch: int = 500,
        poll: float = 5.0,
    ) -> None:
        super().__init__(name=name, poll=poll)
        self.records = records
        self.view = view
        self.batch = batch

    def load_position(self) -> int:
        return self.view.position()

    async def step(self) -> bool:
        try:
            reached = await asyncio.to_thread(self.project_page, self.position)
        except PositionConflictError:
            self._loaded = False  # a rebuild reset the view: start again from its position
            raise
        if reached is None:
            return False
        await self.advance(reached)
        return True

    def is_transient(self, error: Exception) -> bool:
        return isinstance(error, PositionConflictError | PersistenceError)

    def project_page(self, after: int) -> int | None:
        """Project the notifications after ``after`` (one page); the position reached."""
        notifications = self.records.recorder.select_notifications(
            start=after, limit=self.batch, inclusive_of_start=False
        )
        if not notifications:
            return None
        learner_ids = {
            UUID(str(n.originator_id)) for n in notifications if n.topic.startswith(_LEARNER_TOPIC)
        }
        today = self.records.clock.now().date()
        rows = dict(self._documents(learner_id, today) for learner_id in learner_ids)
        reached = notifications[-1].id
        self.view.apply(after, reached, rows)
        return reached

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empty the view and project the whole log again (synchronous: a command's job)."""
        self.view.reset()
        position, last = 0, self.records.recorder.max_notification_id() or 0
        while (reached := self.project_page(position)) is not None:
            position = reached
            if progress is not None:
                progress(position, max(last, position))
        return position

    def _documents(self, learner_id: UUID, today: date) -> tuple[str, list[dict[str, Any]]]:
        learner: Learner = self.records.repository.get(learner_id)
        catalogue = self.records.catalogue
        views = registration_views(learner.record, catalogue, today)
        return learner.uln, [registration_document(v, catalogue) for v in views]
