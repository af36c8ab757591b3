"""The wired service in process against a real nats-server: ingest to decisions, the
status micro-service, and decisions that only the calendar calls for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts.uln import make_uln
from devtools.publishing import inbound_route
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import publish_once
from services.adapters.nats.streams import Streams
from services.application.clock import FixedClock
from services.entrypoints.app import RecordsService
from services.entrypoints.config import ServiceSettings

pytestmark = pytest.mark.nats

CG = "CG-4430-L4"
CLAIM_BY = date(2017, 8, 31)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(CLAIM_BY - timedelta(days=30))


@pytest.fixture
async def service(
    nats_server: EmbeddedNatsServer, tmp_path: Path, catalogue: Catalogue, clock: FixedClock
) -> AsyncIterator[RecordsService]:
    settings = ServiceSettings(
        nats_url=nats_server.url,
        store=str(tmp_path / "store.sqlite"),
        streams=Streams(lease_ttl=3.0),
        replica="test",
        projection_process=False,
        scheduler_tick=0.05,
        fetch_timeout=0.2,
    )
    async with RecordsService(settings, catalogue=catalogue, clock=clock) as running:
        await _eventually(lambda: running.ownership is not None and running.relay is not None)
        yield running


def cg_history(uln: str, catalogue: Catalogue) -> list[bytes]:
    """Registered on CG-4430-L4 with two units: in progress until claim_by passes."""
    events = EventFactory(prefix=f"h{uln}")
    units = [u.urn for u in catalogue.qualification(CG).units()][:2]
    return [
        events.registered(uln, CG, date(2013, 1, 10)),
        *(events.achieved(uln, urn, date(2013, 3, 1 + k)) for k, urn in enumerate(units)),
    ]


async def publish(nats_client: NATS, lines: list[bytes]) -> None:
    js = nats_client.jetstream()
    for raw in lines:
        subject, msg_id = inbound_route(raw)
        await publish_once(js, subject, raw, msg_id)


async def test_an_event_becomes_a_decision_and_the_status_query_answers(
    service: RecordsService, nats_client: NATS, catalogue: Catalogue, clock: FixedClock
) -> None:
    uln = make_uln(4242)
    published: asyncio.Queue[Msg] = asyncio.Queue()
    await nats_client.subscribe(f"records.out.*.{uln}", cb=published.put)
    events = EventFactory()
    ocr3 = catalogue.qualification("OCR-L3-DIP-CS")
    lines = [events.registered(uln, ocr3.id, date(2016, 1, 4))]
    lines += [
        events.achieved(uln, urn, date(2016, 2, 1 + k))
        for k, urn in enumerate(completing_units(ocr3))
    ]
    await publish(nats_client, lines)

    eligible = await asyncio.wait_for(published.get(), 20)
    assert json.loads(eligible.data)["type"] == "certification.eligible.v1"
    assert eligible.headers is not None and eligible.headers["Content-Type"].startswith(
        "application/cloudevents+json"
    )
    await _eventually(
        lambda: [d["status"] for d in service.view.registrations(uln) or []] == ["eligible"]
    )
    reply = await nats_client.request(
        "records.query.status", json.dumps({"uln": uln}).encode(), timeout=5
    )
    [registration] = json.loads(reply.data)["registrations"]
    assert registration["status"] == "eligible"


async def test_the_status_query_is_a_discoverable_micro_service(
    service: RecordsService, nats_client: NATS
) -> None:
    ping = json.loads((await nats_client.request("$SRV.PING.learner-records", b"", timeout=5)).data)
    assert ping["name"] == "learner-records" and ping["type"] == "io.nats.micro.v1.ping_response"
    info = json.loads((await nats_client.request("$SRV.INFO.learner-records", b"", timeout=5)).data)
    assert [e["subject"] for e in info["endpoints"]] == ["records.query.status"]
    assert info["endpoints"][0]["queue_group"]  # replicas share the requests
    await nats_client.request("records.query.status", b'{"uln": "1000000019"}', timeout=5)
    stats = json.loads(
        (await nats_client.request("$SRV.STATS.learner-records", b"", timeout=5)).data
    )
    assert stats["endpoints"][0]["num_requests"] >= 1


async def test_window_expired_is_published_when_the_clock_passes_claim_by(
    service: RecordsService, nats_client: NATS, clock: FixedClock, catalogue: Catalogue
) -> None:
    uln = make_uln(777)
    published: asyncio.Queue[Msg] = asyncio.Queue()
    await nats_client.subscribe(f"records.out.*.{uln}", cb=published.put)
    await publish(nats_client, cg_history(uln, catalogue))
    await _eventually(lambda: len(service.records.history(uln)) == 3)
    await _eventually(lambda: bool(service.view.registrations(uln)))
    assert published.empty()  # in progress: nothing to say yet

    clock.set(CLAIM_BY + timedelta(days=1))  # no event arrives; only the date changes

    first = await asyncio.wait_for(published.get(), 10)
    second = await asyncio.wait_for(published.get(), 10)
    types = sorted(json.loads(m.data)["type"] for m in (first, second))
    assert types == ["certification.unit_certificate.v1", "certification.window_expired.v1"]
    expired = next(json.loads(m.data) for m in (first, second) if "window" in m.subject)
    assert expired["data"]["claim_by"] == CLAIM_BY.isoformat()
    assert expired["data"]["caused_by"] is None
    # Taken at the start of the day after claim-by, whenever the scheduler ran.
    assert expired["time"].startswith((CLAIM_BY + timedelta(days=1)).isoformat() + "T00:00:00")


async def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """For state nobody notifies us about (what ingest has stored)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
