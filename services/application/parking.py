"""Parking: a learner whose message is at fault waits, the other learners go on.

As Axon's sequenced dead-letter queue: when one message makes the learner code fail
(a bug, or a decision that would break its contract), it is parked, and so is every
later message of the same learner in its partition, so that none overtakes it. The
others are applied as usual. ``learner-records redrive ULN`` asks for the learner's
parked messages to be applied again, in order, once the cause is fixed
(``services.application.ingest.PartitionWriter.redrive``).

A storage outage is never a message's fault: the batch is retried in place instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.adapters.store.parked import ParkedMessage, ParkedTable
from services.adapters.store.recorders import SideWrite

if TYPE_CHECKING:
    from services.application.records import Inbound

__all__ = ["Parking"]


class Parking:
    """The parked learners of one partition stream, and what a batch parks or un-parks."""

    def __init__(self, table: ParkedTable, stream: str) -> None:
        self.table = table
        self.stream = stream
        self.parked: set[str] = table.learners(stream)
        self._parking: list[ParkedMessage] = []
        self._released: list[tuple[str, int]] = []
        self._newly: set[str] = set()
        self._cleared: set[str] = set()

    def is_parked(self, uln: str) -> bool:
        return (uln in self.parked or uln in self._newly) and uln not in self._cleared

    def park(self, uln: str, message: Inbound, reason: str) -> None:
        assert message.seq is not None and message.subject is not None
        data = message.data if isinstance(message.data, bytes) else message.data.encode()
        self._parking.append(
            ParkedMessage(
                self.stream,
                message.seq,
                uln,
                message.subject,
                data,
                dict(message.headers or {}),
                reason,
                datetime.now(UTC),
            )
        )
        self._newly.add(uln)
        self._cleared.discard(uln)  # a redriven message failed again: the rest wait again

    def release(self, uln: str, seqs: list[int]) -> None:
        """A redrive: these parked messages of ``uln`` are applied in this batch."""
        self._released += [(self.stream, seq) for seq in seqs]
        self._cleared.add(uln)

    def writes(self) -> list[SideWrite]:
        writes = []
        # Released first: a redriven message that fails again is parked afresh.
        if self._released:
            writes.append(self.table.deletes(self._released))
        if self._parking:
            writes.append(self.table.inserts(self._parking))
        return writes

    def commit(self) -> None:
        self.parked = (self.parked - self._cleared) | self._newly
        self.abandon()

    def abandon(self) -> None:
        self._parking, self._released = [], []
        self._newly, self._cleared = set(), set()

    def counts(self) -> Mapping[str, int]:
        return {"learners": len(self.parked)}
