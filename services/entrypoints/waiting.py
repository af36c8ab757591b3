"""``serve`` started before its store: wait for it, saying so, rather than exit.

Under a supervisor (systemd, an orchestrator) the service and its database often start
together; exiting would only make the supervisor restart it in a loop. The service
tries again every few seconds, logs ``service.store_unavailable`` (the location with
its password masked, and the reason) at the first failure, when the reason changes,
and every 30 s while it lasts, and reports itself not ready meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import structlog

from projections.follower import first_of
from services.adapters.store import StoreUnavailableError, redact

__all__ = ["REPEAT_LOG_S", "RETRY_S", "open_when_reachable"]

log = structlog.get_logger(__name__)

T = TypeVar("T")
RETRY_S = 2.0
REPEAT_LOG_S = 30.0


async def open_when_reachable(
    open_: Callable[[], T],
    location: str,
    stop: asyncio.Event,
    *,
    waiting: Callable[[str], None] = lambda reason: None,
    retry: float = RETRY_S,
) -> T | None:
    """``open_()`` once the store can be opened; None if ``stop`` is set first.

    ``open_`` runs in a thread (opening PostgreSQL may take seconds to fail), so the
    loop goes on answering health checks; ``waiting`` hears each reason.
    """
    last_reason, last_logged, failures = "", -REPEAT_LOG_S, 0
    while not stop.is_set():
        try:
            opened = await asyncio.to_thread(open_)
        except StoreUnavailableError as error:
            failures += 1
            reason = str(error)
            waiting(f"waiting for the store: {reason}")
            now = time.monotonic()
            if reason != last_reason or now - last_logged >= REPEAT_LOG_S:
                log.warning(
                    "service.store_unavailable",
                    store=redact(location),
                    reason=reason,
                    attempts=failures,
                    retrying_every=retry,
                )
                last_reason, last_logged = reason, now
            await first_of(stop, timeout=retry)
            continue
        if failures:
            log.info("service.store_reachable", store=redact(location), attempts=failures + 1)
        return opened
    return None
