"""``learner-records status ULN``: a learner's registrations, from the running service or a store.

By default it asks the service over NATS (request/reply on ``records.query.status``,
answered from the read model). ``--store PATH`` reads an event store directly instead,
with no service running: the same answer, replayed from the learner's facts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from contracts import ContractError, parse_status_request
from contracts.status import StatusReply
from contracts.subjects import STATUS_QUERY_SUBJECT
from services.adapters.nats.connection import (
    DEFAULT_URL,
    NatsOptions,
    NatsUnavailableError,
    connect_once,
)
from services.adapters.nats.credentials import Role
from services.entrypoints.commands._args import description, iso_date, uln
from services.entrypoints.commands._nats import add_nats_arguments, client_options
from services.entrypoints.commands._output import EXIT_NOT_FOUND, console, fail, print_json

EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="a learner's registrations and their status",
        description=description(__doc__),
    )
    parser.add_argument("uln", type=uln, help="the learner's ULN")
    parser.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="status as of this day (today)"
    )
    add_nats_arguments(
        parser,
        url_help=f"the service's NATS server (default {DEFAULT_URL}, with the embedded "
        "default's auditor credentials, var/nats/credentials/auditor.nk)",
    )
    parser.add_argument(
        "--store", metavar="PATH|URL", help="read this event store directly, no service needed"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    request = {"uln": args.uln, "as_of": args.as_of.isoformat() if args.as_of else None}
    raw = json.dumps(request).encode()
    reply = _offline(args.store, raw) if args.store else _ask(args, raw)
    if args.json:
        print_json(reply.model_dump(mode="json"))
    else:
        print_reply(reply, console())
    if reply.error is not None:
        return EXIT_FAILED
    # No registration known: the same exit status as audit and export give a learner the
    # store has never heard of, whether the answer came from the service or a store.
    return 0 if reply.registrations else EXIT_NOT_FOUND


def _ask(args: argparse.Namespace, raw: bytes) -> StatusReply:
    options = client_options(args, Role.AUDITOR, name="learner-records-status")
    try:
        data = asyncio.run(_request(options, raw, args.timeout))
    except (OSError, TimeoutError) as error:
        fail(f"no answer from the service at {options.display_url}: {error or 'timed out'}")
    try:
        return StatusReply.model_validate_json(data)
    except ValueError as error:
        fail(f"the service's reply does not fit the status contract: {error}")


async def _request(options: NatsOptions, raw: bytes, timeout: float) -> bytes:
    import nats.errors

    try:
        client = await connect_once(options, timeout=timeout)
    except NatsUnavailableError as error:
        fail(str(error))
    try:
        reply = await client.request(STATUS_QUERY_SUBJECT, raw, timeout=timeout)
    except nats.errors.NoRespondersError:
        raise OSError("no service is answering status queries") from None
    except TimeoutError:
        # A refused publish is reported asynchronously, so it looks like silence.
        if "permissions violation" in str(client.last_error).lower():
            raise OSError(
                f"these credentials may not ask for status ({client.last_error})"
            ) from None
        raise
    finally:
        await client.close()
    return reply.data


def _offline(location: str, raw: bytes) -> StatusReply:
    from projections.documents import registration_document
    from projections.status_query import StatusQuery
    from services.adapters.catalogue_files import load_catalogue
    from services.adapters.store import StoreUnavailableError
    from services.entrypoints.wiring import open_records

    try:
        parse_status_request(raw)
    except ContractError as error:
        fail(error.detail)
    try:
        records = open_records(location, load_catalogue(), create=False)
    except StoreUnavailableError as error:
        fail(str(error))
    try:

        def replay(uln: str, day: date) -> list[dict[str, Any]] | None:
            views = records.status(uln, as_of=day)
            if views is None:
                return None
            return [registration_document(v, records.catalogue) for v in views]

        today = records.clock.now().date()
        return StatusQuery(None, replay, lambda: today).answer(raw)
    finally:
        records.close()


def print_reply(reply: StatusReply, out: Console) -> None:
    if reply.error is not None:
        out.print(f"[red]{reply.error.code}[/]: {reply.error.detail}")
        return
    when = reply.as_of.isoformat() if isinstance(reply.as_of, date) else "today"
    if not reply.registrations:
        out.print(f"Learner {reply.uln}: no registrations known (as of {when}).")
        return
    table = Table(title=f"Learner {reply.uln}, as of {when}")
    for column in ("qualification", "status", "registered", "completed", "claim by", "credits"):
        table.add_column(column)
    for r in reply.registrations:
        table.add_row(
            r.qualification,
            r.status,
            str(r.registered_on),
            str(r.completed_on or "—"),
            str(r.claim_by),
            str(r.credits),
        )
    out.print(table)
