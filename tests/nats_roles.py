"""Helpers for the access-control tests: streams as the service declares them, clients
that record what the server refused, and the partition function as an oracle."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

from services.adapters.nats.connection import NatsOptions, connect_once
from services.adapters.nats.server_config import INGEST_STREAM_PREFIX, OUTBOUND_STREAM

PARTITIONS = 8


def fnv1a_32(text: str) -> int:
    """FNV-1a, 32 bits: what nats-server's {{partition(P,1)}} hashes the ULN with."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def partition_of(uln: str, partitions: int = PARTITIONS) -> int:
    return fnv1a_32(uln) % partitions


def ingest_stream(k: int) -> str:
    return f"{INGEST_STREAM_PREFIX}{k}"


async def declare_partitioned_streams(js: JetStreamContext, partitions: int = PARTITIONS) -> None:
    """As the service will: a work-queue stream and a durable pull consumer per partition,
    and the decisions' stream."""
    for k in range(partitions):
        await js.add_stream(
            StreamConfig(
                name=ingest_stream(k),
                subjects=[f"records.in.{k}.*"],
                retention=RetentionPolicy.WORK_QUEUE,
                duplicate_window=120,
            )
        )
        await js.add_consumer(
            ingest_stream(k),
            ConsumerConfig(durable_name=f"ingest-{k}", ack_policy=AckPolicy.EXPLICIT, ack_wait=30),
        )
    await js.add_stream(
        StreamConfig(name=OUTBOUND_STREAM, subjects=["records.out.>"], duplicate_window=3600)
    )


@dataclass
class RoleClient:
    """A connection that keeps every asynchronous error the server sent it."""

    client: Client
    errors: list[str] = field(default_factory=list)
    _error: asyncio.Event = field(default_factory=asyncio.Event)

    async def refused(self, timeout: float = 2.0) -> str:
        """The permissions violation the server reported, waiting for it if need be
        (lower case: nats-py reports the subject lower-cased)."""
        async with asyncio.timeout(timeout):
            while True:
                found = [e for e in self.errors if "permissions violation" in e.lower()]
                if found:
                    return found[-1].lower()
                self._error.clear()
                await self._error.wait()

    async def publish_refused(self, subject: str, payload: bytes = b"{}", **kwargs: object) -> str:
        await self.client.publish(subject, payload, **kwargs)  # type: ignore[arg-type]
        await self.client.flush()
        return await self.refused()


@contextlib.asynccontextmanager
async def role_client(options: NatsOptions) -> AsyncIterator[RoleClient]:
    role = RoleClient(client=None)  # type: ignore[arg-type]

    async def on_error(exc: Exception) -> None:
        role.errors.append(str(exc))
        role._error.set()

    role.client = await connect_once(options, error_cb=on_error)
    try:
        yield role
    finally:
        await role.client.close()
