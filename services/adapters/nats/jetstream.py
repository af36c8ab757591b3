"""Connecting to NATS, and publishing once: what every part that talks to NATS shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck

__all__ = ["MSG_ID_HEADER", "connect", "publish_once"]

# JetStream de-duplicates publishes carrying the same id within the stream's window.
MSG_ID_HEADER: str = Header.MSG_ID.value

log = structlog.get_logger(__name__)


async def connect(
    servers: str | list[str], *, name: str = "learner-records", **options: Any
) -> NATS:
    """Connect with reconnection that never gives up, logging through structlog.

    nats-py's defaults give up after 60 attempts and print a traceback per failed attempt.
    """

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=repr(exc))

    async def on_disconnected() -> None:
        if not client.is_closed:  # closing also reports a disconnection
            log.warning("nats.disconnected")

    async def on_reconnected() -> None:
        log.info(
            "nats.reconnected",
            url=str(client.connected_url.geturl() if client.connected_url else ""),
        )

    async def on_closed() -> None:
        log.info("nats.closed")

    settings: dict[str, Any] = {
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        "closed_cb": on_closed,
    }
    client = await nats.connect(servers, **(settings | options))
    return client


async def publish_once(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    msg_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> PubAck:
    """Publish with ``Nats-Msg-Id``; a repeat inside the window is stored once (``duplicate``)."""
    return await js.publish(
        subject, payload, timeout=timeout, headers={**(headers or {}), MSG_ID_HEADER: msg_id}
    )
