"""The application service alone: ``receive_batch`` on SQLite, no NATS, batches of 500.

What the ingest path costs before any messaging: parse, apply to the learner, decide,
store. The end-to-end figure cannot exceed it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench._common import RESULTS, load, size
from devtools.loadgen import DEFAULT_AS_OF

BATCH = 500


def main() -> None:
    from services.adapters.catalogue_files import load_catalogue
    from services.application.clock import FixedClock
    from services.entrypoints.wiring import open_records

    learners = min(size().e2e_learners, 10_000)
    payloads = [p for _, p in load(learners, seed=2)]
    with tempfile.TemporaryDirectory() as directory:
        records = open_records(
            str(Path(directory) / "s.sqlite"), load_catalogue(), FixedClock(DEFAULT_AS_OF)
        )
        try:
            started = time.perf_counter()
            for start in range(0, len(payloads), BATCH):
                records.receive_batch(payloads[start : start + BATCH])
            elapsed = time.perf_counter() - started
        finally:
            records.close()
    rate = len(payloads) / elapsed
    RESULTS["inprocess_events_per_s"] = rate
    print(f"in-process receive_batch ({learners:,} learners, {len(payloads):,} events, no NATS)")
    print(f"  one transaction per 500 events     {rate:>10,.0f} events/s")
