"""Leases and ownership among replicas, on a real nats-server's KV bucket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from nats.js import JetStreamContext

from services.adapters.nats.leases import KvLeases
from services.adapters.nats.streams import Streams, leases_bucket
from services.application.ownership import Ownership, Role, preferred_owner

pytestmark = pytest.mark.nats

TTL = 2.0
ROLES = [f"partition-{k}" for k in range(8)] + ["relay", "projection"]


class Replica:
    """An Ownership whose roles just record that they run, until stopped."""

    def __init__(self, ownership_of: Callable[[list[Role]], Ownership]) -> None:
        self.running: set[str] = set()
        self.starts: list[str] = []

        def role(name: str) -> Role:
            async def work(stop: asyncio.Event) -> None:
                self.running.add(name)
                self.starts.append(name)
                try:
                    await stop.wait()
                finally:
                    self.running.discard(name)

            return Role(name, work)

        self.ownership = ownership_of([role(name) for name in ROLES])
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.ownership.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def replica(js: JetStreamContext, name: str) -> Replica:
    kv = await leases_bucket(js, Streams(lease_ttl=TTL))
    return Replica(lambda roles: Ownership(KvLeases(kv, name), roles, ttl=TTL))


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def exactly_once(*replicas: Replica) -> bool:
    held = [name for r in replicas for name in r.running]
    return sorted(held) == sorted(ROLES)


async def test_one_replica_holds_everything(js: JetStreamContext) -> None:
    alone = await replica(js, "a")
    await until(lambda: alone.running == set(ROLES))
    await alone.close()
    assert alone.running == set()


async def test_two_replicas_share_the_roles_and_never_both_hold_one(js: JetStreamContext) -> None:
    a = await replica(js, "a")
    await until(lambda: a.running == set(ROLES))
    b = await replica(js, "b")
    expected_b = {name for name in ROLES if preferred_owner(name, {"a", "b"}) == "b"}
    overlaps = []

    async def watch() -> None:
        while True:
            overlaps.append(a.running & b.running)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await until(lambda: b.running == expected_b and exactly_once(a, b))
    watcher.cancel()
    assert 0 < len(expected_b) < len(ROLES)
    assert not any(overlaps)  # a role is handed back before it is taken
    await a.close()
    await b.close()


async def test_a_dead_replicas_roles_are_taken_over_within_the_ttl(js: JetStreamContext) -> None:
    a = await replica(js, "a")
    b = await replica(js, "b")
    await until(lambda: exactly_once(a, b) and bool(b.running))
    # "b" dies: no clean hand-back, its leases are left to expire.
    b.task.cancel()
    b.running.clear()
    started = asyncio.get_running_loop().time()

    await until(lambda: a.running == set(ROLES), timeout=4 * TTL + 5)

    took = asyncio.get_running_loop().time() - started
    assert took < 3 * TTL + 2  # lease TTL, a tick to notice, a tick to take
    await a.close()


async def test_a_lease_taken_by_another_stops_the_role_at_once(js: JetStreamContext) -> None:
    kv = await leases_bucket(js, Streams(lease_ttl=TTL))
    a = await replica(js, "a")
    await until(lambda: "relay" in a.running)
    await kv.put("leases.relay", b"intruder")  # someone else wrote the lease

    await until(lambda: "relay" not in a.running, timeout=2 * TTL)
    await a.close()
