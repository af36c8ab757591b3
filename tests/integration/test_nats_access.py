"""Only the right clients act: each forbidden action is refused by a real nats-server.

The server is the embedded default as `serve` starts it (generated accounts, a key per
role, the partition mapping); the streams are declared as the service declares them.
Every refusal test here also fails against a server without access control (checked by
running them on ``EmbeddedNatsServer(auth=False)``): there, each action succeeds.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import nats.errors
import nkeys
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.micro import add_service
from nats.micro.request import Request
from nats_roles import (
    PARTITIONS,
    RoleClient,
    declare_partitioned_streams,
    ingest_stream,
    partition_of,
    role_client,
)

from contracts.uln import make_uln
from services.adapters.nats.connection import (
    NatsOptions,
    NatsUnavailableError,
    connect,
    connect_once,
)
from services.adapters.nats.credentials import Role
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.server_config import OUTBOUND_STREAM, SUBSCRIBER_JS_API_PREFIX

pytestmark = pytest.mark.nats

ULN = "1000000019"
DECISION_ID = "5d2c3a8e-1f4b-5c2a-9e7d-0b1a2c3d4e5f"


@pytest.fixture
async def service(secured_nats: EmbeddedNatsServer) -> AsyncIterator[Client]:
    client = await connect(secured_nats.options(Role.SERVICE))
    try:
        await declare_partitioned_streams(client.jetstream())
        yield client
    finally:
        await client.close()


@pytest.fixture
async def publisher(secured_nats: EmbeddedNatsServer) -> AsyncIterator[RoleClient]:
    async with role_client(secured_nats.options(Role.PUBLISHER)) as client:
        yield client


@pytest.fixture
async def subscriber(secured_nats: EmbeddedNatsServer) -> AsyncIterator[RoleClient]:
    async with role_client(secured_nats.options(Role.SUBSCRIBER)) as client:
        yield client


@pytest.fixture
async def auditor(secured_nats: EmbeddedNatsServer) -> AsyncIterator[RoleClient]:
    async with role_client(secured_nats.options(Role.AUDITOR)) as client:
        yield client


async def _in_flight(service: Client) -> tuple[int, int, str]:
    """An event published, then fetched by the service and not yet acked:
    (partition, stream sequence, its ack subject)."""
    k = partition_of(ULN)
    sub = await service.jetstream().pull_subscribe_bind(
        durable=f"ingest-{k}", stream=ingest_stream(k)
    )
    [msg] = await sub.fetch(1, timeout=5)
    return k, msg.metadata.sequence.stream, msg.reply or ""


async def _pending(js: JetStreamContext, k: int) -> tuple[int, int]:
    info = await js.consumer_info(ingest_stream(k), f"ingest-{k}")
    return info.num_pending, info.num_ack_pending


async def _messages(js: JetStreamContext, stream: str) -> int:
    return (await js.stream_info(stream)).state.messages


async def _inbound_total(js: JetStreamContext) -> int:
    return sum([await _messages(js, ingest_stream(k)) for k in range(PARTITIONS)])


# -- what each role may do -------------------------------------------------------------------


async def test_a_publisher_publishes_to_records_in_uln_and_the_mapping_files_it_by_partition(
    service: Client, publisher: RoleClient
) -> None:
    for n in range(19, 19 + 40):
        uln = make_uln(n)
        ack = await publisher.client.jetstream().publish(f"records.in.{uln}", b"{}")
        # FNV-1a-32 of the ULN, mod P: computed here independently of the server.
        assert ack.stream == ingest_stream(partition_of(uln)), uln
    assert ingest_stream(partition_of(ULN)) == "RECORDS_IN_2"  # as measured by hand
    assert await _inbound_total(service.jetstream()) == 40
    assert publisher.errors == []


async def test_a_subscriber_reads_decisions_through_its_own_consumer_and_a_subscription(
    service: Client, subscriber: RoleClient
) -> None:
    decisions: asyncio.Queue[str] = asyncio.Queue()

    async def on_decision(msg: nats.aio.msg.Msg) -> None:
        await decisions.put(msg.subject)

    await subscriber.client.subscribe("records.out.>", cb=on_decision)
    await subscriber.client.flush()
    await service.jetstream().publish(
        f"records.out.eligible.{ULN}", b'{"decision": 1}', headers={"Nats-Msg-Id": DECISION_ID}
    )

    js = subscriber.client.jetstream(prefix=SUBSCRIBER_JS_API_PREFIX)
    pull = await js.pull_subscribe("records.out.>", durable="certifier", stream=OUTBOUND_STREAM)
    [msg] = await pull.fetch(1, timeout=5)
    assert (msg.subject, msg.data, msg.headers) == (
        f"records.out.eligible.{ULN}",
        b'{"decision": 1}',
        {"Nats-Msg-Id": DECISION_ID},
    )
    await msg.ack_sync()
    info = await js.consumer_info(OUTBOUND_STREAM, "certifier")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    assert (await js.stream_info(OUTBOUND_STREAM)).state.messages == 1
    await js.delete_consumer(OUTBOUND_STREAM, "certifier")
    assert await asyncio.wait_for(decisions.get(), 5) == f"records.out.eligible.{ULN}"
    assert subscriber.errors == []


async def test_an_auditor_asks_for_status_and_discovers_the_service(
    service: Client, auditor: RoleClient
) -> None:
    async def status(request: Request) -> None:
        await request.respond(b'{"uln": "' + ULN.encode() + b'", "registrations": []}')

    micro = await add_service(service, name="learner-records", version="0.1.0")
    await micro.add_endpoint(name="status", subject="records.query.status", handler=status)
    await service.flush()  # the endpoint's subscription is known to the server
    try:
        reply = await auditor.client.request("records.query.status", b"{}", timeout=5)
        assert json.loads(reply.data)["uln"] == ULN
        ping = await auditor.client.request("$SRV.PING.learner-records", b"", timeout=5)
        assert json.loads(ping.data)["name"] == "learner-records"
        info = await auditor.client.request("$SRV.INFO", b"", timeout=5)
        assert [e["subject"] for e in json.loads(info.data)["endpoints"]] == [
            "records.query.status"
        ]
    finally:
        await micro.stop()
    assert auditor.errors == []


# -- publisher ---------------------------------------------------------------------------------


async def test_a_publisher_cannot_forge_a_decision_and_the_genuine_one_is_not_suppressed(
    service: Client, publisher: RoleClient
) -> None:
    # The attack: the decision's id is predictable, so a forgery published first under
    # it would make JetStream drop the genuine decision as a duplicate.
    with pytest.raises((TimeoutError, nats.errors.NoRespondersError)):
        await publisher.client.jetstream().publish(
            f"records.out.eligible.{ULN}",
            b'{"forged": true}',
            headers={"Nats-Msg-Id": DECISION_ID},
            timeout=1,
        )
    assert "records.out.eligible" in await publisher.refused()

    ack = await service.jetstream().publish(
        f"records.out.eligible.{ULN}", b'{"genuine": true}', headers={"Nats-Msg-Id": DECISION_ID}
    )
    assert not ack.duplicate
    stored = await service.jetstream().get_msg(OUTBOUND_STREAM, ack.seq)
    assert stored.data == b'{"genuine": true}'
    assert await _messages(service.jetstream(), OUTBOUND_STREAM) == 1


async def test_a_publisher_cannot_read_records_in(service: Client, publisher: RoleClient) -> None:
    k = partition_of(ULN)
    await publisher.client.jetstream().publish(f"records.in.{ULN}", b'{"dob": "2001-02-03"}')
    for subject, body in [
        (f"$JS.API.STREAM.MSG.GET.{ingest_stream(k)}", b'{"seq": 1}'),
        (f"$JS.API.DIRECT.GET.{ingest_stream(k)}", b'{"seq": 1}'),
        (f"$JS.API.CONSUMER.CREATE.{ingest_stream(k)}", b'{"config": {}}'),
        (f"$JS.API.CONSUMER.CREATE.{ingest_stream(k)}.spy", b'{"config": {"name": "spy"}}'),
    ]:
        with pytest.raises((TimeoutError, nats.errors.NoRespondersError)):
            await publisher.client.request(subject, body, timeout=1)
        assert subject.lower() in await publisher.refused()
    # Nothing was created, and the event still waits for the service.
    consumers = await service.jetstream().consumers_info(ingest_stream(k))
    assert [c.name for c in consumers] == [f"ingest-{k}"]
    assert await _pending(service.jetstream(), k) == (1, 0)


async def test_a_publisher_cannot_subscribe_to_events_or_decisions(
    service: Client, publisher: RoleClient
) -> None:
    for subject in ("records.in.>", "records.out.>", ">"):
        await publisher.client.subscribe(subject)
        await publisher.client.flush()
        assert subject.lower() in await publisher.refused()
        publisher.errors.clear()


async def test_a_publisher_cannot_ack_fetch_or_delete_the_ingest_consumer(
    service: Client, publisher: RoleClient
) -> None:
    await publisher.client.jetstream().publish(f"records.in.{ULN}", b"{}")
    await publisher.client.jetstream().publish(f"records.in.{ULN}", b"{}")
    k, _, ack_subject = await _in_flight(service)
    assert await _pending(service.jetstream(), k) == (1, 1)

    # Ack, as if stored: the event would never reach the store.
    assert "$js.ack" in await publisher.publish_refused(ack_subject, b"+ACK")
    publisher.errors.clear()
    # Fetch the next one for itself.
    with pytest.raises((TimeoutError, nats.errors.NoRespondersError)):
        await publisher.client.request(
            f"$JS.API.CONSUMER.MSG.NEXT.{ingest_stream(k)}.ingest-{k}", b'{"batch": 1}', timeout=1
        )
    assert "msg.next" in await publisher.refused()
    publisher.errors.clear()
    # Delete it: the service would then ingest nothing.
    with pytest.raises((TimeoutError, nats.errors.NoRespondersError)):
        await publisher.client.request(
            f"$JS.API.CONSUMER.DELETE.{ingest_stream(k)}.ingest-{k}", b"", timeout=1
        )
    assert "consumer.delete" in await publisher.refused()

    assert await _pending(service.jetstream(), k) == (1, 1)


async def test_a_publisher_cannot_have_the_server_store_its_puback_as_a_decision(
    service: Client, publisher: RoleClient
) -> None:
    # NATS never checks a reply subject. In one shared account the server would publish
    # this PubAck to records.out.eligible.<ULN>, where RECORDS_OUT stores it.
    await publisher.client.publish(f"records.in.{ULN}", b"{}", reply=f"records.out.eligible.{ULN}")
    await publisher.client.flush()
    await asyncio.sleep(0.3)  # the PubAck, were it to go astray, is sent at once
    assert await _inbound_total(service.jetstream()) == 1  # the publish itself is fine
    assert await _messages(service.jetstream(), OUTBOUND_STREAM) == 0


# -- subscriber --------------------------------------------------------------------------------


async def test_a_subscriber_cannot_publish_events_or_decisions(
    service: Client, subscriber: RoleClient
) -> None:
    for subject in (f"records.in.{ULN}", f"records.in.2.{ULN}", f"records.out.eligible.{ULN}"):
        assert subject.lower() in await subscriber.publish_refused(subject)
        subscriber.errors.clear()
    assert await _inbound_total(service.jetstream()) == 0
    assert await _messages(service.jetstream(), OUTBOUND_STREAM) == 0


async def test_a_subscriber_cannot_touch_records_in(
    service: Client, publisher: RoleClient, subscriber: RoleClient
) -> None:
    await publisher.client.jetstream().publish(f"records.in.{ULN}", b"{}")
    k = partition_of(ULN)
    stream = ingest_stream(k)
    for api in ("$JS.API", SUBSCRIBER_JS_API_PREFIX):
        for tail, body in [
            (f"STREAM.MSG.GET.{stream}", b'{"seq": 1}'),
            (f"CONSUMER.CREATE.{stream}.spy", b'{"config": {"name": "spy"}}'),
            (f"CONSUMER.MSG.NEXT.{stream}.ingest-{k}", b'{"batch": 1}'),
            (f"CONSUMER.DELETE.{stream}.ingest-{k}", b""),
        ]:
            with pytest.raises((TimeoutError, nats.errors.NoRespondersError)):
                await subscriber.client.request(f"{api}.{tail}", body, timeout=1)
            assert tail.lower() in await subscriber.refused()
            subscriber.errors.clear()
    assert [c.name for c in await service.jetstream().consumers_info(stream)] == [f"ingest-{k}"]
    assert await _pending(service.jetstream(), k) == (1, 0)


async def test_a_subscriber_cannot_route_decisions_into_records_in(
    service: Client, subscriber: RoleClient
) -> None:
    await service.jetstream().publish(f"records.out.eligible.{ULN}", b'{"decision": 1}')
    js = subscriber.client.jetstream(prefix=SUBSCRIBER_JS_API_PREFIX)
    await js.add_consumer(
        OUTBOUND_STREAM, ConsumerConfig(durable_name="mine", ack_policy=AckPolicy.NONE)
    )
    # A pull request whose reply is a records.in subject: in a shared account the server
    # would deliver the decision there, into RECORDS_IN.
    await subscriber.client.publish(
        f"{SUBSCRIBER_JS_API_PREFIX}.CONSUMER.MSG.NEXT.{OUTBOUND_STREAM}.mine",
        b'{"batch": 1, "no_wait": true}',
        reply=f"records.in.{partition_of(ULN)}.{ULN}",
    )
    # A push consumer delivering there.
    await js.add_consumer(
        OUTBOUND_STREAM,
        ConsumerConfig(
            durable_name="pushy",
            deliver_subject=f"records.in.{partition_of(ULN)}.{ULN}",
            ack_policy=AckPolicy.NONE,
        ),
    )
    await subscriber.client.flush()
    await asyncio.sleep(0.5)
    assert await _inbound_total(service.jetstream()) == 0
    assert await _messages(service.jetstream(), OUTBOUND_STREAM) == 1


# -- auditor -----------------------------------------------------------------------------------


async def test_an_auditor_cannot_publish_events_or_decisions(
    service: Client, auditor: RoleClient
) -> None:
    for subject in (f"records.in.{ULN}", f"records.out.eligible.{ULN}"):
        assert subject.lower() in await auditor.publish_refused(subject)
        auditor.errors.clear()
    with pytest.raises((TimeoutError, nats.errors.NoRespondersError)):
        await auditor.client.request(f"$JS.API.STREAM.MSG.GET.{ingest_stream(0)}", b"", timeout=1)
    assert await _inbound_total(service.jetstream()) == 0
    assert await _messages(service.jetstream(), OUTBOUND_STREAM) == 0


async def test_an_auditor_cannot_have_the_service_answer_into_records_out(
    service: Client, auditor: RoleClient
) -> None:
    answered = asyncio.Event()

    async def status(request: Request) -> None:
        await request.respond(b'{"registrations": []}')
        answered.set()

    micro = await add_service(service, name="learner-records", version="0.1.0")
    await micro.add_endpoint(name="status", subject="records.query.status", handler=status)
    await service.flush()
    try:
        await auditor.client.publish(
            "records.query.status", b"{}", reply=f"records.out.eligible.{ULN}"
        )
        await auditor.client.flush()
        await asyncio.wait_for(answered.wait(), 5)  # the service did answer …
        await service.flush()
        await asyncio.sleep(0.3)
        # … into the auditor's account, where nothing stores it.
        assert await _messages(service.jetstream(), OUTBOUND_STREAM) == 0
    finally:
        await micro.stop()


# -- everyone else -----------------------------------------------------------------------------


async def test_a_client_without_credentials_or_with_a_stranger_key_cannot_connect(
    secured_nats: EmbeddedNatsServer, tmp_path: object
) -> None:
    with pytest.raises(NatsUnavailableError, match="authorization violation"):
        await connect_once(NatsOptions.from_url(secured_nats.url), timeout=3)
    stranger = secured_nats.store_dir / "stranger.nk"
    stranger.write_bytes(nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER))
    with pytest.raises(NatsUnavailableError, match="authorization violation"):
        await connect_once(NatsOptions.from_url(secured_nats.url, nkey_file=stranger), timeout=3)


def test_no_port_of_the_server_answers_connz(secured_nats: EmbeddedNatsServer) -> None:
    ports = json.loads(
        (secured_nats.store_dir / f"nats-server_{secured_nats.pid}.ports").read_text()
    )
    listening = [url for urls in ports.values() for url in urls]
    assert listening == [secured_nats.url]  # the client port, and nothing else
    for url in listening:
        address = url.split("://", 1)[1]
        # Only the NATS protocol answers there, which is no HTTP at all.
        with pytest.raises((urllib.error.URLError, OSError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://{address}/connz", timeout=2).read()
