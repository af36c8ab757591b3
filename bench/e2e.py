"""The service end to end, and its peak memory.

A fresh nats-server (deploy/nats.conf) and ``learner-records serve`` as its own process
on a new SQLite store. The loadgen histories are published as fast as the server
acknowledges; the clock runs from the first publish until every decision the service
stored (eligible, withdrawn, expired, unit certificate, rejected) is in RECORDS_OUT.
The service's peak RSS at 100,000 learners is bench/rss.py's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench._common import RESULTS, Service, connected, load, nats_server, progress, size, wait_ready
from devtools.commands.loadgen import publish_all


async def _drain(js: Any, service: Service, timeout: float = 600.0) -> tuple[float, int]:
    """Wait for ingest to settle everything, then for the relay to publish it all."""
    deadline = time.monotonic() + timeout
    while True:
        info = await js.consumer_info("RECORDS_IN", "ingest")
        if info.num_pending == 0 and info.num_ack_pending == 0:
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the service did not ingest everything in time")
        await asyncio.sleep(0.05)
    expected = service.decisions_stored()
    while (await js.stream_info("RECORDS_OUT")).state.messages < expected:
        if time.monotonic() > deadline:
            raise TimeoutError("the relay did not publish every decision in time")
        await asyncio.sleep(0.05)
    return time.monotonic(), expected


async def _run(url: str, service: Service, messages: list[tuple[str, bytes]]) -> dict[str, float]:
    await wait_ready(url)
    async with connected(url) as (_, js):
        with progress() as bar:
            task = bar.add_task("end to end: publishing", total=len(messages))
            started = time.monotonic()
            await publish_all(js, messages, on_published=lambda *_: bar.advance(task))
            published = time.monotonic()
        done, decisions = await _drain(js, service)
    return {
        "events": len(messages),
        "decisions": decisions,
        "publish_s": published - started,
        "seconds": done - started,
    }


def main() -> None:
    learners = size().e2e_learners
    messages = load(learners, seed=2)
    with nats_server("e2e") as url:
        service = Service("e2e", url)
        try:
            run = asyncio.run(_run(url, service, messages))
            rss = service.peak_rss_mb()
        finally:
            service.stop()
    rate = run["events"] / run["seconds"]
    RESULTS["e2e_events_per_s"] = rate
    print(f"service end to end ({learners:,} learners, {run['events']:,} events, SQLite)")
    print(f"  events in, until all {run['decisions']:,.0f} decisions are out")
    print(f"                                     {rate:>10,.0f} events/s")
    print(f"  ({run['seconds']:.1f}s; publishing alone took {run['publish_s']:.1f}s)")
    print(f"  peak RSS of the service (this run) {rss:>10,.0f} MB")


if __name__ == "__main__":
    main()
