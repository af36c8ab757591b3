"""Shared fixtures. NATS: a real nats-server per test, on a free port, with its own store.

PostgreSQL: one server for the session, a database per test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from stores import POSTGRES_ENV

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A superuser URL of one PostgreSQL server for the whole session.

    ``$LEARNER_RECORDS_TEST_POSTGRES`` if set; otherwise a throwaway server
    (devtools/postgres.py, fsync off) whose URL is exported under that name for
    ``store_for`` and child processes. If none can be had, the tests fail.
    """
    if given := os.environ.get(POSTGRES_ENV):
        yield given
        return
    from devtools.postgres import ThrowawayPostgres

    with ThrowawayPostgres() as server, pytest.MonkeyPatch.context() as env:
        env.setenv(POSTGRES_ENV, server.url())
        yield server.url()


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """The URL of a new database on the session's server, dropped after the test."""
    from devtools.postgres import fresh_database

    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(autouse=True)
def _postgres_for_marked_tests(request: pytest.FixtureRequest) -> None:
    # The server starts on the first test marked postgres, so `-m "not postgres"` needs none.
    if request.node.get_closest_marker("postgres") is not None:
        request.getfixturevalue("postgres_server")
