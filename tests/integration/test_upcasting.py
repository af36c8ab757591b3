"""A store written by learner-records 0.1 reads through the upcasters as today's events.

tests/fixtures/store-v0.1 holds the store 0.1 wrote for a loadgen history (generic
FactRecorded / DecisionTaken envelopes made by eventsourcing's aggregate machinery) and
what 0.1 said of it. Today's code must read it in place and say the same.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.learner import (
    Registered,
    UnitAchieved,
    WindowExpired,
)
from projections.documents import registration_document
from services.adapters.store.codec import UPCASTERS
from services.application.clock import FixedClock
from services.application.relay import DECISION_TOPICS, _decode
from services.entrypoints.wiring import open_records

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store-v0.1"
AS_OF = date(2026, 6, 30)


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    copy = tmp_path / "records.sqlite"
    shutil.copy(FIXTURE / "records.sqlite", copy)
    return copy


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text())
    return loaded


def test_every_learner_reads_as_0_1_said(legacy: Path, expected: dict[str, Any]) -> None:
    records = open_records(str(legacy), clock=FixedClock(AS_OF), create=False)
    for uln, documents in expected["statuses"].items():
        views = records.status(uln, AS_OF) or []
        assert [registration_document(v, records.catalogue) for v in views] == documents, uln
    records.close()


def test_every_decision_0_1_stored_is_found_with_the_bytes_it_published(
    legacy: Path, expected: dict[str, Any]
) -> None:
    records = open_records(str(legacy), clock=FixedClock(AS_OF), create=False)
    decisions = [
        _decode(n.topic, n.state) for n in records.store.raw_log(0, 10_000, DECISION_TOPICS)
    ]
    ids = {d.id for d in decisions if d is not None}
    assert ids == set(expected["decision_ids"]) | {r["decision"] for r in expected["rejections"]}
    records.close()


def test_histories_are_typed_events_and_the_store_goes_on_from_there(legacy: Path) -> None:
    records = open_records(str(legacy), clock=FixedClock(AS_OF), create=False)
    history = records.history("1000000019")
    assert isinstance(history[0], Registered)
    assert history[0].fact.date_of_birth == date(1985, 1, 1)  # 0.1 kept it in clear
    assert isinstance(history[1], WindowExpired)
    assert any(isinstance(e, UnitAchieved) for e in history)
    # New events follow the 0.1 versions (its Learner.Opened counted as version 1).
    before = records.store.records(["1000000019"])["1000000019"].version
    records.review(["1000000019"], date(2031, 1, 1))
    after = records.store.records(["1000000019"])["1000000019"].version
    assert after >= before
    records.close()


def test_a_state_older_than_its_class_goes_through_the_upcasters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pretend Registered is at version 2 today, whose centre is a dict: a version-1 state
    (today's) must come back through the registered upcaster."""
    records = open_records(str(tmp_path / "r.sqlite"), clock=FixedClock(AS_OF))
    from devtools.sample_events import EventFactory

    records.receive(EventFactory().registered("1000000019", "500/9203/0", date(2024, 1, 1)))
    seen: list[dict[str, Any]] = []

    def v1_to_v2(state: dict[str, Any]) -> dict[str, Any]:
        seen.append(state)
        state["fact"]["centre"] = state["fact"]["centre"] + " (upcast)"
        return state

    monkeypatch.setattr(Registered, "class_version", 2)
    monkeypatch.setitem(UPCASTERS, (Registered, 1), v1_to_v2)
    [event] = records.history("1000000019")
    assert seen and isinstance(event, Registered)
    assert event.fact.centre.endswith("(upcast)")
    records.close()
