"""``learner-records erase ULN --reason …``: forget a learner's personal data for good.

The learner's key is destroyed and the erasure recorded in their history, in one
transaction: their date of birth (and the original bytes of every event they sent,
which the store kept sealed under that key) can never be read again, by anyone, from
the store or a backup of it made afterwards. Statuses and decisions still replay: the
age check was taken, and recorded, at registration.

Run it against the store the service uses. A running service that holds the learner
in memory notices on its next write for them (the store refuses its stale version), and
starts that partition again from the store.
"""

from __future__ import annotations

import argparse
from typing import Any

from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import StoreUnavailableError, redact, store_location
from services.entrypoints.commands._args import description, uln
from services.entrypoints.commands._output import EXIT_NOT_FOUND, console, fail, print_json
from services.entrypoints.wiring import open_records


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "erase",
        help="destroy a learner's key: their personal data becomes unreadable for good",
        description=description(__doc__),
    )
    parser.add_argument("uln", type=uln, metavar="ULN")
    parser.add_argument(
        "--reason", required=True, help="why, for the record (e.g. a GDPR request reference)"
    )
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        help="the event store ($LEARNER_RECORDS_STORE, else var/records.sqlite)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    location = store_location(args.store)
    try:
        records = open_records(location, load_catalogue(), create=False)
    except StoreUnavailableError as error:
        fail(str(error))
    try:
        erased = records.erase(args.uln, args.reason)
    finally:
        records.close()
    if not erased:
        fail(f"no history for learner {args.uln} in {redact(location)}", EXIT_NOT_FOUND)
    if args.json:
        print_json({"uln": args.uln, "erased": True, "reason": args.reason})
    else:
        console().print(
            f"Learner {args.uln}: personal data erased (key destroyed); "
            "statuses and decisions still replay."
        )
    return 0
