"""The ingest shortcuts change nothing: the learner cache and the review's shortcut
(domain.learner.settled) give the same outcomes and decisions as a full review of a
learner replayed from the store, on loadgen histories; a failed batch is not cached."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from devtools.loadgen import LoadProfile, learner_history, publications
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.records import LearnerRecords
from services.entrypoints.wiring import open_records

TODAY = date(2026, 6, 30)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _run(records: LearnerRecords, payloads: list[bytes]) -> list[str]:
    lines = []
    for start in range(0, len(payloads), 200):
        for o in records.receive_batch(payloads[start : start + 200]):
            decisions = [d.cloudevent for d in o.decisions]
            lines.append(json.dumps([o.outcome, o.uln, o.event_id, o.reason, decisions]))
    return lines


@pytest.mark.slow
def test_cache_and_shortcuts_decide_exactly_as_a_full_review(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads = [p for _, p in publications(catalogue, LoadProfile(learners=400, seed=11))]
    fast = open_records(str(tmp_path / "fast.sqlite"), catalogue, FixedClock(TODAY))
    # The reference: no cache (every batch replays its learners) and no shortcut.
    monkeypatch.setattr("domain.learner.settled.Settled.unchanged", lambda *_: set(), raising=True)
    full = open_records(str(tmp_path / "full.sqlite"), catalogue, FixedClock(TODAY), cache=0)
    expected = _run(full, payloads)
    monkeypatch.undo()
    assert _run(fast, payloads) == expected
    ulns = sorted({json.loads(line)[1] for line in expected if json.loads(line)[1]})
    later = FixedClock(date(2031, 9, 1))  # every window has expired by then
    fast.clock = full.clock = later
    assert [d.cloudevent for d in fast.review(ulns)] == [d.cloudevent for d in full.review(ulns)]


def test_a_failed_batch_leaves_no_learner_in_the_cache(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = open_records(str(tmp_path / "s.sqlite"), catalogue, FixedClock(TODAY))
    profile = LoadProfile(learners=20, seed=3)
    history = max((learner_history(catalogue, profile, n) for n in range(1, 21)), key=len)
    records.receive_batch(history[:1])
    uln = next(iter(records._cache))
    stored_version = records._cache[uln].record.version

    def broken_append(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(records.store, "append", broken_append)
    with pytest.raises(RuntimeError):
        records.receive_batch(history[1:])
    assert uln not in records._cache
    monkeypatch.undo()
    # The retry starts again from what was stored, and stores it all.
    records.receive_batch(history[1:])
    stored = records.store.records([uln])[uln]
    assert stored.version > stored_version
    assert records._cache[uln].record.version == stored.version
