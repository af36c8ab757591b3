"""`learner-records serve` as a process, against a real nats-server started by the tests."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from e2e_support import (
    ServiceProcess,
    all_consumed,
    completing_history,
    expected_decisions,
    many_histories,
    publish_events,
    published,
    until,
)
from nats.js import JetStreamContext

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from domain.catalogue import Catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import DEAD_REASON_HEADER, DEAD_SUBJECT_HEADER, publish_once

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.slow]


async def test_a_history_gives_exactly_one_eligible_and_repeats_change_nothing(
    service: ServiceProcess, js_client: JetStreamContext, catalogue: Catalogue
) -> None:
    js = js_client
    uln = make_uln(1001)
    history = completing_history(catalogue, uln, "OCR-L3-DIP-CS", "one")
    await publish_events(js, history)
    await until(lambda: _count_is(js, "certification.eligible.v1", 1))

    # The same events again under new message ids, so JetStream lets them through and the
    # service itself sees every one a second time, as on a redelivery.
    for n, raw in enumerate(history):
        await publish_once(js, f"records.in.{uln}", raw, f"again-{n}")
    await until(lambda: all_consumed(js))
    await service_caught_up(service, js)

    events = [event for _, event in await published(js)]
    assert [e["type"] for e in events] == ["certification.eligible.v1"]
    data = events[0]["data"]
    last_unit_on = max(date.fromisoformat(u["achieved_on"]) for u in data["counted_units"])
    assert data["uln"] == uln and data["qualification"] == "OCR-L3-DIP-CS"
    assert data["completed_on"] == last_unit_on.isoformat()
    assert data["claim_by"] == "2030-08-31"  # min(2027-08-31 + 3 years, 2031-08-31)


async def test_a_malformed_message_is_rejected_and_acknowledged(
    service: ServiceProcess, js_client: JetStreamContext
) -> None:
    js = js_client
    await publish_once(js, "records.in.unknown", b"this is not JSON", "junk-1")
    await until(lambda: _count_is(js, "event.rejected.v1", 1))

    [(msg_id, event)] = await published(js)
    assert event["subject"] == "unknown" and event["id"] == msg_id
    assert event["data"]["reason"] == "malformed"
    assert event["data"]["original"] == "this is not JSON"
    await until(lambda: all_consumed(js))


async def test_sigkill_mid_stream_loses_nothing_and_publishes_each_decision_once(
    service: ServiceProcess, js_client: JetStreamContext, catalogue: Catalogue, tmp_path: Path
) -> None:
    js = js_client
    events = many_histories(catalogue, learners=24, first=2000)
    expected = expected_decisions(catalogue, events, tmp_path)
    half = len(events) // 2

    await publish_events(js, events[:half])
    await until(lambda: _stored_decisions_at_least(js, 1))
    service.kill()  # in the middle: batches stored but not acked, decisions not yet relayed
    await publish_events(js, events[half:])
    service.start()

    await until(lambda: all_consumed(js), timeout=60)
    await until(lambda: _stream_count_at_least(js, len(expected)), timeout=60)
    await service_caught_up(service, js)
    ids = [msg_id for msg_id, _ in await published(js)]
    assert len(ids) == len(set(ids)), "a decision was published twice"
    assert {i: e["type"] for i, e in (await _by_id(js)).items()} == expected
    assert Counter(expected.values()) == {"certification.eligible.v1": 24}


async def test_the_service_rides_out_a_nats_server_restart(
    service: ServiceProcess,
    nats_server: EmbeddedNatsServer,
    js_client: JetStreamContext,
    catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    js = js_client
    events = many_histories(catalogue, learners=6, first=3000)
    expected = expected_decisions(catalogue, events, tmp_path)
    await publish_events(js, events[: len(events) // 2])
    await until(lambda: all_consumed(js))

    offset = service.log.stat().st_size
    await nats_server.arestart()
    service.wait_for_log("nats.reconnected", offset)
    await until(lambda: _connected(js))
    await publish_events(js, events[len(events) // 2 :])

    await until(lambda: _stream_count_at_least(js, len(expected)), timeout=60)
    assert {i: e["type"] for i, e in (await _by_id(js)).items()} == expected
    assert service.process is not None and service.process.poll() is None


async def test_a_poison_message_is_dead_lettered_while_other_learners_flow(
    service: ServiceProcess, js_client: JetStreamContext, catalogue: Catalogue
) -> None:
    js = js_client
    # The store itself refuses any event carrying this marker, every time: a message no
    # retry can get past, as a bug or a corrupt row would make it.
    with sqlite3.connect(service.store) as db:
        db.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON stored_events "
            "WHEN CAST(NEW.state AS TEXT) LIKE '%POISON-PILL%' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END"
        )
    poisoned = make_uln(4001)
    before = completing_history(catalogue, make_uln(4002), "500/9203/0", "before")
    after = completing_history(catalogue, make_uln(4003), "PEARSON-L4-NVQ-DIP-CS", "after")
    poison = EventFactory(prefix="poison").registered(
        poisoned, "OCR-L3-DIP-CS", date(2016, 1, 4), centre="POISON-PILL"
    )

    await publish_events(js, [*before, poison, *after])

    await until(lambda: _count_is(js, "certification.eligible.v1", 2))
    await until(lambda: all_consumed(js))
    dead = await js.get_last_msg("RECORDS_DEAD", f"records.dead.{poisoned}")
    assert dead.data == poison
    assert dead.headers is not None
    assert "poisoned event" in dead.headers[DEAD_REASON_HEADER]
    assert dead.headers[DEAD_SUBJECT_HEADER] == f"records.in.{poisoned}"
    assert service.process is not None and service.process.poll() is None


async def service_caught_up(service: ServiceProcess, js: JetStreamContext) -> None:
    """A clean stop flushes the outbox: after it, RECORDS_OUT holds every decision."""
    assert service.stop() == 0
    entry = service.entries()[-1] if service.entries() else {}
    assert any(e.get("event") == "service.stopped" for e in service.entries()), entry


async def _count_is(js: JetStreamContext, event_type: str, n: int) -> bool:
    return sum(1 for _, event in await published(js) if event["type"] == event_type) == n


async def _stored_decisions_at_least(js: JetStreamContext, n: int) -> bool:
    return len(await published(js)) >= n


async def _stream_count_at_least(js: JetStreamContext, n: int) -> bool:
    try:
        return (await js.stream_info("RECORDS_OUT")).state.messages >= n
    except Exception:
        return False


async def _by_id(js: JetStreamContext) -> dict[str, dict]:
    return {msg_id: event for msg_id, event in await published(js)}


async def _connected(js: JetStreamContext) -> bool:
    try:
        await js.account_info()
    except Exception:
        return False
    return True
