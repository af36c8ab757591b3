"""``learner-records rebuild``: the read models again from the first event in the store.

Safe while the service runs: the view keeps answering from its old rows until the
rebuild replaces them all at once, and the running projection then notices that its
position moved and carries on from the rebuild's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
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
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes folding the learners, each a share of them (default: the cores, "
        "at most 4, for a store of 50,000 events or more; else one)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary, no progress")
    parser.set_defaults(handler=run)


# Below this many events, starting processes costs more than folding in one.
PARALLEL_FROM = 50_000
DEFAULT_WORKERS = min(os.cpu_count() or 1, 4)


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
        last = store.last_position()
        workers = (
            args.workers
            if args.workers is not None
            else (DEFAULT_WORKERS if last >= PARALLEL_FROM else 1)
        )
        if workers < 1:
            fail(f"--workers {workers}: give at least 1")
        if workers > 1:
            position = _in_processes(location, projection, last, workers, not args.json)
        else:
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


def _in_processes(location: str, projection: Any, last: int, workers: int, show: bool) -> int:
    """Each of ``workers`` processes folds and evaluates its share of the learners (by
    their ids); this one swaps their rows into the view in one transaction."""
    context = multiprocessing.get_context("spawn")
    scanned = context.Array("q", workers)
    today = projection.today()
    rows: list[Any] = []
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_share, initargs=(scanned,)
    ) as pool:
        futures = [
            pool.submit(_fold_shard, location, last, today, (k, workers)) for k in range(workers)
        ]
        with _bar(show) as update:
            while not all(f.done() for f in futures):
                update(min(int(n) for n in scanned[:]), last)
                time.sleep(0.2)
        for future in futures:
            rows.extend(future.result())
    projection.view.replace(last, rows)
    return last


_SCANNED: Any = None


def _share(scanned: Any) -> None:
    global _SCANNED
    _SCANNED = scanned


def _fold_shard(location: str, last: int, today: date, shard: tuple[int, int]) -> list[Any]:
    from projections.status_projection import rows_until
    from services.adapters.catalogue_files import load_catalogue
    from services.adapters.store import open_store

    def progress(done: int, total: int) -> None:
        _SCANNED[shard[0]] = done

    store = open_store(location, create=False, tables=False)
    try:
        return rows_until(store, load_catalogue(), last, today, shard, progress)
    finally:
        store.close()


@contextmanager
def _bar(show: bool) -> Iterator[Callable[[int, int], None]]:
    if not show:
        yield lambda done, total: None
        return
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console(), transient=True) as bar:
        task = bar.add_task("events", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _with_progress(projection: Any) -> int:
    with _bar(True) as update:
        position: int = projection.rebuild(update)
    return position
