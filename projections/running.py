"""The status projection as a follower of the log: in the service's loop or in a process.

``serve`` runs it in a process of its own (``run_in_process``) so that its evaluations
never hold the writer's GIL or pause it with their garbage; tests and small tools run
``StatusFollower`` in their own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import structlog

from projections.follower import Follower, backoff
from projections.status_projection import StatusProjection
from projections.status_view import PositionConflictError

__all__ = ["StatusFollower", "follow_forever"]

log = structlog.get_logger(__name__)


class StatusFollower(Follower):
    def __init__(self, projection: StatusProjection, *, poll: float = 5.0) -> None:
        super().__init__(name=projection.name, poll=poll)
        self.projection = projection

    def load_position(self) -> int:
        return self.projection.position()

    async def step(self) -> bool:
        try:
            reached = await asyncio.to_thread(self.projection.project_page, self.position)
        except PositionConflictError:
            self._loaded = False  # a rebuild reset the view: start again from its position
            raise
        if reached is None:
            return False
        await self.advance(reached)
        return True

    def is_transient(self, error: Exception) -> bool:
        return isinstance(error, PositionConflictError) or "OperationalError" in repr(error)


def follow_forever(
    projection: StatusProjection,
    stop: Callable[[], bool],
    *,
    busy_poll: float = 0.05,
    idle_poll: float = 1.0,
) -> None:
    """Follow the log until ``stop()``, in this thread: what a projection process runs.

    With no wake-ups across processes it polls: every 50 ms while there is work, backing
    off to a second when idle. Failures are retried with a bounded back-off and logged.
    """
    position = projection.position()
    failures = 0
    delay = busy_poll
    while not stop():
        try:
            reached = projection.project_page(position)
        except PositionConflictError:
            position = projection.position()
            continue
        except Exception as error:
            failures += 1
            wait = backoff(failures)
            log.warning("projection.failed", failures=failures, retry_in=wait, error=repr(error))
            time.sleep(wait)
            continue
        failures = 0
        if reached is None:
            delay = min(idle_poll, delay * 2)
            time.sleep(delay)
        else:
            position, delay = reached, busy_poll


def _child(build: Callable[[], StatusProjection], stopping: Any, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us through ``stopping``
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    projection = build()

    def stop() -> bool:
        # A parent killed outright (SIGKILL, OOM) never sets ``stopping``: without this
        # check the child lives on as an orphan beside the next start's projection.
        return stopping.is_set() or os.getppid() != parent

    try:
        follow_forever(projection, stop)
    finally:
        with contextlib.suppress(Exception):
            projection.view.close()


def run_in_process(build: Callable[[], StatusProjection]) -> tuple[Any, Any]:
    """Start ``follow_forever`` in a child process; (process, stop event). ``build`` is
    pickled, so a module-level function or a partial of one.

    A fresh interpreter (spawn), not a fork: the service has threads using SQLite, and
    a fork taken while one of them held a lock left the child waiting for it for ever
    (seen as a projection stuck in ``sqlite3.connect``, alive and doing nothing)."""
    context = multiprocessing.get_context("spawn")
    stopping = context.Event()
    process = context.Process(
        target=_child, args=(build, stopping, os.getpid()), name="projection", daemon=True
    )
    process.start()
    return process, stopping
