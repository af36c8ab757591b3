"""``learner-records loadgen``: publish realistic learner histories, or write them to a file.

Histories come from devtools.loadgen (deterministic for a seed). Publishing uses
JetStream's asynchronous publish with a bounded number of acks in flight, at a given
rate or as fast as the server acknowledges. No ``Nats-Msg-Id`` is sent: the load's
duplicates are meant to reach the service, which must recognise them itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from devtools.loadgen import LoadProfile, Publication, publications
from services.adapters.nats.connection import (
    RECONNECT_FOREVER,
    NatsOptions,
    NatsUnavailableError,
    connect_once,
)
from services.adapters.nats.credentials import Role
from services.application.clock import SystemClock
from services.entrypoints.commands._args import description, iso_date
from services.entrypoints.commands._nats import add_nats_arguments, client_options
from services.entrypoints.commands._output import console, fail, print_json

__all__ = ["publish_all", "register"]

# Called after each publish with (index, subject, payload, monotonic time sent).
OnPublished = Callable[[int, str, bytes, float], None]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "loadgen",
        help="publish realistic learner histories to records.in.<ULN> (or write JSON lines)",
        description=description(__doc__),
    )
    parser.add_argument("--learners", type=int, default=1000, help="default %(default)s")
    parser.add_argument("--first", type=int, default=1, help="first learner's number (ULN n)")
    parser.add_argument("--seed", type=int, default=1, help="default %(default)s")
    parser.add_argument(
        "--as-of",
        type=iso_date,
        # Today, so the load is never future-dated for a service on the system clock.
        default=SystemClock().now().date(),
        metavar="YYYY-MM-DD",
        help="no effective date after this day (default: today, a UK day)",
    )
    parser.add_argument(
        "--rate", type=float, default=0, help="events per second; 0: as fast as possible"
    )
    parser.add_argument(
        "--in-flight", type=int, default=2000, help="unacknowledged publishes at most"
    )
    add_nats_arguments(
        parser,
        url_help="default nats://127.0.0.1:4222, with the embedded default's publisher "
        "credentials (var/nats/credentials/publisher.nk) when no others are given",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write JSON lines here instead of publishing"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary, no progress")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from services.adapters.catalogue_files import load_catalogue

    if args.learners < 0 or args.rate < 0 or args.in_flight < 1:
        fail("--learners and --rate must be ≥ 0, --in-flight ≥ 1")
    profile = LoadProfile(
        learners=args.learners, seed=args.seed, first_learner=args.first, as_of=args.as_of
    )
    events = publications(load_catalogue(), profile)
    started = time.monotonic()
    if args.out is not None:
        count = _write(args.out, events)
        where = str(args.out)
    else:
        options = client_options(args, Role.PUBLISHER, name="learner-records-loadgen")
        try:
            count = asyncio.run(_publish(options, args, events))
        except NatsUnavailableError as error:
            fail(str(error))
        except OSError as error:
            fail(f"publishing to NATS at {options.display_url} failed: {error}")
        where = options.display_url
    elapsed = time.monotonic() - started
    summary = {
        "learners": args.learners,
        "events": count,
        "to": where,
        "seconds": round(elapsed, 3),
        "events_per_s": round(count / elapsed) if elapsed > 0 else None,
    }
    if args.json:
        print_json(summary)
    else:
        console().print(
            f"{count} events for {args.learners} learners to {where} in {elapsed:.1f}s "
            f"({summary['events_per_s']} events/s)."
        )
    return 0


def _write(path: Path, events: Iterable[Publication]) -> int:
    count = 0
    with path.open("wb") as out:
        for _, payload in events:
            out.write(payload)
            out.write(b"\n")
            count += 1
    return count


async def _publish(
    options: NatsOptions, args: argparse.Namespace, events: Iterable[Publication]
) -> int:
    # Bounded first connection (one clear error if NATS is not there), then reconnects
    # without end: a load run must ride out a node restarted under it.
    nc = await connect_once(options, **RECONNECT_FOREVER)
    try:
        js = nc.jetstream(publish_async_max_pending=args.in_flight)
        if args.json or not sys.stdout.isatty():
            return await _unless_refused(nc, publish_all(js, events, rate=args.rate))
        with _bar() as bar:
            task = bar.add_task("publishing", total=None)
            return await _unless_refused(
                nc,
                publish_all(js, events, rate=args.rate, on_published=lambda *_: bar.advance(task)),
            )
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()


async def _unless_refused(nc: Any, publishing: Coroutine[Any, Any, int]) -> int:
    """``publishing``, unless the server refuses to let these credentials publish.

    A refused publish is reported asynchronously and its acknowledgement never comes:
    without this, the run would wait out the ack timeout and end without a reason.
    """
    work = asyncio.ensure_future(publishing)
    refused = asyncio.ensure_future(_permission_refused(nc))
    try:
        await asyncio.wait([work, refused], return_when=asyncio.FIRST_COMPLETED)
    finally:
        refused.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        raise OSError(f"these credentials may not publish to records.in ({nc.last_error})")
    return work.result()


async def _permission_refused(nc: Any) -> None:
    while "permissions violation" not in str(nc.last_error).lower():
        await asyncio.sleep(0.05)


async def publish_all(
    js: Any,
    events: Iterable[Publication],
    *,
    rate: float = 0,
    on_published: OnPublished | None = None,
    timeout: float = 30.0,
) -> int:
    """Publish every event, ``rate`` a second (0: unpaced), and wait for all the acks.

    In-flight acks are bounded by the JetStream context's ``publish_async_max_pending``:
    once that many are outstanding, the next publish waits for one to be acknowledged.
    """
    futures: list[asyncio.Future[Any]] = []
    started = time.monotonic()
    count = 0
    for count, (subject, payload) in enumerate(events, start=1):
        if rate > 0:
            due = started + (count - 1) / rate
            if (ahead := due - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
        future = await js.publish_async(subject, payload, wait_stall=timeout)
        futures.append(future)
        if on_published is not None:
            on_published(count, subject, payload, time.monotonic())
        if len(futures) >= 10_000:  # keep only the unfinished, and raise any failure
            _check(f for f in futures if f.done())
            futures = [f for f in futures if not f.done()]
    if futures:
        # asyncio.wait, not gather: cancelled (credentials refused), it leaves no gathering
        # future behind to complain that nobody read its exception.
        done, pending = await asyncio.wait(futures, timeout=timeout)
        _check(done)
        if pending:
            raise TimeoutError(f"{len(pending)} publishes unacknowledged after {timeout}s")
    return count


def _check(done: Iterable[asyncio.Future[Any]]) -> None:
    for future in done:
        future.result()


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console(),
        transient=True,
    )
