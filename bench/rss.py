"""Peak RSS of the service at 100,000 learners, and the summary line every benchmark
contributes to, printed last.

``learner-records serve`` starts on a copy of the rebuild benchmark's store (1,000,000
events; its first ``rss_learners`` learners are read from it) with an empty read model, so
it first projects the whole store, then is sent one event again for every one of those
learners: each is a duplicate, which the writer can only tell by loading the learner's full
history, so every learner passes through the writer's and the projection's caches. The
peak (VmHWM) is read once everything is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench import rebuild
from bench._common import RESULTS, Service, connected, nats_server, progress, size, wait_ready
from devtools.commands.loadgen import publish_all


def _touches(store: Path, learners: int) -> list[tuple[str, bytes]]:
    """Each learner's first fact again, as its publisher sent it."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        rows = db.execute(
            # Each learner's first recorded fact (its first event may have been refused).
            "SELECT state FROM stored_events WHERE rowid IN ("
            " SELECT MIN(rowid) FROM stored_events WHERE topic LIKE '%Learner.FactRecorded'"
            " GROUP BY originator_id) ORDER BY rowid LIMIT ?",
            (learners,),
        ).fetchall()
    messages = []
    for (state,) in rows:
        inbound = json.loads(state)["inbound"]
        messages.append((f"records.in.{inbound['subject']}", json.dumps(inbound).encode()))
    return messages


async def _run(url: str, messages: list[tuple[str, bytes]]) -> None:
    await wait_ready(url, timeout=600.0)
    async with connected(url) as (_, js_any):
        js: Any = js_any
        with progress() as bar:
            task = bar.add_task("RSS: a duplicate per learner", total=len(messages))
            await publish_all(js, messages, on_published=lambda *_: bar.advance(task))
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            info = await js.consumer_info("RECORDS_IN", "ingest")
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError("the service did not ingest everything in time")


def main() -> None:
    store = rebuild.store()
    messages = _touches(store, size().rss_learners)
    with nats_server("rss") as url:
        service = Service("rss", url, store=store)
        try:
            asyncio.run(_run(url, messages))
            rss = service.peak_rss_mb()
        finally:
            service.stop()
    RESULTS["rss_mb"] = rss
    print(
        f"peak RSS of `learner-records serve` at {len(messages):,} learners "
        f"(their full histories in the store, each loaded and projected): {rss:,.0f} MB"
    )


# (name, result key, target, higher is better)
TARGETS = (
    ("end to end, events/s", "e2e_events_per_s", 5000.0, True),
    ("share of the baseline", "ratio", 0.40, True),
    ("p99 latency at 500/s, ms", "p99_ms", 50.0, False),
    ("rebuild, events/s", "rebuild_events_per_s", 50000.0, True),
    ("peak RSS, MB", "rss_mb", 500.0, False),
)


def summary() -> None:
    """Every figure beside its target, then the machine-readable last line."""
    r = RESULTS
    e2e, baseline = r.get("e2e_events_per_s", 0.0), r.get("baseline_msgs_per_s", 0.0)
    ratio = e2e / baseline if baseline else 0.0
    r["ratio"] = ratio
    print(f"{'':28}{'measured':>12}{'target':>12}")
    print(f"{'baseline, msgs/s':28}{baseline:>12,.0f}")
    print(f"{'in-process, events/s':28}{r.get('inprocess_events_per_s', 0.0):>12,.0f}")
    for name, key, target, higher in TARGETS:
        value = r.get(key, float("nan"))
        met = value >= target if higher else value <= target
        shown = f"{value:.2f}" if key == "ratio" else f"{value:,.0f}"
        goal = f"{target:.2f}" if key == "ratio" else f"{target:,.0f}"
        bound = ("≥ " if higher else "≤ ") + goal
        print(f"{name:28}{shown:>12}{bound:>12}  {'met' if met else 'MISSED'}")
    print(
        f"bench: e2e_events_per_s={e2e:.0f} baseline_msgs_per_s={baseline:.0f} "
        f"ratio={ratio:.2f} p99_ms={r.get('p99_ms', 0.0):.0f} "
        f"rebuild_events_per_s={r.get('rebuild_events_per_s', 0.0):.0f} "
        f"rss_mb={r.get('rss_mb', 0.0):.0f}"
    )
