"""JetStream building blocks: declaring streams and consumers, idempotent publish, ingest."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    Header,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)

from services.adapters.nats import connection
from services.adapters.nats.connection import NatsOptions

__all__ = [
    "DEAD_DELIVERIES_HEADER",
    "DEAD_REASON_HEADER",
    "DEAD_SEQUENCE_HEADER",
    "DEAD_STREAM_HEADER",
    "DEAD_SUBJECT_HEADER",
    "MSG_ID_HEADER",
    "BatchConsumer",
    "BatchHandler",
    "BatchOutcome",
    "InboundMessage",
    "IngestPolicy",
    "StreamSpec",
    "StreamsConfig",
    "connect",
    "dead_letter_subject",
    "declare_ingest_consumer",
    "declare_stream",
    "declare_streams",
    "publish_all_once",
    "publish_once",
]

# JetStream de-duplicates publishes carrying the same id within the stream's window.
MSG_ID_HEADER: str = Header.MSG_ID.value
# Ours, on every dead letter: why it died and where it came from.
DEAD_REASON_HEADER = "Learner-Records-Dead-Reason"
DEAD_SUBJECT_HEADER = "Learner-Records-Dead-Subject"
DEAD_STREAM_HEADER = "Learner-Records-Dead-Stream"
DEAD_SEQUENCE_HEADER = "Learner-Records-Dead-Sequence"
DEAD_DELIVERIES_HEADER = "Learner-Records-Dead-Deliveries"
# Server-interpreted headers (Nats-Expected-Stream, ...) must not be replayed onto a dead letter.
_NATS_HEADER_PREFIX = "nats-"
_MAX_REASON_LENGTH = 512
# JetStream API error code for "stream name already in use with a different configuration".
_STREAM_NAME_EXIST = 10058

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MiB = 1024 * 1024
GiB = 1024 * MiB

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream: its subjects are ``<prefix>.>``; limits are explained in deploy/NATS.md."""

    name: str
    prefix: str
    duplicate_window: float
    max_age: float
    max_bytes: int
    # NEW everywhere: a full stream refuses writes (the writer retries) instead of silently
    # deleting its oldest messages, which may not have been consumed yet.
    discard: DiscardPolicy = DiscardPolicy.NEW

    @property
    def subjects(self) -> str:
        return f"{self.prefix}.>"


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """The durable pull consumer on the inbound stream and what the loop does on failure."""

    durable: str = "ingest"
    # backoff replaces ack_wait on the server (its first entry becomes the first ack
    # deadline), so it starts at ack_wait; it paces redeliveries of messages never acked
    # (a crashed or hung worker), while retry_delays pace the loop's own naks.
    ack_wait: float = 30.0
    backoff: tuple[float, ...] = (30.0, 60.0, 120.0, 300.0)
    # The loop dead-letters a message failing on this delivery; the server's max_deliver
    # is a little higher so a failed dead-lettering still gets another delivery.
    max_attempts: int = 5
    max_deliver: int = 7
    retry_delays: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)
    max_ack_pending: int = 1000
    batch_size: int = 500
    fetch_timeout: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.max_attempts < self.max_deliver:
            raise ValueError("need 0 < max_attempts < max_deliver")
        if len(self.backoff) > self.max_deliver:
            raise ValueError("nats-server needs len(backoff) <= max_deliver")
        if not self.retry_delays:
            raise ValueError("retry_delays must not be empty")

    def retry_delay(self, num_delivered: int) -> float:
        """The nak delay after a failed attempt on delivery ``num_delivered`` (1-based)."""
        return self.retry_delays[min(num_delivered, len(self.retry_delays)) - 1]

    @property
    def heartbeat(self) -> float:
        """How often to tell the server a slow batch is still in progress."""
        first_deadline = self.backoff[0] if self.backoff else self.ack_wait
        return first_deadline / 3


@dataclass(frozen=True, slots=True)
class StreamsConfig:
    """The three streams and the ingest consumer; defaults are the embedded service's."""

    inbound: StreamSpec = field(
        default_factory=lambda: StreamSpec("RECORDS_IN", "records.in", 2 * MINUTE, 30 * DAY, GiB)
    )
    outbound: StreamSpec = field(
        default_factory=lambda: StreamSpec("RECORDS_OUT", "records.out", HOUR, 30 * DAY, GiB)
    )
    # No age limit: a dead letter waits for a person.
    dead: StreamSpec = field(
        default_factory=lambda: StreamSpec("RECORDS_DEAD", "records.dead", 2 * MINUTE, 0, 256 * MiB)
    )
    ingest: IngestPolicy = field(default_factory=IngestPolicy)
    storage: StorageType = StorageType.FILE
    replicas: int = 1
    max_msg_size: int = MiB

    def stream_config(self, spec: StreamSpec) -> StreamConfig:
        return StreamConfig(
            name=spec.name,
            subjects=[spec.subjects],
            retention=RetentionPolicy.LIMITS,
            storage=self.storage,
            num_replicas=self.replicas,
            duplicate_window=spec.duplicate_window,
            max_age=spec.max_age,
            max_bytes=spec.max_bytes,
            max_msg_size=self.max_msg_size,
            discard=spec.discard,
        )

    def ingest_consumer_config(self) -> ConsumerConfig:
        policy = self.ingest
        return ConsumerConfig(
            name=policy.durable,
            durable_name=policy.durable,
            filter_subject=self.inbound.subjects,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=policy.ack_wait,
            backoff=list(policy.backoff) or None,
            max_deliver=policy.max_deliver,
            max_ack_pending=policy.max_ack_pending,
        )


async def connect(
    servers: str | list[str], *, name: str = "learner-records", **options: Any
) -> NATS:
    """Deprecated alias of services.adapters.nats.connection.connect, for a URL and no
    credentials; kept while callers move over."""
    url = servers if isinstance(servers, str) else ",".join(servers)
    return await connection.connect(NatsOptions.from_url(url, name=name), **options)


async def declare_stream(js: JetStreamContext, config: StreamConfig) -> StreamInfo:
    """Create the stream, or bring an existing one to ``config``; repeatable."""
    try:
        # Creating with an identical configuration succeeds, so this is the common path.
        return await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_NAME_EXIST:
            raise
    log.info("jetstream.stream_updated", stream=config.name)
    return await js.update_stream(config)


async def declare_streams(js: JetStreamContext, config: StreamsConfig) -> dict[str, StreamInfo]:
    specs = (config.inbound, config.outbound, config.dead)
    return {spec.name: await declare_stream(js, config.stream_config(spec)) for spec in specs}


async def declare_ingest_consumer(js: JetStreamContext, config: StreamsConfig) -> ConsumerInfo:
    """Create or update the durable ingest consumer (nats-server 2.10+ updates in place)."""
    return await js.add_consumer(config.inbound.name, config=config.ingest_consumer_config())


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


async def publish_all_once(
    js: JetStreamContext,
    messages: Sequence[tuple[str, bytes, str]],
    *,
    stream: str | None = None,
    timeout: float = 10.0,
) -> list[PubAck]:
    """Publish ``(subject, payload, msg_id)`` triples pipelined; return once all are acked.

    One connection delivers in order, so the stream stores them in the order given, but
    only one round trip (and, with ``sync_interval: always``, one fsync wait) is paid for
    the lot. Raises if any publish fails or the acks do not all arrive within ``timeout``;
    repeating the call is then safe, as every message carries its ``Nats-Msg-Id``.
    """
    futures: list[asyncio.Future[PubAck]] = []
    try:
        for subject, payload, msg_id in messages:
            futures.append(
                await js.publish_async(
                    subject,
                    payload,
                    wait_stall=timeout,
                    stream=stream,
                    headers={MSG_ID_HEADER: msg_id},
                )
            )
        return await asyncio.wait_for(asyncio.gather(*futures), timeout)
    finally:
        for future in futures:
            future.cancel()  # no-op once done; frees nats-py's slot for one never answered


def dead_letter_subject(config: StreamsConfig, subject: str) -> str:
    """``records.in.<ULN>`` -> ``records.dead.<ULN>``."""
    tail = subject.removeprefix(config.inbound.prefix + ".")
    return f"{config.dead.prefix}.{tail}"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """What a handler sees of a delivery: plain data, safe to hand to another thread."""

    subject: str
    data: bytes
    headers: Mapping[str, str]
    stream_sequence: int
    num_delivered: int

    @property
    def msg_id(self) -> str | None:
        return self.headers.get(MSG_ID_HEADER)

    @classmethod
    def of(cls, msg: Msg) -> InboundMessage:
        meta = msg.metadata
        return cls(
            msg.subject, msg.data, dict(msg.headers or {}), meta.sequence.stream, meta.num_delivered
        )


# A plain ``def`` runs in a worker thread (the store is synchronous); an ``async def`` on the loop.
BatchHandler = (
    Callable[[Sequence[InboundMessage]], None]
    | Callable[[Sequence[InboundMessage]], Awaitable[None]]
)


@dataclass(slots=True)
class BatchOutcome:
    acked: int = 0
    retried: int = 0
    dead_lettered: int = 0

    def __iadd__(self, other: BatchOutcome) -> BatchOutcome:
        self.acked += other.acked
        self.retried += other.retried
        self.dead_lettered += other.dead_lettered
        return self


# How long a fetch lingers for more once it has something (or to find something when
# the consumer is busy): short, so a trickle of events is not held back for a batch.
_GATHER_S = 0.005


class BatchConsumer:
    """Fetches batches from the durable ingest consumer and settles every message.

    A batch goes to the handler whole; only when it returns are its messages acked. If it
    raises, each message is retried alone, so one poison message cannot hold back the rest:
    a message that fails is nak'ed with a delay, or on its ``max_attempts``-th delivery
    published to ``records.dead.<tail>`` and terminated.
    """

    def __init__(self, js: JetStreamContext, config: StreamsConfig, handler: BatchHandler) -> None:
        self._js = js
        self._config = config
        self._policy = config.ingest
        self._handler = handler
        self._handler_is_async = inspect.iscoroutinefunction(
            handler
        ) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - an object with an async __call__
        )
        self.totals = BatchOutcome()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished first."""
        sub = await self._js.pull_subscribe_bind(
            durable=self._policy.durable, stream=self._config.inbound.name
        )
        log.info("ingest.started", stream=self._config.inbound.name, consumer=self._policy.durable)
        # The next batch is fetched while the one in hand is stored: the round trip to
        # the server overlaps the commit. Batches are still handled one after another,
        # in order, and each is acked only after its own commit.
        in_hand: asyncio.Task[BatchOutcome] | None = None
        try:
            while not stop.is_set():
                msgs = await self._fetch(sub, stop)
                if in_hand is not None:
                    self.totals += await in_hand
                    in_hand = None
                if msgs and stop.is_set():
                    await self._give_back(msgs)
                elif msgs:
                    in_hand = asyncio.create_task(self.process(msgs))
            if in_hand is not None:
                self.totals += await in_hand
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
            log.info(
                "ingest.stopped", acked=self.totals.acked, dead_lettered=self.totals.dead_lettered
            )

    @staticmethod
    async def _give_back(msgs: Sequence[Msg]) -> None:
        """Messages fetched as the loop stops: redelivered now, not after ack_wait."""
        for msg in msgs:
            with contextlib.suppress(nats.errors.Error):
                await msg.nak()

    async def process(self, msgs: Sequence[Msg]) -> BatchOutcome:
        """Hand one fetched batch to the handler and settle each message. Usable on its own."""
        try:
            await self._call(msgs)
        except Exception as exc:
            if len(msgs) == 1:
                return await self._failed(msgs[0], exc)
            log.warning("ingest.batch_failed", size=len(msgs), error=repr(exc))
            return await self._one_by_one(msgs)
        for msg in msgs:
            await msg.ack()
        return BatchOutcome(acked=len(msgs))

    async def _one_by_one(self, msgs: Sequence[Msg]) -> BatchOutcome:
        outcome = BatchOutcome()
        for msg in msgs:
            try:
                await self._call([msg])
            except Exception as exc:
                outcome += await self._failed(msg, exc)
            else:
                await msg.ack()
                outcome.acked += 1
        return outcome

    async def _call(self, msgs: Sequence[Msg]) -> None:
        """Run the handler, telling the server the messages are in progress while it works."""
        batch = [InboundMessage.of(msg) for msg in msgs]
        if self._handler_is_async:
            work: asyncio.Future[Any] = asyncio.ensure_future(self._handler(batch))  # type: ignore[arg-type]
        else:
            work = asyncio.ensure_future(asyncio.to_thread(self._handler, batch))
        try:
            while not (await asyncio.wait({work}, timeout=self._policy.heartbeat))[0]:
                for msg in msgs:
                    with contextlib.suppress(nats.errors.Error):
                        await msg.in_progress()
        except asyncio.CancelledError:
            work.cancel()  # a thread cannot be cancelled: its messages are redelivered later
            raise
        work.result()

    async def _failed(self, msg: Msg, exc: Exception) -> BatchOutcome:
        delivered = msg.metadata.num_delivered
        if delivered >= self._policy.max_attempts and await self._dead_letter(msg, exc):
            return BatchOutcome(dead_lettered=1)
        delay = self._policy.retry_delay(delivered)
        log.warning(
            "ingest.retry", subject=msg.subject, delivered=delivered, delay=delay, error=repr(exc)
        )
        await msg.nak(delay=delay)
        return BatchOutcome(retried=1)

    async def _dead_letter(self, msg: Msg, exc: Exception) -> bool:
        """Publish ``msg`` to the dead-letter stream, then terminate it; False if that failed."""
        meta = msg.metadata
        headers = {
            k: v
            for k, v in (msg.headers or {}).items()
            if not k.lower().startswith(_NATS_HEADER_PREFIX)
        }
        headers |= {
            DEAD_REASON_HEADER: _header_safe(f"{type(exc).__name__}: {exc}"),
            DEAD_SUBJECT_HEADER: msg.subject,
            DEAD_STREAM_HEADER: meta.stream,
            DEAD_SEQUENCE_HEADER: str(meta.sequence.stream),
            DEAD_DELIVERIES_HEADER: str(meta.num_delivered),
        }
        subject = dead_letter_subject(self._config, msg.subject)
        # The id makes a repeated dead-lettering of the same delivery (term lost) a no-op.
        msg_id = f"{meta.stream}.{meta.sequence.stream}"
        try:
            await publish_once(self._js, subject, msg.data, msg_id, headers=headers)
        except (TimeoutError, nats.errors.Error) as publish_error:
            log.error("ingest.dead_letter_failed", subject=msg.subject, error=repr(publish_error))
            return False
        await msg.term()
        log.error(
            "ingest.dead_lettered",
            subject=msg.subject,
            dead_subject=subject,
            reason=headers[DEAD_REASON_HEADER],
        )
        return True

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> list[Msg]:
        """What is waiting, up to a batch; when nothing is, the first message to arrive.

        nats-py's fetch of N, finding nothing at once, leaves a pull request that waits
        until N messages or its timeout: at a trickle that holds a learner's event for up
        to the whole timeout. So an idle consumer waits for one message, then takes what
        came with it in a short, bounded second fetch.
        """
        try:
            msgs = await self._pull(sub, self._policy.batch_size, _GATHER_S)
            if msgs:
                return msgs
            first = await self._pull(sub, 1, self._policy.fetch_timeout)
            if not first:
                return []
            return first + await self._pull(sub, self._policy.batch_size - 1, _GATHER_S)
        except nats.errors.ConnectionClosedError:
            raise
        except nats.errors.Error as exc:
            # Reconnecting, a leader change, a consumer being updated: pause and retry.
            log.warning("ingest.fetch_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._policy.fetch_timeout)
            return []

    @staticmethod
    async def _pull(
        sub: JetStreamContext.PullSubscription, batch: int, timeout: float
    ) -> list[Msg]:
        try:
            return await sub.fetch(batch=batch, timeout=timeout)
        except TimeoutError:
            # nats-py raises its own TimeoutError or, on some paths, asyncio's (the builtin
            # since 3.11): both mean nothing arrived in time.
            return []


def _header_safe(text: str) -> str:
    """Header values must not contain line breaks, and a reason needs no more than a line."""
    return " ".join(text.split())[:_MAX_REASON_LENGTH]
