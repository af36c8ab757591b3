"""W3C trace context: a span per ingest batch linked to each inbound event's trace when
OpenTelemetry's SDK is there, nothing at all when it is not; the decision an event
causes published with that event's traceparent, through a real nats-server."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.uln import make_uln
from devtools.publishing import inbound_route
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from services.adapters import tracing
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import publish_once
from services.adapters.nats.streams import Streams
from services.application.clock import FixedClock
from services.entrypoints.app import RecordsService
from services.entrypoints.config import ServiceSettings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CAUSE = f"00-{TRACE}-00f067aa0ba902b7-01"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
IN_BODY = f"00-{OTHER_TRACE}-b7ad6b7169203331-01"


@dataclass(frozen=True)
class Message:
    data: bytes
    headers: dict[str, str] | None = None


def test_traceparents_come_from_headers_binary_mode_or_the_event_itself() -> None:
    messages = [
        Message(b"{}", {"traceparent": CAUSE}),
        Message(b"{}", {"ce-traceparent": IN_BODY}),
        Message(json.dumps({"id": "e", "traceparent": IN_BODY}).encode()),
        Message(b'{"traceparent": "not a traceparent"}'),
        Message(b'not json, but says "traceparent"'),
        Message(b"{}", None),
    ]
    parents = tracing.traceparents(messages)
    assert parents == [CAUSE, IN_BODY, IN_BODY]
    assert tracing.trace_ids(parents) == [TRACE, OTHER_TRACE]
    assert tracing.trace_ids([f"00-{'0' * 32}-00f067aa0ba902b7-01"]) == []  # invalid id


def test_without_opentelemetry_a_batch_span_is_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracing._load_tracer() is None  # the API is installed, but no SDK is set up
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    assert tracing._load_tracer() is None
    monkeypatch.setattr(tracing, "_tracer", tracing._load_tracer)
    with tracing.batch_span("ingest.batch", [CAUSE]) as span:
        assert span is None


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """The SDK, with spans kept in memory (a provider of the test's own, not the global)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("learner-records")
    monkeypatch.setattr(tracing, "_tracer", lambda: tracer)
    return exporter


@pytest.fixture
async def service(nats_server: EmbeddedNatsServer, tmp_path: Path) -> AsyncIterator[RecordsService]:
    settings = ServiceSettings(
        nats_url=nats_server.url,
        store=str(tmp_path / "store.sqlite"),
        streams=Streams(lease_ttl=3.0),
        replica="trace-test",
        projection_process=False,
        fetch_timeout=0.2,
        relay_poll=0.2,
    )
    async with RecordsService(settings, clock=FixedClock(date(2025, 1, 15))) as running:
        yield running


async def publish(nc: NATS, raw: bytes, headers: dict[str, str] | None = None) -> None:
    subject, msg_id = inbound_route(raw)
    await publish_once(nc.jetstream(), subject, raw, msg_id, headers=headers)


@pytest.mark.nats
async def test_decisions_carry_their_causes_traceparent_and_batches_link_to_it(
    service: RecordsService, nats_client: NATS, spans: InMemorySpanExporter
) -> None:
    uln = make_uln(7001)
    events = EventFactory(prefix="trace")
    qualification = service.catalogue.qualification("OCR-L3-DIP-CS")
    history = [events.registered(uln, qualification.id, date(2016, 1, 4), date(1990, 1, 1))]
    history += [
        events.achieved(uln, urn, date(2016, 2, 1 + k))
        for k, urn in enumerate(completing_units(qualification))
    ]
    # The CloudEvents distributed-tracing extension: an attribute of the event itself.
    refused: dict[str, Any] = json.loads(
        events.registered(make_uln(7002), "NO-SUCH-QUALIFICATION", date(2016, 1, 4))
    )
    refused["traceparent"] = IN_BODY
    decisions: asyncio.Queue[Any] = asyncio.Queue()
    await nats_client.subscribe("records.out.>", cb=decisions.put)

    for raw in history[:-1]:
        await publish(nats_client, raw)
    # The event that completes the qualification comes with a trace of its own.
    await publish(nats_client, history[-1], {"traceparent": CAUSE})
    await publish(nats_client, json.dumps(refused).encode())

    received = {}
    for _ in range(2):
        message = await asyncio.wait_for(decisions.get(), 20)
        received[message.subject.split(".")[2]] = message
    assert received["eligible"].headers["traceparent"] == CAUSE
    assert received["rejected"].headers["traceparent"] == IN_BODY

    async with asyncio.timeout(10):
        while not {TRACE, OTHER_TRACE} <= _linked(spans):
            await asyncio.sleep(0.05)
    batch = next(s for s in spans.get_finished_spans() if s.name == "ingest.batch")
    assert batch.attributes is not None
    assert batch.attributes["messaging.system"] == "nats"
    assert str(batch.attributes["messaging.destination.name"]).startswith("RECORDS_IN_")


def _linked(spans: InMemorySpanExporter) -> set[str]:
    return {
        format(link.context.trace_id, "032x")
        for span in spans.get_finished_spans()
        for link in span.links
    }
