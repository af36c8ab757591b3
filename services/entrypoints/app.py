"""The wiring: one place where the service's parts are built, started and stopped.

One NATS connection (nats-py) carries everything. On it run:

- ownership: the replica's membership and leases (services.application.ownership),
  which start and stop the roles this replica holds:
  - ``partition-<k>``: ingest of partition k by its one owner, in stream order
    (services.application.ingest), one store transaction per fetched batch in the
    process's one writer thread;
  - ``relay``: the outbox relay, publishing stored decisions;
  - ``projection``: the status read model, in a process of its own;
- the expiry scheduler, reviewing the learners of the partitions held here;
- the status query, a NATS micro-service in a queue group (every replica answers);
- the state probe, polling stream and store figures for metrics and health
  (services.entrypoints.operations).

Shutdown runs in reverse: the roles finish what they hold and hand their leases back,
so other replicas take over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from contracts.subjects import STATUS_QUERY_SUBJECT
from domain.catalogue import Catalogue, Qualification
from projections.running import StatusFollower, run_in_process
from projections.status_projection import StatusProjection
from projections.status_query import StatusQuery
from projections.status_view import StatusView, open_status_view
from services.adapters.nats.connection import connect
from services.adapters.nats.leases import KvLeases
from services.adapters.nats.partition_feed import PartitionFeed
from services.adapters.nats.publisher import JetStreamPublisher
from services.adapters.nats.streams import declare, leases_bucket, partition_of
from services.adapters.store import open_store, redact
from services.adapters.store.parked import ParkedTable
from services.application.clock import Clock, SystemClock
from services.application.group_commit import GroupCommit
from services.application.ingest import PartitionWorker
from services.application.ownership import Ownership, Role
from services.application.relay import OutboxRelay
from services.application.scheduler import ExpiryScheduler
from services.entrypoints.config import ServiceSettings
from services.entrypoints.logging import apply_logging_settings, logging_settings
from services.entrypoints.operations.metrics import ServiceMetrics
from services.entrypoints.operations.probe import StateProbe
from services.entrypoints.wiring import open_records

__all__ = ["RecordsService"]

log = structlog.get_logger(__name__)

SERVICE_NAME = "learner-records"


class RecordsService:
    """The running service on an existing NATS server: ``start``, then ``stop``."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        catalogue: Catalogue | None = None,
        clock: Clock | None = None,
        nats_options: dict[str, Any] | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        from services.adapters.catalogue_files import load_catalogue

        self.settings = settings
        self.catalogue = catalogue or load_catalogue()
        self.clock: Clock = clock or SystemClock()
        self.nats_options = nats_options or {}
        self.records = open_records(settings.store, self.catalogue, self.clock)
        self.parked = ParkedTable(self.records.store.recorder, self.records.store.codec.sealer)
        self.view: StatusView = open_status_view(settings.store, settings.views_path)
        self.query = StatusQuery(self.view, self._replay, lambda: self.clock.now().date())
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self.workers: dict[int, PartitionWorker] = {}
        # The partitions this replica owns commit together what waits for the writer.
        self.group_commit = GroupCommit(self.records, self.write)
        self.relay: OutboxRelay | None = None
        self.projection: StatusFollower | None = None
        self.ownership: Ownership | None = None
        self.probe: StateProbe | None = None
        self.metrics = metrics or ServiceMetrics()
        self.metrics.watch(self)
        self.scheduler = ExpiryScheduler(
            self.records,
            self.view,
            self.write,
            owns=self.owns,
            on_decided=self.stored,
            tick=settings.scheduler_tick,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._micro: Any = None
        # Set when a loop dies of an error it could not handle: `serve` then exits non-zero
        # rather than run on half-dead (a supervisor restarts it; nothing is lost).
        self.failed = asyncio.Event()

    # The process's one writer: every store write of ingest, reviews and redrives.

    async def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        # In the caller's context, so that what a batch binds to its log lines (its trace
        # ids) is on the lines logged in the writer thread too.
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def owns(self, uln: str) -> bool:
        partition = partition_of(uln, self.settings.streams.partitions)
        return self.ownership is not None and self.ownership.holds(f"partition-{partition}")

    def stored(self) -> None:
        """Something was committed: the relay looks now (on the loop)."""
        if self.relay is not None:
            self.relay.wake()
        if self.projection is not None:
            self.projection.wake()

    async def start(self) -> None:
        settings = self.settings
        streams = settings.streams
        options = settings.nats_options.replace(name=f"learner-records {settings.replica}")
        self.nc = await connect(options, **self.nats_options)
        self.js = self.nc.jetstream()
        await declare(self.js, streams)
        self._micro = await self._status_service(self.nc)
        kv = await leases_bucket(self.js, streams)
        roles = [
            Role(f"partition-{k}", functools.partial(self._ingest, k))
            for k in range(streams.partitions)
        ]
        roles += [Role("relay", self._relay), Role("projection", self._projection)]
        self.ownership = Ownership(KvLeases(kv, settings.replica), roles, ttl=streams.lease_ttl)
        self.probe = StateProbe(lambda: self.js, self.records.store, self.parked, streams)
        self._tasks = [
            self._task(self.ownership.run(self._stop), "ownership"),
            self._task(self.scheduler.run(self._stop), "scheduler"),
            self._task(self.probe.run(self._stop), "probe"),
        ]
        log.info(
            "service.started",
            replica=settings.replica,
            nats=settings.nats_options.display_url,
            store=redact(settings.store),
            partitions=streams.partitions,
        )

    async def stop(self) -> None:
        log.info("service.stopping", replica=self.settings.replica)
        self._stop.set()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._micro is not None:
            with contextlib.suppress(Exception):
                await self._micro.stop()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        self._executor.shutdown(wait=True)
        self.records.close()
        self.view.close()
        log.info("service.stopped", replica=self.settings.replica)

    async def __aenter__(self) -> RecordsService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # Roles.

    async def _ingest(self, partition: int, stop: asyncio.Event) -> None:
        assert self.js is not None
        nc = self.nc
        assert nc is not None
        feed = PartitionFeed(
            self.js, self.settings.streams, partition, reconnects=lambda: nc.stats["reconnects"]
        )
        partitions = self.settings.streams.partitions
        worker = PartitionWorker(
            feed,
            self.records,
            self.write,
            self.parked,
            batch=self.settings.streams.fetch_batch,
            fetch_timeout=self.settings.fetch_timeout,
            on_stored=self.stored,
            on_batch=self.metrics.batch_stored,
            belongs=lambda uln: partition_of(uln, partitions) == partition,
            group=self.group_commit,
        )
        self.workers[partition] = worker
        try:
            await worker.run(stop)
        finally:
            self.workers.pop(partition, None)
            self.metrics.worker_ended(worker)
            # What this replica held in memory may be stale once another replica writes.
            partitions = self.settings.streams.partitions
            await self.write(
                self.records.forget_where, lambda uln: partition_of(uln, partitions) == partition
            )

    async def _relay(self, stop: asyncio.Event) -> None:
        assert self.js is not None
        relay = OutboxRelay(
            self.records.store,
            JetStreamPublisher(
                self.js,
                stream=self.settings.streams.outbound_stream,
                max_msg_size=self.settings.streams.max_msg_size,
            ),
            batch=self.settings.relay_batch,
            poll=self.settings.relay_poll,
        )
        self.relay = relay
        try:
            await relay.run(stop)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await relay.catch_up()  # whatever the last batches decided goes out
        finally:
            self.relay = None
            self.metrics.relay_ended(relay)

    async def _projection(self, stop: asyncio.Event) -> None:
        if not self.settings.projection_process:
            follower = StatusFollower(self._build_projection(), poll=1.0)
            self.projection = follower
            try:
                await follower.run(stop)
            finally:
                self.projection = None
            return
        process, stopping = run_in_process(
            functools.partial(
                projection_in_child,
                self.settings,
                # The catalogue object does not pickle; its qualifications do.
                list(self.catalogue.qualifications.values()),
                self.clock,
                logging_settings(),
            )
        )
        try:
            while not stop.is_set() and process.is_alive():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            if not process.is_alive():
                raise RuntimeError(f"the projection process exited ({process.exitcode})")
        finally:
            stopping.set()
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.terminate()

    def _build_projection(self) -> StatusProjection:
        return StatusProjection(
            self.records.store,
            self.view,
            self.catalogue,
            lambda: self.clock.now().date(),
            batch=self.settings.projection_batch,
        )

    # The status query.

    async def _status_service(self, nc: NATS) -> Any:
        from nats.micro import add_service
        from nats.micro.request import Request

        from services import __version__

        service = await add_service(
            nc,
            name=SERVICE_NAME,
            version=__version__,
            description="Learner records: registrations, statuses and decisions",
            metadata={"replica": self.settings.replica},
        )

        async def status(request: Request) -> None:
            reply = await asyncio.to_thread(self.query.answer, request.data)
            await request.respond(reply.to_json_bytes())

        await service.add_endpoint(name="status", subject=STATUS_QUERY_SUBJECT, handler=status)
        return service

    def _replay(self, uln: str, day: Any) -> list[dict[str, Any]] | None:
        from projections.documents import registration_document

        views = self.records.status(uln, as_of=day)
        if views is None:
            return None
        return [registration_document(v, self.catalogue) for v in views]

    def _task(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._report)
        return task

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("service.task_failed", task=task.get_name(), error=repr(error))
            self.failed.set()


def projection_in_child(
    settings: ServiceSettings,
    qualifications: list[Qualification],
    clock: Clock,
    logging: dict[str, Any],
) -> StatusProjection:
    """The status projection as built in its own process (run_in_process pickles this)."""
    apply_logging_settings(logging)
    catalogue = Catalogue(qualifications)
    store = open_store(settings.store)
    view = open_status_view(settings.store, settings.views_path)
    return StatusProjection(
        store, view, catalogue, lambda: clock.now().date(), batch=settings.projection_batch
    )
