"""The wiring pattern: BatchConsumer for ingest inside a FastStream app; the AsyncAPI document.

FastStream owns the connection, request/reply, publishing and the AsyncAPI document;
the ingest loop is services.adapters.nats.jetstream.BatchConsumer on the broker's own connection.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from faststream import FastStream
from faststream.nats import NatsBroker

from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import (
    MSG_ID_HEADER,
    BatchConsumer,
    InboundMessage,
    IngestPolicy,
    StreamsConfig,
    declare_ingest_consumer,
    declare_streams,
)

CONFIG = StreamsConfig(ingest=IngestPolicy(batch_size=50, fetch_timeout=0.2))
ULN = "1000000001"


@dataclass
class Service:
    app: FastStream
    broker: NatsBroker
    reconnected: asyncio.Event


def build_service(url: str, stored: queue.Queue[InboundMessage]) -> Service:
    reconnected = asyncio.Event()

    async def on_reconnected() -> None:
        reconnected.set()

    broker = NatsBroker(
        url,
        max_reconnect_attempts=-1,  # the default (60) gives up during a long outage
        reconnect_time_wait=0.05,
        reconnected_cb=on_reconnected,
        graceful_timeout=5,
    )
    loop_thread = threading.get_ident()

    @broker.subscriber("records.query.status")
    def status(query: dict[str, str]) -> dict[str, Any]:
        # A plain def: FastStream runs it in a worker thread, as the store's reads need.
        return {"uln": query["uln"], "worker_thread": threading.get_ident() != loop_thread}

    def store(batch: Sequence[InboundMessage]) -> None:
        for message in batch:
            stored.put(message)

    stop = asyncio.Event()
    running: list[asyncio.Task[None]] = []
    app = FastStream(broker)

    @app.after_startup
    async def start_ingest() -> None:
        js = broker.connection.jetstream()
        await declare_streams(js, CONFIG)
        await declare_ingest_consumer(js, CONFIG)
        running.append(asyncio.create_task(BatchConsumer(js, CONFIG, store).run(stop)))

    @app.on_shutdown
    async def stop_ingest() -> None:
        # Before the broker drains its connection: the batch in hand is finished and acked.
        stop.set()
        await asyncio.gather(*running)

    return Service(app, broker, reconnected)


async def next_stored(stored: queue.Queue[InboundMessage]) -> InboundMessage:
    return await asyncio.to_thread(stored.get, timeout=10)


@pytest.mark.nats
async def test_ingest_and_status_under_a_faststream_app(nats_server: EmbeddedNatsServer) -> None:
    stored: queue.Queue[InboundMessage] = queue.Queue()
    service = build_service(nats_server.url, stored)
    broker = service.broker

    async with service.app:
        subject = f"records.in.{ULN}"
        ack = await broker.publish(
            b"{}", subject, stream="RECORDS_IN", headers={MSG_ID_HEADER: "event-1"}, timeout=5
        )
        again = await broker.publish(
            b"{}", subject, stream="RECORDS_IN", headers={MSG_ID_HEADER: "event-1"}, timeout=5
        )
        assert not ack.duplicate and again.duplicate is True
        assert (await next_stored(stored)).stream_sequence == ack.seq

        reply = await broker.request({"uln": ULN}, "records.query.status", timeout=5)
        assert await reply.decode() == {"uln": ULN, "worker_thread": True}

        await nats_server.arestart()
        await asyncio.wait_for(service.reconnected.wait(), timeout=10)

        after = await broker.publish(
            b"{}", subject, stream="RECORDS_IN", headers={MSG_ID_HEADER: "event-2"}, timeout=5
        )
        assert (await next_stored(stored)).stream_sequence == after.seq
        reply = await broker.request({"uln": ULN}, "records.query.status", timeout=5)
        assert (await reply.decode())["uln"] == ULN

    assert stored.empty()
