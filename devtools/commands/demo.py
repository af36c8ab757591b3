"""``learner-records demo``: the whole stack on a scratch directory, with sample learners.

Starts a nats-server and the service (SQLite in a temporary directory, a free port),
publishes sample histories for learners on each of the five qualifications as an
e-portfolio would, prints each decision as it arrives on ``records.out.>``, asks the
service for one learner's status over request/reply, and stops everything again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from rich.console import Console
from rich.table import Table

from contracts.status import StatusReply
from contracts.subjects import STATUS_QUERY_SUBJECT
from services.adapters.nats.connection import connect
from services.adapters.nats.credentials import Role
from services.adapters.nats.jetstream import publish_once
from services.adapters.nats.streams import Streams
from services.entrypoints.commands._args import description
from services.entrypoints.commands._output import console
from services.entrypoints.commands.status import print_reply
from services.entrypoints.config import ServiceSettings
from services.entrypoints.logging import configure_logging

_QUIET_AFTER = 0.5  # seconds without a new decision once the relay has caught up


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the service on a scratch directory, publish sample learners, show decisions",
        description=description(__doc__),
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the store and NATS data here (new dir)"
    )
    parser.add_argument("--verbose", action="store_true", help="show the service's own log")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(level="INFO" if args.verbose else "WARNING")
    with _workdir(args.keep) as workdir:
        return asyncio.run(demo(workdir, console()))


async def demo(workdir: Path, out: Console) -> int:
    from devtools.publishing import inbound_route
    from devtools.sample_histories import sample_histories
    from services.adapters.catalogue_files import load_catalogue
    from services.adapters.nats.embedded import EmbeddedNatsServer
    from services.entrypoints.app import RecordsService

    catalogue = load_catalogue()
    histories = sample_histories(catalogue)
    # The embedded default as `serve` runs it: access control on, a key per role.
    async with EmbeddedNatsServer(workdir / "nats", port=0) as server:
        out.print(f"[bold]nats-server[/] {server.url}, JetStream data in {workdir / 'nats'}")
        settings = ServiceSettings(
            nats_url=server.url,
            nats=server.options(Role.SERVICE),
            store=str(workdir / "records.sqlite"),
            replica="demo",
            projection_process=False,
        )
        service = RecordsService(settings, catalogue=catalogue)
        # Each client in its role, as an e-portfolio, a certification service and an
        # auditor would connect.
        async with service, contextlib.AsyncExitStack() as clients:
            publisher, subscriber, auditor = [
                await clients.enter_async_context(
                    _closing(await connect(server.options(role, name=f"demo-{role}")))
                )
                for role in (Role.PUBLISHER, Role.SUBSCRIBER, Role.AUDITOR)
            ]
            seen: Counter[str] = Counter()
            arrived = asyncio.Event()

            async def show(msg: Msg) -> None:
                _print_decision(out, msg)
                seen[msg.subject.split(".")[2]] += 1
                arrived.set()

            await subscriber.subscribe("records.out.>", cb=show)
            await subscriber.flush()
            js = publisher.jetstream()
            out.print(f"Publishing {len(histories)} events from an e-portfolio …\n")
            for raw in histories:
                subject, msg_id = inbound_route(raw)
                await publish_once(js, subject, raw, msg_id)
            # Only the service may look at its streams.
            assert service.js is not None
            await _until_settled(service, service.js, settings.streams, arrived)
            _summary(out, seen)
            uln = json.loads(histories[0])["subject"]
            reply = await auditor.request(
                STATUS_QUERY_SUBJECT, json.dumps({"uln": uln}).encode(), timeout=5
            )
            out.print(f"\n[bold]{STATUS_QUERY_SUBJECT}[/] {{uln: {uln}}} →")
            print_reply(StatusReply.model_validate_json(reply.data), out)

    return 0


async def _until_settled(service: Any, js: Any, streams: Streams, arrived: asyncio.Event) -> None:
    """Wait until every event is stored, every decision published and delivered."""
    async with asyncio.timeout(60):
        # Stored events leave the work-queue streams once acknowledged.
        for partition in range(streams.partitions):
            while (await js.stream_info(streams.inbound_stream(partition))).state.messages:
                await asyncio.sleep(0.05)
        while service.relay is None:
            await asyncio.sleep(0.05)
        await service.relay.catch_up()
        while True:
            arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), _QUIET_AFTER)
                continue
            break


def _print_decision(out: Console, msg: Msg) -> None:
    event = json.loads(msg.data)
    data = event.get("data", {})
    kind = msg.subject.split(".")[2]
    style = {"eligible": "green", "rejected": "red", "eligibility_withdrawn": "yellow"}.get(
        kind, "cyan"
    )
    detail = {
        "eligible": lambda: (
            f"completed {data['completed_on']}, claim by {data['claim_by']}, "
            f"{data['credits']} credits"
        ),
        "eligibility_withdrawn": lambda: f"{data['reason']}: {data['detail']}",
        "window_expired": lambda: f"claim-by date {data['claim_by']} passed",
        "unit_certificate": lambda: (
            f"{len(data['units'])} units, {data['credits']} credits ({data['because']})"
        ),
        "rejected": lambda: f"{data['reason']}: {data['detail']}",
    }.get(kind, lambda: "")()
    who = event.get("subject", "?")
    what = data.get("qualification") or data.get("original_id") or ""
    out.print(f"[{style}]{event['type']:<40}[/] {who} {what}  {detail}", highlight=False)


def _summary(out: Console, seen: Counter[str]) -> None:
    table = Table(title="Decisions published")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, count in sorted(seen.items()):
        table.add_row(kind, str(count))
    out.print()
    out.print(table)


@contextlib.asynccontextmanager
async def _closing(client: Client) -> AsyncIterator[Client]:
    try:
        yield client
    finally:
        await client.close()


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=False)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="learner-records-demo-") as scratch:
        yield Path(scratch)
