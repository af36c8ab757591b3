"""Latency: from the publish of the event that completes a registration to the arrival
of its ``certification.eligible.v1`` on records.out.

The service as deployed by default (one replica, 8 partitions, SQLite, the projection in
its own process) on a fresh nats-server; loadgen histories are published at a fixed rate
(500 events/s) by a publisher, and a subscriber (the subscriber role, a plain
subscription to ``records.out.eligible.>``) reads each decision's ``caused_by`` (the
inbound event that completed the registration) and subtracts the moment that event was
published. Everything runs on this machine's two cores: publisher, server, service and
subscriber; the clocks are one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Sequence
from typing import Any

from bench._common import (
    WORK,
    Service,
    client,
    load,
    nats_server,
    percentile,
    progress,
    report,
    settled_roles,
    size,
)
from devtools.commands.loadgen import publish_all

TARGET_P99_MS = 50.0
PARTITIONS = 8


async def _run(server: Any, messages: Sequence[tuple[str, bytes]], rate: float) -> list[float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    async with client(server, "subscriber") as (sub_nc, _), client(server, "publisher") as (_, js):

        async def on_eligible(msg: Any) -> None:
            arrived = time.monotonic()
            cause = json.loads(msg.data)["data"].get("caused_by") or {}
            if (at := sent.get(cause.get("id", ""))) is not None:
                latencies.append(arrived - at)

        await sub_nc.subscribe("records.out.eligible.>", cb=on_eligible)
        await sub_nc.flush()

        with progress() as bar:
            task = bar.add_task(f"latency at {rate:.0f} events/s", total=len(messages))

            def published(_: int, __: str, payload: bytes, at: float) -> None:
                with contextlib.suppress(ValueError, KeyError, TypeError):  # malformed events
                    sent[json.loads(payload)["id"]] = at
                bar.advance(task)

            await publish_all(js, messages, rate=rate, on_published=published)
        await asyncio.sleep(3.0)  # the last decisions
    return sorted(latencies)


async def _raw(server: Any, messages: Sequence[tuple[str, bytes]], rate: float) -> list[float]:
    """The baseline: the broker's part of the path alone. An echo in this process pulls
    every partition as the service does (fetches of up to 500) and, for each message,
    publishes it to ``records.out.eligible.<ULN>`` in RECORDS_OUT (awaiting the PubAck,
    as the relay does) and acknowledges it; the subscriber times every echo."""
    from services.adapters.nats.streams import Streams, declare

    streams = Streams(partitions=PARTITIONS)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    stop = asyncio.Event()
    async with (
        client(server, "service") as (_, service_js),
        client(server, "subscriber") as (sub_nc, _),
        client(server, "publisher") as (_, js),
    ):
        await declare(service_js, streams)

        async def echo(k: int) -> None:
            stream = streams.inbound_stream(k)
            await service_js.add_consumer(stream, config=streams.consumer_config(k))
            sub = await service_js.pull_subscribe_bind(durable=streams.consumer(k), stream=stream)
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(batch=streams.fetch_batch, timeout=0.5)
                except TimeoutError:
                    continue
                acks = [
                    await service_js.publish_async(
                        "records.out.eligible." + msg.subject.rsplit(".", 1)[-1],
                        msg.data,
                        stream=streams.outbound_stream,
                    )
                    for msg in msgs
                ]
                await asyncio.gather(*acks)
                for msg in msgs:
                    await msg.ack()

        async def on_echo(msg: Any) -> None:
            if (at := sent.get(msg.data)) is not None:
                latencies.append(time.monotonic() - at)

        await sub_nc.subscribe("records.out.eligible.>", cb=on_echo)
        await sub_nc.flush()
        echoes = [asyncio.create_task(echo(k)) for k in range(PARTITIONS)]
        with progress() as bar:
            task = bar.add_task(f"raw JetStream echo at {rate:.0f}/s", total=len(messages))

            def published(_: int, __: str, payload: bytes, at: float) -> None:
                sent[payload] = at
                bar.advance(task)

            await publish_all(js, messages, rate=rate, on_published=published)
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*echoes)
    return sorted(latencies)


def _service(name: str, partitions: int, messages: Sequence[tuple[str, bytes]]) -> list[float]:
    rate = size().latency_rate
    directory = WORK / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    with nats_server(f"{name}-nats", partitions) as server:
        service = Service(name, server, str(directory / "records.sqlite"), partitions=partitions)
        try:
            asyncio.run(settled_roles([service], partitions))
            return asyncio.run(_run(server, messages, rate))
        finally:
            service.stop()


def _ms(latencies: Sequence[float]) -> tuple[float, float, float]:
    p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
    return p50, p95, p99


def main() -> None:
    config = size()
    count = int(config.latency_seconds * config.latency_rate)
    messages = load(max(10, count // 8), seed=3)[:count]
    short = messages[: int(min(config.latency_seconds, 20.0) * config.latency_rate)]
    latencies = _service("latency", PARTITIONS, messages)
    # A diagnostic, shorter: the same with one partition (one batch in the writer at a time).
    one = _service("latency-p1", 1, short)
    with nats_server("latency-raw-nats", PARTITIONS) as server:
        raw = asyncio.run(_raw(server, short, config.latency_rate))
    p50, p95, p99 = _ms(latencies)
    o50, o95, o99 = _ms(one)
    r50, r95, r99 = _ms(raw)
    worst = latencies[-1] * 1000 if latencies else float("nan")
    print(
        f"latency, completing event → certification.eligible.v1, one replica, P={PARTITIONS}, "
        f"SQLite, {len(messages):,} events at {config.latency_rate:.0f}/s "
        f"({len(latencies):,} eligible decisions)"
    )
    print(f"  p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms   max {worst:6.1f} ms")
    print(
        f"  the same with P=1 ({len(short):,} events, {len(one):,} decisions): "
        f"p50 {o50:.1f} ms   p95 {o95:.1f} ms   p99 {o99:.1f} ms"
    )
    print(
        f"  baseline, raw JetStream echo (publish → pull → publish to RECORDS_OUT → subscriber; "
        f"{len(raw):,} messages): p50 {r50:.1f} ms   p95 {r95:.1f} ms   p99 {r99:.1f} ms"
    )
    report("p50_ms", "latency p50 at 500 events/s", p50, unit="ms")
    report("p95_ms", "latency p95 at 500 events/s", p95, unit="ms")
    report("p99_p1_ms", "latency p99 at 500/s with P=1", o99, unit="ms")
    report("raw_p99_ms", "raw JetStream echo p99 at 500/s", r99, unit="ms")
    report(
        "p99_ms",
        "latency p99, completing event → eligible, at 500/s",
        p99,
        unit="ms",
        baseline=f"raw echo p99 {r99:.1f} ms",
        target=TARGET_P99_MS,
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
