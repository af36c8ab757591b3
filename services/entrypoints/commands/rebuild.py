"""``learner-records rebuild``: the read models again from the first event in the store.

Safe while the service runs: the view keeps answering from its old rows until the
rebuild replaces them all at once, and the running projection then notices that its
position moved and carries on from the rebuild's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from projections.status_projection import REBUILD_BATCH
from services.adapters.store import store_location
from services.entrypoints.commands._output import console, fail, print_json
from services.entrypoints.config import views_location


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rebuild",
        help="rebuild the read models (learner status) from the event store",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--store", metavar="PATH|URL", help="the event store (env LEARNER_RECORDS_STORE)"
    )
    parser.add_argument(
        "--views",
        type=Path,
        metavar="PATH",
        help="the read models' file (default beside the store)",
    )
    parser.add_argument(
        "--batch", type=int, default=REBUILD_BATCH, help="notifications per transaction"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes sharing the learners (default: up to 2 for a big SQLite store)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary, no progress")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from projections.status_projection import StatusProjection
    from projections.status_view import StatusView
    from services.adapters.catalogue_files import load_catalogue
    from services.adapters.store import open_records

    store = store_location(args.store)
    try:
        records = open_records(store, load_catalogue(), create=False)
    except FileNotFoundError as error:
        fail(str(error))
    try:
        view = StatusView(views_location(store, args.views))
        projection = StatusProjection(records, view, batch=args.batch)
        started = time.monotonic()
        position = (
            projection.rebuild(workers=args.workers)
            if args.json
            else _with_progress(projection, args.workers)
        )
        elapsed = time.monotonic() - started
    finally:
        records.close()
    summary = {
        "views": str(view.path),
        "position": position,
        "registrations": view.count(),
        "seconds": round(elapsed, 3),
    }
    if args.json:
        print_json(summary)
    else:
        console().print(
            f"Rebuilt {view.path}: {summary['registrations']} registrations "
            f"from {position} events in {elapsed:.1f}s."
        )
    return 0


def _with_progress(projection: Any, workers: int | None) -> int:
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console(), transient=True) as bar:
        task = bar.add_task("events", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        position: int = projection.rebuild(progress, workers=workers)
    return position
