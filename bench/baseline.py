"""The baseline: raw nats-py on the service's own JetStream layout, no service in between.

On a fresh embedded nats-server configured as the service's (file storage,
``sync_interval: always``, access control, the account mapping of ``records.in.<ULN>``
onto P partitions), the service's streams are declared as the service declares them;
the same inbound messages are published as a publisher publishes them (to
``records.in.<ULN>``, async, ≤ 2,000 acks in flight), and then every partition stream is
pulled and acknowledged as the service does: one durable consumer per partition, all
partitions at once, fetches of up to 500, each message acknowledged. The figure is
messages over both phases: the most the service could do with this broker here.

``python -m bench.baseline [P]`` runs it alone.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench._common import client, cpu_seconds, load, nats_server, progress, size
from devtools.commands.loadgen import publish_all
from services.adapters.nats.streams import Streams, declare

__all__ = ["Baseline", "measure", "measure_out"]


@dataclass(frozen=True, slots=True)
class Baseline:
    partitions: int
    messages: int
    publish_s: float
    pull_ack_s: float
    nats_cpu_s: float  # the server's CPU over both phases
    client_cpu_s: float = 0.0  # this process's: the publisher and the consumers

    @property
    def rate(self) -> float:
        return self.messages / (self.publish_s + self.pull_ack_s)

    @property
    def publish_rate(self) -> float:
        return self.messages / self.publish_s

    @property
    def pull_ack_rate(self) -> float:
        return self.messages / self.pull_ack_s


async def _pull_partition(js: Any, streams: Streams, k: int, advance: Any) -> int:
    stream = streams.inbound_stream(k)
    waiting = (await js.stream_info(stream)).state.messages
    await js.add_consumer(stream, config=streams.consumer_config(k))
    sub = await js.pull_subscribe_bind(durable=streams.consumer(k), stream=stream)
    received = 0
    while received < waiting:
        try:
            msgs = await sub.fetch(batch=streams.fetch_batch, timeout=2.0)
        except TimeoutError:
            continue
        for msg in msgs:
            await msg.ack()
        received += len(msgs)
        advance(len(msgs))
    return received


async def _run(server: Any, messages: Sequence[tuple[str, bytes]], partitions: int) -> Baseline:
    streams = Streams(partitions=partitions)
    async with client(server, "service") as (_, service_js):
        await declare(service_js, streams)
        nats_before = cpu_seconds(server.pid)
        client_before = time.process_time()
        with progress() as bar:
            task = bar.add_task(f"baseline P={partitions}: publishing", total=len(messages))
            async with client(server, "publisher") as (_, js):
                started = time.monotonic()
                await publish_all(js, messages, on_published=lambda *_: bar.advance(task))
                published = time.monotonic()
            bar.update(task, description=f"baseline P={partitions}: pull and ack", completed=0)
            counts = await asyncio.gather(
                *(
                    _pull_partition(service_js, streams, k, lambda n: bar.advance(task, n))
                    for k in range(partitions)
                )
            )
            done = time.monotonic()
        nats_cpu = cpu_seconds(server.pid) - nats_before
        client_cpu = time.process_time() - client_before
    if sum(counts) != len(messages):
        raise RuntimeError(f"baseline: {sum(counts)} pulled of {len(messages)} published")
    return Baseline(
        partitions, len(messages), published - started, done - published, nats_cpu, client_cpu
    )


def measure(name: str, messages: Sequence[tuple[str, bytes]], partitions: int) -> Baseline:
    """The baseline on a fresh server with ``partitions`` partition streams."""
    with nats_server(name, partitions) as server:
        return asyncio.run(_run(server, messages, partitions))


async def _out(server: Any, count: int, payload_bytes: int) -> tuple[float, float]:
    streams = Streams(partitions=1)
    payload = b"x" * payload_bytes
    async with client(server, "service") as (_, js):
        await declare(js, streams)
        nats_before = cpu_seconds(server.pid)
        started = time.monotonic()
        pending = []
        for n in range(count):
            pending.append(
                await js.publish_async(
                    f"records.out.eligible.{1000000000 + n}",
                    payload,
                    stream=streams.outbound_stream,
                    headers={"Nats-Msg-Id": f"bench-{n}"},
                )
            )
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        seconds = time.monotonic() - started
        return count / seconds, cpu_seconds(server.pid) - nats_before


def measure_out(name: str, count: int, payload_bytes: int) -> tuple[float, float]:
    """O: publishes per second into RECORDS_OUT alone (one stream, Nats-Msg-Id set, the
    decisions' mean size), and the server's CPU seconds for them."""
    with nats_server(name, 1) as server:
        return asyncio.run(_out(server, count, payload_bytes))


def print_baseline(b: Baseline) -> None:
    print(
        f"  baseline P={b.partitions} ({b.messages:,} msgs): publish {b.publish_rate:,.0f}/s, "
        f"pull+ack {b.pull_ack_rate:,.0f}/s, both {b.rate:,.0f} msgs/s "
        f"(CPU per msg: nats-server {b.nats_cpu_s / b.messages * 1e6:,.0f} µs, "
        f"client {b.client_cpu_s / b.messages * 1e6:,.0f} µs)"
    )


def main() -> None:
    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    messages = load(size().scaling_learners, seed=2)
    print_baseline(measure("baseline", messages, partitions))


if __name__ == "__main__":
    main()
