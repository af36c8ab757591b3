"""The batched ingest loop against a real nats-server: acks, retries, dead letters, restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import nats.errors
import pytest
from nats.js import JetStreamContext

from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import (
    DEAD_DELIVERIES_HEADER,
    DEAD_REASON_HEADER,
    DEAD_SEQUENCE_HEADER,
    DEAD_STREAM_HEADER,
    DEAD_SUBJECT_HEADER,
    BatchConsumer,
    BatchHandler,
    InboundMessage,
    IngestPolicy,
    StreamsConfig,
    connect,
    declare_ingest_consumer,
    declare_streams,
    publish_once,
)

pytestmark = pytest.mark.nats

# Quick retries so a message exhausts its attempts in well under a second.
FAST = StreamsConfig(
    ingest=IngestPolicy(
        ack_wait=2.0,
        backoff=(),
        max_attempts=3,
        max_deliver=5,
        retry_delays=(0.05,),
        batch_size=10,
        fetch_timeout=0.2,
    )
)
ULNS = [f"100000000{i}" for i in range(10)]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until true; for server-side state nobody notifies us about."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Store:
    """A stand-in for the synchronous event store: records what it durably 'stored'."""

    def __init__(self, fails: Callable[[InboundMessage], bool] = lambda _: False) -> None:
        self.fails = fails
        self.stored: list[InboundMessage] = []
        self.batches: list[int] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, batch: Sequence[InboundMessage]) -> None:
        with self._lock:
            self.threads.add(threading.get_ident())
            self.batches.append(len(batch))
        for message in batch:
            if self.fails(message):
                raise RuntimeError(f"cannot store {message.subject}\nsecond line")
        with self._lock:
            self.stored.extend(batch)


@asynccontextmanager
async def consuming(js: JetStreamContext, handler: BatchHandler) -> AsyncIterator[BatchConsumer]:
    consumer = BatchConsumer(js, FAST, handler)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield consumer
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def publish(js: JetStreamContext, count: int, data: bytes = b"{}") -> None:
    for i in range(count):
        await js.publish(f"records.in.{ULNS[i]}", data)


async def acked_up_to(js: JetStreamContext, seq: int) -> bool:
    info = await js.consumer_info("RECORDS_IN", "ingest")
    return (
        info.ack_floor is not None and info.ack_floor.stream_seq >= seq and not info.num_ack_pending
    )


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    await declare_streams(js, FAST)
    await declare_ingest_consumer(js, FAST)
    return js


async def test_a_batch_is_stored_in_a_thread_and_acked_only_after(
    streams: JetStreamContext,
) -> None:
    js = streams
    await publish(js, 5)
    entered, release = threading.Event(), threading.Event()
    in_hand: list[int] = []

    def store(batch: Sequence[InboundMessage]) -> None:
        in_hand.extend(m.stream_sequence for m in batch)
        entered.set()
        assert release.wait(timeout=10)
        handled.extend(batch)
        threads.add(threading.get_ident())

    handled: list[InboundMessage] = []
    threads: set[int] = set()
    async with consuming(js, store):
        assert await asyncio.to_thread(entered.wait, 10)
        info = await js.consumer_info("RECORDS_IN", "ingest")
        assert info.num_ack_pending == 5
        assert info.ack_floor is not None and info.ack_floor.stream_seq == 0

        release.set()
        await eventually(lambda: acked_up_to(js, 5))

    assert [m.stream_sequence for m in handled] == [1, 2, 3, 4, 5]
    assert [m.subject for m in handled] == [f"records.in.{uln}" for uln in ULNS[:5]]
    assert threading.get_ident() not in threads


async def test_a_failed_batch_is_redelivered(streams: JetStreamContext) -> None:
    js = streams
    await publish(js, 3)
    store = Store(fails=lambda m: m.num_delivered == 1)  # a transient fault on first delivery

    async with consuming(js, store) as consumer:
        await eventually(lambda: acked_up_to(js, 3))

    assert sorted(m.stream_sequence for m in store.stored) == [1, 2, 3]
    assert {m.num_delivered for m in store.stored} == {2}
    assert consumer.totals.retried == 3 and consumer.totals.acked == 3


async def test_a_poison_message_is_dead_lettered_while_others_flow(
    streams: JetStreamContext,
) -> None:
    js = streams
    await publish(js, 2)
    await js.publish(f"records.in.{ULNS[9]}", b"poison", headers={"Nats-Msg-Id": "poison-1"})
    await publish(js, 2)
    store = Store(fails=lambda m: m.data == b"poison")

    async with consuming(js, store) as consumer:
        await eventually(lambda: acked_up_to(js, 5))

    assert sorted(m.stream_sequence for m in store.stored) == [1, 2, 4, 5]
    assert {m.num_delivered for m in store.stored} == {1}  # never held back by the poison
    assert consumer.totals.dead_lettered == 1
    dead = await js.get_last_msg("RECORDS_DEAD", f"records.dead.{ULNS[9]}")
    assert dead.data == b"poison"
    assert dead.headers is not None
    assert dead.headers[DEAD_REASON_HEADER] == (
        f"RuntimeError: cannot store records.in.{ULNS[9]} second line"
    )
    assert dead.headers[DEAD_SUBJECT_HEADER] == f"records.in.{ULNS[9]}"
    assert dead.headers[DEAD_STREAM_HEADER] == "RECORDS_IN"
    assert dead.headers[DEAD_SEQUENCE_HEADER] == "3"
    assert dead.headers[DEAD_DELIVERIES_HEADER] == str(FAST.ingest.max_attempts)
    info = await js.consumer_info("RECORDS_IN", "ingest")
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_slow_batch_is_kept_in_progress_not_redelivered(js: JetStreamContext) -> None:
    slow = StreamsConfig(
        ingest=IngestPolicy(ack_wait=1.0, backoff=(), max_attempts=3, max_deliver=5)
    )
    await declare_streams(js, slow)
    await declare_ingest_consumer(js, slow)
    await publish(js, 2)
    release = threading.Event()

    def store(batch: Sequence[InboundMessage]) -> None:
        assert release.wait(timeout=10)  # a store slower than ack_wait

    sub = await js.pull_subscribe_bind(durable="ingest", stream="RECORDS_IN")
    work = asyncio.create_task(BatchConsumer(js, slow, store).process(await sub.fetch(batch=10)))
    try:
        # Past ack_wait: without the in-progress heartbeats the server would redeliver now.
        await asyncio.sleep(1.3)
        other = await js.pull_subscribe_bind(durable="ingest", stream="RECORDS_IN")
        with pytest.raises(nats.errors.TimeoutError):
            await other.fetch(batch=10, timeout=0.3)
    finally:
        release.set()

    assert (await work).acked == 2
    assert (await js.consumer_info("RECORDS_IN", "ingest")).num_redelivered == 0


async def test_stop_finishes_the_batch_in_hand(streams: JetStreamContext) -> None:
    js = streams
    await publish(js, 4)
    entered, release = threading.Event(), threading.Event()
    in_hand: list[int] = []

    def store(batch: Sequence[InboundMessage]) -> None:
        in_hand.extend(m.stream_sequence for m in batch)
        entered.set()
        assert release.wait(timeout=10)

    stop = asyncio.Event()
    task = asyncio.create_task(BatchConsumer(js, FAST, store).run(stop))
    assert await asyncio.to_thread(entered.wait, 10)
    stop.set()
    await asyncio.sleep(0)
    assert not task.done()

    release.set()
    await asyncio.wait_for(task, timeout=10)

    # However many of the four the first fetch found, all of those were finished and acked.
    assert in_hand and in_hand == list(range(1, len(in_hand) + 1))
    assert await acked_up_to(js, len(in_hand))


async def test_an_async_handler_runs_on_the_loop(streams: JetStreamContext) -> None:
    js = streams
    await publish(js, 3)
    loop_thread = threading.get_ident()
    seen: list[int] = []

    async def store(batch: Sequence[InboundMessage]) -> None:
        assert threading.get_ident() == loop_thread
        seen.extend(m.stream_sequence for m in batch)

    async with consuming(js, store):
        await eventually(lambda: acked_up_to(js, 3))
    assert seen == [1, 2, 3]


async def test_ingest_resumes_after_a_server_restart(nats_server: EmbeddedNatsServer) -> None:
    reconnected = asyncio.Event()

    async def on_reconnected() -> None:
        reconnected.set()

    client = await connect(nats_server.url, reconnect_time_wait=0.05, reconnected_cb=on_reconnected)
    try:
        js = client.jetstream()
        await declare_streams(js, FAST)
        await declare_ingest_consumer(js, FAST)
        store = Store()
        async with consuming(js, store):
            for i in range(3):
                await publish_once(js, f"records.in.{ULNS[i]}", b"{}", f"before-{i}")
            await eventually(lambda: acked_up_to(js, 3))

            await nats_server.arestart()
            await asyncio.wait_for(reconnected.wait(), timeout=10)

            # The de-duplication window outlives the restart ...
            again = await publish_once(js, f"records.in.{ULNS[0]}", b"{}", "before-0")
            assert again.duplicate is True
            for i in range(3):
                await publish_once(js, f"records.in.{ULNS[i]}", b"{}", f"after-{i}")
            # ... and the durable consumer picks up where it stopped.
            await eventually(lambda: acked_up_to(js, 6))

        assert sorted(m.stream_sequence for m in store.stored) == [1, 2, 3, 4, 5, 6]
        assert (await js.stream_info("RECORDS_IN")).state.messages == 6
    finally:
        await client.close()
