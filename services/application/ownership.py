"""Who does what among the replicas: each partition, the relay and the projection has
exactly one owner at a time, claimed by the replicas themselves with leases.

Every replica heartbeats its membership and, each tick, works out for every role the
replica that should hold it (rendezvous hashing over the live members: stable, and
spreading the partitions evenly). It takes the leases it should hold and that are free,
renews those it holds, and hands back those it should no longer hold (after finishing
the batch in hand), so the replicas rebalance when one joins or leaves. A replica that
dies stops renewing: its leases expire after the bucket's TTL and the others take them
on their next tick. A replica that cannot renew (cut off from NATS) stops its roles
before its leases can expire, so it never works on a lease another replica may hold;
the store's version checks fence the rest (services.application.ingest).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from projections.follower import first_of

__all__ = ["Leases", "Ownership", "Role", "preferred_owner"]

log = structlog.get_logger(__name__)


class Leases(Protocol):
    owner: str

    async def acquire(self, name: str) -> bool: ...
    async def renew(self, name: str) -> bool: ...
    async def release(self, name: str) -> None: ...
    def forget(self, name: str) -> None: ...
    async def heartbeat(self) -> None: ...
    async def leave(self) -> None: ...
    async def members(self) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Role:
    """Something exactly one replica does: runs ``work(stop)`` until ``stop`` is set."""

    name: str
    work: Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class _Running:
    task: asyncio.Task[None]
    stop: asyncio.Event
    renewed: float


def preferred_owner(role: str, members: set[str]) -> str:
    """The member that should hold ``role``: the highest hash of (role, member)."""
    return max(members, key=lambda m: hashlib.sha256(f"{role}|{m}".encode()).digest())


class Ownership:
    def __init__(self, leases: Leases, roles: list[Role], *, ttl: float = 10.0) -> None:
        self.leases = leases
        self.roles = {role.name: role for role in roles}
        self.ttl = ttl
        self.tick_seconds = ttl / 3
        self.running: dict[str, _Running] = {}
        self.members: set[str] = {leases.owner}
        self.last_tick_error: str | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def owner(self) -> str:
        return self.leases.owner

    def holds(self, name: str) -> bool:
        running = self.running.get(name)
        return running is not None and not running.task.done()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("ownership.started", replica=self.owner, roles=len(self.roles), ttl=self.ttl)
        try:
            while not stop.is_set():
                await self.tick()
                await first_of(stop, timeout=self.tick_seconds)
        finally:
            await self.release_all()

    async def tick(self) -> None:
        self._reap()
        try:
            await self.leases.heartbeat()
            self.members = await self.leases.members()
        except Exception as error:
            # Cut off from NATS: keep the roles only while their leases must still be ours.
            self.last_tick_error = repr(error)
            log.warning("ownership.unreachable", replica=self.owner, error=repr(error))
            await self._stop_expiring()
            return
        self.last_tick_error = None
        for name in self.roles:
            wanted = preferred_owner(name, self.members) == self.owner
            if name in self.running:
                await self._keep_or_hand_back(name, wanted)
            elif wanted:
                await self._take(name)

    async def release_all(self) -> None:
        """Stop every role, then give its lease back (a clean shutdown: others take over now)."""
        for name in list(self.running):
            await self._stop(name, graceful=True)
        with contextlib.suppress(Exception):
            await self.leases.leave()
        log.info("ownership.stopped", replica=self.owner)

    async def _take(self, name: str) -> None:
        try:
            taken = await self.leases.acquire(name)
        except Exception as error:
            log.warning("ownership.acquire_failed", role=name, error=repr(error))
            return
        if not taken:
            return  # still held by the replica that had it; it hands it back soon
        stop = asyncio.Event()
        task = asyncio.create_task(self.roles[name].work(stop), name=name)
        self.running[name] = _Running(task, stop, time.monotonic())
        log.info("ownership.took", role=name, replica=self.owner)

    async def _keep_or_hand_back(self, name: str, wanted: bool) -> None:
        running = self.running[name]
        try:
            renewed = await self.leases.renew(name)
        except Exception as error:
            log.warning("ownership.renew_failed", role=name, error=repr(error))
            if time.monotonic() - running.renewed > self.ttl * 0.6:
                await self._stop(name, graceful=False)
            return
        if not renewed:
            log.error("ownership.lost", role=name, replica=self.owner)
            await self._stop(name, graceful=False)
            return
        running.renewed = time.monotonic()
        if not wanted:
            log.info("ownership.handing_back", role=name, replica=self.owner)
            await self._stop(name, graceful=True)

    async def _stop_expiring(self) -> None:
        for name, running in list(self.running.items()):
            if time.monotonic() - running.renewed > self.ttl * 0.6:
                log.warning("ownership.stopping_unrenewed", role=name)
                await self._stop(name, graceful=False)

    async def _stop(self, name: str, *, graceful: bool) -> None:
        running = self.running.pop(name, None)
        if running is None:
            return
        running.stop.set()
        if not graceful:
            running.task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(running.task, timeout=self.ttl)
        if graceful:
            with contextlib.suppress(Exception):
                await self.leases.release(name)
        else:
            self.leases.forget(name)

    def _reap(self) -> None:
        """Roles whose work ended by itself (lost their partition, crashed): let go, so the
        lease can be taken again from a clean start."""
        for name, running in list(self.running.items()):
            if not running.task.done():
                continue
            self.running.pop(name)
            error = None if running.task.cancelled() else running.task.exception()
            log.error("ownership.role_ended", role=name, error=repr(error) if error else None)
            # Handed back, so that the next tick can take it again from a clean start.
            task = asyncio.ensure_future(self.leases.release(name))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
