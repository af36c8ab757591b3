"""Time moves on its own: claim_by passing is decided and published with no event arriving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from domain.catalogue import Catalogue
from projections.status_projection import StatusProjection
from projections.status_view import StatusView
from services.adapters.catalogue_files import load_catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import publish_once
from services.application.clock import FixedClock
from services.application.ingest import inbound_route
from services.application.records import LearnerRecords, sqlite_env
from services.application.scheduler import ExpiryScheduler
from services.entrypoints.app import RecordsService
from services.entrypoints.config import ServiceSettings

CG = "CG-4430-L4"  # claim_by 2017-08-31
CLAIM_BY = date(2017, 8, 31)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def history(uln: str, catalogue: Catalogue) -> list[bytes]:
    """Registered on CG-4430-L4 with two units: in progress until claim_by passes."""
    events = EventFactory(prefix=f"h{uln}")
    units = [u.urn for u in catalogue.qualification(CG).units()][:2]
    return [
        events.registered(uln, CG, date(2013, 1, 10)),
        *(events.achieved(uln, urn, date(2013, 3, 1 + k)) for k, urn in enumerate(units)),
    ]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(CLAIM_BY - timedelta(days=30))


@pytest.fixture
def records(tmp_path: Path, catalogue: Catalogue, clock: FixedClock) -> Iterator[LearnerRecords]:
    app = LearnerRecords(catalogue, clock, env=sqlite_env(tmp_path / "store.sqlite"))
    try:
        yield app
    finally:
        app.close()


async def test_a_passed_claim_by_is_reviewed_once(
    records: LearnerRecords, clock: FixedClock, tmp_path: Path, catalogue: Catalogue
) -> None:
    due, other = make_uln(501), make_uln(502)
    records.receive_batch(history(due, catalogue) + history(other, catalogue)[:1])
    view = StatusView(tmp_path / "views.sqlite")
    projection = StatusProjection(records, view)
    await projection.catch_up()
    scheduler = ExpiryScheduler(records, view, chunk=1)

    assert await scheduler.review_due() == 0

    clock.set(CLAIM_BY + timedelta(days=1))
    assert view.due_for_review(clock.now().date()) == sorted([due, other])
    assert await scheduler.review_due() == 3  # two window_expired, one unit certificate
    kinds = sorted(d.kind.value for d in records.review([due, other]))
    assert kinds == []  # already decided: review is idempotent
    await projection.catch_up()
    assert view.due_for_review(clock.now().date()) == []
    assert {d["status"] for d in view.registrations(due) or []} == {"window_expired"}
    assert await scheduler.review_due() == 0


@pytest.fixture
async def service(
    nats_server: EmbeddedNatsServer, tmp_path: Path, catalogue: Catalogue, clock: FixedClock
) -> AsyncIterator[RecordsService]:
    settings = ServiceSettings(
        nats_url=nats_server.url, store=str(tmp_path / "store.sqlite"), scheduler_tick=0.05
    )
    running = RecordsService(settings, catalogue=catalogue, clock=clock)
    try:
        async with running.app:
            yield running
    finally:
        running.close()


@pytest.mark.nats
async def test_window_expired_is_published_when_the_clock_passes_claim_by(
    service: RecordsService, nats_client: NATS, clock: FixedClock, catalogue: Catalogue
) -> None:
    uln = make_uln(777)
    published: asyncio.Queue[Msg] = asyncio.Queue()
    await nats_client.subscribe(f"records.out.*.{uln}", cb=published.put)
    js = nats_client.jetstream()
    for raw in history(uln, catalogue):
        subject, msg_id = inbound_route(raw)
        await publish_once(js, subject, raw, msg_id)
    assert service.relay is not None
    stored = service.records.recorder
    await _eventually(lambda: (stored.max_notification_id() or 0) >= 4)
    await service.relay.wait_for(stored.max_notification_id() or 0)
    assert published.empty()  # in progress: nothing to say yet

    clock.set(CLAIM_BY + timedelta(days=1))  # no event arrives; only the date changes

    first = await asyncio.wait_for(published.get(), 10)
    second = await asyncio.wait_for(published.get(), 10)
    types = sorted(json.loads(m.data)["type"] for m in (first, second))
    assert types == ["certification.unit_certificate.v1", "certification.window_expired.v1"]
    expired = next(json.loads(m.data) for m in (first, second) if "window" in m.subject)
    assert expired["data"]["claim_by"] == CLAIM_BY.isoformat()
    assert expired["data"]["caused_by"] is None


async def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """For state nobody notifies us about (what ingest has stored)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
