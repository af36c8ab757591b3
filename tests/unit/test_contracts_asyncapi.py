"""The AsyncAPI document: valid to the official parser, and built from the committed schemas.

``@asyncapi/parser`` (the AsyncAPI initiative's own parser, with its Spectral rules)
must report no error and no warning. The only diagnostic allowed is the information
that AsyncAPI 3.1 exists: the document is AsyncAPI 3.0 on purpose, the version tools
support most widely. The parser is shown to catch what issue 12 found (addresses
with undeclared parameters), so a pass means something.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from node_tools import run_node

from contracts import (
    CLOUDEVENTS_JSON_CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    DEAD_LETTER_HEADERS,
    INBOUND_EVENT_TYPES,
    MAX_MESSAGE_BYTES,
    MSG_ID_HEADER,
    OUTBOUND_EVENT_TYPES,
    DecisionKind,
)
from devtools.asyncapi import ASYNCAPI_PATH, asyncapi_document
from devtools.schemas import CONTRACTS_DIR, SCHEMAS_DIR, message_schemas

# The AsyncAPI 3.0 key pattern for component and channel ids.
KEY = re.compile(r"^[a-zA-Z0-9\.\-_]+$")
ALLOWED = {"asyncapi-latest-version"}


def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    return document


def parse(path: Path) -> tuple[int, list[dict[str, Any]]]:
    """The parser's exit code and diagnostics for the document at ``path``."""
    result = run_node("check-asyncapi.mjs", str(path))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines and "parsed" in lines[-1], result.stdout + result.stderr
    return result.returncode, lines[:-1]


def test_the_official_parser_reports_no_error_and_no_warning() -> None:
    code, diagnostics = parse(ASYNCAPI_PATH)
    assert code == 0, diagnostics
    assert [d for d in diagnostics if d["code"] not in ALLOWED] == []


def broken(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        document = copy.deepcopy(committed())
        change(document)
        path = directory / "asyncapi.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write


@pytest.mark.parametrize(
    ("label", "write"),
    [
        (
            "parameter of another name",
            broken(lambda d: d["channels"]["records.in"].update(address="records.in.{ULN}")),
        ),
        (
            "operation message not of its channel",
            broken(
                lambda d: d["operations"]["records.in"].update(
                    messages=[
                        {
                            "$ref": "#/channels/records.out.eligible/messages/"
                            "certification.eligible.v1"
                        }
                    ]
                )
            ),
        ),
        (
            "payload schema of a missing file",
            broken(
                lambda d: d["components"]["schemas"].update(
                    {"status.reply": {"$ref": "schemas/status.reply.v9.json"}}
                )
            ),
        ),
    ],
)
def test_the_parser_catches_a_broken_document(
    tmp_path: Path, label: str, write: Callable[[Path], Path]
) -> None:
    (tmp_path / SCHEMAS_DIR).symlink_to(CONTRACTS_DIR / SCHEMAS_DIR)
    code, diagnostics = parse(write(tmp_path))
    assert code == 1, label
    assert any(d["severity"] == "error" for d in diagnostics), (label, diagnostics)


def test_the_document_is_what_the_generator_writes_from_the_schemas() -> None:
    assert committed() == json.loads(json.dumps(asyncapi_document(message_schemas())))


def test_every_payload_is_exactly_a_committed_schema() -> None:
    document = committed()
    schemas = document["components"]["schemas"]
    files = {path.stem for path in (CONTRACTS_DIR / SCHEMAS_DIR).glob("*.json")}
    assert schemas == {name: {"$ref": f"{SCHEMAS_DIR}/{name}.json"} for name in files}
    for name, message in document["components"]["messages"].items():
        payload = message["payload"]
        if name == "dead.letter":
            assert "$ref" not in payload
        elif name.endswith(".binary"):
            event_type = name.removesuffix(".binary")
            assert payload == {"$ref": f"{SCHEMAS_DIR}/{event_type}.json#/properties/data"}
        else:
            assert payload == {"$ref": f"#/components/schemas/{name}"}


def test_every_key_matches_the_specifications_pattern() -> None:
    document = committed()
    keys = [*document["channels"], *document["operations"]]
    for section in document["components"].values():
        keys.extend(section)
    for channel in document["channels"].values():
        keys.extend(channel.get("messages", {}))
        keys.extend(channel.get("parameters", {}))
    assert [key for key in keys if not KEY.fullmatch(key)] == []


def test_channels_have_the_addresses_and_declared_parameters() -> None:
    # The parser's asyncapi3-channel-parameters rule checks only a channel that has a
    # parameters object (the FastStream document, with none, passed it): this checks all.
    channels = committed()["channels"]
    assert channels["records.in"]["address"] == "records.in.{uln}"
    for kind in DecisionKind:
        channel = channels[f"records.out.{kind.value}"]
        assert channel["address"] == f"records.out.{kind.value}.{{uln}}"
        assert list(channel["messages"]) == [kind.event_type]
    assert channels["records.query.status"]["address"] == "records.query.status"
    for channel in channels.values():
        named = set(re.findall(r"\{(\w+)\}", channel["address"] or ""))
        assert set(channel.get("parameters", {})) == named


def test_every_inbound_type_comes_in_both_modes() -> None:
    messages = committed()["channels"]["records.in"]["messages"]
    assert set(messages) == {name for t in INBOUND_EVENT_TYPES for name in (t, f"{t}.binary")}
    binary = committed()["components"]["messages"]["unit.achieved.v1.binary"]["headers"]
    assert set(binary["required"]) == {
        "ce-id",
        "ce-source",
        "ce-specversion",
        "ce-type",
        "ce-time",
        "ce-subject",
    }
    assert binary["properties"]["ce-type"]["const"] == "unit.achieved.v1"


def test_the_status_query_is_a_request_with_a_declared_reply() -> None:
    operation = committed()["operations"]["records.query.status"]
    assert operation["action"] == "receive"
    assert operation["reply"]["messages"] == [
        {"$ref": "#/channels/status.reply/messages/status.reply"}
    ]
    assert committed()["channels"]["status.reply"]["address"] is None


def test_headers_are_declared_and_no_correlation_id_points_nowhere() -> None:
    document = committed()
    traits = document["components"]["messageTraits"]
    outbound = traits["outbound"]["headers"]
    assert set(outbound["required"]) == {MSG_ID_HEADER, CONTENT_TYPE_HEADER}
    assert outbound["properties"][CONTENT_TYPE_HEADER]["const"] == CLOUDEVENTS_JSON_CONTENT_TYPE
    assert {"traceparent", "tracestate", MSG_ID_HEADER} <= set(
        traits["inbound"]["headers"]["properties"]
    )
    for event_type in OUTBOUND_EVENT_TYPES:
        message = document["components"]["messages"][event_type]
        assert message["traits"] == [{"$ref": "#/components/messageTraits/outbound"}]
    dead = document["components"]["messages"]["dead.letter"]["headers"]
    assert set(dead["required"]) == set(DEAD_LETTER_HEADERS)
    assert "correlationId" not in json.dumps(document)


def test_the_limits_are_documented() -> None:
    description = committed()["info"]["description"]
    assert f"MAX_MESSAGE_BYTES = {MAX_MESSAGE_BYTES:,} bytes" in description
    assert "ECHO_MAX_BYTES = 8,192 bytes" in description
