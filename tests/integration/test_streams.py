"""The partitioned JetStream layout against a real nats-server."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext

from contracts.uln import make_uln
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import connect
from services.adapters.nats.streams import (
    PartitionMappingError,
    Streams,
    check_partition_mapping,
    declare,
    leases_bucket,
    partition_of,
)

pytestmark = pytest.mark.nats


async def test_every_learner_lands_in_the_partition_we_compute(js: JetStreamContext) -> None:
    streams = Streams()
    await declare(js, streams)
    placed = {}
    for n in range(1, 60):
        uln = make_uln(n)
        ack = await js.publish(f"records.in.{uln}", b"{}")
        placed[uln] = ack.stream
    assert placed == {uln: f"RECORDS_IN_{partition_of(uln, 8)}" for uln in placed}
    assert len(set(placed.values())) == 8  # 59 learners reach every partition


async def test_declaring_twice_changes_nothing_and_a_changed_limit_updates(
    js: JetStreamContext,
) -> None:
    streams = Streams(partitions=2)
    first = await declare(js, streams)
    again = await declare(js, streams)
    assert first.keys() == again.keys() == {"RECORDS_IN_0", "RECORDS_IN_1", "RECORDS_OUT"}
    info = first["RECORDS_IN_0"]
    assert info.config.retention == "workqueue"
    assert info.config.subjects == ["records.in.0.*"]
    shorter = Streams(partitions=2, inbound_max_age=3600.0)
    assert (await declare(js, shorter))["RECORDS_IN_1"].config.max_age == 3600.0


async def test_a_server_without_the_mapping_is_reported(tmp_path: Path) -> None:
    plain = tmp_path / "plain.conf"
    plain.write_text("jetstream { store_dir: $LEARNER_RECORDS_NATS_STORE }\n")
    with EmbeddedNatsServer(tmp_path / "plain", port=0, auth=False, config_file=plain) as server:
        client = await connect(server.url)
        try:
            js = client.jetstream()
            await declare(js, Streams())
            with pytest.raises(PartitionMappingError, match="mapping"):
                await check_partition_mapping(js, Streams(), make_uln(1))
        finally:
            await client.close()


async def test_the_mapping_check_stores_nothing(js: JetStreamContext) -> None:
    streams = Streams()
    await declare(js, streams)
    await check_partition_mapping(js, streams, make_uln(1))
    partition = partition_of(make_uln(1), 8)
    info = await js.stream_info(f"RECORDS_IN_{partition}")
    assert info.state.messages == 0


async def test_a_changed_lease_ttl_reaches_the_existing_bucket(js: JetStreamContext) -> None:
    await declare(js, Streams(partitions=1, lease_ttl=10.0))
    await leases_bucket(js, Streams(partitions=1, lease_ttl=4.0))
    assert (await js.stream_info("KV_LEARNER_RECORDS")).config.max_age == 4.0
