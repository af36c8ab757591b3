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
from services.adapters.store import is_postgres, store_location
from services.entrypoints.commands._args import description
from services.entrypoints.commands._output import console, fail, print_json
from services.entrypoints.config import views_location


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rebuild",
        help="rebuild the read models (learner status) from the event store",
        description=description(__doc__),
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
    parser.add_argument("--json", action="store_true", help="print a JSON summary, no progress")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from projections.status_projection import StatusProjection
    from projections.status_view import open_status_view
    from services.adapters.catalogue_files import load_catalogue
    from services.adapters.store import StoreUnavailableError, open_store, redact
    from services.application.clock import SystemClock

    location = store_location(args.store)
    try:
        store = open_store(location, create=False)
    except StoreUnavailableError as error:
        fail(str(error))
    views = views_location(location, args.views)
    view = open_status_view(location, views)
    clock = SystemClock()
    try:
        projection = StatusProjection(
            store, view, load_catalogue(), lambda: clock.now().date(), batch=args.batch
        )
        started = time.monotonic()
        position = projection.rebuild() if args.json else _with_progress(projection)
        elapsed = time.monotonic() - started
        registrations = view.count()
    finally:
        store.close()
        view.close()
    where = redact(location) if is_postgres(location) else str(views)
    summary = {
        "views": where,
        "position": position,
        "registrations": registrations,
        "seconds": round(elapsed, 3),
    }
    if args.json:
        print_json(summary)
    else:
        console().print(
            f"Rebuilt {where}: {registrations} registrations "
            f"from {position} events in {elapsed:.1f}s."
        )
    return 0


def _with_progress(projection: Any) -> int:
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console(), transient=True) as bar:
        task = bar.add_task("events", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        position: int = projection.rebuild(progress)
    return position
