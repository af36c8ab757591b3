"""The committed JSON Schemas: current, identified, strict-valid, and in step with the models.

The currency check generates every file afresh into a temporary directory and
compares it with what is committed, and is shown to fail when a committed file is
edited. ajv (the JSON Schema ecosystem's reference validator) compiles each schema in
strict mode and judges examples the models accept or refuse, so a schema that says
less than the model (a message with no ``type`` that validates) is caught.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from contract_examples import INBOUND_EXAMPLES, outbound_examples
from node_tools import run_node

from contracts import (
    INBOUND_EVENT_TYPES,
    OUTBOUND_EVENT_TYPES,
    ContractError,
    parse_inbound,
    schema_id,
)
from contracts.limits import MAX_ID_CHARS, MAX_STRING_CHARS
from contracts.schema_ids import DATA_POINTER
from devtools.schemas import ASYNCAPI_FILE, CONTRACTS_DIR, SCHEMAS_DIR, main, render, stale_files

GENERATED = (SCHEMAS_DIR, ASYNCAPI_FILE)


def committed_copy(target: Path) -> Path:
    """The committed generated files, copied under ``target``."""
    shutil.copytree(CONTRACTS_DIR / SCHEMAS_DIR, target / SCHEMAS_DIR)
    shutil.copy2(CONTRACTS_DIR / ASYNCAPI_FILE, target / ASYNCAPI_FILE)
    return target


def differences(generated: Path, committed: Path) -> list[str]:
    """Files that differ between two contracts directories, or exist in only one."""

    def files(root: Path) -> dict[str, bytes]:
        found = {ASYNCAPI_FILE: (root / ASYNCAPI_FILE).read_bytes()}
        found.update(
            (f"{SCHEMAS_DIR}/{path.name}", path.read_bytes())
            for path in (root / SCHEMAS_DIR).glob("*.json")
        )
        return found

    ours, theirs = files(generated), files(committed)
    return sorted(
        path for path in ours.keys() | theirs.keys() if ours.get(path) != theirs.get(path)
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    assert main(["--root", str(root)]) == 0
    return root


# ------------------------------------------------------------------ currency


def test_the_committed_files_are_what_the_generators_write(generated: Path) -> None:
    stale = differences(generated, CONTRACTS_DIR)
    assert not stale, f"stale generated files {stale}: run `make schemas` and commit the result"


@pytest.mark.parametrize(
    ("path", "edit"),
    [
        (
            f"{SCHEMAS_DIR}/unit.achieved.v1.json",
            lambda s: s.replace('"minLength": 1', '"minLength": 0', 1),
        ),
        (ASYNCAPI_FILE, lambda s: s.replace("records.in.{uln}", "records.in.{ULN}", 1)),
        (f"{SCHEMAS_DIR}/event.rejected.v1.json", lambda s: s + "\n"),
    ],
)
def test_the_currency_check_fails_when_a_committed_file_is_edited(
    generated: Path, tmp_path: Path, path: str, edit: Callable[[str], str]
) -> None:
    committed = committed_copy(tmp_path)
    assert differences(generated, committed) == []
    target = committed / path
    target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")
    assert differences(generated, committed) == [path]


def test_the_currency_check_fails_when_a_schema_is_added_or_removed(
    generated: Path, tmp_path: Path
) -> None:
    committed = committed_copy(tmp_path)
    (committed / SCHEMAS_DIR / "unit.achieved.v0.json").write_text("{}\n", encoding="utf-8")
    (committed / SCHEMAS_DIR / "status.reply.json").unlink()
    assert differences(generated, committed) == [
        f"{SCHEMAS_DIR}/status.reply.json",
        f"{SCHEMAS_DIR}/unit.achieved.v0.json",
    ]


def test_check_names_stale_missing_and_orphaned_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0

    schemas = tmp_path / SCHEMAS_DIR
    (schemas / "unit.achieved.v1.json").write_text("{}\n", encoding="utf-8")
    (schemas / "event.rejected.v1.json").unlink()
    (schemas / "unit.achieved.v0.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / ASYNCAPI_FILE).write_text("{}\n", encoding="utf-8")
    capsys.readouterr()

    assert main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for name in ("unit.achieved.v1.json", "event.rejected.v1.json", "unit.achieved.v0.json"):
        assert name in err
    assert ASYNCAPI_FILE in err
    assert "make schemas" in err

    assert main(["--root", str(tmp_path)]) == 0
    assert stale_files(tmp_path) == []
    assert not (schemas / "unit.achieved.v0.json").exists()


def test_rendering_is_deterministic_sorted_and_ends_with_a_newline() -> None:
    assert render({"b": 1, "a": {"d": 2, "c": "é"}}) == (
        '{\n  "a": {\n    "c": "é",\n    "d": 2\n  },\n  "b": 1\n}\n'
    )


# ------------------------------------------------------------------ content


def committed_schemas() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((CONTRACTS_DIR / SCHEMAS_DIR).glob("*.json"))
    }


def test_there_is_one_schema_per_message() -> None:
    names = {*INBOUND_EVENT_TYPES, *OUTBOUND_EVENT_TYPES, "status.request", "status.reply"}
    assert set(committed_schemas()) == names


def test_every_schema_has_a_stable_absolute_id_of_its_own() -> None:
    schemas = committed_schemas()
    for name, schema in schemas.items():
        assert schema["$id"] == schema_id(name) == f"urn:learner-records:schema:{name}"
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert len({schema["$id"] for schema in schemas.values()}) == len(schemas)


def test_a_schema_pins_its_type_and_requires_the_cloudevents_attributes() -> None:
    schemas = committed_schemas()
    for event_type in [*INBOUND_EVENT_TYPES, *OUTBOUND_EVENT_TYPES]:
        schema = schemas[event_type]
        assert schema["title"] == event_type
        assert schema["properties"]["type"]["const"] == event_type
        assert {"id", "source", "specversion", "type", "time", "subject", "data"} <= set(
            schema["required"]
        )


def test_outbound_events_name_their_data_schema_and_it_resolves() -> None:
    schemas = committed_schemas()
    for event_type, model in OUTBOUND_EVENT_TYPES.items():
        schema = schemas[event_type]
        expected = f"{schema['$id']}#{DATA_POINTER}"
        assert schema["properties"]["dataschema"]["const"] == expected
        assert "dataschema" in schema["required"]
        assert model.model_fields["dataschema"].default == expected
        # The JSON Pointer lands on the data's schema.
        node: Any = schema
        for part in DATA_POINTER.strip("/").split("/"):
            node = node[part]
        assert node == schema["properties"]["data"]


def test_inbound_schemas_state_the_limits() -> None:
    for event_type in INBOUND_EVENT_TYPES:
        schema = committed_schemas()[event_type]
        assert schema["properties"]["id"]["maxLength"] == MAX_ID_CHARS
        assert "MAX_MESSAGE_BYTES = 65,536 bytes" in schema["description"]
        extension = schema["additionalProperties"]
        assert {"type": "string", "maxLength": MAX_STRING_CHARS} in extension["anyOf"]


# ------------------------------------------------------------------ ajv


def test_every_schema_compiles_in_ajv_strict_mode() -> None:
    result = run_node("check-schemas.mjs", str(CONTRACTS_DIR / SCHEMAS_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(committed_schemas())
    assert all(line["compiled"] for line in lines)


def test_ajv_strict_mode_refuses_what_the_old_schemas_did(tmp_path: Path) -> None:
    # The check has teeth: a union type array (what the extension rule used to be)
    # and an unknown keyword both fail to compile.
    old = {"type": "object", "additionalProperties": {"type": ["string", "integer"]}}
    (tmp_path / "union.json").write_text(json.dumps(old), encoding="utf-8")
    (tmp_path / "unknown.json").write_text(json.dumps({"type": "string", "maxlength": 3}))
    result = run_node("check-schemas.mjs", str(tmp_path))
    assert result.returncode == 1
    errors = [json.loads(line).get("error", "") for line in result.stdout.splitlines()]
    assert any("allowUnionTypes" in error for error in errors)
    assert any("unknown keyword" in error for error in errors)


def schema_cases() -> list[tuple[str, str, Any, bool]]:
    """(label, schema, instance, valid): what the models accept, and refusals a schema can say."""
    cases: list[tuple[str, str, Any, bool]] = []
    for event_type, message in INBOUND_EXAMPLES.items():
        cases.append((f"{event_type} example", event_type, message, True))
        for label, change in [
            ("no type", lambda m: m.pop("type")),
            ("another type", lambda m: m.update(type="unit.achieved.v2")),
            ("no time", lambda m: m.pop("time")),
            ("id too long", lambda m: m.update(id="x" * (MAX_ID_CHARS + 1))),
            ("an object extension", lambda m: m.update(partition={"a": 1})),
            ("a capitalised extension", lambda m: m.update(Partition="1")),
            ("a long extension", lambda m: m.update(note="x" * (MAX_STRING_CHARS + 1))),
            ("a 64-bit extension", lambda m: m.update(seq=2**40)),
            ("an unknown data field", lambda m: m["data"].update(nickname="Jo")),
            ("a ULN of 9 digits", lambda m: m.update(subject="123456789")),
        ]:
            changed = json.loads(json.dumps(message))
            change(changed)
            cases.append((f"{event_type} with {label}", event_type, changed, False))
    for event in outbound_examples():
        wire = event.to_wire()
        cases.append((f"{event.type} example", event.type, wire, True))
        for label, change in [
            ("no type", lambda m: m.pop("type")),
            ("no dataschema", lambda m: m.pop("dataschema")),
            ("another source", lambda m: m.update(source="urn:elsewhere")),
            ("an extension", lambda m: m.update(partition="3")),
        ]:
            changed = json.loads(json.dumps(wire))
            change(changed)
            cases.append((f"{event.type} with {label}", event.type, changed, False))
    return cases


def test_the_schemas_and_the_models_agree_on_examples(tmp_path: Path) -> None:
    cases = schema_cases()
    for label, schema, instance, valid in cases:
        if schema in INBOUND_EVENT_TYPES:
            try:
                parse_inbound(json.dumps(instance))
                accepted = True
            except ContractError:
                accepted = False
            assert accepted == valid, f"the model and the case disagree on {label}"
    lines = (
        json.dumps({"label": label, "schema": schema, "instance": instance, "valid": valid})
        for label, schema, instance, valid in cases
    )
    instances = tmp_path / "instances.jsonl"
    instances.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_node(
        "check-schemas.mjs", str(CONTRACTS_DIR / SCHEMAS_DIR), "--instances", str(instances)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"instances": len(cases)}


def test_the_examples_are_of_today() -> None:
    # Guard for the examples module: dates in the past, so no effective date is future.
    for message in INBOUND_EXAMPLES.values():
        assert datetime.fromisoformat(message["time"]) < datetime(2026, 1, 1, tzinfo=UTC)
    assert all(event.data.decided_on <= date(2026, 1, 1) for event in outbound_examples())
