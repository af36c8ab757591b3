"""Faults under load, the service as a process: each test ends equal to an offline replay.

A publisher sends loadgen's histories of a few hundred learners at a steady rate while
the fault happens; afterwards the test waits until every inbound message is stored and
every decision published, then compares the service's store and RECORDS_OUT with an
offline replay of exactly the lines published (fault_support.assert_equal_to_replay).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from e2e_support import ServiceProcess
from fault_support import (
    TODAY,
    Figures,
    SteadyPublisher,
    assert_equal_to_replay,
    children_of,
    loadgen_lines,
    wait_drained,
    wait_gone,
)
from nats.aio.client import Client as NATS

from domain.catalogue import Catalogue
from services.adapters.nats.connection import connect
from services.adapters.nats.credentials import Role
from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.slow]

LEARNERS = 300
RATE = 300.0  # events a second: loadgen's 300 learners (~3,000 events) in ~10 s
PARTITIONS = 8
OUTAGE_S = 5.0  # how long a store stays full or read-only


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """A nats-server the test owns, with access control as deployed: it can kill it."""
    server = EmbeddedNatsServer(tmp_path / "nats", port=0, sync_always=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def inspector(nats: EmbeddedNatsServer) -> AsyncIterator[NATS]:
    """The service's role: only it may read RECORDS_OUT message by message."""
    client = await connect(
        nats.options(Role.SERVICE, name="e2e-inspector"), reconnect_time_wait=0.1
    )
    try:
        yield client
    finally:
        await client.close()


def serve_args(nats: EmbeddedNatsServer, *extra: str) -> list[str]:
    nkey = nats.options(Role.SERVICE).nkey_file
    assert nkey is not None
    return ["--nats-nkey", str(nkey), "--lease-ttl", "5", *extra]


def at(entry: dict) -> float:
    """A log entry's time, as seconds since the epoch."""
    return datetime.fromisoformat(entry["timestamp"]).timestamp()


def count_events(service: ServiceProcess, event: str) -> int:
    return sum(1 for e in service.entries() if e.get("event") == event)


def first_after(service: ServiceProcess, event: str, since: float) -> float | None:
    times = [at(e) for e in service.entries() if e.get("event") == event and at(e) >= since]
    return min(times) if times else None


async def test_sigkill_of_serve_at_a_steady_rate_then_restart(
    nats: EmbeddedNatsServer,
    inspector: NATS,
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    figures = Figures("sigkill_serve")
    lines = loadgen_lines(catalogue, LEARNERS)
    service = service_factory(nats.url, serve_args(nats, "--replica", "solo"), today=TODAY)
    service.start()
    publisher = SteadyPublisher(nats.options(Role.PUBLISHER), lines, RATE)
    publisher.start()
    try:
        await publisher.reached(0.4)
        assert service.process is not None
        children = children_of(service.process.pid)  # the projection's process
        service.kill()
        killed = time.time()
        await wait_gone(children)
        await publisher.reached(0.5)  # publishing goes on while the service is down
        service.start()
        await publisher.done()
        drained = await wait_drained(inspector.jetstream(), service.store, PARTITIONS)
    finally:
        await publisher.close()
    resumed = first_after(service, "ingest.stored", killed)
    assert resumed is not None
    figures["recovery_s"] = resumed - killed
    figures["drain_after_publishing_s"] = drained
    figures["events_per_s"] = len(lines) / (publisher.finished - publisher.started + drained)
    figures.update(
        await assert_equal_to_replay(
            inspector.jetstream(), service.store, publisher.published, catalogue, tmp_path
        )
    )
    figures.report()


@pytest.mark.parametrize(
    "outage",
    [
        pytest.param(2.0, id="shorter-than-the-lease"),  # the service keeps its partitions
        pytest.param(8.0, id="longer-than-the-lease"),  # it lets them go, then takes them again
    ],
)
async def test_sigkill_of_nats_server_then_restart(
    outage: float,
    nats: EmbeddedNatsServer,
    inspector: NATS,
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    figures = Figures(f"sigkill_nats_server_{outage:.0f}s")
    lines = loadgen_lines(catalogue, LEARNERS)
    service = service_factory(nats.url, serve_args(nats, "--replica", "solo"), today=TODAY)
    service.start()
    publisher = SteadyPublisher(nats.options(Role.PUBLISHER), lines, RATE)
    publisher.start()
    try:
        await publisher.reached(0.4)
        nats.kill()
        killed = time.time()
        await asyncio.sleep(outage)  # the publisher and the service both see it
        await asyncio.to_thread(nats.start)  # same port, same JetStream store
        restarted = time.time()
        await publisher.done()
        drained = await wait_drained(inspector.jetstream(), service.store, PARTITIONS)
    finally:
        await publisher.close()
    assert service.process is not None and service.process.poll() is None
    resumed = first_after(service, "ingest.stored", restarted)
    assert resumed is not None, "the service never stored anything after the restart"
    figures["outage_s"] = restarted - killed
    figures["recovery_after_restart_s"] = resumed - restarted
    figures["drain_after_publishing_s"] = drained
    figures["publisher_retries"] = publisher.retries
    figures["events_per_s"] = len(lines) / (publisher.finished - publisher.started + drained)
    figures.update(
        await assert_equal_to_replay(
            inspector.jetstream(), service.store, publisher.published, catalogue, tmp_path
        )
    )
    figures.report()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of its own for the store, which the test can fill and enlarge. Mounting
    needs root; where it cannot be had the test fails saying so, never passes untested."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.fail("the full-disk test mounts a tmpfs, which needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the store: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def resize(mount: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def used_bytes(mount: Path) -> int:
    stat = os.statvfs(mount)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


async def test_a_full_disk_is_waited_out_then_the_store_resumes(
    nats: EmbeddedNatsServer,
    inspector: NATS,
    small_disk: Path,
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    figures = Figures("full_disk")
    lines = loadgen_lines(catalogue, LEARNERS)
    service = service_factory(
        nats.url,
        serve_args(nats, "--replica", "solo"),
        today=TODAY,
        store=small_disk / "store.sqlite",
    )
    service.start()
    publisher = SteadyPublisher(nats.options(Role.PUBLISHER), lines, RATE)
    publisher.start()
    try:
        await publisher.reached(0.3)
        # Room for a few hundred more events only: the store itself fills the disk.
        resize(small_disk, used_bytes(small_disk) + 256 * 1024)
        full = time.time()
        await asyncio.to_thread(service.wait_for_log, "partition.store_failed", 0, 60.0)
        failed = time.time()
        await asyncio.sleep(OUTAGE_S)  # publishing goes on; JetStream holds what arrives
        resize(small_disk, 256 * 1024 * 1024)
        enlarged = time.time()
        await asyncio.to_thread(service.wait_for_log, "partition.store_recovered", 0, 60.0)
        await publisher.done()
        drained = await wait_drained(inspector.jetstream(), service.store, PARTITIONS)
    finally:
        await publisher.close()
    recovered = first_after(service, "partition.store_recovered", enlarged)
    assert recovered is not None
    figures["filled_after_s"] = failed - full
    figures["recovery_after_enlarging_s"] = recovered - enlarged
    figures["store_failures_logged"] = count_events(service, "partition.store_failed")
    figures["drain_after_publishing_s"] = drained
    figures["events_per_s"] = len(lines) / (publisher.finished - publisher.started + drained)
    assert count_events(service, "partition.message_parked") == 0
    figures.update(
        await assert_equal_to_replay(
            inspector.jetstream(), service.store, publisher.published, catalogue, tmp_path
        )
    )
    figures.report()


def set_read_only(server_url: str, read_only: bool) -> None:
    """Every new transaction on the server read-only, or not: what a PostgreSQL operator
    (or a managed service whose storage runs out) does, and what a standby answers."""
    with psycopg.connect(server_url, autocommit=True) as db:
        if read_only:
            db.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            db.execute("ALTER SYSTEM RESET default_transaction_read_only")
        db.execute("SELECT pg_reload_conf()")


@pytest.mark.postgres
async def test_a_read_only_store_is_waited_out_then_the_store_resumes(
    nats: EmbeddedNatsServer,
    inspector: NATS,
    postgres_server: str,
    postgres_database: str,
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    """PostgreSQL, because a SQLite store cannot be made read-only under a running
    service: the kernel refuses ``mount -o remount,ro`` (EBUSY) while any file on it is
    open for writing, and the service keeps its database open."""
    figures = Figures("read_only_store_postgres")
    lines = loadgen_lines(catalogue, LEARNERS)
    service = service_factory(
        nats.url, serve_args(nats, "--replica", "solo"), today=TODAY, store=postgres_database
    )
    service.start()
    publisher = SteadyPublisher(nats.options(Role.PUBLISHER), lines, RATE)
    publisher.start()
    try:
        await publisher.reached(0.3)
        set_read_only(postgres_server, True)
        read_only = time.time()
        try:
            await asyncio.to_thread(service.wait_for_log, "partition.store_failed", 0, 60.0)
            await asyncio.sleep(OUTAGE_S)
        finally:
            set_read_only(postgres_server, False)
        writable = time.time()
        await asyncio.to_thread(service.wait_for_log, "partition.store_recovered", 0, 60.0)
        await publisher.done()
        drained = await wait_drained(inspector.jetstream(), service.store, PARTITIONS)
    finally:
        await publisher.close()
    failed = first_after(service, "partition.store_failed", read_only)
    recovered = first_after(service, "partition.store_recovered", writable)
    assert failed is not None and recovered is not None
    figures["failed_after_s"] = failed - read_only
    figures["recovery_after_writable_s"] = recovered - writable
    figures["drain_after_publishing_s"] = drained
    figures["events_per_s"] = len(lines) / (publisher.finished - publisher.started + drained)
    assert count_events(service, "partition.message_parked") == 0
    figures.update(
        await assert_equal_to_replay(
            inspector.jetstream(), service.store, publisher.published, catalogue, tmp_path
        )
    )
    figures.report()
