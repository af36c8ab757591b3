"""One partition's ingest against a real nats-server and a real store: order, whatever fails.

The end state is compared with an offline replay of the same events (the same bytes in
the same order, through the application with no broker and no fault): every learner's
stored history, event by event, and every decision, on ids and contents.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import Tracking
from nats.js import JetStreamContext

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from domain.learner import learner as learner_module
from services.adapters.catalogue_files import load_catalogue
from services.adapters.nats.partition_feed import PartitionFeed
from services.adapters.nats.streams import Streams, declare, partition_of
from services.adapters.store.parked import ParkedTable
from services.application.clock import FixedClock
from services.application.group_commit import GroupCommit
from services.application.ingest import PartitionWorker
from services.application.records import (
    Inbound,
    LearnerRecords,
    NotCombinableError,
    Part,
)
from services.entrypoints.wiring import open_records

pytestmark = pytest.mark.nats

TODAY = date(2025, 1, 15)
STREAMS = Streams()
OCR_L3 = "OCR-L3-DIP-CS"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def learners_of_partition(partition: int, count: int) -> list[str]:
    found, n = [], 1
    while len(found) < count:
        if partition_of(make_uln(n), STREAMS.partitions) == partition:
            found.append(make_uln(n))
        n += 1
    return found


def histories(catalogue: Catalogue, ulns: list[str]) -> list[bytes]:
    """Interleaved histories: every learner registers, then each takes a unit in turn."""
    events = EventFactory()
    qualification = catalogue.qualification(OCR_L3)
    units = completing_units(qualification)
    out = [events.registered(uln, OCR_L3, date(2016, 1, 4)) for uln in ulns]
    for k, urn in enumerate(units):
        out += [events.achieved(uln, urn, date(2016, 2, 1 + k)) for uln in ulns]
    return out


@pytest.fixture
async def js_streams(js: JetStreamContext) -> JetStreamContext:
    await declare(js, STREAMS)
    return js


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "records.sqlite"


@pytest.fixture
def records(store_path: Path, catalogue: Catalogue) -> Iterator[LearnerRecords]:
    app = open_records(str(store_path), catalogue, FixedClock(TODAY))
    yield app
    app.close()


def offline(tmp_path: Path, catalogue: Catalogue, lines: list[bytes]) -> LearnerRecords:
    app = open_records(str(tmp_path / "offline.sqlite"), catalogue, FixedClock(TODAY))
    app.receive_batch(lines)
    return app


def decisions_of(records: LearnerRecords) -> dict[str, list[tuple[str, Any]]]:
    """Every stored decision's id and published content, per learner in the order taken
    (a batch stores learner by learner, so only each learner's own order is promised)."""
    from services.application.relay import DECISION_TOPICS, _decode

    out: dict[str, list[tuple[str, Any]]] = {}
    for n in records.store.raw_log(0, 100_000, DECISION_TOPICS):
        decision = _decode(n.topic, n.state)
        assert decision is not None
        learner = decision.subject.rsplit(".", 1)[-1]
        out.setdefault(learner, []).append((decision.id, orjson.loads(decision.cloudevent)["data"]))
    return out


def histories_of(records: LearnerRecords, ulns: list[str]) -> dict[str, list[Any]]:
    return {uln: [type(e).__name__ for e in records.history(uln)] for uln in ulns}


def evidence_order(records: LearnerRecords, uln: str) -> list[str]:
    return [e.fact.evidence.id for e in records.history(uln) if hasattr(e, "fact")]


# The store refuses every write, as a full or read-only disk would.
OUTAGE = (
    "CREATE TRIGGER outage BEFORE INSERT ON stored_events "
    "BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END"
)


def poison_second_event(
    monkeypatch: pytest.MonkeyPatch, lines: list[bytes], ulns: list[str], poisoned: str
) -> Callable[[Any], Any]:
    """A bug in the learner code that bites ``poisoned``'s second event only; the real
    function, to put back once the bug is fixed."""
    poison_id = next(
        orjson.loads(line)["id"]
        for line in lines[len(ulns) :]
        if orjson.loads(line)["subject"] == poisoned
    )
    real_fact_of: Callable[[Any], Any] = learner_module.fact_of

    def buggy(event: Any) -> Any:
        if event.id == poison_id:
            raise RuntimeError("a bug in the learner code")
        return real_fact_of(event)

    monkeypatch.setattr(learner_module, "fact_of", buggy)
    return real_fact_of


class Running:
    """A PartitionWorker in a task, with its one writer thread, until stopped."""

    def __init__(self, worker: PartitionWorker, executor: ThreadPoolExecutor) -> None:
        self.worker = worker
        self.executor = executor
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(worker.run(self.stop))

    async def until(self, done: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                if self.task.done():
                    self.task.result()
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 20)
        self.executor.shutdown()


@pytest.fixture
async def start(
    js_streams: JetStreamContext, records: LearnerRecords
) -> AsyncIterator[Callable[..., Running]]:
    started: list[Running] = []

    def run(partition: int, **options: Any) -> Running:
        executor = ThreadPoolExecutor(max_workers=1)

        async def write(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))

        parked = ParkedTable(records.store.recorder, records.store.codec.sealer)
        feed = PartitionFeed(js_streams, STREAMS, partition)
        worker = PartitionWorker(feed, records, write, parked, fetch_timeout=0.2, **options)
        running = Running(worker, executor)
        started.append(running)
        return running

    yield run
    for running in started:
        if not running.task.done():
            await running.close()


async def publish(js: JetStreamContext, lines: list[bytes]) -> int:
    last = 0
    for line in lines:
        uln = orjson.loads(line)["subject"]
        last = (await js.publish(f"records.in.{uln}", line)).seq
    return last


async def test_a_partition_is_stored_in_stream_order_and_equals_an_offline_replay(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    start: Callable[..., Running],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    ulns = learners_of_partition(3, 6)
    lines = histories(catalogue, ulns)
    last = await publish(js_streams, lines)
    running = start(3, batch=7)

    await running.until(lambda: running.worker.position >= last)
    await running.close()

    expected = offline(tmp_path, catalogue, lines)
    assert histories_of(records, ulns) == histories_of(expected, ulns)
    assert decisions_of(records) == decisions_of(expected) != []
    for uln in ulns:
        assert evidence_order(records, uln) == evidence_order(expected, uln)
    # Acknowledged, so deleted from the work queue: no date of birth waits on the broker.
    assert (await js_streams.stream_info("RECORDS_IN_3")).state.messages == 0


async def test_a_store_outage_is_waited_out_in_place_and_nothing_overtakes(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    store_path: Path,
    start: Callable[..., Running],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    ulns = learners_of_partition(5, 4)
    lines = histories(catalogue, ulns)
    with sqlite3.connect(store_path) as db:
        db.execute(OUTAGE)
    last = await publish(js_streams, lines)
    running = start(5, batch=5)
    await running.until(lambda: running.worker.stats.store_failures >= 2)
    assert running.worker.store_failing is not None
    assert running.worker.position == 0  # nothing behind the failing batch was stored
    with sqlite3.connect(store_path) as db:
        db.execute("DROP TRIGGER outage")

    await running.until(lambda: running.worker.position >= last, timeout=40)
    await running.close()

    assert running.worker.store_failing is None
    expected = offline(tmp_path, catalogue, lines)
    assert histories_of(records, ulns) == histories_of(expected, ulns)
    assert decisions_of(records) == decisions_of(expected)
    assert running.worker.stats.outcomes["rejected"] == 0  # no valid event refused


async def test_a_message_at_fault_is_parked_with_its_learners_later_messages(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    start: Callable[..., Running],
    catalogue: Catalogue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ulns = learners_of_partition(1, 3)
    lines = histories(catalogue, ulns)
    poisoned = ulns[1]
    expected = offline(tmp_path, catalogue, lines)
    real_fact_of = poison_second_event(monkeypatch, lines, ulns, poisoned)
    last = await publish(js_streams, lines)
    running = start(1, batch=4)
    await running.until(lambda: running.worker.position >= last)

    # The others went on; the poisoned learner stopped at the message at fault.
    for uln in ulns:
        if uln != poisoned:
            assert evidence_order(records, uln) == evidence_order(expected, uln)
    assert evidence_order(records, poisoned) == evidence_order(expected, poisoned)[:1]
    parked = running.worker.parked.of_learner(poisoned)
    later = [orjson.loads(x)["id"] for x in lines if orjson.loads(x)["subject"] == poisoned][1:]
    assert [orjson.loads(m.data)["id"] for m in parked] == later  # in order, every one
    assert parked[0].reason.startswith("RuntimeError")

    # The bug is fixed and the learner redriven (the command an operator runs): everything
    # in order, as if nothing happened.
    monkeypatch.setattr(learner_module, "fact_of", real_fact_of)
    from services.entrypoints.cli import main

    store = str(records.store.recorder.datastore.pool.db_name)
    argv = ["redrive", poisoned, "--store", store, "--wait", "20", "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    assert not running.worker.parked.of_learner(poisoned)
    await running.close()
    assert evidence_order(records, poisoned) == evidence_order(expected, poisoned)
    assert decisions_of(records) == decisions_of(expected)


async def test_a_new_owner_starts_from_the_stored_position_not_from_acks(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    start: Callable[..., Running],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    ulns = learners_of_partition(6, 3)
    lines = histories(catalogue, ulns)
    half = len(lines) // 2
    first_last = await publish(js_streams, lines[:half])
    first = start(6, batch=3)
    await first.until(lambda: first.worker.position >= first_last)
    await first.close()
    # A crash between commit and ack: the messages come back, already stored.
    last = await publish(js_streams, lines[half:])
    second = start(6, batch=5)
    await second.until(lambda: second.worker.position >= last)
    await second.close()

    expected = offline(tmp_path, catalogue, lines)
    assert histories_of(records, ulns) == histories_of(expected, ulns)
    assert decisions_of(records) == decisions_of(expected)
    assert second.worker.stats.outcomes["duplicate"] == 0


async def test_a_deleted_consumer_is_recreated_and_ingest_goes_on(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    start: Callable[..., Running],
    catalogue: Catalogue,
) -> None:
    ulns = learners_of_partition(2, 2)
    lines = histories(catalogue, ulns)
    first = await publish(js_streams, lines[:2])
    running = start(2)
    await running.until(lambda: running.worker.position >= first)
    await js_streams.delete_consumer("RECORDS_IN_2", "ingest-2")
    last = await publish(js_streams, lines[2:])
    await running.until(lambda: running.worker.position >= last)
    await running.close()
    assert len(records.history(ulns[0])) > 2


async def test_a_lost_ack_is_made_good_when_the_message_comes_back(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    catalogue: Catalogue,
) -> None:
    ulns = learners_of_partition(4, 2)
    lines = histories(catalogue, ulns)
    # A short ack_wait, so that JetStream redelivers within the test.
    feed = PartitionFeed(js_streams, Streams(consumer_ack_wait=1.0), 4)
    real_ack = feed.ack
    lost: list[Any] = []

    async def ack_lost_once(deliveries: Any) -> None:
        if not lost:  # the connection dropped between the commit and the ack
            lost.extend(deliveries)
            return
        await real_ack(deliveries)

    feed.ack = ack_lost_once  # type: ignore[method-assign]
    executor = ThreadPoolExecutor(max_workers=1)

    async def write(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))

    parked = ParkedTable(records.store.recorder, records.store.codec.sealer)
    worker = PartitionWorker(feed, records, write, parked, batch=4, fetch_timeout=0.2)
    running = Running(worker, executor)
    last = await publish(js_streams, lines)

    async def queue_empty() -> bool:
        return (await js_streams.stream_info("RECORDS_IN_4")).state.messages == 0

    await running.until(lambda: worker.position >= last)
    async with asyncio.timeout(20):
        while not await queue_empty():  # the redelivered messages were acked, not dropped
            await asyncio.sleep(0.1)
    await running.close()
    assert lost and worker.stats.outcomes["duplicate"] == 0
    assert len(records.history(ulns[0])) > 2


# A group commit: the partitions of one replica share one writer, and the batches that
# wait for it together are stored in one transaction.


async def publish_to_streams(js: JetStreamContext, lines: list[bytes]) -> dict[str, int]:
    """Publish in order; the last sequence each partition stream reached."""
    last: dict[str, int] = {}
    for line in lines:
        ack = await js.publish(f"records.in.{orjson.loads(line)['subject']}", line)
        last[ack.stream] = ack.seq
    return last


class Replica:
    """Several partitions' workers on one writer thread and one GroupCommit. The writer
    lingers before each call, as a busy one would, so batches wait for it together."""

    def __init__(
        self, js: JetStreamContext, records: LearnerRecords, partitions: list[int], batch: int
    ) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1)

        async def write(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def lingering() -> Any:
                time.sleep(0.02)
                return fn(*args, **kwargs)

            return await asyncio.get_running_loop().run_in_executor(self.executor, lingering)

        self.group = GroupCommit(records, write)
        parked = ParkedTable(records.store.recorder, records.store.codec.sealer)
        self.workers = [
            PartitionWorker(
                PartitionFeed(js, STREAMS, k),
                records,
                write,
                parked,
                batch=batch,
                fetch_timeout=0.2,
                group=self.group,
            )
            for k in partitions
        ]
        self.stop = asyncio.Event()
        self.tasks = [asyncio.create_task(w.run(self.stop)) for w in self.workers]

    async def until(self, done: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                for task in self.tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.02)

    def reached(self, last: dict[str, int]) -> bool:
        return all(w.position >= last.get(w.feed.stream, 0) for w in self.workers)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 20)
        self.executor.shutdown()


GROUP = [0, 2, 5, 7]


@pytest.fixture
async def replica(
    js_streams: JetStreamContext, records: LearnerRecords
) -> AsyncIterator[Callable[..., Replica]]:
    started: list[Replica] = []

    def run(batch: int = 3) -> Replica:
        started.append(Replica(js_streams, records, GROUP, batch))
        return started[-1]

    yield run
    for one in started:
        if not all(t.done() for t in one.tasks):
            await one.close()


def grouped_learners(per_partition: int) -> list[str]:
    by_partition = [learners_of_partition(k, per_partition) for k in GROUP]
    return [uln for ulns in zip(*by_partition, strict=True) for uln in ulns]


async def test_partitions_committed_together_equal_an_offline_replay(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    replica: Callable[..., Replica],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    ulns = grouped_learners(3)
    lines = histories(catalogue, ulns)
    last = await publish_to_streams(js_streams, lines)
    running = replica(batch=3)

    await running.until(lambda: running.reached(last))
    await running.close()

    # Batches of several partitions did share transactions: else this proves nothing.
    assert running.group.commits < running.group.batches
    expected = offline(tmp_path, catalogue, lines)
    assert histories_of(records, ulns) == histories_of(expected, ulns)
    assert decisions_of(records) == decisions_of(expected) != []
    for uln in ulns:
        assert evidence_order(records, uln) == evidence_order(expected, uln)
    for worker in running.workers:
        # Every partition's own position was stored with its events.
        assert records.store.position(worker.feed.tracking_name) == last[worker.feed.stream]
        assert worker.stats.outcomes["rejected"] == 0


async def test_a_message_at_fault_in_a_group_parks_only_its_learner(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    replica: Callable[..., Replica],
    catalogue: Catalogue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ulns = grouped_learners(2)
    lines = histories(catalogue, ulns)
    poisoned = ulns[1]
    expected = offline(tmp_path, catalogue, lines)
    poison_second_event(monkeypatch, lines, ulns, poisoned)
    last = await publish_to_streams(js_streams, lines)
    running = replica(batch=3)
    await running.until(lambda: running.reached(last))
    await running.close()

    for uln in ulns:
        if uln != poisoned:
            assert evidence_order(records, uln) == evidence_order(expected, uln)
    assert evidence_order(records, poisoned) == evidence_order(expected, poisoned)[:1]
    later = [orjson.loads(x)["id"] for x in lines if orjson.loads(x)["subject"] == poisoned][1:]
    parked = running.workers[0].parked.of_learner(poisoned)
    assert [orjson.loads(m.data)["id"] for m in parked] == later


async def test_a_store_outage_under_a_group_commit_is_waited_out_by_every_partition(
    js_streams: JetStreamContext,
    records: LearnerRecords,
    store_path: Path,
    replica: Callable[..., Replica],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    ulns = grouped_learners(2)
    lines = histories(catalogue, ulns)
    with sqlite3.connect(store_path) as db:
        db.execute(OUTAGE)
    last = await publish_to_streams(js_streams, lines)
    running = replica(batch=3)
    await running.until(lambda: all(w.stats.store_failures >= 2 for w in running.workers))
    assert all(w.position == 0 for w in running.workers)
    with sqlite3.connect(store_path) as db:
        db.execute("DROP TRIGGER outage")

    await running.until(lambda: running.reached(last), timeout=60)
    await running.close()

    expected = offline(tmp_path, catalogue, lines)
    assert histories_of(records, ulns) == histories_of(expected, ulns)
    assert decisions_of(records) == decisions_of(expected)
    assert all(w.stats.outcomes["rejected"] == 0 for w in running.workers)


def test_batches_touching_one_learner_are_not_combined_and_store_nothing(
    records: LearnerRecords, catalogue: Catalogue, tmp_path: Path
) -> None:
    ulns = learners_of_partition(0, 2)
    lines = histories(catalogue, ulns)
    half = len(lines) // 2
    # The second part holds a later event of a learner of the first.
    first = Part([Inbound(x) for x in lines[:half]], Tracking("a", 1))
    second = Part([Inbound(x) for x in lines[half:]], Tracking("b", 1))
    with pytest.raises(NotCombinableError):
        records.receive_batches([first, second])
    assert records.store.last_position() == 0
    assert records.store.position("a") == records.store.position("b") == 0

    # Stored one by one, as the group commit then does, they equal an offline replay.
    records.receive_batch(first.inbound, tracking=first.tracking)
    records.receive_batch(second.inbound, tracking=second.tracking)
    expected = offline(tmp_path, catalogue, lines)
    assert histories_of(records, ulns) == histories_of(expected, ulns)
    assert decisions_of(records) == decisions_of(expected)
