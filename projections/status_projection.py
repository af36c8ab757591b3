"""Feeds the learner status view from the event store's notification log.

The projection folds the notifications themselves: a ``FactRecorded`` carries the whole
inbound event, a ``DecisionTaken`` the decision, so each learner's ``LearnerRecord`` is
moved on from the page in hand, never reloaded from the store. Records are kept in a
bounded LRU owned by the projection; a learner not in it is read from the store once, up
to just before its first notification in the page. Each learner touched by a page is
evaluated once, and its rows written with the page's last position in one transaction,
so the view is exactly as of its position.

A rebuild is the same fold from zero, but every learner is folded to the end of the log
first and evaluated once, and all the rows written in one transaction with that last
position (``StatusView.replace``): the view keeps answering from its old rows meanwhile,
and a running projection notices that its position moved and carries on from there. On
SQLite the rebuild reads the stored events' rows itself (only the topics that can move a
status) and splits the learners between processes, each folding and evaluating its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import multiprocessing
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pydantic_core
from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from domain.learner import Learner, LearnerRecord, decode_fact, registration_views
from projections.documents import registration_document
from projections.follower import Follower
from projections.status_view import PositionConflictError, Row, StatusView, rows_of

if TYPE_CHECKING:
    from services.application.records import LearnerRecords

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
# A rebuild of fewer events than this runs in one process (a child costs ~10 ms to fork).
PARALLEL_FROM = 50_000

# (originator id, topic, state) of a stored event that may move a status.
_Stored = tuple[Any, str, bytes]


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

    def rebuild(self, progress: Progress | None = None, *, workers: int | None = None) -> int:
        """Project the whole log again into a fresh set of rows (synchronous: a command's
        job); the position reached, the last notification when it started.

        ``workers``: processes sharing the learners (default: one per CPU, up to 2, for a
        big SQLite store; always one elsewhere).
        """
        last = self.records.recorder.max_notification_id() or 0
        today = self.records.clock.now().date()
        path = _sqlite_path(self.records)
        if workers is None:
            workers = min(2, os.cpu_count() or 1) if last >= PARALLEL_FROM else 1
        workers = max(1, workers)
        if path is None or "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
        enabled = gc.isenabled()
        # Nothing the fold makes is cyclic, and the collector's passes over millions of
        # young objects would cost a tenth of the time (forked workers inherit this).
        gc.disable()
        children = [self._spawn(path, k, workers, last, today) for k in range(1, workers)]
        finished = False
        try:
            rows = self._rebuild_part(path, 0, workers, last, today, progress)
            # Each part's rows come sorted; the workers' are written as they arrive, in the
            # same transaction. Not fsynced until the end: a rebuild interrupted by a crash
            # is simply run again.
            self.view.replace(last, itertools.chain(rows, *map(_received, children)))
            finished = True
        finally:
            if enabled:
                gc.enable()
            for process, receiving in children:
                receiving.close()
                if not finished:
                    process.terminate()
                process.join()
        self._cache.clear()
        self._cache_at = 0
        return last

    def _spawn(
        self, path: str | None, part: int, parts: int, last: int, today: date
    ) -> tuple[Any, Any]:
        """A forked process folding and evaluating the learners of partition ``part``."""
        receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)

        def work() -> None:
            try:
                rows = self._rebuild_part(path, part, parts, last, today, None)
            except BaseException as error:  # reported to the parent, which raises
                sending.send(("error", repr(error)))
            else:
                sending.send(("ok", rows))
            finally:
                sending.close()

        process = multiprocessing.get_context("fork").Process(target=work, daemon=True)
        process.start()
        sending.close()
        return process, receiving

    def _rebuild_part(
        self,
        path: str | None,
        part: int,
        parts: int,
        last: int,
        today: date,
        progress: Progress | None,
    ) -> list[Row]:
        """Fold every event of partition ``part`` of the learners up to ``last``, then
        evaluate each of them once: their view rows."""
        records: dict[Any, LearnerRecord] = {}
        decode = self._decode
        for reached, page in self._pages(path, part, parts, last):
            for originator_id, topic, state in page:
                if topic == _RECORDED:
                    record = records.get(originator_id)
                    if record is None:
                        record = records[originator_id] = LearnerRecord("")
                    record.add(decode_fact(decode(state)["inbound"]))
                elif topic == _OPENED:
                    records[originator_id] = LearnerRecord(decode(state)["uln"])
            if progress is not None:
                progress(reached, last)
        rows: list[Row] = []
        for record in sorted(records.values(), key=_uln):
            uln, documents = self._documents(record, today)
            rows.extend(rows_of(uln, documents))
        return rows

    def _pages(
        self, path: str | None, part: int, parts: int, last: int
    ) -> Iterator[tuple[int, Sequence[_Stored]]]:
        """The events of partition ``part`` that may move a status, up to ``last``, a page
        (of ``batch`` notification ids) at a time, with the last id each page covers."""
        batch = self.batch
        if path is None:
            position = 0
            while position < last:
                notifications = self.records.recorder.select_notifications(
                    start=position, limit=batch, stop=last, inclusive_of_start=False
                )
                if not notifications:
                    break
                position = notifications[-1].id
                yield (
                    position,
                    [
                        (n.originator_id, n.topic, n.state)
                        for n in notifications
                        if n.topic in (_RECORDED, _OPENED)
                    ],
                )
            return
        # The rows themselves, straight from eventsourcing's SQLite table (the notification
        # id is its rowid): no Notification objects, no UUIDs, and only the two topics the
        # fold reads. A learner's events all share its originator id, so the partition is
        # a function of that id.
        statement = (
            "SELECT originator_id, topic, state FROM stored_events "
            "WHERE rowid > ? AND rowid <= ? AND topic IN (?, ?)"
        )
        if parts > 1:
            statement += " AND unicode(substr(originator_id, -1)) % ? = ?"
        statement += " ORDER BY rowid"
        with contextlib.closing(sqlite3.connect(path)) as db:
            for start in range(0, last, batch):
                end = min(start + batch, last)
                parameters: tuple[Any, ...] = (start, end, _RECORDED, _OPENED)
                if parts > 1:
                    parameters += (parts, part)
                yield end, db.execute(statement, parameters).fetchall()

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


def _sqlite_path(records: LearnerRecords) -> str | None:
    """The SQLite file the store is in, if it is one (not in memory, not PostgreSQL)."""
    datastore = getattr(records.recorder, "datastore", None)
    pool = getattr(datastore, "pool", None)
    name = getattr(pool, "db_name", None)
    if not isinstance(name, str) or not name or getattr(pool, "is_sqlite_memory_mode", True):
        return None
    if name.startswith("file:") or not Path(name).exists():
        return None
    return name


def _uln(record: LearnerRecord) -> str:
    return record.uln


def _received(child: tuple[Any, Any]) -> Iterator[Row]:
    """The rows a worker sends back, once it has them all."""
    _process, receiving = child
    status, value = receiving.recv()
    if status != "ok":
        raise RuntimeError(f"rebuild worker failed: {value}")
    yield from value


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
