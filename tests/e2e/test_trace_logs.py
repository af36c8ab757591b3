"""The log lines of a batch name the traces of the events in it, in the service as a
process: an operator finds an event's batch in the logs from its trace id."""

from __future__ import annotations

import asyncio

import pytest
from e2e_support import ServiceProcess, completing_history
from nats.js import JetStreamContext

from contracts.uln import make_uln
from devtools.publishing import inbound_route
from domain.catalogue import Catalogue
from services.adapters.nats.jetstream import publish_once

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.slow]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_the_stored_batch_log_line_names_its_trace_ids(
    service: ServiceProcess, js_client: JetStreamContext, catalogue: Catalogue
) -> None:
    [first, *_] = completing_history(catalogue, make_uln(8101), "OCR-L3-DIP-CS", "tl")
    subject, msg_id = inbound_route(first)
    await publish_once(
        js_client,
        subject,
        first,
        msg_id,
        headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
    )
    async with asyncio.timeout(30):
        while not (stored := [e for e in service.entries() if e.get("event") == "ingest.stored"]):
            await asyncio.sleep(0.05)
    [line] = stored
    assert line["trace_ids"] == [TRACE]
    assert line["recorded"] == 1
    # ... and the identity every line carries.
    assert {"replica", "host", "version"} <= set(line)
    # Lines outside the batch do not claim its trace.
    assert all("trace_ids" not in e for e in service.entries() if e.get("event") != "ingest.stored")
