"""``replay`` and ``audit`` from the command line, on histories covering all five qualifications."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts import parse_outbound
from contracts.uln import make_uln
from devtools.sample_histories import sample_histories
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.entrypoints.cli import main
from services.entrypoints.wiring import open_records

AS_OF = "2026-11-23"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def history(tmp_path: Path, catalogue: Catalogue) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(sample_histories(catalogue)) + b"\n")
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(list(argv)) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_replay_reports_every_learner_on_all_five_qualifications(
    history: Path, capsys: pytest.CaptureFixture[str], catalogue: Catalogue
) -> None:
    report = run_json(capsys, "replay", str(history), "--as-of", AS_OF, "--json")
    assert report["as_of"] == AS_OF
    registrations = [r for learner in report["learners"] for r in learner["registrations"]]
    assert {r["qualification"] for r in registrations} == set(catalogue.qualifications)
    statuses = {(r["qualification"], r["status"]) for r in registrations}
    assert ("OCR-L3-DIP-CS", "eligible") in statuses
    assert ("PEARSON-L4-NVQ-DIP-CS", "eligible") in statuses
    assert ("CG-4430-L4", "window_expired") in statuses  # claim-by 2017-08-31
    assert ("500/9203/0", "withdrawn") in statuses
    for registration in registrations:
        assert {"qualification", "status", "registered_on", "completed_on", "claim_by"} <= set(
            registration
        )
        assert all(isinstance(urn, str) for urn in registration["counted_units"])
    assert {r["reason"] for r in report["rejected"]} == {
        "malformed",
        "unknown_unit",
        "future_dated",
    }
    assert all("event_id" in r for r in report["rejected"])
    assert report["duplicates"] == 1
    kinds = [d["kind"] for d in report["decisions"]]
    assert "eligibility_withdrawn" in kinds  # the revoked transfer
    assert "unit_certificate" in kinds


def test_replaying_the_same_file_twice_gives_identical_output(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_json(capsys, "replay", str(history), "--as-of", AS_OF, "--json")
    second = run_json(capsys, "replay", str(history), "--as-of", AS_OF, "--json")
    assert first == second
    assert first["decisions"] and all(d["id"] for d in first["decisions"])


def test_replay_as_of_an_earlier_day_sees_only_what_was_effective(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(capsys, "replay", str(history), "--as-of", "2015-10-01", "--json")
    registrations = {
        (learner["uln"], r["qualification"]): r
        for learner in report["learners"]
        for r in learner["registrations"]
    }
    assert all(r["registered_on"] <= "2015-10-01" for r in registrations.values())
    assert all(
        r["status"] != "eligible" for (_, q), r in registrations.items() if q.startswith("OCR-L3")
    )


def test_a_malformed_line_is_a_refused_event_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"not json at all\n\n[1, 2]\n\xff\xfe\n")
    report = run_json(capsys, "replay", str(path), "--as-of", AS_OF, "--json")
    assert [r["reason"] for r in report["rejected"]] == ["malformed"] * 3
    assert report["learners"] == []


def test_replay_prints_readable_tables(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(history), "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "Registrations" in out and "Rejected events" in out
    assert "PEARSON-L4-NVQ-DIP-CS" in out and "future_dated" in out


def test_replay_of_a_missing_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(tmp_path / "nope.jsonl")])
    assert exit_.value.code == 2
    assert "cannot read" in capsys.readouterr().err


def test_audit_shows_the_timeline_and_why_the_status_holds(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "kept.sqlite"
    run_json(capsys, "replay", str(history), "--as-of", AS_OF, "--json", "--store", str(store))
    learner = make_uln(11)  # the learner on two NVQs whose transferred credit is revoked
    audit = run_json(capsys, "audit", learner, "--store", str(store), "--as-of", AS_OF, "--json")
    assert audit["uln"] == learner
    kinds = [step["kind"] for step in audit["timeline"]]
    assert kinds.count("fact") >= 10
    revocation = next(
        s for s in audit["timeline"] if (s["event"] or {}).get("type") == "achievement.revoked.v1"
    )
    # Both NVQs counted the transferred unit: both eligibilities are withdrawn.
    withdrawn = revocation["decisions"]
    assert [d["kind"] for d in withdrawn] == ["eligibility_withdrawn"] * 2
    assert {d["reason"] for d in withdrawn} == {"achievement_revoked"}
    final = {r["qualification"]: r for r in audit["registrations"]}
    assert set(final) == {"500/9203/0", "501/0232/1"}
    for registration in final.values():
        assert registration["reason"]
        assert registration["rests_on"][0]["type"] == "learner.registered.v1"
    assert main(["audit", learner, "--store", str(store), "--as-of", AS_OF]) == 0
    text = capsys.readouterr().out
    assert "Audit of learner" in text and "rests on" in text


def test_audit_of_an_unknown_learner_or_store_exits_2(
    tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", make_uln(3), "--store", str(tmp_path / "missing.sqlite")])
    assert exit_.value.code == 2
    assert "no event store" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "123"])
    assert exit_.value.code == 2


def test_every_stored_decision_fits_its_published_contract(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    records = open_records(
        str(tmp_path / "r.sqlite"), catalogue, FixedClock(date.fromisoformat(AS_OF))
    )
    outcomes = records.receive_batch(sample_histories(catalogue))
    records.close()
    decisions = [d for o in outcomes for d in o.decisions]
    assert {d.kind.value for d in decisions} == {
        "eligible",
        "eligibility_withdrawn",
        "window_expired",
        "unit_certificate",
        "rejected",
    }
    for decision in decisions:
        event = parse_outbound(decision.cloudevent.encode())
        assert event.id == decision.id
        assert decision.subject.startswith(f"records.out.{decision.kind.value}.")
        assert decision.subject.endswith(f".{event.subject}")


def test_backfill_stores_what_replay_decides_as_lived(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replayed = run_json(capsys, "replay", str(history), "--as-of", AS_OF, "--json")
    store = tmp_path / "backfilled.sqlite"
    summary = run_json(
        capsys, "backfill", str(history), "--store", str(store), "--as-of", AS_OF, "--json"
    )
    assert summary["outcomes"]["recorded"] == replayed["recorded"]
    records = open_records(str(store), load_catalogue(), FixedClock(date.fromisoformat(AS_OF)))
    from services.application.relay import DECISION_TOPICS, _decode

    stored = [_decode(n.topic, n.state) for n in records.store.raw_log(0, 100_000, DECISION_TOPICS)]
    records.close()
    assert {d.id for d in stored if d is not None and d.kind.value != "rejected"} == {
        d["id"] for d in replayed["decisions"]
    }
