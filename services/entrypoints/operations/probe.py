"""What only the NATS server and the store can say, looked up every few seconds.

A partition's lag needs its stream's last sequence (a JetStream API request) and the
position stored for it; the relay's lag, and the dead letters, need store queries. Done
per scrape, several Prometheus servers scraping every few seconds would load both for
nothing; done here, once per interval, one request at a time (a slow store never piles
up queries), and the result kept for metrics and health to read. A failed store query
is itself the answer to "is the store reachable?".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from nats.js import JetStreamContext

from projections.follower import first_of
from services.adapters.nats.partition_feed import tracking_name
from services.adapters.nats.streams import Streams
from services.adapters.store import RecordsStore
from services.adapters.store.parked import ParkedTable
from services.application.relay import DECISION_TOPICS, undeliverable_rows

__all__ = ["PROBE_EVERY_S", "Snapshot", "StateProbe"]

log = structlog.get_logger(__name__)

PROBE_EVERY_S = 5.0
# The relay's tracking name (OutboxRelay's default).
RELAY_NAME = "outbox-relay"


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken: float  # time.monotonic()
    consumer_lag: dict[int, int] = field(default_factory=dict)
    store_position: int | None = None
    relay_position: int | None = None
    relay_lag: int | None = None
    parked_messages: int | None = None
    parked_learners: int | None = None
    undeliverable: int | None = None
    store_error: str | None = None
    nats_error: str | None = None

    def age(self) -> float:
        return time.monotonic() - self.taken


@dataclass(frozen=True, slots=True)
class _Streamed:
    last_seq: int
    created: datetime | None


class StateProbe:
    def __init__(
        self,
        js: Callable[[], JetStreamContext | None],
        store: RecordsStore,
        parked: ParkedTable,
        streams: Streams,
        *,
        every: float = PROBE_EVERY_S,
    ) -> None:
        self._js = js
        self._store = store
        self._parked = parked
        self._streams = streams
        self.every = every
        self.latest: Snapshot | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.latest = await self.check()
            await first_of(stop, timeout=self.every)

    async def check(self) -> Snapshot:
        streamed, nats_error = await self._stream_states()
        try:
            return await asyncio.to_thread(self._read_store, streamed, nats_error)
        except Exception as error:
            return Snapshot(time.monotonic(), store_error=repr(error), nats_error=nats_error)

    async def _stream_states(self) -> tuple[dict[int, _Streamed], str | None]:
        js = self._js()
        if js is None:
            return {}, "not connected"
        partitions = range(self._streams.partitions)
        try:
            async with asyncio.timeout(max(1.0, self.every)):
                infos = await asyncio.gather(
                    *(js.stream_info(self._streams.inbound_stream(k)) for k in partitions)
                )
        except Exception as error:
            return {}, repr(error)
        return {
            k: _Streamed(info.state.last_seq, info.created)
            for k, info in zip(partitions, infos, strict=True)
        }, None

    def _read_store(self, streamed: dict[int, _Streamed], nats_error: str | None) -> Snapshot:
        store = self._store
        lag = {}
        for partition, state in streamed.items():
            name = tracking_name(self._streams.inbound_stream(partition), state.created)
            lag[partition] = max(0, state.last_seq - store.position(name))
        relay = store.position(RELAY_NAME)
        parked = self._parked.summary()
        return Snapshot(
            time.monotonic(),
            consumer_lag=lag,
            store_position=store.last_position(),
            relay_position=relay,
            relay_lag=store.pending(relay, DECISION_TOPICS),
            parked_messages=sum(row[2] for row in parked),
            parked_learners=len({row[0] for row in parked}),
            undeliverable=len(undeliverable_rows(store)),
            nats_error=nats_error,
        )
