"""The outbox relay against a real nats-server and a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import MSG_ID_HEADER
from services.adapters.nats.publisher import JetStreamPublisher
from services.adapters.nats.streams import Streams, declare
from services.application.clock import FixedClock
from services.application.records import LearnerRecords
from services.application.relay import (
    OutboxRelay,
    request_redrive_of_decisions,
    undeliverable_rows,
)
from services.entrypoints.wiring import open_records

pytestmark = pytest.mark.nats

TODAY = date(2025, 1, 15)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def records(tmp_path: Path, catalogue: Catalogue) -> Iterator[LearnerRecords]:
    app = open_records(str(tmp_path / "records.sqlite"), catalogue, FixedClock(TODAY))
    yield app
    app.close()


def complete(records: LearnerRecords, catalogue: Catalogue, n: int) -> list[str]:
    """``n`` learners who complete OCR L3, and a refused event for each: their decisions."""
    events = EventFactory()
    qualification = catalogue.qualification("OCR-L3-DIP-CS")
    ids = []
    for k in range(n):
        uln = make_uln(100 + k)
        batch = [events.registered(uln, qualification.id, date(2016, 1, 4))]
        batch += [
            events.achieved(uln, urn, date(2016, 2, 1 + i))
            for i, urn in enumerate(completing_units(qualification))
        ]
        batch.append(events.withdrawn(uln, "500/9203/0", date(2016, 3, 1)))  # not registered
        for outcome in records.receive_batch(batch):
            ids += [d.id for d in outcome.decisions]
    return ids


async def published(js: JetStreamContext, count: int) -> list[Any]:
    sub = await js.subscribe("records.out.>", ordered_consumer=True)
    msgs = []
    try:
        async with asyncio.timeout(10):
            while len(msgs) < count:
                msgs.append(await sub.next_msg(timeout=5))
    finally:
        await sub.unsubscribe()
    return msgs


@pytest.fixture
async def out(js: JetStreamContext) -> AsyncIterator[JetStreamContext]:
    await declare(js, Streams(partitions=1))
    yield js


async def test_every_decision_is_published_once_as_stored(
    out: JetStreamContext, records: LearnerRecords, catalogue: Catalogue
) -> None:
    ids = complete(records, catalogue, 3)
    relay = OutboxRelay(records.store, JetStreamPublisher(out))

    await relay.catch_up()
    again = OutboxRelay(records.store, JetStreamPublisher(out))
    await again.catch_up()  # a restart: the position is remembered, nothing goes twice

    msgs = await published(out, len(ids))
    assert [m.headers[MSG_ID_HEADER] for m in msgs] == ids
    assert all(m.headers["Content-Type"] == "application/cloudevents+json" for m in msgs)
    assert [orjson.loads(m.data)["id"] for m in msgs] == ids
    assert relay.stats.published == len(ids) and again.stats.published == 0
    assert (await out.stream_info("RECORDS_OUT")).state.messages == len(ids)


async def test_a_crash_after_publishing_republishes_the_same_bytes(
    out: JetStreamContext, records: LearnerRecords, catalogue: Catalogue
) -> None:
    ids = complete(records, catalogue, 2)
    relay = OutboxRelay(records.store, JetStreamPublisher(out))
    real = records.store.recorder.insert_events
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TimeoutError("simulated crash after publishing")
        return real(*args, **kwargs)

    records.store.recorder.insert_events = crash_once  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        await relay.catch_up()
    await relay.catch_up()

    assert relay.stats.duplicates == len(ids)  # JetStream dropped the second publication
    assert (await out.stream_info("RECORDS_OUT")).state.messages == len(ids)


async def test_a_decision_the_broker_refuses_is_set_aside_and_the_rest_go_on(
    js: JetStreamContext, records: LearnerRecords, catalogue: Catalogue
) -> None:
    # Decisions of eligibility are a few KB; this stream takes none of them.
    await declare(js, Streams(partitions=1, max_msg_size=1500))
    ids = complete(records, catalogue, 2)
    relay = OutboxRelay(records.store, JetStreamPublisher(js, timeout=2.0))

    await relay.catch_up()

    refused = undeliverable_rows(records.store)
    assert {row[1] for row in refused} and all("eligible" in row[2] for row in refused)
    delivered = [i for i in ids if i not in {row[1] for row in refused}]
    msgs = await published(js, len(delivered))
    assert [m.headers[MSG_ID_HEADER] for m in msgs] == delivered  # every later one went out
    assert relay.stats.undeliverable == len(refused)
    assert relay.position == records.store.last_position()

    # The stream takes them now, and an operator asks for them again (redrive --decisions).
    await declare(js, Streams(partitions=1))
    assert request_redrive_of_decisions(records.store) == len(refused)
    relay._redrive_checked = 0.0  # look at once, not after the usual pause
    await relay.catch_up()
    assert undeliverable_rows(records.store) == []
    again = await published(js, len(ids))
    assert sorted(m.headers[MSG_ID_HEADER] for m in again) == sorted(ids)


async def test_the_relay_waits_out_a_nats_outage(
    nats_server: EmbeddedNatsServer,
    nats_client: NATS,
    out: JetStreamContext,
    records: LearnerRecords,
    catalogue: Catalogue,
) -> None:
    relay = OutboxRelay(records.store, JetStreamPublisher(out, timeout=1.0), poll=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    nats_server.stop()
    ids = complete(records, catalogue, 1)
    relay.wake()
    async with asyncio.timeout(10):
        while relay.failures < 1:  # reported, not dead
            await asyncio.sleep(0.05)
    nats_server.start()
    async with asyncio.timeout(20):
        while relay.position < records.store.last_position():
            await asyncio.sleep(0.1)
    stop.set()
    await running
    assert relay.failures == 0
    assert [m.headers[MSG_ID_HEADER] for m in await published(out, len(ids))] == ids
