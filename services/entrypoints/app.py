"""The wiring: one place where the service's parts are built and started in order.

FastStream owns the NATS connection, the status query (request/reply) and the AsyncAPI
document. On that connection run four loops of our own:

- ingest: services.adapters.nats.jetstream.BatchConsumer on the durable pull consumer, one
  ``receive_batch`` (one store transaction) per fetched batch, in a worker thread;
- the outbox relay, publishing stored decisions, woken after every stored batch;
- the status projection, feeding the read model, woken likewise;
- the expiry scheduler, reviewing learners whose claim-by date has passed.

Shutdown runs in the reverse order: ingest finishes the batch in hand, the scheduler
stops, then the relay and the projection catch up with everything stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage

from contracts.subjects import STATUS_QUERY_SUBJECT
from domain.catalogue import Catalogue
from projections.status_projection import StatusProjection
from projections.status_query import StatusQuery, replay_from
from projections.status_view import StatusView
from services.adapters.nats.connection import (
    RECONNECT_FOREVER,
    ConnectionEvents,
    NatsOptions,
    faststream_security,
)
from services.adapters.nats.jetstream import BatchConsumer, declare_ingest_consumer, declare_streams
from services.adapters.redaction import redact
from services.adapters.store import open_records
from services.application.clock import Clock
from services.application.ingest import RecordsIngest
from services.application.records import LearnerRecords
from services.application.relay import OutboxRelay, decision_messages
from services.application.scheduler import ExpiryScheduler
from services.entrypoints.config import ServiceSettings

__all__ = ["RecordsService", "build_broker"]

log = structlog.get_logger(__name__)

_FLUSH_TIMEOUT = 30.0


def build_broker(
    nats: str | NatsOptions,
    query: StatusQuery | None = None,
    *,
    on_reconnected: Callable[[], None] = lambda: None,
    **options: Any,
) -> NatsBroker:
    """The FastStream broker with the status query subscriber (when ``query`` is given).

    Servers, credentials and TLS come from NatsOptions, and its connection is reported
    by the same ConnectionEvents as every other of ours.
    """
    connection = nats if isinstance(nats, NatsOptions) else NatsOptions.from_url(nats)
    events = ConnectionEvents(
        connection, client=lambda: broker.connection, on_reconnected=on_reconnected
    )
    settings = RECONNECT_FOREVER | events.callbacks() | options
    broker = NatsBroker(
        list(connection.servers),
        name=connection.name,
        security=faststream_security(connection),
        graceful_timeout=10.0,
        # One line per status query is noise at INFO; the service logs what matters.
        log_level=logging.DEBUG,
        **settings,
    )
    if query is not None:

        @broker.subscriber(STATUS_QUERY_SUBJECT, include_in_schema=False)
        def status(message: NatsMessage) -> bytes:
            # A plain def: FastStream runs it in a worker thread, as the SQLite reads need.
            return query.answer(message.body).to_json_bytes()

    return broker


class RecordsService:
    """The running service on an existing NATS server; ``app`` starts and stops it."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        catalogue: Catalogue | None = None,
        clock: Clock | None = None,
        records: LearnerRecords | None = None,
    ) -> None:
        if records is None:
            from services.adapters.catalogue_files import load_catalogue

            records = open_records(settings.store, catalogue or load_catalogue(), clock)
        self.settings = settings
        self.records = records
        self.clock: Clock = records.clock
        self.view = StatusView(settings.views_path)
        self.projection = StatusProjection(
            records, self.view, batch=settings.projection_batch, poll=settings.projection_poll
        )
        self.scheduler = ExpiryScheduler(
            records, self.view, on_decided=self.stored, tick=settings.scheduler_tick
        )
        self.query = StatusQuery(self.view, replay_from(records), lambda: self.clock.now().date())
        # After an outage the relay retries at once rather than at the end of its back-off.
        self.broker = build_broker(settings.nats_options, self.query, on_reconnected=self.stored)
        self.ingest = RecordsIngest(records, on_stored=self.stored)
        self.relay: OutboxRelay | None = None
        self.consumer: BatchConsumer | None = None
        self.app = FastStream(self.broker, logger=None)
        self.app.after_startup(self._start)
        self.app.on_shutdown(self._stop)
        self._stop_ingest = asyncio.Event()
        self._stop_followers = asyncio.Event()
        self._ingest_tasks: list[asyncio.Task[None]] = []
        self._follower_tasks: list[asyncio.Task[None]] = []
        # Set when a loop dies of an error it could not handle: `serve` then exits non-zero
        # rather than run on half-dead (a supervisor restarts it; nothing is lost).
        self.failed = asyncio.Event()

    def stored(self) -> None:
        """Something was committed: the relay and projection look now (on the loop)."""
        if self.relay is not None:
            self.relay.wake()
        self.projection.wake()

    async def _start(self) -> None:
        streams = self.settings.streams
        js = self.broker.connection.jetstream()
        await declare_streams(js, streams)
        await declare_ingest_consumer(js, streams)
        self.relay = OutboxRelay(
            self.records.recorder,
            self.records.factory.tracking_recorder(),
            decision_messages(self.records),
            js,
            stream=streams.outbound.name,
            batch=self.settings.relay_batch,
            poll=self.settings.relay_poll,
        )
        # The scheduler reads the view: let it see everything stored before it starts.
        await self.projection.catch_up()
        self._follower_tasks = [
            self._task(self.relay.run(self._stop_followers), "relay"),
            self._task(self.projection.run(self._stop_followers), "projection"),
        ]
        self.consumer = BatchConsumer(js, streams, self.ingest)
        self._ingest_tasks = [
            self._task(self.consumer.run(self._stop_ingest), "ingest"),
            self._task(self.scheduler.run(self._stop_ingest), "scheduler"),
        ]
        log.info(
            "service.started",
            # Redacted here too, not only by the log processor: the line must be safe
            # whichever logging setup a caller has.
            nats=self.settings.nats_options.display_url,
            store=redact(self.settings.store),
            views=str(self.settings.views_path),
            relay_position=self.relay.position,
            projection_position=self.projection.position,
        )

    async def _stop(self) -> None:
        log.info("service.stopping")
        self._stop_ingest.set()
        await _settle(self._ingest_tasks)
        self._stop_followers.set()
        await _settle(self._follower_tasks)
        # Flush: whatever the last batches decided is published before the connection goes.
        for follower in (self.relay, self.projection):
            if follower is None:
                continue
            try:
                async with asyncio.timeout(_FLUSH_TIMEOUT):
                    await follower.catch_up()
            except Exception as error:
                log.warning("service.flush_failed", follower=follower.name, error=repr(error))
        log.info(
            "service.stopped",
            relay_position=self.relay.position if self.relay else None,
            projection_position=self.projection.position,
        )

    def close(self) -> None:
        self.records.close()

    def _task(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._report)
        return task

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("service.task_failed", task=task.get_name(), error=repr(error))
            self.failed.set()


async def _settle(tasks: list[asyncio.Task[None]]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)
