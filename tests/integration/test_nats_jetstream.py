"""Stream and consumer declaration, and publishing with Nats-Msg-Id."""

from __future__ import annotations

import dataclasses

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, DiscardPolicy, RetentionPolicy, StorageType

from services.adapters.nats.jetstream import (
    MSG_ID_HEADER,
    StreamsConfig,
    declare_ingest_consumer,
    declare_streams,
    publish_once,
)

pytestmark = pytest.mark.nats


async def test_streams_declare_twice_with_the_configured_limits(js: JetStreamContext) -> None:
    config = StreamsConfig()

    await declare_streams(js, config)
    infos = await declare_streams(js, config)

    assert sorted(infos) == ["RECORDS_DEAD", "RECORDS_IN", "RECORDS_OUT"]
    inbound = (await js.stream_info("RECORDS_IN")).config
    assert inbound.subjects == ["records.in.>"]
    assert inbound.storage == StorageType.FILE
    assert inbound.retention == RetentionPolicy.LIMITS
    assert inbound.discard == DiscardPolicy.NEW
    assert inbound.duplicate_window == 120
    assert inbound.max_age == 30 * 24 * 3600
    outbound = (await js.stream_info("RECORDS_OUT")).config
    assert outbound.subjects == ["records.out.>"]
    assert outbound.duplicate_window == 3600
    dead = (await js.stream_info("RECORDS_DEAD")).config
    assert dead.subjects == ["records.dead.>"]
    assert dead.max_age == 0  # kept until someone deals with it


async def test_a_changed_limit_updates_the_existing_stream(js: JetStreamContext) -> None:
    config = StreamsConfig()
    await declare_streams(js, config)
    await js.publish("records.in.1234567890", b"kept")

    wider = dataclasses.replace(config.inbound, max_bytes=2 * config.inbound.max_bytes)
    await declare_streams(js, dataclasses.replace(config, inbound=wider))

    info = await js.stream_info("RECORDS_IN")
    assert info.config.max_bytes == 2 * config.inbound.max_bytes
    assert info.state.messages == 1  # updated in place, not recreated


async def test_ingest_consumer_declares_twice_and_follows_the_policy(js: JetStreamContext) -> None:
    config = StreamsConfig()
    await declare_streams(js, config)

    await declare_ingest_consumer(js, config)
    info = await declare_ingest_consumer(js, config)

    assert info.name == "ingest"
    assert info.config.durable_name == "ingest"
    assert info.config.filter_subject == "records.in.>"
    assert info.config.ack_policy == AckPolicy.EXPLICIT
    assert info.config.max_deliver == config.ingest.max_deliver
    assert info.config.backoff == list(config.ingest.backoff)
    assert info.config.max_ack_pending == config.ingest.max_ack_pending
    # nats-server replaces ack_wait with the first backoff step.
    assert info.config.ack_wait == config.ingest.backoff[0]

    stricter = dataclasses.replace(config.ingest, max_attempts=2, max_deliver=4)
    info = await declare_ingest_consumer(js, dataclasses.replace(config, ingest=stricter))
    assert info.config.max_deliver == 4


async def test_the_same_msg_id_twice_is_stored_once(js: JetStreamContext) -> None:
    await declare_streams(js, StreamsConfig())
    subject = "records.out.eligible.1234567890"

    first = await publish_once(js, subject, b"decision", "decision-1")
    again = await publish_once(js, subject, b"decision", "decision-1")
    other = await publish_once(js, subject, b"decision", "decision-2")

    assert not first.duplicate
    assert again.duplicate is True
    assert again.seq == first.seq
    assert other.seq == first.seq + 1
    assert (await js.stream_info("RECORDS_OUT")).state.messages == 2
    stored = await js.get_msg("RECORDS_OUT", first.seq)
    assert stored.headers is not None and stored.headers[MSG_ID_HEADER] == "decision-1"
