"""Write the committed JSON Schemas (``make schemas``); ``--check`` only reports stale files.

One schema per message: ``contracts/schemas/<event-type>.json`` for every
inbound and outbound CloudEvent, ``status.request.json`` and
``status.reply.json`` for the status query. Inbound schemas describe what we
accept (validation mode), outbound ones what we publish (serialisation mode).
Each has a stable ``$id`` (``contracts.schema_ids``); outbound events name
``<$id>#/properties/data`` in ``dataschema``. Inbound schemas
state the limits of ``contracts.limits`` that JSON Schema cannot say itself.
Output is deterministic: sorted keys, two-space indent, a trailing newline.

``contracts/asyncapi.json`` is written alongside, by ``devtools.asyncapi`` from these
same schemas (its payloads reference the files), so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from contracts.inbound import INBOUND_EVENT_CLASSES
from contracts.limits import INBOUND_LIMITS
from contracts.outbound import OUTBOUND_EVENT_CLASSES
from contracts.schema_ids import schema_id
from contracts.status import StatusReply, StatusRequest
from devtools.asyncapi import asyncapi_document

__all__ = [
    "CONTRACTS_DIR",
    "SCHEMAS_DIR",
    "SCHEMA_DIALECT",
    "expected_files",
    "main",
    "message_schemas",
    "render",
    "stale_files",
    "write_files",
]

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

Mode = Literal["validation", "serialization"]


def _messages() -> list[tuple[str, type[BaseModel], Mode]]:
    return [
        *((cls.event_type(), cls, "validation") for cls in INBOUND_EVENT_CLASSES),
        *((cls.event_type(), cls, "serialization") for cls in OUTBOUND_EVENT_CLASSES),
        ("status.request", StatusRequest, "validation"),
        ("status.reply", StatusReply, "serialization"),
    ]


def message_schemas() -> dict[str, dict[str, Any]]:
    """Every message's JSON Schema by message name (the event type, or ``status.*``)."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, model, mode in _messages():
        schema = _without_title(model.model_json_schema(mode=mode))
        if mode == "validation" and "data" in schema.get("properties", {}):
            schema["description"] = _inbound_description()
        schemas[name] = {
            "$schema": SCHEMA_DIALECT,
            "$id": schema_id(name),
            "title": name,
            **schema,
        }
    return schemas


def _inbound_description() -> str:
    limits = "; ".join(limit.describe() for limit in INBOUND_LIMITS)
    return (
        "An inbound CloudEvent on records.in.<ULN>: this object in structured mode, or in "
        "binary mode its attributes as ce-* headers and its data as the body (CloudEvents "
        "NATS binding 1.0.3). Refused as malformed over any of these limits "
        f"(contracts/limits.py), the detail naming it: {limits}."
    )


def _without_title(schema: dict[str, Any]) -> dict[str, Any]:
    # The class name is an implementation detail; the message name is the title.
    return {key: value for key, value in schema.items() if key != "title"}


def render(document: Mapping[str, Any]) -> str:
    """The committed text of a document: sorted keys, two-space indent, final newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """Every generated file's text, by path relative to the contracts package."""
    schemas = message_schemas()
    files = {f"{SCHEMAS_DIR}/{name}.json": render(schema) for name, schema in schemas.items()}
    files[ASYNCAPI_FILE] = render(asyncapi_document(schemas))
    return files


def stale_files(root: Path = CONTRACTS_DIR) -> list[str]:
    """Generated files under ``root`` that are missing, differ, or are no longer generated."""
    expected = expected_files()
    stale = [
        path
        for path, text in expected.items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]
    stale.extend(_orphans(root, expected))
    return sorted(stale)


def _orphans(root: Path, expected: Mapping[str, str]) -> list[str]:
    schemas = root / SCHEMAS_DIR
    if not schemas.is_dir():
        return []
    found = (f"{SCHEMAS_DIR}/{path.name}" for path in schemas.glob("*.json"))
    return [path for path in found if path not in expected]


def write_files(root: Path = CONTRACTS_DIR) -> list[str]:
    """Bring ``root`` up to date; the paths written or removed."""
    changed = stale_files(root)
    expected = expected_files()
    for path in changed:
        target = root / path
        if path in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expected[path], encoding="utf-8", newline="\n")
        else:
            target.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.schemas", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale"
    )
    parser.add_argument(
        "--root", type=Path, default=CONTRACTS_DIR, help="the contracts directory to write into"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.check:
        stale = stale_files(root)
        for path in stale:
            print(f"stale: {root / path}", file=sys.stderr)
        if stale:
            print("run `make schemas` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for path in write_files(root):
        print(f"wrote {root / path}" if (root / path).exists() else f"removed {root / path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
