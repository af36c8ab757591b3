"""The outbox relay against a real nats-server and a real SQLite event store.

A toy application stands in for LearnerRecords: the relay only needs a notification log
and a way to turn a notification into messages, so its guarantees are tested here on
their own (the e2e tests cover it with the real domain).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder
from nats.js import JetStreamContext

from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import MSG_ID_HEADER, StreamsConfig, connect, declare_streams
from services.application.relay import OutboxRelay, Publishable

pytestmark = pytest.mark.nats


class Case(Aggregate):
    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Decided")
    def decide(self, decision: dict[str, Any]) -> None:
        pass


class Cases(Application[UUID]):
    pass


@dataclass(frozen=True)
class Message:
    subject: str
    payload: bytes
    msg_id: str
    event_type: str = "toy.decided.v1"


def messages_of(app: Cases) -> Any:
    def messages(notification: Notification) -> Sequence[Publishable]:
        decision = getattr(app.mapper.to_domain_event(notification), "decision", None)
        if decision is None:
            return ()
        return (
            Message(f"records.out.toy.{decision['uln']}", decision["id"].encode(), decision["id"]),
        )

    return messages


class FlakyTracking:
    """A tracking recorder whose first ``failures`` writes fail after JetStream acked:
    the crash window between publishing and remembering that it was published."""

    def __init__(self, inner: TrackingRecorder, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def max_tracking_id(self, name: str) -> int | None:
        return self.inner.max_tracking_id(name)

    def insert_tracking(self, tracking: Tracking) -> None:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("simulated crash after publishing")
        self.inner.insert_tracking(tracking)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cases]:
    cases = Cases(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "s.db")}
    )
    try:
        yield cases
    finally:
        cases.close()


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    await declare_streams(js, StreamsConfig())
    return js


def store_decisions(app: Cases, count: int, *, undecided: int = 1) -> list[str]:
    """``count`` decisions (and some events without one) in one transaction."""
    ids: list[str] = []
    cases = []
    for i in range(count):
        case = Case(f"case-{i}")
        decision_id = str(uuid4())
        case.decide({"id": decision_id, "uln": f"100000000{i % 10}"})
        ids.append(decision_id)
        cases.append(case)
    cases.extend(Case(f"quiet-{i}") for i in range(undecided))
    app.save(*cases)
    return ids


async def stored_ids(js: JetStreamContext) -> list[str]:
    info = await js.stream_info("RECORDS_OUT")
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg("RECORDS_OUT", seq)
        assert msg.headers is not None
        ids.append(msg.headers[MSG_ID_HEADER])
    return ids


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def relay_for(app: Cases, js: JetStreamContext, tracking: Any = None, **kw: Any) -> OutboxRelay:
    return OutboxRelay(
        app.recorder,
        tracking or app.factory.tracking_recorder(),
        messages_of(app),
        js,
        **kw,
    )


async def test_every_decision_is_published_once_with_its_id(
    app: Cases, streams: JetStreamContext
) -> None:
    ids = store_decisions(app, 7, undecided=3)
    relay = relay_for(app, streams, batch=4)

    await relay.catch_up()

    assert await stored_ids(streams) == ids
    last = app.recorder.max_notification_id()
    assert relay.position == last
    # The position is durable, in the store's own database: a new relay starts from it.
    again = relay_for(app, streams)
    assert await again.catch_up() == last
    assert again.stats.published == 0 and again.stats.duplicates == 0


async def test_a_wake_up_publishes_without_waiting_for_the_poll(
    app: Cases, streams: JetStreamContext
) -> None:
    relay = relay_for(app, streams, poll=3600)
    async with running(relay):
        await relay.catch_up()
        ids = store_decisions(app, 3)
        relay.wake()
        await relay.wait_for(app.recorder.max_notification_id(), timeout=5)
    assert await stored_ids(streams) == ids


async def test_a_crash_after_publishing_republishes_the_same_ids(
    app: Cases, streams: JetStreamContext
) -> None:
    ids = store_decisions(app, 5)
    flaky = FlakyTracking(app.factory.tracking_recorder(), failures=2)
    relay = relay_for(app, streams, tracking=flaky, poll=0.05)

    async with running(relay):
        await relay.wait_for(app.recorder.max_notification_id(), timeout=10)

    assert flaky.failures == 0
    assert await stored_ids(streams) == ids  # JetStream dropped both re-publications
    assert relay.stats.published == 5 and relay.stats.duplicates == 10


async def test_the_relay_waits_out_a_nats_outage(
    app: Cases, nats_server: EmbeddedNatsServer
) -> None:
    client = await connect(nats_server.url, reconnect_time_wait=0.05)
    try:
        js = client.jetstream()
        await declare_streams(js, StreamsConfig())
        relay = relay_for(app, js, poll=0.05, publish_timeout=0.5)
        async with running(relay):
            before = store_decisions(app, 2)
            relay.wake()
            await relay.wait_for(app.recorder.max_notification_id(), timeout=5)

            await nats_server.astop()
            during = store_decisions(app, 3)
            relay.wake()  # its attempts fail until the server is back
            await nats_server.astart()
            relay.wake()  # as the service does on reconnection: no waiting out a back-off

            await relay.wait_for(app.recorder.max_notification_id(), timeout=15)
        assert await stored_ids(js) == before + during
    finally:
        await client.close()
