"""The committed JSON Schemas are what the models generate today, one per message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import INBOUND_EVENT_TYPES, OUTBOUND_EVENT_TYPES
from devtools.schemas import CONTRACTS_DIR, expected_files, main, render, stale_files


def test_the_committed_schemas_are_current() -> None:
    stale = stale_files(CONTRACTS_DIR)
    assert not stale, f"stale generated files {stale}: run `make schemas` and commit the result"


def test_there_is_one_schema_per_message() -> None:
    names = {*INBOUND_EVENT_TYPES, *OUTBOUND_EVENT_TYPES, "status.request", "status.reply"}
    schemas = {path for path in expected_files() if path.startswith("schemas/")}
    assert schemas == {f"schemas/{name}.json" for name in names}


def test_a_schema_pins_its_type_and_requires_the_cloudevents_attributes() -> None:
    for event_type in [*INBOUND_EVENT_TYPES, *OUTBOUND_EVENT_TYPES]:
        schema = json.loads(expected_files()[f"schemas/{event_type}.json"])
        assert schema["title"] == event_type
        assert schema["properties"]["type"]["const"] == event_type
        assert {"id", "source", "specversion", "type", "time", "subject", "data"} <= set(
            schema["required"]
        )


def test_rendering_is_deterministic_sorted_and_ends_with_a_newline() -> None:
    assert render({"b": 1, "a": {"d": 2, "c": "é"}}) == (
        '{\n  "a": {\n    "c": "é",\n    "d": 2\n  },\n  "b": 1\n}\n'
    )
    assert expected_files() == expected_files()


def test_check_names_stale_missing_and_orphaned_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0

    schemas = tmp_path / "schemas"
    (schemas / "unit.achieved.v1.json").write_text("{}\n", encoding="utf-8")
    (schemas / "event.rejected.v1.json").unlink()
    (schemas / "unit.achieved.v0.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()

    assert main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for name in ("unit.achieved.v1.json", "event.rejected.v1.json", "unit.achieved.v0.json"):
        assert name in err
    assert "make schemas" in err

    assert main(["--root", str(tmp_path)]) == 0
    assert stale_files(tmp_path) == []
    assert not (schemas / "unit.achieved.v0.json").exists()
