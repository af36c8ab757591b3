"""Following the event store's notification log: woken on commit, polled as a safety net.

The relay and every projection are followers. Each keeps a position (the last
notification it has dealt with, stored durably by the subclass) and moves it forward a
page at a time. A wake-up after each committed batch keeps the hot path free of polling
delays; the slow poll catches what a wake-up cannot (work stored by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

import structlog

__all__ = ["FAILING_AFTER", "Follower", "backoff", "first_of"]

log = structlog.get_logger(__name__)

_MAX_BACKOFF = 30.0
_FIRST_BACKOFF = 0.25
# After this many failures in a row a follower reports itself failing (logs, health).
FAILING_AFTER = 3


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
        # Consecutive failures, and the last error: what health checks report.
        self.failures = 0
        self.last_error: str | None = None

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER

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
        log.info("follower.started", follower=self.name)
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception as error:
                self.failures += 1
                self.last_error = repr(error)
                delay = backoff(self.failures)
                log.log(
                    logging.ERROR if self.failing else logging.WARNING,
                    "follower.failed",
                    follower=self.name,
                    position=self.position,
                    failures=self.failures,
                    retry_in=delay,
                    error=repr(error),
                    exc_info=not self.is_transient(error),
                )
            else:
                if self.failures:
                    log.info("follower.recovered", follower=self.name, failures=self.failures)
                self.failures, self.last_error, delay = 0, None, self.poll
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


def backoff(failures: int) -> float:
    """Seconds before retry number ``failures``: doubling from 0.25 s, at most 30 s.

    The exponent is capped, so a follower failing for days never overflows a float
    (0.25 * 2**1000 did, and ended the task).
    """
    exponent = min(max(failures, 1) - 1, 16)
    return float(min(_MAX_BACKOFF, _FIRST_BACKOFF * (1 << exponent)))


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
