"""The relay's lag as the store counts it: decisions after a position, facts not counted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from stores import BACKENDS, store_for

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.relay import DECISION_TOPICS
from services.entrypoints.wiring import open_records


@pytest.mark.parametrize("backend", BACKENDS)
def test_pending_counts_the_decisions_after_a_position(backend: str, tmp_path: Path) -> None:
    catalogue = load_catalogue()
    qualification = catalogue.qualification("OCR-L3-DIP-CS")
    uln = make_uln(6001)
    events = EventFactory(prefix="pending")
    lines = [events.registered(uln, qualification.id, date(2016, 1, 4), date(1990, 1, 1))]
    lines += [
        events.achieved(uln, urn, date(2016, 2, 1 + k))
        for k, urn in enumerate(completing_units(qualification))
    ]
    lines.append(b"not an event")
    with store_for(backend, tmp_path) as location:
        records = open_records(location, catalogue, FixedClock(date(2025, 1, 15)))
        try:
            outcomes = records.receive_batch(lines)
            decisions = sum(len(o.decisions) for o in outcomes)
            assert decisions == 2  # eligible, and the refusal of the last line
            store = records.store
            last = store.last_position()
            assert last > decisions  # the facts are notifications too, and not counted
            assert store.pending(0, DECISION_TOPICS) == decisions
            assert store.pending(last, DECISION_TOPICS) == 0
            first_decision = store.raw_log(0, 1, DECISION_TOPICS)[0].id
            assert store.pending(first_decision, DECISION_TOPICS) == decisions - 1
        finally:
            records.close()
