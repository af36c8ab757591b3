"""Feeds the learner status view from the event log, through the one fold.

Each page of the log is decoded to typed events (personal data left sealed: a status
never needs it) and folded into each learner's ``LearnerRecord`` with
``LearnerRecord.apply``, the same fold the writer and the auditor use. Records are kept
in a bounded LRU; a learner not in it is read from the store once, up to just before
its first event in the page. Each learner touched by a page is evaluated once, and its
rows written with the page's last position in one transaction, so the view is exactly
as of its position.

A rebuild is the same fold from zero, but every learner is folded to the end of the
log first and evaluated once, and all the rows written in one transaction with that
last position (``StatusView.replace``): the view keeps answering from its old rows
meanwhile, and a running projection notices that its position moved and carries on.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from domain.catalogue import Catalogue
from domain.learner import (
    DECISION_EVENTS,
    FACT_EVENTS,
    LearnerEvent,
    LearnerRecord,
    RegistrationStatus,
    registration_views,
    topic_of,
)
from projections.documents import registration_document
from projections.ports import EventLog
from projections.status_view import Row, StatusView, rows_of

__all__ = ["DEFAULT_CACHE", "REBUILD_BATCH", "Progress", "StatusProjection", "rows_until"]

# Called after each page with (position reached, last position in the store).
Progress = Callable[[int, int], None]

# Learners whose records the running projection keeps between pages (~2 KB each).
DEFAULT_CACHE = 20_000
# The rebuild's page: big pages keep a learner's events mostly in one page.
REBUILD_BATCH = 20_000
# What the view is made of: the facts (a status) and the decisions (whether the window
# is still to be decided expired); a rebuild reads no other topic (refusals), 0.1's
# included.
_VIEW_TOPICS = (
    *(topic_of(cls) for cls in FACT_EVENTS),
    *(topic_of(cls) for cls in DECISION_EVENTS),
    "domain.learner.aggregate:Learner.FactRecorded",
    "domain.learner.aggregate:Learner.DecisionTaken",
)


class StatusProjection:
    name = "status-projection"

    def __init__(
        self,
        log: EventLog,
        view: StatusView,
        catalogue: Catalogue,
        today: Callable[[], date],
        *,
        batch: int = 500,
        cache: int = DEFAULT_CACHE,
    ) -> None:
        self.log = log
        self.view = view
        self.catalogue = catalogue
        self.today = today
        self.batch = batch
        self.cache_size = cache
        # Every cached record holds exactly the learner's events up to ``_cache_at``.
        self._cache: OrderedDict[str, LearnerRecord] = OrderedDict()
        self._cache_at = 0

    def position(self) -> int:
        return self.view.position()

    def project_page(self, after: int, *, limit: int | None = None) -> int | None:
        """Project the entries after ``after`` (one page); the position reached, or None
        when there was nothing after it."""
        entries = self.log.log(after, limit or self.batch)
        if not entries:
            return None
        if after != self._cache_at:
            self._cache.clear()  # the position moved under us (a rebuild): start afresh
        touched: dict[str, LearnerRecord] = {}
        try:
            for entry in entries:
                event = entry.event
                if not isinstance(event, LearnerEvent):
                    continue
                record = touched.get(event.uln)
                if record is None:
                    record = self._record(event.uln, entry.version)
                    touched[event.uln] = record
                record.apply(event)
            today = self.today()
            rows = dict(self._documents(record, today) for record in touched.values())
            reached = entries[-1].position
            self.view.apply(after, reached, rows)
        except BaseException:
            self._cache.clear()  # touched records may hold events never written
            self._cache_at = 0
            raise
        self._keep(touched)
        self._cache_at = reached
        return reached

    def catch_up(self) -> int:
        """Project everything stored so far; the position reached."""
        position = self.position()
        while (reached := self.project_page(position)) is not None:
            position = reached
        return position

    def rebuild(self, progress: Progress | None = None) -> int:
        """Project the whole log again into a fresh set of rows; the position reached
        (the last entry when it started)."""
        last = self.log.last_position()
        rows = rows_until(self.log, self.catalogue, last, self.today(), progress=progress)
        self.view.replace(last, rows)
        self._cache.clear()
        self._cache_at = 0
        return last

    def _record(self, uln: str, version: int) -> LearnerRecord:
        """The learner's record just before its event ``version``: cached, else from the store."""
        cached = self._cache.pop(uln, None)
        if cached is not None:
            return cached
        record = LearnerRecord(uln)
        if version > 1:
            for event in self.log.history_until(uln, version - 1):
                record.apply(event)
        return record

    def _documents(self, record: LearnerRecord, today: date) -> tuple[str, list[dict[str, Any]]]:
        return documents_of(record, self.catalogue, today)

    def _keep(self, touched: Mapping[str, LearnerRecord]) -> None:
        if self.cache_size <= 0:
            return
        self._cache.update(touched)  # popped when touched, so these go in at the young end
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def rows_until(
    log: EventLog,
    catalogue: Catalogue,
    last: int,
    today: date,
    shard: tuple[int, int] = (0, 1),
    progress: Progress | None = None,
) -> list[Row]:
    """The view's rows for the learners of ``shard`` (index, count), from every entry up
    to ``last``: every learner folded first, then each evaluated once. Several
    processes, one shard each, rebuild in parallel (the rebuild command)."""
    records: dict[str, LearnerRecord] = {}
    enabled = gc.isenabled()
    # Nothing the fold makes is cyclic, and the collector's passes over millions of
    # young objects would cost a tenth of the time.
    gc.disable()
    try:
        position = 0
        while position < last:
            reached, entries = log.log_shard(position, REBUILD_BATCH, _VIEW_TOPICS, shard)
            if reached <= position:
                break
            for entry in entries:
                if entry.position > last:
                    break
                event = entry.event
                if isinstance(event, LearnerEvent):
                    record = records.get(event.uln)
                    if record is None:
                        record = records[event.uln] = LearnerRecord(event.uln)
                    record.apply(event)
            position = reached
            if progress is not None:
                progress(min(position, last), last)
        rows: list[Row] = []
        for uln in sorted(records):
            rows.extend(rows_of(*documents_of(records[uln], catalogue, today)))
        return rows
    finally:
        if enabled:
            gc.enable()


def documents_of(
    record: LearnerRecord, catalogue: Catalogue, today: date
) -> tuple[str, list[dict[str, Any]]]:
    """The learner's registration documents as the view keeps them."""
    documents = []
    for view in registration_views(record, catalogue, today):
        document = registration_document(view, catalogue)
        decided = record.decided.get(view.qualification)
        document["expiry_due"] = view.status not in (
            RegistrationStatus.WITHDRAWN,
            RegistrationStatus.CERTIFICATED,
        ) and not (decided is not None and decided.window_expired)
        documents.append(document)
    return record.uln, documents
