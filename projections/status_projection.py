"""Feeds the learner status view from the event store's notification log.

The projection folds the notifications themselves: a ``FactRecorded`` carries the whole
inbound event, a ``DecisionTaken`` the decision, so each learner's ``LearnerRecord`` is
moved on from the page in hand, never reloaded from the store. Records are kept in a
bounded LRU owned by the projection; a learner not in it is read from the store once, up
to just before its first notification in the page. Each learner touched by a page is
evaluated once, and its rows written with the page's last position in one transaction,
so the view is exactly as of its position.

A rebuild is the same fold from zero with big pages and a big cache (each learner is
evaluated once per page it appears in, and the loadgen/ingest order keeps a learner's
events close together); only its view writes are cheaper (see ``StatusView.apply``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pydantic_core
from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from domain.learner import Learner, LearnerRecord, decode_fact, registration_views
from projections.documents import registration_document
from projections.follower import Follower
from projections.status_view import PositionConflictError, StatusView

if TYPE_CHECKING:
    from services.records import LearnerRecords

__all__ = ["DEFAULT_CACHE", "Progress", "StatusProjection"]

# Called after each page with (position reached, last position in the store).
Progress = Callable[[int, int], None]

_LEARNER_TOPIC = get_topic(Learner) + "."
_OPENED = _LEARNER_TOPIC + "Opened"
_RECORDED = _LEARNER_TOPIC + "FactRecorded"
# Only facts move a registration's status (domain.learner.status reads the facts alone):
# DecisionTaken and FactRefused change ``decided`` and ``seen``, which are the writer's
# bookkeeping, so they are not even decoded here (a decision's state is ~2.4 KB of JSON).

# Learners whose records the running projection keeps between pages (~2 KB each).
DEFAULT_CACHE = 20_000
# The rebuild command's page: big pages keep a learner's events mostly in one page.
REBUILD_BATCH = 20_000
REBUILD_CACHE = 200_000


class StatusProjection(Follower):
    def __init__(
        self,
        records: LearnerRecords,
        view: StatusView,
        *,
        name: str = "status-projection",
        batch: int = 500,
        poll: float = 5.0,
        cache: int = DEFAULT_CACHE,
    ) -> None:
        super().__init__(name=name, poll=poll)
        self.records = records
        self.view = view
        self.batch = batch
        self.cache_size = cache
        # Every cached record holds exactly the learner's events up to ``_cache_at``.
        self._cache: OrderedDict[UUID, LearnerRecord] = OrderedDict()
        self._cache_at = 0
        mapper = records.mapper
        # The stored state is plain JSON unless the store compresses or encrypts it.
        self._plain = mapper.cipher is None and mapper.compressor is None

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

    def project_page(
        self, after: int, *, limit: int | None = None, durable: bool = True
    ) -> int | None:
        """Project the notifications after ``after`` (one page); the position reached."""
        notifications = self.records.recorder.select_notifications(
            start=after, limit=limit or self.batch, inclusive_of_start=False
        )
        if not notifications:
            return None
        if after != self._cache_at:
            self._cache.clear()  # the position moved under us (a rebuild): start afresh
        touched: dict[UUID, LearnerRecord] = {}
        try:
            for n in notifications:
                if n.topic.startswith(_LEARNER_TOPIC):
                    learner_id = _uuid(n.originator_id)
                    record = touched.get(learner_id)
                    if record is None:
                        record = self._record(learner_id, n.originator_version)
                    touched[learner_id] = self._fold(record, n.topic, n.state)
            today = self.records.clock.now().date()
            rows = dict(self._documents(record, today) for record in touched.values())
            reached = notifications[-1].id
            self.view.apply(after, reached, rows, durable=durable)
        except BaseException:
            self._cache.clear()  # touched records may hold events never written
            self._cache_at = 0
            raise
        self._keep(touched)
        self._cache_at = reached
        return reached

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empty the view and project the whole log again (synchronous: a command's job)."""
        self.view.reset()
        self._cache.clear()
        self._cache_at = 0
        size, self.cache_size = self.cache_size, max(self.cache_size, REBUILD_CACHE)
        try:
            position, last = 0, self.records.recorder.max_notification_id() or 0
            batch = self.batch
            # Not fsynced page by page: a rebuild interrupted by a crash is simply run again.
            while (reached := self.project_page(position, limit=batch, durable=False)) is not None:
                position = reached
                if progress is not None:
                    progress(position, max(last, position))
            self.view.checkpoint()
        finally:
            self.cache_size = size
            self._trim()
        return position

    def _record(self, learner_id: UUID, version: int) -> LearnerRecord:
        """The learner's record just before its event ``version``: cached, else from the store."""
        cached = self._cache.pop(learner_id, None)
        if cached is not None:
            return cached
        record = LearnerRecord("")
        if version > 1:
            stored = self.records.recorder.select_events(learner_id, lte=version - 1)
            for event in stored:
                record = self._fold(record, event.topic, event.state)
        return record

    def _fold(self, record: LearnerRecord, topic: str, state: bytes) -> LearnerRecord:
        if topic == _RECORDED:
            inbound = self._decode(state)["inbound"]
            record.add(decode_fact(inbound))
        elif topic == _OPENED:
            return LearnerRecord(self._decode(state)["uln"])
        return record

    def _decode(self, state: bytes) -> Mapping[str, Any]:
        if self._plain:
            # The attributes read here are JSON values (no custom types to transcode), and
            # parsing the JSON is several times cheaper than the mapper's event objects
            # (pydantic_core's parser: ~3 µs for a fact, json.loads ~7 µs).
            decoded: Mapping[str, Any] = pydantic_core.from_json(state)
            return decoded
        return dict(self.records.mapper.transcoder.decode(self._unwrap(state)))

    def _unwrap(self, state: bytes) -> bytes:
        mapper = self.records.mapper
        if mapper.cipher is not None:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor is not None:
            state = mapper.compressor.decompress(state)
        return state

    def _documents(self, record: LearnerRecord, today: date) -> tuple[str, list[dict[str, Any]]]:
        catalogue = self.records.catalogue
        views = registration_views(record, catalogue, today)
        return record.uln, [registration_document(v, catalogue) for v in views]

    def _keep(self, touched: Mapping[UUID, LearnerRecord]) -> None:
        if self.cache_size <= 0:
            return
        self._cache.update(touched)  # popped when touched, so these go in at the young end
        self._trim()

    def _trim(self) -> None:
        cache = self._cache
        while len(cache) > self.cache_size:
            cache.popitem(last=False)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
