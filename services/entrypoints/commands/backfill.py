"""``learner-records backfill FILE``: old histories into the store, decided as lived.

A live service decides each event as of the moment it arrives. Fed a backfill of old
histories, it would find most past their claim-by dates and decide ``window_expired``
where the learner was in fact certificated in time. ``backfill`` stores the events
instead as if each had arrived at its own ``time``, with the daily review of claim-by
dates in between (services.application.replay): the decisions are those a live
service would have taken then, and the relay publishes them when the service runs.

Run it with the service stopped, or for learners the service has never seen: it
writes the store directly, as the one writer of those learners.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import StoreUnavailableError, store_location
from services.application.clock import SystemClock
from services.application.replay import lines_of, replay_as_lived
from services.entrypoints.commands._args import description, iso_date
from services.entrypoints.commands._output import console, fail, print_json
from services.entrypoints.wiring import open_records


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backfill",
        help="store old CloudEvents as if each had arrived at its own time",
        description=description(__doc__),
    )
    parser.add_argument("file", type=Path, help="CloudEvents, one JSON object per line")
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        help="the event store ($LEARNER_RECORDS_STORE, else var/records.sqlite)",
    )
    parser.add_argument(
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the last day lived through (default: today); later events are taken on it",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as error:
        fail(f"cannot read {args.file}: {error.strerror or error}")
    lines = lines_of(data)
    as_of = args.as_of or SystemClock().now().date()
    try:
        records = open_records(store_location(args.store), load_catalogue())
    except StoreUnavailableError as error:
        fail(str(error))
    try:
        replayed = replay_as_lived(records, lines, as_of)
    finally:
        records.close()
    outcomes = Counter(o.outcome for o in replayed.outcomes)
    decisions = Counter(d.kind.value for d in replayed.decisions)
    summary = {
        "events": len(lines),
        "as_of": as_of.isoformat(),
        "outcomes": dict(outcomes),
        "decisions": dict(decisions),
    }
    if args.json:
        print_json(summary)
    else:
        console().print(
            f"Backfilled {len(lines)} events as lived up to {as_of}: "
            + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
            + "; decisions: "
            + (", ".join(f"{n} {k}" for k, n in sorted(decisions.items())) or "none")
        )
    return 0
