"""One message can never stop the decisions: issue 11's three poison inputs through the
running service (ingest, store, relay) on a real nats-server.

Each used to be stored as a refusal the relay could never publish (a recursion limit,
or a rejection echoing the original twice over NATS's max_payload), so that no later
decision of any learner was published again. Now each is refused within its bounds
and published, and a learner's eligibility that follows them goes out too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.streams import Streams
from services.application.clock import FixedClock
from services.entrypoints.app import RecordsService
from services.entrypoints.config import ServiceSettings

pytestmark = pytest.mark.nats

POISONED = make_uln(666)
VALID = make_uln(667)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def poison() -> list[bytes]:
    """The three messages of issue 11, each for learner POISONED."""
    base = {
        "specversion": "1.0",
        "source": "urn:eportfolio:hostile",
        "type": "unit.achieved.v1",
        "time": "2024-03-01T17:00:00Z",
        "subject": POISONED,
    }
    nested: object = "deep"
    for _ in range(250):
        nested = {"x": nested}
    deep = {**base, "id": "deep-1", "data": nested}
    long_id = {**base, "id": "x" * 600_000, "data": {"uln": POISONED}}
    huge = json.dumps({**base, "id": "huge-1", "data": {"uln": POISONED}})[:-1]  # unclosed
    huge += " " * (1024 * 1024 - 4096 - len(huge))
    return [json.dumps(deep).encode(), json.dumps(long_id).encode(), huge.encode()]


@pytest.fixture
async def service(
    nats_server: EmbeddedNatsServer, tmp_path: Path, catalogue: Catalogue
) -> AsyncIterator[RecordsService]:
    settings = ServiceSettings(
        nats_url=nats_server.url,
        store=str(tmp_path / "store.sqlite"),
        streams=Streams(lease_ttl=3.0),
        replica="test",
        projection_process=False,
        fetch_timeout=0.2,
    )
    async with RecordsService(
        settings, catalogue=catalogue, clock=FixedClock(date(2025, 1, 15))
    ) as running:
        await _eventually(lambda: running.relay is not None)
        yield running


async def test_the_three_poison_messages_are_refused_and_later_decisions_still_go_out(
    service: RecordsService, nats_client: NATS, catalogue: Catalogue
) -> None:
    published: asyncio.Queue[Msg] = asyncio.Queue()
    await nats_client.subscribe("records.out.>", cb=published.put)
    js = nats_client.jetstream()
    for raw in poison():
        await js.publish(f"records.in.{POISONED}", raw, timeout=10)
    events = EventFactory()
    ocr3 = catalogue.qualification("OCR-L3-DIP-CS")
    await js.publish(f"records.in.{VALID}", events.registered(VALID, ocr3.id, date(2016, 1, 4)))
    for k, urn in enumerate(completing_units(ocr3)):
        await js.publish(f"records.in.{VALID}", events.achieved(VALID, urn, date(2016, 2, 1 + k)))

    seen: dict[str, list[dict[str, object]]] = {}
    async with asyncio.timeout(30):
        while "certification.eligible.v1" not in seen or len(seen.get("event.rejected.v1", [])) < 3:
            msg = await published.get()
            assert len(msg.data) < 64 * 1024  # a rejection always fits, far under max_payload
            event = json.loads(msg.data)
            seen.setdefault(event["type"], []).append(event)

    rejections = seen["event.rejected.v1"]
    assert all(r["data"]["reason"] == "malformed" for r in rejections)
    assert all(r["subject"] == POISONED for r in rejections)  # filed under their learner
    [eligible] = seen["certification.eligible.v1"]
    assert eligible["subject"] == VALID
    assert service.relay is not None and service.relay.stats.undeliverable == 0
    assert service.failed.is_set() is False


async def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
