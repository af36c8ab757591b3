"""``learner-records audit`` in two kinds of time (issue 13 item 2), from the command line.

The store is built through ``LearnerRecords`` with a ``FixedClock`` moved before each
batch, so every fact's received time (transaction time) is known exactly. The story:
an OCR Level 3 learner's last unit is achieved on 1 March 2016 (valid time) but its
event reaches the service only on 15 June. An auditor asks as of 1 April:

- before the event arrives, and "as known at" 1 May afterwards: in progress;
- once it has arrived: eligible since 1 March, decided on 15 June.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.records import Inbound, LearnerRecords
from services.entrypoints.cli import main
from services.entrypoints.wiring import open_records

OCR_L3 = "OCR-L3-DIP-CS"
ULN = make_uln(5151)
AS_OF = "2016-04-01"  # T: after the late unit took effect
KNOWN_AT = "2016-05-01T12:00:00Z"  # K: before it arrived
LATE_UNIT_ON = date(2016, 3, 1)
ARRIVES = datetime(2016, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "audited.sqlite")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2016, 1, 1))


@pytest.fixture
def records(store: str, catalogue: Catalogue, clock: FixedClock) -> Iterator[LearnerRecords]:
    app = open_records(store, catalogue, clock)
    yield app
    app.close()


def receive_at(records: LearnerRecords, clock: FixedClock, at: datetime, raw: bytes) -> str:
    """One message received at ``at`` by the service's clock; its outcome."""
    clock.set(at)
    [outcome] = records.receive_batch([raw])
    return outcome.outcome


def on_time_history(
    records: LearnerRecords, clock: FixedClock, catalogue: Catalogue, events: EventFactory
) -> tuple[str, bytes]:
    """Registered, every unit but the last received on its day; the last unit's event,
    held back (its id and bytes)."""
    units = completing_units(catalogue.qualification(OCR_L3))
    raw = events.registered(ULN, OCR_L3, date(2016, 1, 4))
    assert receive_at(records, clock, sent_on(date(2016, 1, 4)), raw) == "recorded"
    for k, urn in enumerate(units[:-1]):
        day = date(2016, 2, 1 + k)
        assert receive_at(records, clock, sent_on(day), events.achieved(ULN, urn, day)) == (
            "recorded"
        )
    # Sent on the day, stuck in the publisher's queue until June: its own time says
    # March, and only its arrival says when the service knew it.
    late = events.achieved(ULN, units[-1], LATE_UNIT_ON)
    return events.last_id, late


def audit(capsys: pytest.CaptureFixture[str], store: str, *options: str) -> dict[str, Any]:
    assert main(["audit", ULN, "--store", store, "--json", *options]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def registration(report: dict[str, Any]) -> dict[str, Any]:
    [found] = report["registrations"]
    assert isinstance(found, dict)
    return found


def fact_ids(report: dict[str, Any]) -> list[str]:
    return [s["event"]["id"] for s in report["timeline"] if s["kind"] == "fact"]


def test_a_late_achievement_moves_as_of_answers_once_known_but_not_as_known_before(
    records: LearnerRecords,
    clock: FixedClock,
    catalogue: Catalogue,
    store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    late_id, late = on_time_history(records, clock, catalogue, EventFactory())
    before = audit(capsys, store, "--as-of", AS_OF)
    assert registration(before)["status"] == "in_progress"

    assert receive_at(records, clock, ARRIVES, late) == "recorded"

    # Valid time: as of 1 April the learner was complete (since 1 March), now known.
    after = audit(capsys, store, "--as-of", AS_OF)
    assert registration(after)["status"] == "eligible"
    assert registration(after)["completed_on"] == LATE_UNIT_ON.isoformat()
    assert late_id in fact_ids(after)
    [step] = [s for s in after["timeline"] if s["kind"] == "fact" and s["event"]["id"] == late_id]
    # The timeline says when it took effect and when it was received.
    assert step["effective_on"] == LATE_UNIT_ON.isoformat()
    assert datetime.fromisoformat(step["received_at"]) == ARRIVES
    [decision] = step["decisions"]
    assert decision["kind"] == "eligible"
    assert datetime.fromisoformat(decision["time"]) == ARRIVES

    # Transaction time: what the service knew on 1 May, before the event arrived.
    known = audit(capsys, store, "--as-of", AS_OF, "--as-known-at", KNOWN_AT)
    assert known["as_known_at"] == datetime.fromisoformat(KNOWN_AT).isoformat()
    assert registration(known) == registration(before)
    assert late_id not in fact_ids(known)
    assert fact_ids(known) == fact_ids(before)
    assert not [d for s in known["timeline"] for d in s["decisions"]]

    # Known by a moment after it arrived: the same as everything stored.
    later = audit(capsys, store, "--as-of", AS_OF, "--as-known-at", "2016-06-16T00:00:00Z")
    assert registration(later) == registration(after)


def test_as_of_before_the_late_fact_took_effect_does_not_count_it(
    records: LearnerRecords,
    clock: FixedClock,
    catalogue: Catalogue,
    store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    late_id, late = on_time_history(records, clock, catalogue, EventFactory())
    receive_at(records, clock, ARRIVES, late)
    # Everything known, but as of the day before the unit was achieved.
    day_before = LATE_UNIT_ON - timedelta(days=1)
    report = audit(capsys, store, "--as-of", day_before.isoformat())
    assert registration(report)["status"] == "in_progress"
    assert late_id in fact_ids(report)


def test_audit_lists_a_malformed_event_that_names_the_learner_among_its_refusals(
    records: LearnerRecords,
    clock: FixedClock,
    store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = EventFactory(prefix="refused")
    assert (
        receive_at(
            records,
            clock,
            sent_on(date(2016, 1, 4)),
            events.registered(ULN, OCR_L3, date(2016, 1, 4)),
        )
        == "recorded"
    )
    # A registration on another qualification with no centre: the contract refuses it,
    # but its ULN can be read, so the refusal is the learner's.
    message = orjson.loads(events.registered(ULN, "500/9203/0", date(2016, 2, 1)))
    del message["data"]["centre"]
    clock.set(datetime(2016, 2, 2, 9, tzinfo=UTC))
    [outcome] = records.receive_batch([Inbound(orjson.dumps(message), subject=f"records.in.{ULN}")])
    assert (outcome.outcome, outcome.reason, outcome.uln) == ("rejected", "malformed", ULN)

    report = audit(capsys, store)

    [refusal] = report["refusals"]
    assert refusal["event_id"] == message["id"]
    assert refusal["reason"] == "malformed"
    assert "centre" in refusal["detail"]
    assert datetime.fromisoformat(refusal["received_at"]) == datetime(2016, 2, 2, 9, tzinfo=UTC)
    assert [s["kind"] for s in report["timeline"]] == ["fact", "refused"]
    # And the table an auditor reads says so too.
    assert main(["audit", ULN, "--store", store]) == 0
    text = capsys.readouterr().out
    assert "Refused events naming this learner" in text and message["id"] in text
