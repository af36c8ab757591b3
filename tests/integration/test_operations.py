"""The operators' HTTP endpoint of a service running in process on a real nats-server:
/metrics scraped and read with prometheus-client's own parser after real traffic,
/readyz turning not ready when the store fails or NATS goes, and ready again."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS
from prometheus_client.parser import text_string_to_metric_families

from contracts.uln import make_uln
from devtools.publishing import inbound_route
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services import __version__
from services.adapters.catalogue_files import load_catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import publish_once
from services.adapters.nats.streams import Streams
from services.adapters.store import open_store
from services.adapters.store.parked import ParkedTable
from services.application.clock import FixedClock
from services.entrypoints.app import RecordsService
from services.entrypoints.config import ServiceSettings
from services.entrypoints.operations.http import (
    OperationsServer,
    ServiceState,
    create_operations_app,
)
from services.entrypoints.operations.probe import StateProbe

pytestmark = pytest.mark.nats

TODAY = date(2025, 1, 15)
PARTITIONS = 8


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@dataclass
class Operated:
    service: RecordsService
    http: httpx.AsyncClient
    store: Path

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def metrics(self) -> dict[str, float]:
        """Every sample of a scrape, as ``name{label="v",...}`` -> value."""
        response = await self.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        response = await self.get("/readyz")
        body: dict[str, Any] = response.json()
        return response.status_code, body


@pytest.fixture
async def operated(
    nats_server: EmbeddedNatsServer, tmp_path: Path, catalogue: Catalogue
) -> AsyncIterator[Operated]:
    store = tmp_path / "store.sqlite"
    settings = ServiceSettings(
        nats_url=nats_server.url,
        store=str(store),
        streams=Streams(partitions=PARTITIONS, lease_ttl=3.0),
        replica="ops-test",
        projection_process=False,
        fetch_timeout=0.2,
        relay_poll=0.2,
    )
    async with RecordsService(settings, catalogue=catalogue, clock=FixedClock(TODAY)) as service:
        assert service.probe is not None
        service.probe.every = 0.2  # figures every 0.2 s rather than 5: the test waits less
        app = create_operations_app(ServiceState(service.metrics, service, waiting=None))
        server = OperationsServer(app, "127.0.0.1", 0)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                yield Operated(service, client, store)
        finally:
            await server.stop()


async def publish(nc: NATS, lines: list[bytes], *, again: bool = False) -> None:
    js = nc.jetstream()
    for raw in lines:
        subject, msg_id = inbound_route(raw)
        # A publisher's retry after JetStream's duplicate window: only the service sees it.
        await publish_once(js, subject, raw, msg_id + ("-again" if again else ""))


async def until(check: Callable[[], Any], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_metrics_count_real_traffic_and_read_back_with_the_official_parser(
    operated: Operated, nats_client: NATS, nats_server: EmbeddedNatsServer, catalogue: Catalogue
) -> None:
    uln = make_uln(9001)
    events = EventFactory(prefix="ops")
    ocr3 = catalogue.qualification("OCR-L3-DIP-CS")
    history = [events.registered(uln, ocr3.id, date(2016, 1, 4), date(1990, 1, 1))]
    history += [
        events.achieved(uln, urn, date(2016, 2, 1 + k))
        for k, urn in enumerate(completing_units(ocr3))
    ]
    refused = [
        b'{"specversion": "1.0", "id": "broken"',  # malformed
        events.registered(make_uln(9002), "NO-SUCH-QUALIFICATION", date(2016, 1, 4)),
    ]
    published: asyncio.Queue[Any] = asyncio.Queue()
    await nats_client.subscribe("records.out.>", cb=published.put)
    await publish(nats_client, history + refused)
    await publish(nats_client, history[:1], again=True)  # the same event once more
    total = len(history) + len(refused) + 1

    # One eligible decision and two rejections reach subscribers.
    kinds = sorted([(await asyncio.wait_for(published.get(), 20)).subject for _ in range(3)])
    assert [k.split(".")[2] for k in kinds] == ["eligible", "rejected", "rejected"]

    async def settled() -> bool:
        samples = await operated.metrics()
        stored = operated.service.records.store.last_position()
        return (
            samples.get("learner_records_events_received_total") == total
            # The probe has looked since the last commit (lags of 0 from before the
            # traffic would otherwise pass for settled).
            and samples.get("learner_records_store_position") == stored
            and samples.get("learner_records_relay_lag") == 0
            and all(
                samples.get(f'learner_records_consumer_lag{{partition="{k}"}}') == 0
                for k in range(PARTITIONS)
            )
        )

    await until(settled)
    samples = await operated.metrics()
    assert samples['learner_records_events_total{outcome="recorded"}'] == len(history)
    assert samples['learner_records_events_total{outcome="duplicate"}'] == 1
    assert samples['learner_records_events_total{outcome="rejected"}'] == 2
    assert samples['learner_records_events_total{outcome="parked"}'] == 0
    assert samples['learner_records_events_rejected_total{reason="malformed"}'] == 1
    assert samples['learner_records_events_rejected_total{reason="unknown_qualification"}'] == 1
    assert samples['learner_records_decisions_taken_total{kind="eligible"}'] == 1
    assert samples['learner_records_decisions_taken_total{kind="rejected"}'] == 2
    assert samples['learner_records_decisions_published_total{kind="eligible"}'] == 1
    assert samples['learner_records_decisions_published_total{kind="rejected"}'] == 2
    assert samples["learner_records_decisions_undeliverable_total"] == 0
    # Every message in exactly one batch; each batch timed.
    assert samples["learner_records_batch_size_sum"] == total
    batches = samples["learner_records_batch_size_count"]
    assert 1 <= batches <= total
    assert samples["learner_records_batch_seconds_count"] == batches
    assert samples['learner_records_batch_seconds_bucket{le="+Inf"}'] == batches
    assert samples["learner_records_batch_seconds_sum"] > 0
    # Every batch went through a store transaction, alone or with other partitions'.
    assert samples["learner_records_store_commit_batches_total"] == batches
    assert 1 <= samples["learner_records_store_commits_total"] <= batches
    # What the service holds, and what the probe found.
    assert samples["learner_records_partitions_owned"] == PARTITIONS
    assert samples['learner_records_role_held{role="relay"}'] == 1
    assert samples["learner_records_store_failing"] == 0
    assert samples["learner_records_nats_connected"] == 1
    assert samples['learner_records_follower_failing{follower="relay"}'] == 0
    assert samples["learner_records_parked_messages"] == 0
    assert samples["learner_records_undeliverable_decisions"] == 0
    store = operated.service.records.store
    assert samples["learner_records_store_position"] == store.last_position() > 0
    assert samples[f'learner_records_info{{replica="ops-test",version="{__version__}"}}'] == 1
    assert samples["process_resident_memory_bytes"] > 0

    # Lag is the stream's last sequence less the stored position: a store that has stored
    # nothing is behind by every message published to each partition.
    empty = open_store(str(operated.store.with_name("empty.sqlite")))
    try:
        probe = StateProbe(
            nats_client.jetstream,
            empty,
            ParkedTable(empty.recorder, empty.codec.sealer),
            Streams(partitions=PARTITIONS),
        )
        snapshot = await probe.check()
    finally:
        empty.close()
    assert snapshot.nats_error is None and snapshot.store_error is None
    assert sum(snapshot.consumer_lag.values()) == total
    assert snapshot.relay_lag == 0 and snapshot.store_position == 0


async def test_healthz_answers_from_the_loop(operated: Operated) -> None:
    response = await operated.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"alive": True}
    assert (await operated.get("/nothing-here")).status_code == 404


async def test_readyz_turns_not_ready_while_the_store_fails_and_ready_again(
    operated: Operated, nats_client: NATS
) -> None:
    await until(lambda: _status_is(operated, 200))
    status, body = await operated.readiness()
    assert status == 200 and body["ready"] is True and body["replica"] == "ops-test"
    assert set(body["checks"]) == {"nats", "store", "roles", "followers"}

    with sqlite3.connect(operated.store) as db:
        # The store refuses every write, as a full or read-only disk would.
        db.execute(
            "CREATE TRIGGER outage BEFORE INSERT ON stored_events "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END"
        )
    await publish(nats_client, [EventFactory(prefix="outage").registered(
        make_uln(9100), "OCR-L3-DIP-CS", date(2016, 1, 4), date(1990, 1, 1)
    )])  # fmt: skip
    await until(lambda: _status_is(operated, 503))
    status, body = await operated.readiness()
    assert status == 503 and body["ready"] is False
    assert body["checks"]["store"]["ok"] is False
    assert "disk I/O error (simulated)" in body["checks"]["store"]["detail"]
    assert body["checks"]["nats"]["ok"] is True  # only what is wrong is said to be
    samples = await operated.metrics()
    assert samples["learner_records_store_failing"] == 1
    assert samples["learner_records_store_failures_total"] >= 1

    with sqlite3.connect(operated.store) as db:
        db.execute("DROP TRIGGER outage")
    await until(lambda: _status_is(operated, 200), timeout=40)
    assert (await operated.metrics())["learner_records_store_failing"] == 0


async def test_readyz_turns_not_ready_without_nats_and_ready_once_it_is_back(
    operated: Operated, nats_server: EmbeddedNatsServer
) -> None:
    await until(lambda: _status_is(operated, 200))
    nats_server.stop()
    try:
        await until(lambda: _status_is(operated, 503))
        status, body = await operated.readiness()
        assert status == 503
        assert body["checks"]["nats"] == {"ok": False, "detail": "disconnected: reconnecting"}
        assert (await operated.metrics())["learner_records_nats_connected"] == 0
        # Alive all the same: the loop answers, and nothing is lost by waiting.
        assert (await operated.get("/healthz")).status_code == 200
    finally:
        nats_server.start()
    await until(lambda: _status_is(operated, 200), timeout=40)
    status, body = await operated.readiness()
    assert status == 200 and body["checks"]["roles"]["ok"] is True


async def _status_is(operated: Operated, status: int) -> bool:
    return (await operated.get("/readyz")).status_code == status


def test_the_readiness_body_is_json_for_a_service_not_started() -> None:
    from services.entrypoints.operations.readiness import assess

    readiness = assess(None, "waiting for the store: no event store at x")
    assert readiness.ready is False
    assert json.loads(json.dumps(readiness.to_json())) == {
        "ready": False,
        "checks": {
            "started": {"ok": False, "detail": "waiting for the store: no event store at x"}
        },
    }
