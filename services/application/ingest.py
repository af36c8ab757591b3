"""Ingest of one partition by its one owner: in stream order, whatever fails.

The owner takes batches from the partition's feed and stores each with
``LearnerRecords.receive_batch``, together with the stream position it reaches; only
then are the messages acknowledged. What can go wrong, and what happens:

- the store fails (full disk, read-only, down): the same batch is retried in place,
  with a bounded back-off, and nothing behind it is fetched meanwhile; the worker
  reports itself unhealthy until it succeeds. No valid event is refused or parked
  because the store was unwell;
- one message is at fault (the learner code raises on it): the batch is tried again,
  and if it fails on the same message again, that message is parked with every later
  message of its learner (services.application.parking); the other learners go on;
- someone else wrote (a version or position conflict): another replica holds the
  partition, or did while this one was paused. The worker stops, forgetting what it
  held in memory; ownership decides whether to start it again from the stored position;
- the consumer vanished (deleted, a server lost it): the feed is opened again from
  the stored position.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog
from eventsourcing.persistence import PersistenceError, RecordConflictError, Tracking

from contracts.uln import is_valid_uln
from projections.follower import backoff
from services.adapters.store.parked import ParkedTable
from services.adapters.tracing import batch_span, trace_ids, traceparents
from services.application.group_commit import GroupCommit
from services.application.parking import Parking
from services.application.records import Inbound, LearnerRecords, MessageFault, Outcome, Part

__all__ = ["Feed", "IngestStats", "PartitionLostError", "PartitionWorker", "Writer"]

log = structlog.get_logger(__name__)

T = TypeVar("T")
# Runs a function in the process's one writer thread (the store is synchronous).
Writer = Callable[..., Awaitable[Any]]

# A message failing this many times in a row is parked.
FAULTS_BEFORE_PARKING = 2
# How often the owner looks for redrive requests.
REDRIVE_CHECK_S = 2.0


class Delivery(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def seq(self) -> int: ...


class Feed(Protocol):
    partition: int
    stream: str

    @property
    def tracking_name(self) -> str: ...
    async def open(self) -> None: ...
    async def fetch(self, limit: int, timeout: float) -> Sequence[Any]: ...
    async def ack(self, deliveries: Sequence[Any]) -> None: ...
    async def keep_alive(self, deliveries: Sequence[Any]) -> None: ...
    async def close(self) -> None: ...


class PartitionLostError(RuntimeError):
    """Another writer stored what this worker was about to: it no longer owns the partition."""


def is_write_conflict(error: BaseException) -> bool:
    """Whether an integrity error says someone else wrote the same version or position
    (not, say, a constraint or trigger of an unwell store)."""
    text = str(error)
    return any(
        marker in text
        for marker in (
            "UNIQUE constraint failed",
            "duplicate key value",
            "Failed to record tracking",
        )
    )


@dataclass(slots=True)
class IngestStats:
    batches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    store_failures: int = 0
    parked: int = 0
    last_batch_seconds: float = 0.0


class PartitionWorker:
    def __init__(
        self,
        feed: Feed,
        records: LearnerRecords,
        writer: Writer,
        parked: ParkedTable,
        *,
        batch: int = 500,
        fetch_timeout: float = 1.0,
        on_stored: Callable[[], None] = lambda: None,
        on_batch: Callable[[int, Sequence[Outcome], float], None] = lambda *a: None,
        belongs: Callable[[str], bool] = lambda uln: True,
        group: GroupCommit | None = None,
    ) -> None:
        self.feed = feed
        self.records = records
        self.writer = writer
        self.parked = parked
        self.batch = batch
        self.fetch_timeout = fetch_timeout
        self.on_stored = on_stored
        self.on_batch = on_batch
        # Whether a learner's events belong in this partition (the server's hash): one
        # published straight to another partition's subject is refused, never applied,
        # so a learner is still written by one owner only.
        self.belongs = belongs
        # Shared by the partitions of one replica: batches waiting together commit together.
        self.group = group
        self.partition = feed.partition
        self.position = 0
        self.stats = IngestStats()
        # Set while the store keeps failing: health reports the partition not ready.
        self.store_failing: str | None = None
        # Bound to its consumer and its position loaded: ingesting (health).
        self.opened = False
        self._parking: Parking | None = None
        self._redrive_checked = 0.0
        self._fresh_feed = False

    async def run(self, stop: asyncio.Event) -> None:
        """Own the partition until ``stop`` is set; the batch in hand is finished first."""
        await self._open()
        try:
            while not stop.is_set():
                await self._maybe_redrive()
                try:
                    deliveries = await self.feed.fetch(self.batch, self.fetch_timeout)
                except Exception as error:
                    if type(error).__name__ != "FeedLostError":
                        raise
                    log.warning("partition.feed_lost", partition=self.partition, error=str(error))
                    await self._open()
                    continue
                if deliveries:
                    await self._handle(deliveries, stop)
        finally:
            await self.feed.close()

    async def _open(self) -> None:
        await self.feed.open()
        self._fresh_feed = True
        self.position = await self.writer(self.records.store.position, self.feed.tracking_name)
        self._parking = await self.writer(Parking, self.parked, self.feed.stream)
        self.opened = True
        log.info(
            "partition.owned",
            partition=self.partition,
            position=self.position,
            parked_learners=len(self._parking.parked),
        )

    async def _handle(self, deliveries: Sequence[Any], stop: asyncio.Event) -> None:
        if self._skips_a_message(deliveries):
            log.warning(
                "partition.delivery_gap",
                partition=self.partition,
                position=self.position,
                first=deliveries[0].seq,
                last=deliveries[-1].seq,
            )
            await self._open()  # from the first message still in the work queue
            return
        stored = [d for d in deliveries if d.seq <= self.position]
        if stored:
            # Stored before (a crash between commit and ack): only the ack was missing.
            await self.feed.ack(stored)
        fresh = [d for d in deliveries if d.seq > self.position]
        if not fresh:
            return
        inbound = [
            Inbound(d.data, d.subject, d.headers, d.seq, misplaced=not self._placed(d.subject))
            for d in fresh
        ]
        tracking = Tracking(self.feed.tracking_name, fresh[-1].seq)
        parents = traceparents(fresh)
        traced = {"trace_ids": ids} if (ids := trace_ids(parents)) else {}
        # The batch's log lines (here and in the writer thread) name the traces it carries.
        with (
            structlog.contextvars.bound_contextvars(**traced),
            batch_span(
                "ingest.batch",
                parents,
                **{
                    "messaging.system": "nats",
                    "messaging.destination.name": self.feed.stream,
                    "messaging.batch.message_count": len(fresh),
                },
            ),
        ):
            started = time.perf_counter()
            outcomes = await self._store(inbound, tracking, fresh, stop)
            if outcomes is None:
                return  # stopping with the batch unstored: it stays unacked for the next owner
            elapsed = time.perf_counter() - started
            self.position = fresh[-1].seq
            await self.feed.ack(fresh)
            self._count(outcomes, elapsed)
        self.on_stored()
        self.on_batch(self.partition, outcomes, elapsed)

    def _skips_a_message(self, deliveries: Sequence[Any]) -> bool:
        """Whether these jump over a message after the stored position that was never
        handed out: lost on the way when the consumer's leader changed. JetStream would
        redeliver it only after ack_wait, behind later messages of its learner, and the
        stored position would then pass it for stored. A feed just opened starts at the
        first message left in the work queue, so a jump in its first batch is real:
        those messages are gone (expired, or deleted by hand)."""
        if self._fresh_feed:
            self._fresh_feed = False
            return False
        expected = self.position + 1
        for delivery in deliveries:
            if delivery.seq <= self.position:
                continue
            if delivery.seq != expected:
                return True
            expected += 1
        return False

    async def _store(
        self,
        inbound: list[Inbound],
        tracking: Tracking,
        deliveries: Sequence[Any],
        stop: asyncio.Event,
    ) -> list[Outcome] | None:
        """Store the batch, retrying in place until it is stored (None: asked to stop)."""
        faults: dict[int, str] = {}
        tries: Counter[int] = Counter()
        failures = 0
        while True:
            try:
                outcomes: list[Outcome] = (
                    await self.group.store(Part(inbound, tracking, self._parking, faults))
                    if self.group is not None
                    else await self.writer(self._receive, inbound, tracking, faults)
                )
            except MessageFault as fault:
                self._note_fault(fault, inbound, tries, faults)
                continue
            except (PersistenceError, OSError) as error:
                if isinstance(error, RecordConflictError) and is_write_conflict(error):
                    raise PartitionLostError(
                        f"partition {self.partition}: another writer stored first ({error})"
                    ) from error
                failures += 1
                if not await self._wait_out(error, failures, deliveries, stop):
                    return None
                continue
            if self.store_failing is not None:
                log.info("partition.store_recovered", partition=self.partition, failures=failures)
                self.store_failing = None
            self.stats.parked += len(faults)
            return outcomes

    def _note_fault(
        self,
        fault: MessageFault,
        inbound: Sequence[Inbound],
        tries: Counter[int],
        faults: dict[int, str],
    ) -> None:
        seq = inbound[fault.index].seq
        assert seq is not None
        tries[seq] += 1
        if tries[seq] < FAULTS_BEFORE_PARKING:
            return
        faults[seq] = f"{type(fault.cause).__name__}: {fault.cause}"[:500]
        log.error(
            "partition.message_parked",
            partition=self.partition,
            seq=seq,
            uln=fault.uln,
            error=repr(fault.cause),
        )

    async def _wait_out(
        self, error: BaseException, failures: int, deliveries: Sequence[Any], stop: asyncio.Event
    ) -> bool:
        """The store failed: report it, keep the batch alive, wait; False if stopping."""
        self.stats.store_failures += 1
        self.store_failing = repr(error)
        delay = backoff(failures)
        log.error(
            "partition.store_failed",
            partition=self.partition,
            failures=failures,
            retry_in=delay,
            error=repr(error),
        )
        await self.feed.keep_alive(deliveries)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            return True
        return False

    def _placed(self, subject: str) -> bool:
        token = subject.rsplit(".", 1)[-1]
        return not is_valid_uln(token) or self.belongs(token)

    def _receive(
        self, inbound: list[Inbound], tracking: Tracking, faults: dict[int, str]
    ) -> list[Outcome]:
        return self.records.receive_batch(
            inbound, tracking=tracking, parking=self._parking, faults=faults
        )

    async def _maybe_redrive(self) -> None:
        now = time.monotonic()
        if now - self._redrive_checked < REDRIVE_CHECK_S:
            return
        self._redrive_checked = now
        requested = await self.writer(self.parked.redrive_requested, self.feed.stream)
        for uln in requested:
            await self.redrive(uln)

    async def redrive(self, uln: str) -> list[Outcome]:
        """Apply the learner's parked messages again, in order; those failing again (and
        every later one) are parked afresh."""
        assert self._parking is not None
        messages = [
            m
            for m in await self.writer(self.parked.of_learner, uln)
            if m.stream == self.feed.stream
        ]
        if not messages:
            return []
        inbound = [
            Inbound(m.data or b"", m.subject, m.headers, m.seq)
            for m in messages
            if m.data is not None
        ]
        self._parking.release(uln, [m.seq for m in messages])
        faults: dict[int, str] = {}
        tries: Counter[int] = Counter()
        while True:
            try:
                outcomes: list[Outcome] = await self.writer(
                    self.records.receive_batch, inbound, parking=self._parking, faults=faults
                )
                break
            except MessageFault as fault:
                self._parking.release(uln, [m.seq for m in messages])
                self._note_fault(fault, inbound, tries, faults)
        log.info(
            "partition.redriven",
            partition=self.partition,
            uln=uln,
            messages=len(messages),
            parked_again=len(faults),
        )
        self.on_stored()
        return outcomes

    def _count(self, outcomes: Sequence[Outcome], elapsed: float) -> None:
        stats = self.stats
        stats.batches += 1
        stats.last_batch_seconds = elapsed
        for outcome in outcomes:
            stats.outcomes[outcome.outcome] += 1
            if outcome.reason is not None:
                stats.reasons[outcome.reason] += 1
            for decision in outcome.decisions:
                stats.decisions[decision.kind.value] += 1
        log.info(
            "ingest.stored",
            partition=self.partition,
            size=len(outcomes),
            position=self.position,
            seconds=round(elapsed, 4),
            **Counter(o.outcome for o in outcomes),
        )
