"""The AsyncAPI 3.0 document of the service, built from the committed JSON Schemas.

``make schemas`` writes it to ``contracts/asyncapi.json`` (``devtools.schemas`` calls
``asyncapi_document`` with the schemas it writes); ``python -m devtools.asyncapi --check``
reports a stale file. Every payload is a ``$ref`` to a file in ``contracts/schemas/``
(binary-mode payloads to the ``/properties/data`` subschema of the same file), so the
document and the schemas cannot disagree: there is one source of truth, the models.

Payloads use AsyncAPI's default schema format. The files say draft 2020-12, but use
no keyword whose meaning differs from draft-07 (the format the parser then checks
them against): ``$defs`` is only a ``$ref`` target, and no ``$ref`` has a sibling
that validates. tests/unit/test_contracts_asyncapi.py runs the official parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contracts.headers import (
    CE_HEADER_PREFIX,
    CLOUDEVENTS_JSON_CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    DEAD_LETTER_HEADERS,
    MSG_ID_HEADER,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
)
from contracts.inbound import INBOUND_EVENT_CLASSES
from contracts.limits import INBOUND_LIMITS, REJECTION_LIMITS
from contracts.outbound import DECISION_EVENT_CLASSES
from contracts.subjects import DEAD_LETTER_PREFIX, STATUS_QUERY_SUBJECT
from contracts.uln import ULN_PATTERN

__all__ = ["ASYNCAPI_PATH", "asyncapi_document", "main"]

ASYNCAPI_PATH = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.json"
ASYNCAPI_VERSION = "3.0.0"
TITLE = "learner-records"
VERSION = "1.0.0"
# The embedded default's address: the document describes the contract, not one run.
DEVELOPMENT_HOST = "127.0.0.1:4222"
SCHEMAS_DIR = "schemas"

_TRACE_CONTEXT = {
    TRACEPARENT_HEADER: {
        "type": "string",
        "description": "W3C Trace Context; carried from an inbound event to the decisions "
        "it causes (also accepted as the CloudEvents traceparent extension).",
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
    },
    TRACESTATE_HEADER: {"type": "string", "description": "W3C Trace Context, with traceparent."},
}
_CE_REQUIRED = ("id", "source", "specversion", "type", "time", "subject")


def asyncapi_document(schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The document for the message schemas ``schemas`` (by message name, as written)."""
    inbound = [cls.event_type() for cls in INBOUND_EVENT_CLASSES]
    channels: dict[str, Any] = {"records.in": _inbound_channel(inbound)}
    operations: dict[str, Any] = {"records.in": _operation("receive", "records.in")}
    messages: dict[str, Any] = {}
    for event_type in inbound:
        messages[event_type] = _structured_inbound(event_type, schemas[event_type])
        messages[f"{event_type}.binary"] = _binary_inbound(event_type, schemas[event_type])
    for kind, model in DECISION_EVENT_CLASSES.items():
        event_type = model.event_type()
        channel = f"records.out.{kind.value}"
        channels[channel] = _outbound_channel(kind.value, event_type)
        operations[channel] = _operation("send", channel)
        messages[event_type] = _outbound_message(event_type, schemas[event_type])
    channels[STATUS_QUERY_SUBJECT] = _status_channel()
    channels["status.reply"] = _reply_channel()
    operations[STATUS_QUERY_SUBJECT] = _status_operation()
    messages["status.request"] = _status_message("status.request", schemas["status.request"])
    messages["status.reply"] = _status_message("status.reply", schemas["status.reply"])
    channels[DEAD_LETTER_PREFIX] = _dead_letter_channel()
    operations[DEAD_LETTER_PREFIX] = _operation("send", DEAD_LETTER_PREFIX)
    messages["dead.letter"] = _dead_letter_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:learner-records",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": _description(),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CLOUDEVENTS_JSON_CONTENT_TYPE,
        "servers": {
            "development": {
                "host": DEVELOPMENT_HOST,
                "protocol": "nats",
                "description": "The embedded nats-server `learner-records serve` starts.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {name: {"$ref": _schema_file(name)} for name in sorted(schemas)},
            "messages": messages,
            "messageTraits": _traits(),
            "parameters": {
                "uln": {
                    "description": "The learner's Unique Learner Number (10 digits, first "
                    f"non-zero, checksum mod 11: {ULN_PATTERN}); it equals the event's "
                    "subject and data.uln.",
                    "examples": ["1234567899"],
                }
            },
        },
    }


def _description() -> str:
    inbound = "\n".join(f"- {limit.describe()}" for limit in INBOUND_LIMITS)
    rejection = "\n".join(f"- {limit.describe()}" for limit in REJECTION_LIMITS)
    return (
        "Event-sourced learner records (SPEC.md). E-portfolio systems publish CloudEvents "
        "1.0 to `records.in.<ULN>`, in structured mode (`Content-Type: "
        f"{CLOUDEVENTS_JSON_CONTENT_TYPE}`, or no Content-Type and no `ce-` header) or in "
        "binary mode (`ce-*` headers, data as the body), as the CloudEvents NATS binding "
        "1.0.3 describes; the NATS subject's last token must be the event's subject. The "
        "service publishes each decision once, in structured mode, to "
        "`records.out.<kind>.<ULN>` with `Nats-Msg-Id` = the CloudEvent id; status "
        "queries are NATS request/reply on `records.query.status`.\n\n"
        "Inbound limits (contracts/limits.py); over any of them a message is refused as "
        "`malformed`, the detail naming the limit:\n"
        f"{inbound}\n\n"
        "A rejection (`event.rejected.v1`) echoes the refused message with personal "
        "fields removed, and always fits in one NATS message:\n"
        f"{rejection}"
    )


def _schema_file(name: str) -> str:
    return f"{SCHEMAS_DIR}/{name}.json"


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(path)}


def _uln_parameter() -> dict[str, Any]:
    return {"uln": _ref("components", "parameters", "uln")}


def _operation(action: str, channel: str) -> dict[str, Any]:
    # Every message of the channel: the operation's messages must come from it.
    return {
        "action": action,
        "channel": _ref("channels", channel),
        "summary": {
            "receive": "The service consumes this channel.",
            "send": "The service publishes to this channel.",
        }[action],
    }


def _inbound_channel(event_types: Sequence[str]) -> dict[str, Any]:
    names = [name for event_type in event_types for name in (event_type, f"{event_type}.binary")]
    return {
        "address": "records.in.{uln}",
        "title": "Inbound facts",
        "description": (
            "Facts about one learner, one subject per learner so JetStream keeps their "
            "order. Publishers publish to records.in.<ULN>; an account subject mapping may "
            "add a partition token, so the service receives records.in.<k>.<ULN>: the last "
            "token is the learner either way. Acknowledged to the service's consumer only "
            "once stored; a refused event is answered on records.out.rejected.<ULN> (or "
            "records.out.rejected.unknown when it names no valid ULN)."
        ),
        "parameters": _uln_parameter(),
        "messages": {name: _ref("components", "messages", name) for name in names},
    }


def _outbound_channel(kind: str, event_type: str) -> dict[str, Any]:
    unknown = (
        ' The <uln> is "unknown" when the refused message named no valid ULN.'
        if kind == "rejected"
        else ""
    )
    return {
        "address": f"records.out.{kind}.{{uln}}",
        "title": f"Decisions: {kind}",
        "description": (
            f"{event_type}, stored with the facts that caused it and relayed with "
            f"Nats-Msg-Id = the CloudEvent id (stable across replays).{unknown}"
        ),
        "parameters": _uln_parameter(),
        "messages": {event_type: _ref("components", "messages", event_type)},
    }


def _structured_inbound(event_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": event_type,
        "title": f"{event_type} (structured mode)",
        "summary": f"{event_type}: the whole event is the body.",
        "description": schema.get("description", ""),
        "contentType": CLOUDEVENTS_JSON_CONTENT_TYPE,
        "traits": [_ref("components", "messageTraits", "inbound")],
        "headers": {
            "type": "object",
            "properties": {
                CONTENT_TYPE_HEADER: {
                    "type": "string",
                    "description": f"{CLOUDEVENTS_JSON_CONTENT_TYPE} (parameters allowed), or "
                    "absent with no ce- header: either way, structured mode.",
                    "pattern": "^application/cloudevents(\\+json)?([ \\t]*;.*)?$",
                },
            },
        },
        "payload": _ref("components", "schemas", event_type),
    }


def _binary_inbound(event_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    attributes = {
        f"{CE_HEADER_PREFIX}{name}": _ce_header(name, schema["properties"][name])
        for name in _CE_REQUIRED
    }
    attributes[f"{CE_HEADER_PREFIX}datacontenttype"] = {
        "type": "string",
        "description": "datacontenttype: application/json (parameters allowed).",
    }
    return {
        "name": f"{event_type}.binary",
        "title": f"{event_type} (binary mode)",
        "summary": f"{event_type}: attributes as ce-* headers, data as the body.",
        "description": (
            "The same event in the NATS binding's binary mode: each attribute, extensions "
            "included, as a ce-<name> header, percent-encoded (binding 1.0.3 §3.1.3.2); "
            "header names are case-insensitive. Content-Type, if present, is "
            "datacontenttype and must agree with ce-datacontenttype. Parsed to the same "
            "event, with the same digest, as structured mode; an extension arrives as a "
            "string, since a header carries no type."
        ),
        "contentType": "application/json",
        "traits": [_ref("components", "messageTraits", "inbound")],
        "headers": {
            "type": "object",
            "required": [f"{CE_HEADER_PREFIX}{name}" for name in _CE_REQUIRED],
            "properties": {
                **attributes,
                CONTENT_TYPE_HEADER: {
                    "type": "string",
                    "description": "datacontenttype, as the Go SDK sends it: application/json.",
                },
            },
            "patternProperties": {
                "^ce-[a-z0-9]{1,20}$": {
                    "type": "string",
                    "description": "An extension attribute (1-20 of a-z and 0-9).",
                }
            },
        },
        "payload": {"$ref": f"{_schema_file(event_type)}#/properties/data"},
    }


def _ce_header(name: str, attribute: Mapping[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = {"type": "string", "description": f"The {name} attribute."}
    if "const" in attribute:
        header["const"] = attribute["const"]
    if "description" in attribute:
        header["description"] += f" {attribute['description']}."
    return header


def _outbound_message(event_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": event_type,
        "title": event_type,
        "summary": schema.get("description", "").split("\n", 1)[0] or event_type,
        "contentType": CLOUDEVENTS_JSON_CONTENT_TYPE,
        "traits": [_ref("components", "messageTraits", "outbound")],
        "payload": _ref("components", "schemas", event_type),
    }


def _status_channel() -> dict[str, Any]:
    return {
        "address": STATUS_QUERY_SUBJECT,
        "title": "Status query",
        "description": (
            "Request/reply: a learner's registrations and their status, from the read "
            "model (or replayed from the event store when as_of is given)."
        ),
        "messages": {"status.request": _ref("components", "messages", "status.request")},
    }


def _reply_channel() -> dict[str, Any]:
    return {
        # null: the address is the requester's own reply subject (an _INBOX.> subject
        # NATS request/reply makes per request), known only at run time.
        "address": None,
        "title": "Status reply",
        "description": "The requester's reply subject, as NATS request/reply sets it.",
        "messages": {"status.reply": _ref("components", "messages", "status.reply")},
    }


def _status_operation() -> dict[str, Any]:
    return {
        "action": "receive",
        "channel": _ref("channels", STATUS_QUERY_SUBJECT),
        "summary": "The service answers each status request on its reply subject.",
        "messages": [_ref("channels", STATUS_QUERY_SUBJECT, "messages", "status.request")],
        "reply": {
            "channel": _ref("channels", "status.reply"),
            "messages": [_ref("channels", "status.reply", "messages", "status.reply")],
        },
    }


def _status_message(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "summary": schema.get("description", "").split("\n", 1)[0] or name,
        "contentType": "application/json",
        "payload": _ref("components", "schemas", name),
    }


def _dead_letter_channel() -> dict[str, Any]:
    return {
        "address": f"{DEAD_LETTER_PREFIX}.{{uln}}",
        "title": "Dead letters",
        "description": (
            "An inbound message the service failed to store on every one of its bounded "
            "deliveries, byte for byte, with headers saying why. Kept until someone deals "
            "with it; other learners' events flow meanwhile."
        ),
        "parameters": _uln_parameter(),
        "messages": {"dead.letter": _ref("components", "messages", "dead.letter")},
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead.letter",
        "title": "Dead letter",
        "summary": "The inbound message as it was received, with why it died.",
        "headers": {
            "type": "object",
            "required": sorted(DEAD_LETTER_HEADERS),
            "properties": {
                name: {"type": "string", "description": description}
                for name, description in DEAD_LETTER_HEADERS.items()
            },
        },
        "payload": {"description": "The inbound message's body, byte for byte."},
    }


def _traits() -> dict[str, Any]:
    return {
        "inbound": {
            "summary": "Headers an inbound message may carry in either mode.",
            "headers": {
                "type": "object",
                "properties": {
                    MSG_ID_HEADER: {
                        "type": "string",
                        "description": "Recommended: e.g. sha256 of the body, so JetStream "
                        "drops a retried publish within its duplicate window.",
                    },
                    **_TRACE_CONTEXT,
                },
            },
        },
        "outbound": {
            "summary": "Headers on every message the service publishes.",
            "headers": {
                "type": "object",
                "required": [MSG_ID_HEADER, CONTENT_TYPE_HEADER],
                "properties": {
                    MSG_ID_HEADER: {
                        "type": "string",
                        "description": "The CloudEvent id: stable across replays, so "
                        "JetStream and subscribers drop repeats.",
                    },
                    CONTENT_TYPE_HEADER: {
                        "type": "string",
                        "const": CLOUDEVENTS_JSON_CONTENT_TYPE,
                        "description": "Structured mode (CloudEvents NATS binding 1.0.3).",
                    },
                    **_TRACE_CONTEXT,
                },
            },
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, only compare) contracts/asyncapi.json, schemas alongside."""
    from devtools.schemas import main as schemas_main

    parser = argparse.ArgumentParser(prog="python -m devtools.asyncapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    args = parser.parse_args(argv)
    return schemas_main(["--check"] if args.check else [])


if __name__ == "__main__":
    sys.exit(main())
