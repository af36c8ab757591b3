"""Following the event store's notification log: woken on commit, polled as a safety net.

The relay and every projection are followers. Each keeps a position (the last
notification it has dealt with, stored durably by the subclass) and moves it forward a
page at a time. A wake-up after each committed batch keeps the hot path free of polling
delays; the slow poll catches what a wake-up cannot (work stored by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

import structlog

__all__ = ["Follower", "first_of"]

log = structlog.get_logger(__name__)

_MAX_BACKOFF = 30.0


class Follower(ABC):
    def __init__(self, *, name: str, poll: float) -> None:
        self.name = name
        self.poll = poll
        self.position = 0
        self._loaded = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._moved = asyncio.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None

    @abstractmethod
    def load_position(self) -> int:
        """The durable position (synchronous: run in a worker thread)."""

    @abstractmethod
    async def step(self) -> bool:
        """Deal with one page after ``self.position``; False when there was none."""

    def is_transient(self, error: Exception) -> bool:
        """Whether ``error`` is expected to pass by itself (logged without a traceback)."""
        return False

    def wake(self) -> None:
        """Look at the log now. Call on the event loop; from a thread: ``wake_threadsafe``."""
        self._wake.set()

    def wake_threadsafe(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def catch_up(self) -> int:
        """Deal with everything stored so far; the position reached."""
        async with self._lock:
            await self._ensure_loaded()
            while await self.step():
                pass
        return self.position

    async def wait_for(self, position: int, timeout: float = 10.0) -> None:
        """Return once the position has reached ``position`` (tests, shutdown)."""
        async with asyncio.timeout(timeout), self._moved:
            await self._moved.wait_for(lambda: self.position >= position)

    async def advance(self, position: int) -> None:
        """Record that everything up to ``position`` is durably dealt with."""
        self.position = position
        await self._notify()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until ``stop`` is set; errors are retried with back-off, never
        skipped, so a stuck page holds the position rather than losing what it holds."""
        self._loop = asyncio.get_running_loop()
        failures = 0
        log.info("follower.started", follower=self.name)
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception as error:
                failures += 1
                delay = min(_MAX_BACKOFF, 0.25 * 2**failures)
                log.warning(
                    "follower.failed",
                    follower=self.name,
                    position=self.position,
                    retry_in=delay,
                    error=repr(error),
                    exc_info=not self.is_transient(error),
                )
            else:
                failures, delay = 0, self.poll
            await first_of(stop, self._wake, timeout=delay)
        log.info("follower.stopped", follower=self.name, position=self.position)

    async def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.position = await asyncio.to_thread(self.load_position)
            self._loaded = True
            await self._notify()

    async def _notify(self) -> None:
        async with self._moved:
            self._moved.notify_all()


async def first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until any of ``events`` is set, or ``timeout`` passes."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)
