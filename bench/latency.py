"""Latency: from the publish of a learner's completing event to its certification.eligible.v1.

Loadgen histories are published at a steady rate to a fresh service; a subscriber on
``records.out.eligible.>`` reads each decision's ``caused_by`` (the inbound event that
completed the registration) and subtracts the moment that event was published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from bench._common import (
    RESULTS,
    Service,
    connected,
    load,
    nats_server,
    percentile,
    progress,
    size,
    wait_ready,
)
from devtools.commands.loadgen import publish_all


async def _run(url: str, messages: list[tuple[str, bytes]], rate: float) -> list[float]:
    await wait_ready(url)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    async with connected(url) as (nc_any, js):
        nc: Any = nc_any

        async def on_eligible(msg: Any) -> None:
            arrived = time.monotonic()
            cause = json.loads(msg.data)["data"].get("caused_by") or {}
            if (at := sent.get(cause.get("id", ""))) is not None:
                latencies.append(arrived - at)

        await nc.subscribe("records.out.eligible.>", cb=on_eligible)

        def published(_: int, __: str, payload: bytes, at: float) -> None:
            with contextlib.suppress(ValueError, KeyError, TypeError):  # malformed events
                sent[json.loads(payload)["id"]] = at
            bar.advance(task)

        with progress() as bar:
            task = bar.add_task(f"latency at {rate:.0f}/s", total=len(messages))
            await publish_all(js, messages, rate=rate, on_published=published)
        await asyncio.sleep(2.0)  # the last decisions
    return sorted(latencies)


def main() -> None:
    config = size()
    count = int(config.latency_seconds * config.latency_rate)
    messages = load(max(10, count // 8), seed=3)[:count]
    with nats_server("latency") as url:
        service = Service("latency", url)
        try:
            latencies = asyncio.run(_run(url, messages, config.latency_rate))
        finally:
            service.stop()
    p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
    RESULTS["p99_ms"] = p99
    print(
        f"latency, completing event -> certification.eligible.v1, "
        f"at {config.latency_rate:.0f} events/s ({len(latencies):,} eligible decisions)"
    )
    print(f"  p50 {p50:8.1f} ms    p95 {p95:8.1f} ms    p99 {p99:8.1f} ms")


if __name__ == "__main__":
    main()
