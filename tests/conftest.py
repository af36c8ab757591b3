"""Shared fixtures. NATS: a real nats-server per test, on a free port, with its own store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import connect


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """A started nats-server with JetStream and no authentication, for the tests of
    JetStream internals; port 0 so parallel runs never collide."""
    server = EmbeddedNatsServer(
        tmp_path / "nats", port=0, auth=False, sync_always=False, ready_timeout=10.0
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nats_client(nats_server: EmbeddedNatsServer) -> AsyncIterator[NATS]:
    # A short reconnect wait: tests restart the server and wait for the client to return.
    client = await connect(nats_server.url, name="tests", reconnect_time_wait=0.05)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def js(nats_client: NATS) -> JetStreamContext:
    return nats_client.jetstream()


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """The embedded default as `serve` starts it: accounts, a generated nkey per role, the
    partition mapping. ``secured_nats.options(Role.X)`` connects as role X;
    ``secured_nats.keys[Role.X].seed_file`` is that role's seed."""
    server = EmbeddedNatsServer(tmp_path / "secured-nats", port=0, sync_always=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
