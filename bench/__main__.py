"""``python -m bench`` (``make bench``): every benchmark, each printing its own table, then
every figure beside its baseline and target, and one summary line.

``BENCH=quick`` for a small run; ``BENCH_ONLY=e2e,latency`` runs only those modules (the
summary shows what they measured).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import date

from bench import (
    baseline,
    contracts,
    e2e,
    inprocess,
    latency,
    rebuild,
    replay,
    rss,
    rules,
    snapshots,
)
from bench._common import FIGURES, RESULTS, shown, size, stop_postgres

BENCHMARKS: dict[str, Callable[[], None]] = {
    "rules": rules.main,
    "contracts": contracts.main,
    "inprocess": inprocess.main,
    "snapshots": snapshots.main,
    "replay": replay.main,
    "e2e": e2e.main,
    "latency": latency.main,
    "rebuild": rebuild.main,
    "rss": rss.main,
}
_ = baseline  # measured inside e2e, beside each run

# The summary line: these keys, in this order, then any other figure measured.
SUMMARY = (
    "inprocess_events_per_s",
    "lean_replica_events_per_s",
    "inprocess_share_of_lean",
    "e2e_events_per_s",
    "baseline_msgs_per_s",
    "ratio",
    "p99_ms",
    "replay_s",
    "bare_loop_s",
    "replay_ratio",
    "snapshot_load_ms",
    "rebuild_events_per_s",
    "rss_mb",
)


def machine() -> str:
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    return (
        f"{platform.node()}: {cores} cores, Python {platform.python_version()}, "
        f"{date.today().isoformat()}, load average {load:.1f} at start"
    )


def summary() -> None:
    print(f"{'figure':<52}{'measured':>16}  {'beside (same run)':<32}{'target':>12}")
    for f in FIGURES:
        if f.target is None and not f.baseline:
            continue
        target = ""
        if f.target is not None:
            target = ("≥ " if f.higher_is_better else "≤ ") + shown(f.target, f.unit)
        verdict = {True: "met", False: "MISSED", None: ""}[f.met]
        print(f"{f.label:<52}{shown(f.value, f.unit):>16}  {f.baseline:<32}{target:>12}  {verdict}")
    keys = [k for k in SUMMARY if k in RESULTS] + sorted(k for k in RESULTS if k not in SUMMARY)
    print("bench: " + " ".join(f"{k}={_plain(RESULTS[k])}" for k in keys))


def _plain(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def main() -> None:
    from services.entrypoints.logging import configure_logging

    configure_logging(level="WARNING")
    only = [m for m in os.environ.get("BENCH_ONLY", "").split(",") if m]
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        sys.exit(f"BENCH_ONLY: no such benchmark {sorted(unknown)}; choose from {list(BENCHMARKS)}")
    print(f"bench ({size().name} run) on {machine()}")
    started = time.monotonic()
    try:
        for name, benchmark in BENCHMARKS.items():
            if only and name not in only:
                continue
            print()
            began = time.monotonic()
            benchmark()
            print(f"  ({name}: {time.monotonic() - began:.0f}s)")
    finally:
        stop_postgres()
    print()
    summary()
    print(f"(the whole bench: {(time.monotonic() - started) / 60:.1f} min)")


if __name__ == "__main__":
    main()
