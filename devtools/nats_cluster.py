"""A nats-server cluster on loopback, for tests and benchmarks: N nodes with JetStream.

Each node is an EmbeddedNatsServer (same process handling, same generated config as the
embedded default and deploy/nats-cluster/), with routes to the others on free loopback
ports and one shared set of role credentials. ``start`` returns once every node's
JetStream answers the service, which in a cluster means a meta leader has been elected.

    with NatsCluster(tmp_path / "cluster") as cluster:
        client = await connect(cluster.options(Role.SERVICE))   # all nodes' URLs
        cluster.kill_node(1)                                   # as a crash would
        cluster.start_node(1)                                  # same ports, same store
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog

from services.adapters.nats.connection import NatsOptions
from services.adapters.nats.credentials import Role, RoleKey, ensure_credentials
from services.adapters.nats.embedded import CREDENTIALS_DIR, EmbeddedNatsServer
from services.adapters.nats.server_config import DEFAULT_PARTITIONS, ClusterSettings

__all__ = ["NatsCluster", "free_ports"]

CLUSTER_NAME = "learner-records"

log = structlog.get_logger(__name__)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free right now. Routes must be named before any node
    starts, so, unlike the client ports, these cannot be left to the server to pick."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in sockets]


class NatsCluster:
    """``size`` nats-server processes forming one JetStream cluster on ``host``."""

    def __init__(
        self,
        directory: Path | str,
        *,
        size: int = 3,
        auth: bool = True,
        partitions: int = DEFAULT_PARTITIONS,
        host: str = "127.0.0.1",
        sync_always: bool = False,
        ready_timeout: float = 30.0,
    ) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one node, not {size}")
        self.directory = Path(directory)
        self.size = size
        self.auth = auth
        self.partitions = partitions
        self.host = host
        self.sync_always = sync_always
        self.ready_timeout = ready_timeout
        self.credentials_dir = self.directory / CREDENTIALS_DIR
        self.nodes: list[EmbeddedNatsServer] = []

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def keys(self) -> dict[Role, RoleKey]:
        return ensure_credentials(self.credentials_dir)

    def options(self, role: Role = Role.SERVICE, *, name: str | None = None) -> NatsOptions:
        """How a client of ``role`` connects: every node's URL, so it fails over."""
        nkey = self.keys[role].seed_file if self.auth else None
        return NatsOptions(
            servers=tuple(self.urls), nkey_file=nkey, name=name or f"learner-records-{role}"
        )

    def start(self) -> None:
        """Start every node, then wait until each one's JetStream answers."""
        if not self.nodes:
            self.nodes = self._make_nodes()
        try:
            for node in self.nodes:
                node.spawn()
            # Only now: a node's JetStream is ready once a quorum of its peers is up.
            for node in self.nodes:
                node.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        log.info("nats_cluster.ready", urls=self.urls)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def stop_node(self, index: int) -> None:
        """SIGTERM one node: a clean shutdown, its peers take over its leaderships."""
        self.nodes[index].stop()

    def kill_node(self, index: int) -> None:
        """SIGKILL one node, as a crash or a power cut would."""
        self.nodes[index].kill()

    def start_node(self, index: int) -> None:
        """Start a stopped node again on its ports and store, and wait until it serves."""
        self.nodes[index].start()

    def restart_node(self, index: int) -> None:
        self.stop_node(index)
        self.start_node(index)

    def running(self) -> Sequence[int]:
        return [i for i, node in enumerate(self.nodes) if node.is_running]

    def _make_nodes(self) -> list[EmbeddedNatsServer]:
        route_ports = free_ports(self.size, self.host)
        nodes = []
        for i, port in enumerate(route_ports):
            routes = tuple(f"nats-route://{self.host}:{p}" for p in route_ports if p != port)
            nodes.append(
                EmbeddedNatsServer(
                    self.directory / f"node-{i + 1}",
                    host=self.host,
                    port=0,
                    auth=self.auth,
                    partitions=self.partitions,
                    sync_always=self.sync_always,
                    cluster=ClusterSettings(self.host, port, routes, name=CLUSTER_NAME),
                    server_name=f"{CLUSTER_NAME}-{i + 1}",
                    credentials_dir=self.credentials_dir,
                    ready_timeout=self.ready_timeout,
                )
            )
        return nodes

    # Sync and async context managers: the async ones keep the blocking waits off the loop.

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
