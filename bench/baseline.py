"""The baseline: raw nats-py on the same server configuration, no service in between.

The same inbound messages are published to a stream configured like RECORDS_IN
(async publish, bounded acks in flight), then pulled by a durable consumer in batches
of the service's size and acknowledged one by one, as the service does. The figure is
messages over the time of both phases: the most the service could do on this machine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench._common import RESULTS, connected, load, nats_server, size
from devtools.commands.loadgen import publish_all
from services.adapters.nats.streams import Streams, declare

BATCH = Streams().fetch_batch


async def _run(url: str, messages: list[tuple[str, bytes]]) -> dict[str, float]:
    streams = Streams()
    async with connected(url) as (_, js_any):
        js: Any = js_any
        await declare(js, streams)
        started = time.monotonic()
        await publish_all(js, messages)
        published = time.monotonic()
        received = 0
        for partition in range(streams.partitions):
            stream = streams.inbound_stream(partition)
            waiting = (await js.stream_info(stream)).state.messages
            sub = await js.pull_subscribe_bind(
                durable=(await js.add_consumer(stream, durable_name="baseline")).name,
                stream=stream,
            )
            while waiting > 0:
                for msg in await sub.fetch(batch=BATCH, timeout=5.0):
                    await msg.ack()
                    received += 1
                    waiting -= 1
        done = time.monotonic()
    return {
        "publish": len(messages) / (published - started),
        "pull_ack": len(messages) / (done - published),
        "both": len(messages) / (done - started),
    }


def main() -> None:
    n = size().baseline_messages
    learners = max(1, n // 10)
    messages = load(learners)[:n]
    with nats_server("baseline") as url:
        rates = asyncio.run(_run(url, messages))
    RESULTS["baseline_msgs_per_s"] = rates["both"]
    print(f"baseline (raw nats-py, {len(messages):,} messages, fsync always)")
    print(f"  publish (async, ≤2000 in flight)   {rates['publish']:>10,.0f} msgs/s")
    pulled = f"pull batches of {BATCH} and ack"
    print(f"  {pulled:<35}{rates['pull_ack']:>10,.0f} msgs/s")
    print(f"  publish then pull-and-ack          {rates['both']:>10,.0f} msgs/s")


if __name__ == "__main__":
    main()
