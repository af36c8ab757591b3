"""Publishing once with Nats-Msg-Id, and the legacy spelling of ``connect``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck

from services.adapters.nats import connection
from services.adapters.nats.connection import NatsOptions

__all__ = ["MSG_ID_HEADER", "connect", "publish_once"]

# JetStream de-duplicates publishes carrying the same id within the stream's window.
MSG_ID_HEADER: str = Header.MSG_ID.value


async def connect(
    servers: str | list[str] | NatsOptions, *, name: str = "learner-records", **options: Any
) -> NATS:
    """``connection.connect`` for a URL (or options): reconnects that never give up."""
    if isinstance(servers, NatsOptions):
        return await connection.connect(servers.replace(name=name), **options)
    urls = tuple([servers] if isinstance(servers, str) else servers)
    return await connection.connect(NatsOptions(servers=urls, name=name), **options)


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
