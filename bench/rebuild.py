"""Rebuilding the read models from a big store, with ``learner-records rebuild``.

The store (at least ``rebuild_events`` stored events: facts, refusals and decisions) is
built once through the application service (``receive_batch``) from loadgen histories
and kept in .bench/rebuild for later runs, with a progress bar; the rebuild runs as the
command does, as a process. Its baseline, in the same run: a process that only reads
every stored row (SQLite, ``SELECT topic, state``) and decodes its JSON with msgspec, the
least any rebuild must do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench._common import WORK, load, progress, report, say, size
from devtools.loadgen import DEFAULT_AS_OF

BATCH = 2000
LEARNERS_PER_ROUND = 5_000
TARGET_EVENTS_PER_S = 50_000.0
SCAN = """
import sqlite3, sys, time, msgspec
started = time.perf_counter()
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
decode = msgspec.json.decode
n = 0
for topic, state in db.execute("SELECT topic, state FROM stored_events ORDER BY rowid"):
    decode(state)
    n += 1
print(n, time.perf_counter() - started)
"""


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
            task = bar.add_task("building the rebuild's store (once)", total=events)
            while stored < events:
                messages = load(LEARNERS_PER_ROUND, seed=4, first=first)
                for start in range(0, len(messages), BATCH):
                    records.receive_batch([p for _, p in messages[start : start + BATCH]])
                stored = records.store.last_position()
                bar.update(task, completed=min(stored, events))
                (WORK / f"load-4-{first}-{LEARNERS_PER_ROUND}.txt").unlink(missing_ok=True)
                first += LEARNERS_PER_ROUND
    finally:
        records.close()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)
    return stored


def store() -> Path:
    """The big store (built once, in process, kept in .bench/rebuild)."""
    target = size().rebuild_events
    path = WORK / "rebuild" / f"store-{target}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        say(f"building a store of {target:,} events for the rebuild and RSS (once, kept)")
        _build(path, target)
    return path


def main() -> None:
    path = store()
    views = path.with_name(path.stem + ".views.sqlite")
    views.unlink(missing_ok=True)
    say("scanning every stored row (the baseline)")
    scan = subprocess.run(
        [sys.executable, "-c", SCAN, str(path)], capture_output=True, check=True, text=True
    )
    rows, scan_s = scan.stdout.split()
    scan_rate = int(rows) / float(scan_s)
    say("learner-records rebuild")
    started = time.perf_counter()
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("learner-records")),
            "rebuild",
            "--store",
            str(path),
            "--views",
            str(views),
            "--json",
        ],
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - started
    summary = json.loads(out.stdout)
    rate = summary["position"] / summary["seconds"]
    print(
        f"rebuild of the read models ({summary['position']:,} stored events, "
        f"{summary['registrations']:,} registrations)"
    )
    print(
        f"  learner-records rebuild            {rate:>10,.0f} events/s "
        f"({summary['seconds']:.1f}s; {wall:.1f}s as a process)"
    )
    print(f"  baseline: read and decode every row {scan_rate:>9,.0f} rows/s ({float(scan_s):.1f}s)")
    report(
        "rebuild_events_per_s",
        f"rebuild, {summary['position']:,} stored events",
        rate,
        unit="events/s",
        baseline=f"row scan {scan_rate:,.0f} rows/s",
        target=TARGET_EVENTS_PER_S,
    )


if __name__ == "__main__":
    main()
