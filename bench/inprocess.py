"""The write path in process, no NATS: ``receive_batch`` beside the lean replica.

``LearnerRecords.receive_batch`` (services.entrypoints.wiring.open_records, a fixed
clock) takes the loadgen histories of 10,000 learners (~98,000 events) in batches of 500,
one transaction each, on a new SQLite store; the lean replica (bench/lean.py: the same
domain code, rows and schema, none of the service's abstractions) takes the same
payloads. Each trial runs in a fresh process (nothing left over from the one before:
heap, frozen objects, caches), the two alternate (service, lean, service, lean, …) so
that the machine's other load falls on both alike, and the median of each is reported.
A last trial runs ``receive_batch`` on PostgreSQL (durable) for the store's share there.

Inside the service's trials, the store's ``append`` (encode, seal, insert, commit) and
the recorder's ``insert_events`` (SQL and commit alone) are timed, so the figures say
how much of an event's time is the store (``w``, ``g`` in deploy/SCALING.md).

``python -m bench.inprocess`` runs it alone; ``python -m bench.inprocess --trial
service|lean LEARNERS [STORE]`` is one trial, printing its figures as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._common import load, median, postgres_database, report, say, size
from devtools.loadgen import DEFAULT_AS_OF

BATCH = 500
TARGET_EVENTS_PER_S = 8000.0
TARGET_SHARE_OF_LEAN = 0.8


def _timing(fn: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[0] += time.perf_counter() - started

    return timed


def trial(kind: str, learners: int, store: str | None = None) -> dict[str, float]:
    """One trial in this process: seconds for every payload, and the store's share."""
    from services.adapters.catalogue_files import load_catalogue
    from services.application.clock import FixedClock
    from services.entrypoints.wiring import open_records

    catalogue = load_catalogue()
    clock = FixedClock(DEFAULT_AS_OF)
    payloads = [p for _, p in load(learners, seed=2)]
    if kind == "lean":
        from bench import lean

        seconds, rows, store_s = lean.run(payloads, catalogue, clock.now())
        return {"events": len(payloads), "seconds": seconds, "rows": rows, "store_s": store_s}
    with tempfile.TemporaryDirectory() as directory:
        records = open_records(store or str(Path(directory) / "s.sqlite"), catalogue, clock)
        append, insert = [0.0], [0.0]
        records.store.append = _timing(records.store.append, append)  # type: ignore[method-assign]
        recorder = records.store.recorder
        recorder.insert_events = _timing(recorder.insert_events, insert)
        try:
            started = time.perf_counter()
            for start in range(0, len(payloads), BATCH):
                records.receive_batch(payloads[start : start + BATCH])
            seconds = time.perf_counter() - started
            rows = records.store.last_position()
        finally:
            records.close()
    return {
        "events": len(payloads),
        "seconds": seconds,
        "rows": rows,
        "append_s": append[0],
        "insert_s": insert[0],
    }


def _spawn(kind: str, learners: int, store: str | None = None) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.inprocess", "--trial", kind, str(learners)]
    if store is not None:
        command.append(store)
    out = subprocess.run(command, capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} trial failed:\n{out.stderr.decode()[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> None:
    config = size()
    learners = config.inprocess_learners
    events = len(load(learners, seed=2))
    print(
        f"in process, no NATS ({learners:,} learners, {events:,} events, batches of {BATCH}, "
        "SQLite; each trial a fresh process, service and lean replica alternating)"
    )
    service: list[dict[str, float]] = []
    lean: list[dict[str, float]] = []
    for n in range(config.inprocess_rounds):
        say(f"round {n + 1} of {config.inprocess_rounds}: receive_batch")
        service.append(_spawn("service", learners))
        say(f"round {n + 1} of {config.inprocess_rounds}: lean replica")
        lean.append(_spawn("lean", learners))
    say("receive_batch on PostgreSQL (durable)")
    pg = _spawn("service", learners, postgres_database())
    rates = [t["events"] / t["seconds"] for t in service]
    lean_rates = [t["events"] / t["seconds"] for t in lean]
    for n, (s, x) in enumerate(zip(rates, lean_rates, strict=True), start=1):
        print(f"  round {n}: receive_batch {s:8,.0f} events/s   lean {x:8,.0f}   ({s / x:.2f})")
    rate, lean_rate = median(rates), median(lean_rates)
    share = median([s / x for s, x in zip(rates, lean_rates, strict=True)])
    last = service[-1]
    per_event = last["seconds"] / last["events"] * 1e6
    append_us = last["append_s"] / last["events"] * 1e6
    insert_us = last["insert_s"] / last["events"] * 1e6
    pg_rate = pg["events"] / pg["seconds"]
    pg_insert_us = pg["insert_s"] / pg["events"] * 1e6
    pg_append_us = pg["append_s"] / pg["events"] * 1e6
    print(
        f"  receive_batch per event (last round): {per_event:,.0f} µs, of which the store's "
        f"append {append_us:,.0f} µs (encode + seal {append_us - insert_us:,.0f}, "
        f"insert + commit {insert_us:,.0f})"
    )
    lean_last = lean[-1]
    lean_us = lean_last["seconds"] / lean_last["events"] * 1e6
    lean_store_us = lean_last["store_s"] / lean_last["events"] * 1e6
    rest, lean_rest = per_event - append_us, lean_us - lean_store_us
    print(
        f"  lean replica per event (last round): {lean_us:,.0f} µs, of which encode, insert and "
        f"commit {lean_store_us:,.0f} µs; the rest (parse, fold, decide) {lean_rest:,.0f} µs "
        f"against receive_batch's {rest:,.0f} µs"
    )
    print(
        f"  on PostgreSQL: {pg_rate:,.0f} events/s, append {pg_append_us:,.0f} µs per event "
        f"(insert + commit {pg_insert_us:,.0f})"
    )
    report(
        "inprocess_events_per_s",
        f"in-process receive_batch, {learners:,} learners",
        rate,
        unit="events/s",
        baseline=f"lean replica {lean_rate:,.0f} events/s",
        target=TARGET_EVENTS_PER_S,
    )
    report("lean_replica_events_per_s", "lean replica (bench/lean.py)", lean_rate, unit="events/s")
    report(
        "inprocess_share_of_lean",
        "receive_batch / lean replica",
        share,
        unit="ratio",
        baseline="same payloads, alternating",
        target=TARGET_SHARE_OF_LEAN,
    )
    report("inprocess_pg_events_per_s", "in-process receive_batch, PostgreSQL", pg_rate)
    report("w_store_us", "w: SQLite insert + commit per event (batches of 500)", insert_us)
    report(
        "g_postgres_us", "g: PostgreSQL insert + commit per event (batches of 500)", pg_insert_us
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--trial":
        from services.entrypoints.logging import configure_logging

        configure_logging(level="WARNING")
        store = sys.argv[4] if len(sys.argv) > 4 else None
        print(json.dumps(trial(sys.argv[2], int(sys.argv[3]), store)))
    else:
        main()
