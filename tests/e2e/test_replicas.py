"""Replicas of the service as processes on one PostgreSQL store, sharing the partitions.

Two replicas on one nats-server, and three on a 3-node NATS cluster with R3 streams (both
in make test; make test-cluster runs the cluster alone). Mid-stream one replica is
SIGKILLed; on the cluster one NATS node is stopped as well; then both come back.
Afterwards every inbound event is stored exactly once and the store and RECORDS_OUT
equal an offline replay of the same events, ids and contents.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ServiceProcess
from fault_support import (
    TODAY,
    Figures,
    SteadyPublisher,
    assert_equal_to_replay,
    held_roles,
    loadgen_lines,
    wait_drained,
)

from devtools.nats_cluster import NatsCluster
from domain.catalogue import Catalogue
from services.adapters.nats.connection import NatsOptions, connect
from services.adapters.nats.credentials import Role
from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

PARTITIONS = 8
ROLES = {*(f"partition-{k}" for k in range(PARTITIONS)), "relay", "projection"}
LEASE_TTL = 5.0
LEARNERS = 300
RATE = 300.0


def at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["timestamp"]).timestamp()


def replicas(
    factory: Callable[..., ServiceProcess],
    names: Sequence[str],
    options: NatsOptions,
    store: str,
    *extra: str,
) -> dict[str, ServiceProcess]:
    assert options.nkey_file is not None
    args = [
        "--nats-nkey",
        str(options.nkey_file),
        "--lease-ttl",
        str(LEASE_TTL),
        "--projection",
        "process",
        *extra,
    ]
    return {
        name: factory(
            options.url,
            [*args, "--replica", name],
            today=TODAY,
            store=store,
            log_name=f"replica-{name}.log",
        )
        for name in names
    }


async def until_held(
    services: Sequence[ServiceProcess], roles: set[str], timeout: float = 60.0
) -> float:
    """Until the running ``services`` hold ``roles`` between them; the time it happened."""
    async with asyncio.timeout(timeout):
        while True:
            held: set[str] = set()
            for service in services:
                held |= held_roles(service.entries())
            if roles <= held:
                return time.time()
            await asyncio.sleep(0.1)


async def kill_one_replica_mid_stream(
    running: dict[str, ServiceProcess],
    victim: str,
    publisher: SteadyPublisher,
    figures: Figures,
    during_outage: Callable[[], Any] = lambda: None,
    after_restart: Callable[[], Any] = lambda: None,
) -> None:
    """SIGKILL ``victim`` at a third of the load; the others take its roles over; then
    it comes back under the same name and the roles spread out again."""
    await publisher.reached(0.3)
    others = [s for name, s in running.items() if name != victim]
    lost = held_roles(running[victim].entries())
    running[victim].kill()
    killed = time.time()
    await asyncio.to_thread(during_outage)
    taken = await until_held(others, ROLES)
    figures["takeover_s"] = taken - killed
    figures["roles_taken_over"] = len(lost)
    takeovers = [
        at(e)
        for s in others
        for e in s.entries()
        if e.get("event") == "ownership.took" and e.get("role") in lost and at(e) >= killed
    ]
    if takeovers:
        figures["first_takeover_s"] = min(takeovers) - killed
    await asyncio.to_thread(after_restart)
    running[victim].start()
    restarted = time.time()
    back = running[victim]
    async with asyncio.timeout(60):
        while not held_roles(back.entries()):
            await asyncio.sleep(0.1)
    figures["rebalanced_after_restart_s"] = time.time() - restarted


async def busiest_leader(cluster: NatsCluster) -> int:
    """The index of the node that leads the most RECORDS_IN_<k> streams."""
    client = await connect(cluster.options(Role.SERVICE), reconnect_time_wait=0.1)
    try:
        js = client.jetstream()
        leaders: Counter[str] = Counter()
        for k in range(PARTITIONS):
            info = await js.stream_info(f"RECORDS_IN_{k}")
            assert info.cluster is not None and info.cluster.leader is not None
            leaders[info.cluster.leader] += 1
    finally:
        await client.close()
    name = leaders.most_common(1)[0][0]  # learner-records-<n>, n from 1
    return int(name.rsplit("-", 1)[1]) - 1


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    server = EmbeddedNatsServer(tmp_path / "nats", port=0, sync_always=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    async with NatsCluster(tmp_path / "cluster", size=3) as running:
        yield running


async def run_and_compare(
    figures: Figures,
    running: dict[str, ServiceProcess],
    options: Callable[[Role], NatsOptions],
    store: str,
    catalogue: Catalogue,
    workdir: Path,
    **fault: Any,
) -> None:
    for service in running.values():
        service.start()
    await until_held(list(running.values()), ROLES)
    lines = loadgen_lines(catalogue, LEARNERS)
    publisher = SteadyPublisher(options(Role.PUBLISHER), lines, RATE)
    inspector = await connect(options(Role.SERVICE), reconnect_time_wait=0.1)
    publisher.start()
    try:
        await kill_one_replica_mid_stream(running, "a", publisher, figures, **fault)
        await publisher.done()
        drained = await wait_drained(inspector.jetstream(), store, PARTITIONS)
        figures["drain_after_publishing_s"] = drained
        figures["events_per_s"] = len(lines) / (publisher.finished - publisher.started + drained)
        figures["publisher_retries"] = publisher.retries
        figures.update(
            await assert_equal_to_replay(
                inspector.jetstream(), store, publisher.published, catalogue, workdir
            )
        )
    finally:
        await publisher.close()
        await inspector.close()
    for name, service in running.items():
        assert service.process is not None and service.process.poll() is None, name
    figures.report()


async def test_two_replicas_on_one_nats_server_lose_nothing_when_one_is_killed(
    nats: EmbeddedNatsServer,
    postgres_database: str,
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    running = replicas(service_factory, ["a", "b"], nats.options(Role.SERVICE), postgres_database)
    await run_and_compare(
        Figures("two_replicas_one_server"),
        running,
        nats.options,
        postgres_database,
        catalogue,
        tmp_path,
    )


@pytest.mark.slow
@pytest.mark.cluster
async def test_three_replicas_on_a_nats_cluster_lose_nothing_when_a_replica_and_a_node_go(
    cluster: NatsCluster,
    postgres_database: str,
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    running = replicas(
        service_factory,
        ["a", "b", "c"],
        cluster.options(Role.SERVICE),
        postgres_database,
        "--stream-replicas",
        "3",
    )
    stopped: list[int] = []

    def stop_busiest_leader() -> None:
        # The node leading most partition streams: their feeds must follow a new leader.
        stopped.append(asyncio.run(busiest_leader(cluster)))
        cluster.stop_node(stopped[0])

    await run_and_compare(
        Figures("three_replicas_three_nodes"),
        running,
        cluster.options,
        postgres_database,
        catalogue,
        tmp_path,
        during_outage=stop_busiest_leader,
        after_restart=lambda: cluster.start_node(stopped[0]),
    )
