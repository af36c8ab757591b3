"""The JetStream layout: partitioned inbound streams, the decisions stream, the lease bucket.

Publishers publish to ``records.in.<ULN>``. An account-level subject mapping in the
server's configuration (deploy/nats.conf) sends it to ``records.in.<k>.<ULN>``, where
``k = fnv1a32(ULN) mod P`` (nats-server's ``{{partition(P,1)}}``), and stream
``RECORDS_IN_<k>`` keeps partition k's events in their order. Each partition stream has
work-queue retention: a message is deleted once the service acknowledges it, i.e. once
its effect is stored, so learners' dates of birth do not linger on the broker (what
stays is bounded by ``max_age``). Decisions go to ``RECORDS_OUT``; partition leases and
replica membership live in the KV bucket ``LEARNER_RECORDS``. Limits and their reasons:
deploy/NATS.md.

The service declares all of it itself, idempotently, every time it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.kv import KeyValue

__all__ = [
    "LEASE_BUCKET",
    "PartitionMappingError",
    "Streams",
    "check_partition_mapping",
    "partition_of",
]

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MiB = 1024 * 1024
GiB = 1024 * MiB

LEASE_BUCKET = "LEARNER_RECORDS"
# JetStream API error code for "stream name already in use with a different configuration".
_STREAM_NAME_EXIST = 10058
# "expected stream does not match": the subject reached a stream, just not that one.
_WRONG_STREAM = 10060
_PROBE_STREAM = "__learner_records_probe__"

log = structlog.get_logger(__name__)


def partition_of(uln: str, partitions: int) -> int:
    """The partition nats-server's ``{{partition(P,1)}}`` puts a ULN in: FNV-1a, 32 bits."""
    value = 0x811C9DC5
    for byte in uln.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value % partitions


class PartitionMappingError(RuntimeError):
    """``records.in.<ULN>`` does not reach the partition streams: the server lacks the mapping."""


@dataclass(frozen=True, slots=True)
class Streams:
    """The service's streams and their limits; defaults are the embedded service's."""

    partitions: int = 8
    inbound_prefix: str = "records.in"
    outbound_prefix: str = "records.out"
    # Work-queue retention deletes what is stored; max_age bounds how long a date of birth
    # can wait on the broker while the service is down (deploy/NATS.md).
    inbound_max_age: float = 7 * DAY
    # Per partition: 8 partitions hold 2 GiB of events not yet stored (a long outage).
    inbound_max_bytes: int = 256 * MiB
    inbound_duplicate_window: float = 2 * MINUTE
    # Decisions carry no date of birth (a rejection's echo drops it); 30 days lets a
    # subscriber that was down catch up.
    outbound_max_age: float = 30 * DAY
    outbound_max_bytes: int = GiB
    outbound_duplicate_window: float = HOUR
    replicas: int = 1
    storage: StorageType = StorageType.FILE
    max_msg_size: int = MiB
    lease_ttl: float = 10.0
    consumer_ack_wait: float = 60.0
    fetch_batch: int = 500
    extra: dict[str, str] = field(default_factory=dict)

    def inbound_stream(self, partition: int) -> str:
        return f"RECORDS_IN_{partition}"

    def inbound_subjects(self, partition: int) -> str:
        return f"{self.inbound_prefix}.{partition}.*"

    @property
    def outbound_stream(self) -> str:
        return "RECORDS_OUT"

    def consumer(self, partition: int) -> str:
        return f"ingest-{partition}"

    def mapping(self) -> tuple[str, str]:
        """The account mapping the server must have: (source, destination)."""
        return (
            f"{self.inbound_prefix}.*",
            f"{self.inbound_prefix}.{{{{partition({self.partitions},1)}}}}.{{{{wildcard(1)}}}}",
        )

    def inbound_config(self, partition: int) -> StreamConfig:
        return StreamConfig(
            name=self.inbound_stream(partition),
            subjects=[self.inbound_subjects(partition)],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=self.storage,
            num_replicas=self.replicas,
            duplicate_window=self.inbound_duplicate_window,
            max_age=self.inbound_max_age,
            max_bytes=self.inbound_max_bytes,
            max_msg_size=self.max_msg_size,
            # A full stream refuses new writes (the publisher retries) rather than
            # deleting its oldest messages, which may not have been stored yet.
            discard=DiscardPolicy.NEW,
        )

    def outbound_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.outbound_stream,
            subjects=[f"{self.outbound_prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=self.storage,
            num_replicas=self.replicas,
            duplicate_window=self.outbound_duplicate_window,
            max_age=self.outbound_max_age,
            max_bytes=self.outbound_max_bytes,
            max_msg_size=self.max_msg_size,
            discard=DiscardPolicy.NEW,
        )

    def consumer_config(self, partition: int) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.consumer(partition),
            durable_name=self.consumer(partition),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.consumer_ack_wait,
            # Never give a message up: a failing batch is retried in place by its owner,
            # and a message at fault is parked in the store, not dropped by the broker.
            max_deliver=-1,
            max_ack_pending=4 * self.fetch_batch,
        )

    def lease_config(self) -> KeyValueConfig:
        return KeyValueConfig(
            bucket=LEASE_BUCKET,
            history=1,
            ttl=self.lease_ttl,
            storage=self.storage,
            replicas=self.replicas,
        )


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


async def declare(js: JetStreamContext, streams: Streams) -> dict[str, StreamInfo]:
    """Every stream of the service and the lease bucket; the streams' info by name."""
    infos: dict[str, StreamInfo] = {}
    for partition in range(streams.partitions):
        info = await declare_stream(js, streams.inbound_config(partition))
        infos[info.config.name or ""] = info
    info = await declare_stream(js, streams.outbound_config())
    infos[streams.outbound_stream] = info
    await leases_bucket(js, streams)
    await _warn_of_other_partitions(js, streams)
    return infos


async def _warn_of_other_partitions(js: JetStreamContext, streams: Streams) -> None:
    """Partition streams beyond P with events waiting: the server's mapping (or another
    replica) works with a different P, and those events are applied by nobody."""
    prefix = "RECORDS_IN_"
    try:
        found = await js.streams_info()
    except nats.errors.Error:
        return
    for info in found:
        name = info.config.name or ""
        index = name.removeprefix(prefix)
        beyond = name.startswith(prefix) and index.isdigit() and int(index) >= streams.partitions
        if beyond and info.state.messages:
            log.error(
                "jetstream.partition_beyond_p",
                stream=name,
                waiting=info.state.messages,
                partitions=streams.partitions,
                detail="events wait in a partition this P does not have: the mapping and "
                "--partitions disagree (deploy/SCALING.md, Changing P)",
            )


async def leases_bucket(js: JetStreamContext, streams: Streams) -> KeyValue:
    """The lease bucket, created, or brought to this TTL and copy count: replicas tick
    against the expiry they are given, so a bucket left at an older TTL would let a
    lease lapse (or linger) out of step with them."""
    try:
        kv = await js.key_value(LEASE_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        return await js.create_key_value(streams.lease_config())
    stream = f"KV_{LEASE_BUCKET}"
    config = (await js.stream_info(stream)).config
    if config.max_age != streams.lease_ttl or config.num_replicas != streams.replicas:
        log.info(
            "jetstream.lease_bucket_updated",
            ttl=streams.lease_ttl,
            was=config.max_age,
            replicas=streams.replicas,
        )
        config.max_age = streams.lease_ttl
        config.num_replicas = streams.replicas
        # JetStream keeps a bucket's duplicate window within its TTL.
        if config.duplicate_window is not None and config.duplicate_window > streams.lease_ttl:
            config.duplicate_window = streams.lease_ttl
        await js.update_stream(config)
    return kv


async def check_partition_mapping(js: JetStreamContext, streams: Streams, probe_uln: str) -> None:
    """Raise PartitionMappingError unless ``records.in.<ULN>`` reaches a partition stream.

    Nothing is stored: the probe asks for a stream that does not exist, so a server
    that maps the subject answers "wrong stream", and one that does not answers with
    no responders (no stream listens on ``records.in.<ULN>`` itself).
    """
    subject = f"{streams.inbound_prefix}.{probe_uln}"
    try:
        await js.publish(subject, b"", headers={"Nats-Expected-Stream": _PROBE_STREAM}, timeout=5)
    except nats.js.errors.BadRequestError as error:
        if error.err_code == _WRONG_STREAM:
            return
        raise
    except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
        source, destination = streams.mapping()
        raise PartitionMappingError(
            f"{subject} reaches no stream: the NATS account needs the subject mapping "
            f'"{source}": "{destination}" (see deploy/nats.conf)'
        ) from None
    raise PartitionMappingError(f"the probe on {subject} was stored by a stream; check mappings")
