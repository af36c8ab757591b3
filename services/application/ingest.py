"""The ingest handler: a fetched batch of inbound messages into one store transaction.

``BatchConsumer`` acknowledges the batch only after this returns, i.e. after the
facts, the refusals and the decisions they led to are committed together. Refused
events are not failures: their ``event.rejected.v1`` decisions are stored like any
other, and the relay publishes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from contracts.uln import is_valid_uln
from services.adapters.nats.jetstream import InboundMessage

if TYPE_CHECKING:
    from services.application.records import LearnerRecords

__all__ = ["RecordsIngest", "inbound_route"]

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


def inbound_route(raw: bytes) -> tuple[str, str]:
    """Where a publisher sends ``raw`` and the ``Nats-Msg-Id`` it gives it.

    ``records.in.<ULN>`` keeps one learner's events in order (unreadable bytes go to
    ``records.in.unknown``; the service refuses them). The id is a digest of the bytes, so
    a publisher's retry within the duplicate window is dropped by JetStream, while the
    same CloudEvent id with other content still reaches the service, which refuses it as
    ``conflicting_duplicate`` instead of it vanishing silently.
    """
    try:
        event = json.loads(raw)
    except ValueError:
        event = None
    subject = event.get("subject") if isinstance(event, dict) else None
    uln = subject if isinstance(subject, str) and is_valid_uln(subject) else "unknown"
    return f"records.in.{uln}", "sha256:" + hashlib.sha256(raw).hexdigest()
