"""Rebuilding the read models from a big store, with ``learner-records rebuild``.

The store (at least ``rebuild_events`` stored events: facts, refusals and decisions)
is built once through the application service from loadgen histories and kept in
.bench/ for later runs; the rebuild itself runs as the command does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench._common import RESULTS, WORK, load, progress, size
from devtools.loadgen import DEFAULT_AS_OF

BATCH = 2000
LEARNERS_PER_ROUND = 5_000


def _build(path: Path, events: int) -> int:
    from services.adapters.catalogue_files import load_catalogue
    from services.application.clock import FixedClock
    from services.entrypoints.wiring import open_records

    partial = path.with_suffix(".partial")
    for stale in path.parent.glob(partial.name + "*"):
        stale.unlink()
    records = open_records(str(partial), load_catalogue(), FixedClock(DEFAULT_AS_OF))
    try:
        stored, first = 0, 1
        with progress() as bar:
            task = bar.add_task("building the store", total=events)
            while stored < events:
                messages = load(LEARNERS_PER_ROUND, seed=4, first=first)
                for start in range(0, len(messages), BATCH):
                    records.receive_batch([p for _, p in messages[start : start + BATCH]])
                stored = records.store.recorder.max_notification_id() or 0
                bar.update(task, completed=min(stored, events))
                (WORK / f"load-4-{first}-{LEARNERS_PER_ROUND}.txt").unlink(missing_ok=True)
                first += LEARNERS_PER_ROUND
    finally:
        records.close()
    partial.rename(path)
    return stored


def store() -> Path:
    """The big store (built once, in process, kept in .bench/rebuild)."""
    target = size().rebuild_events
    path = WORK / "rebuild" / f"store-{target}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _build(path, target)
    return path


def main() -> None:
    path = store()
    views = path.with_name(path.stem + ".views.sqlite")
    views.unlink(missing_ok=True)
    command = [
        str(Path(sys.executable).with_name("learner-records")),
        "rebuild",
        "--store",
        str(path),
        "--views",
        str(views),
        "--json",
    ]
    out = subprocess.run(command, capture_output=True, check=True)
    summary = json.loads(out.stdout)
    rate = summary["position"] / summary["seconds"]
    RESULTS["rebuild_events_per_s"] = rate
    print(
        f"rebuild of the read models ({summary['position']:,} stored events, "
        f"{summary['registrations']:,} registrations)"
    )
    print(
        f"  learner-records rebuild            {rate:>10,.0f} events/s ({summary['seconds']:.1f}s)"
    )


if __name__ == "__main__":
    main()
