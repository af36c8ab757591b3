"""The ingest handler: a fetched batch of inbound messages into one store transaction.

``BatchConsumer`` acknowledges the batch only after this returns, i.e. after the
facts, the refusals and the decisions they led to are committed together. Refused
events are not failures: their ``event.rejected.v1`` decisions are stored like any
other, and the relay publishes them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from services.jetstream import InboundMessage

if TYPE_CHECKING:
    from services.records import LearnerRecords

__all__ = ["RecordsIngest"]

log = structlog.get_logger(__name__)


class RecordsIngest:
    def __init__(self, records: LearnerRecords, *, on_stored: Callable[[], None]) -> None:
        self.records = records
        self.on_stored = on_stored
        self.outcomes: Counter[str] = Counter()

    async def __call__(self, batch: Sequence[InboundMessage]) -> None:
        # The store is synchronous: its transaction runs in a worker thread, never on the
        # event loop, which keeps heart-beating the batch to the server meanwhile.
        outcomes = await asyncio.to_thread(self.records.receive_batch, [m.data for m in batch])
        self.on_stored()
        counts = Counter(o.outcome for o in outcomes)
        self.outcomes.update(counts)
        decisions = Counter(d.kind.value for o in outcomes for d in o.decisions)
        log.info("ingest.stored", size=len(batch), **counts, decisions=dict(decisions))
        for outcome in outcomes:
            if outcome.outcome == "rejected":
                log.info(
                    "ingest.rejected",
                    uln=outcome.uln,
                    event_id=outcome.event_id,
                    source=outcome.source,
                    reason=outcome.reason,
                    detail=outcome.detail,
                )
