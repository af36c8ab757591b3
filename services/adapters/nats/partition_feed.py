"""One partition's inbound messages, in stream order, for the partition's one owner.

The owner opens the feed when it takes the partition: the durable consumer
``ingest-<k>`` is deleted and created afresh, so nothing a previous owner fetched and
never acknowledged can come back later and overtake what follows it (a redelivery
after ``ack_wait`` would). The fresh consumer starts at the first message still in the
work-queue stream; what the store already holds (its tracking position) is skipped and
acknowledged. Messages are acknowledged only once their batch is stored.

An acknowledgement can be lost: the connection drops between the commit and the ack, or
a restarted server forgets acks it had not yet written. The message then stays in the
work queue, and comes back either as a redelivery after ``ack_wait`` (handed out like any
other: the owner sees by its stored position that only the ack was missing) or, sooner,
because the feed reports itself lost after the client reconnected, so the owner opens it
afresh from the stored position.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.adapters.nats.streams import Streams

__all__ = ["Delivery", "FeedLostError", "PartitionFeed", "tracking_name"]

log = structlog.get_logger(__name__)

# How long a fetch lingers for more once it has something: short, so a trickle of
# events is not held back to fill a batch.
_GATHER_S = 0.005


def tracking_name(stream: str, created: datetime | None) -> str:
    """The store's name for the position reached in ``stream`` (PartitionFeed.tracking_name)."""
    return f"{stream}@{created.isoformat() if created else '?'}"


class FeedLostError(RuntimeError):
    """The consumer or its stream is gone (deleted, or the server lost it): reopen."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the application sees of a message: plain data, safe to hand to a thread."""

    subject: str
    data: bytes
    headers: dict[str, str]
    seq: int
    msg: Msg


class PartitionFeed:
    def __init__(
        self,
        js: JetStreamContext,
        streams: Streams,
        partition: int,
        *,
        reconnects: Callable[[], int] = lambda: 0,
    ) -> None:
        self._js = js
        self._streams = streams
        self.partition = partition
        self.stream = streams.inbound_stream(partition)
        self._consumer = streams.consumer(partition)
        self._sub: JetStreamContext.PullSubscription | None = None
        # How many times the client has reconnected (nats-py's stats); a change since
        # open() means acks may have been lost on the way.
        self._reconnects = reconnects
        self._opened_at = 0
        self._errors = 0
        self.created: datetime | None = None

    @property
    def tracking_name(self) -> str:
        """The store's name for this stream's position. It includes the stream's creation
        time: a stream deleted and created again restarts its sequences at 1, and a
        position kept from the old one would skip the new messages."""
        return tracking_name(self.stream, self.created)

    async def open(self) -> None:
        await self.close()  # opened again after a loss: the old subscription goes
        info = await self._js.stream_info(self.stream)
        self.created = info.created
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self._js.delete_consumer(self.stream, self._consumer)
        await self._js.add_consumer(
            self.stream, config=self._streams.consumer_config(self.partition)
        )
        self._sub = await self._js.pull_subscribe_bind(durable=self._consumer, stream=self.stream)
        self._opened_at = self._reconnects()
        log.info("partition.opened", partition=self.partition, stream=self.stream)

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:
        """What is waiting, up to ``limit``; when nothing is, the first message to arrive
        within ``timeout`` and whatever comes with it, in stream order. Redeliveries
        included: their acks were lost, and the owner acks what it has stored.

        Raises FeedLostError once the client has reconnected since ``open``."""
        assert self._sub is not None, "open() first"
        if self._reconnects() != self._opened_at:
            raise FeedLostError(f"{self.stream}: reconnected to NATS, acks may have been lost")
        msgs = await self._pull(limit, _GATHER_S)
        if not msgs:
            first = await self._pull(1, timeout)
            if not first:
                return []
            msgs = first + await self._pull(limit - 1, _GATHER_S)
        deliveries = {}
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            deliveries[seq] = Delivery(msg.subject, msg.data, dict(msg.headers or {}), seq, msg)
        return [deliveries[seq] for seq in sorted(deliveries)]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            # The work queue deletes the message: its effect is in the store.
            with contextlib.suppress(nats.errors.Error):
                await delivery.msg.ack()

    async def keep_alive(self, deliveries: Sequence[Delivery]) -> None:
        """Tell the server the batch is still being worked on (a slow or failing store)."""
        for delivery in deliveries:
            with contextlib.suppress(nats.errors.Error):
                await delivery.msg.in_progress()

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()
            self._sub = None

    async def _pull(self, batch: int, timeout: float) -> list[Msg]:
        assert self._sub is not None
        try:
            msgs = await self._sub.fetch(batch=batch, timeout=timeout)
        except TimeoutError:
            # nats-py raises its own TimeoutError or asyncio's (the builtin since 3.11).
            self._errors = 0
            return []
        except nats.errors.ConnectionClosedError:
            raise
        except nats.js.errors.NotFoundError as exc:
            raise FeedLostError(f"{self.stream}/{self._consumer}: {exc}") from exc
        except nats.errors.Error as exc:
            # Reconnecting, a leader change: pause and let the caller come back. A consumer
            # that keeps failing may be gone (deleted by hand, a server that lost it).
            self._errors += 1
            log.warning("partition.fetch_failed", partition=self.partition, error=repr(exc))
            if self._errors >= 3:
                await self._check_consumer()
            await asyncio.sleep(min(timeout, 0.5))
            return []
        self._errors = 0
        return msgs

    async def _check_consumer(self) -> None:
        try:
            await self._js.consumer_info(self.stream, self._consumer)
        except nats.js.errors.NotFoundError as exc:
            raise FeedLostError(f"{self.stream}/{self._consumer} is gone") from exc
        except (nats.errors.Error, TimeoutError):
            pass  # the server is unreachable: nothing to conclude yet
