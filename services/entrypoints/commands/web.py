"""``learner-records web``: the auditors' pages alone, on a store, with no NATS.

For an auditor with a copy of a store, and for the pages' browser tests. The running
service serves the same pages with ``serve --http``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import StoreUnavailableError, redact, store_location
from services.application.clock import Clock, FixedClock, SystemClock
from services.entrypoints.commands._args import description, iso_date
from services.entrypoints.commands._output import fail
from services.entrypoints.logging import configure_logging
from services.entrypoints.web import TOKEN_ENV, auditor_token, create_auditor_app
from services.entrypoints.web.access import DEFAULT_TOKEN_FILE
from services.entrypoints.web.listen import bind, is_loopback, parse_http_address
from services.entrypoints.wiring import open_records

DEFAULT_HTTP = "127.0.0.1:8081"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "web",
        help="the auditors' pages (and their JSON) on a store, without the service",
        description=description(__doc__),
    )
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        help="the event store: a SQLite file or postgresql:// URL "
        "($LEARNER_RECORDS_STORE, else var/records.sqlite)",
    )
    parser.add_argument(
        "--http",
        type=_address,
        default=DEFAULT_HTTP,
        metavar="HOST:PORT",
        help="where to listen (default %(default)s; port 0: any free one, printed)",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=DEFAULT_TOKEN_FILE,
        metavar="PATH",
        help=f"the auditor token, generated there on first start unless ${TOKEN_ENV} is set "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--no-token",
        action="store_true",
        help="open to anyone who can connect: allowed on a loopback address only",
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="take this day as today (the default as-of; demonstrations and tests)",
    )
    parser.add_argument("--log-level", default="INFO", help="default %(default)s")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    configure_logging(level=args.log_level)
    host, port = args.http
    if args.no_token and not is_loopback(host):
        fail(f"--no-token is allowed on a loopback address only, not {host}")
    token = None if args.no_token else _token(args.token_file)
    catalogue = load_catalogue()
    location = store_location(args.store)
    try:
        records = open_records(location, catalogue, create=False)
    except StoreUnavailableError as error:
        fail(str(error))
    clock: Clock = FixedClock(args.today) if args.today else SystemClock()
    app = create_auditor_app(records, catalogue, clock, token=token)
    try:
        sock = bind(host, port)
    except OSError as error:
        records.close()
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    # One line on stdout, for people and for the tests that start this command.
    print(
        f"auditors' pages on http://{shown}:{bound_port}/ for {redact(location)}; "
        + (_token_hint(args.token_file) if token else "no token (loopback only)"),
        flush=True,
    )
    # Access logs off: a `?token=` link would write the token into them.
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        records.close()
    return 0


def _token(path: Path) -> str:
    try:
        return auditor_token(path)
    except (OSError, ValueError) as error:
        fail(f"cannot read or create the auditor token at {path}: {error}")


def _token_hint(path: Path) -> str:
    if os.environ.get(TOKEN_ENV, "").strip():
        return f"auditor token from ${TOKEN_ENV}"
    return f"auditor token in {path}"


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_http_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
