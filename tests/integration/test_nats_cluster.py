"""The loopback cluster starter: 3 nodes, JetStream with a leader, a node killed and back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats.errors
import nats.js.errors
import pytest
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StreamConfig
from nats_roles import ingest_stream, partition_of

from devtools.nats_cluster import NatsCluster
from services.adapters.nats.connection import connect
from services.adapters.nats.credentials import Role

pytestmark = [pytest.mark.nats, pytest.mark.slow]

ULN = "1000000019"


async def _publish_retrying(js: JetStreamContext, subject: str, payload: bytes) -> str:
    """Publish until acknowledged: while a stream elects a new leader it answers nothing."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return (await js.publish(subject, payload, timeout=1)).stream
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_three_node_cluster_keeps_an_r3_stream_through_a_killed_node(
    tmp_path: Path,
) -> None:
    k = partition_of(ULN)
    started = time.monotonic()
    async with NatsCluster(tmp_path / "cluster") as cluster:
        ready_after = time.monotonic() - started
        assert len(set(cluster.urls)) == 3 and ready_after < 30
        service = await connect(cluster.options(Role.SERVICE), reconnect_time_wait=0.1)
        publisher = await connect(cluster.options(Role.PUBLISHER), reconnect_time_wait=0.1)
        try:
            js = service.jetstream()
            await js.add_stream(
                StreamConfig(
                    name=ingest_stream(k),
                    subjects=[f"records.in.{k}.*"],
                    retention=RetentionPolicy.WORK_QUEUE,
                    num_replicas=3,
                )
            )
            pub = publisher.jetstream()
            # The same accounts and mapping on every node.
            assert await _publish_retrying(pub, f"records.in.{ULN}", b"1") == ingest_stream(k)

            # Kill the node that leads the stream: the other two elect a new leader.
            info = await js.stream_info(ingest_stream(k))
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2
            leader = int(str(info.cluster.leader).rsplit("-", 1)[1]) - 1
            cluster.kill_node(leader)
            assert cluster.running() == [i for i in range(3) if i != leader]
            assert await _publish_retrying(pub, f"records.in.{ULN}", b"2") == ingest_stream(k)

            await asyncio.to_thread(cluster.start_node, leader)
            assert cluster.running() == [0, 1, 2]
            assert await _publish_retrying(pub, f"records.in.{ULN}", b"3") == ingest_stream(k)

            async def caught_up() -> bool:
                info = await js.stream_info(ingest_stream(k))
                replicas = info.cluster.replicas if info.cluster else None
                return bool(replicas) and all(r.current for r in replicas or [])

            async with asyncio.timeout(30):
                while not await caught_up():
                    await asyncio.sleep(0.2)
            assert (await js.stream_info(ingest_stream(k))).state.messages == 3
        finally:
            await publisher.close()
            await service.close()
    assert cluster.running() == []
