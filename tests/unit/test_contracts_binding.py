"""CloudEvents NATS binding 1.0.3: both content modes, one event, one digest; the NATS subject.

Messages are made by the official Python SDK (``cloudevents`` 2.x). It has no NATS
binding, so its HTTP binary mode is carried over as the NATS binding says: the
attribute headers keep their ``ce-`` names (both bindings percent-encode alike) and
``datacontenttype`` becomes ``ce-datacontenttype``. The Go SDK's style, with
``Content-Type`` for datacontenttype, is read too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from contract_examples import INBOUND_DATA, ULN, inbound_example

from contracts import (
    CLOUDEVENTS_JSON_CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    MSG_ID_HEADER,
    OUTBOUND_HEADERS,
    TRACEPARENT_HEADER,
    ContentMode,
    ContractError,
    RejectionReason,
    content_mode,
    outbound_headers,
    parse_inbound,
)
from contracts.binding import BindingError, binary_attributes

OTHER_ULN = "1000000019"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def sdk_event(event_type: str, **extensions: Any) -> SdkEvent:
    attributes = {
        "type": event_type,
        "source": "https://eportfolio.example.org/centres/12345",
        "id": 'évt 1/"quoted" 100%',  # space, quote, percent and non-ASCII: all encoded
        "time": datetime(2025, 3, 2, 9, 30, tzinfo=UTC),
        "subject": ULN,
        "datacontenttype": "application/json",
        **extensions,
    }
    return SdkEvent(attributes, {"uln": ULN, **INBOUND_DATA[event_type]})


def nats_binary(event: SdkEvent) -> tuple[dict[str, str], bytes]:
    """The SDK's HTTP binary message as the NATS binding carries it."""
    message = to_binary(event, JSONFormat())
    headers = {
        ("ce-datacontenttype" if name.lower() == "content-type" else name): value
        for name, value in message.headers.items()
    }
    return headers, message.body


def nats_structured(event: SdkEvent) -> tuple[dict[str, str], bytes]:
    message = to_structured(event, JSONFormat())
    return {CONTENT_TYPE_HEADER: message.headers["content-type"]}, message.body


def refusal(raw: bytes | str, **kwargs: Any) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_inbound(raw, **kwargs)
    return caught.value


# ---------------------------------------------------------------- both modes alike


@pytest.mark.parametrize("event_type", sorted(INBOUND_DATA))
def test_the_sdks_binary_and_structured_messages_parse_and_digest_alike(event_type: str) -> None:
    event = sdk_event(event_type, traceparent=TRACEPARENT)
    binary = parse_inbound(nats_binary(event)[1], headers=nats_binary(event)[0])
    headers, body = nats_structured(event)
    structured = parse_inbound(body, headers=headers)
    plain = parse_inbound(body)  # no headers at all: structured, as before 1.0.3

    assert binary == structured == plain
    assert binary.id == 'évt 1/"quoted" 100%'
    assert binary.extensions == {"traceparent": TRACEPARENT}
    assert binary.digest() == structured.digest() == plain.digest()
    assert binary.wire_and_digest()[0] == structured.to_wire()


def test_a_redelivery_in_the_other_mode_is_the_same_event() -> None:
    # The digest is of the structured form: what decides duplicate versus conflict.
    message = inbound_example("unit.achieved.v1")
    structured = parse_inbound(json.dumps(message))
    headers = {f"ce-{k}": v for k, v in message.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = "application/json"  # the Go SDK's way
    binary = parse_inbound(json.dumps(message["data"]), headers=headers)
    assert binary.digest() == structured.digest()
    changed = {**headers, "ce-time": "2025-03-02T09:30:01Z"}
    assert parse_inbound(json.dumps(message["data"]), headers=changed).digest() != binary.digest()


def test_an_integer_extension_arrives_as_a_string_in_binary_mode() -> None:
    # A header carries no type (binding §3.1.3.2), so 3 and "3" are different events:
    # a publisher that switches modes should keep its extensions strings.
    event = sdk_event("unit.achieved.v1", partition=3)
    binary = parse_inbound(nats_binary(event)[1], headers=nats_binary(event)[0])
    structured = parse_inbound(nats_structured(event)[1])
    assert (binary.extensions, structured.extensions) == ({"partition": "3"}, {"partition": 3})
    assert binary.digest() != structured.digest()


# ------------------------------------------------------------------- telling modes


@pytest.mark.parametrize(
    ("headers", "mode"),
    [
        (None, ContentMode.STRUCTURED),
        ({}, ContentMode.STRUCTURED),
        ({MSG_ID_HEADER: "x", TRACEPARENT_HEADER: TRACEPARENT}, ContentMode.STRUCTURED),
        ({"Content-Type": "application/cloudevents+json"}, ContentMode.STRUCTURED),
        ({"content-type": "Application/CloudEvents+JSON; charset=utf-8"}, ContentMode.STRUCTURED),
        ({"Content-Type": "application/cloudevents"}, ContentMode.STRUCTURED),
        # The content type wins: ce- headers beside it are only headers (binding §3).
        ({"Content-Type": CLOUDEVENTS_JSON_CONTENT_TYPE, "ce-id": "x"}, ContentMode.STRUCTURED),
        ({"ce-id": "x"}, ContentMode.BINARY),
        ({"CE-ID": "x", "Content-Type": "application/json"}, ContentMode.BINARY),
    ],
)
def test_the_mode_is_told_by_content_type_then_by_ce_headers(
    headers: Mapping[str, str] | None, mode: ContentMode
) -> None:
    assert content_mode(headers) is mode


def test_another_event_format_is_refused() -> None:
    error = refusal(b"{}", headers={"Content-Type": "application/cloudevents+avro"})
    assert "JSON" in error.detail


def headers_of(message: dict[str, Any]) -> dict[str, str]:
    return {f"ce-{k}": v for k, v in message.items() if k != "data"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda h: h.pop("ce-id"), "id"),
        (lambda h: h.update({"Ce-Id": "again"}), "given twice"),
        (lambda h: h.update({"ce-id": "%C0%A0"}), "not UTF-8"),  # overlong: MUST be rejected
        (lambda h: h.update({"ce-id": "50%"}), "%"),
        (lambda h: h.update({"ce-id": "é"}), "US-ASCII"),
        (lambda h: h.update({"ce-data": "{}"}), "body"),
        (lambda h: h.update({"Content-Type": "application/xml"}), "disagree"),
        (lambda h: h.update({"ce-subject": OTHER_ULN}), "data.uln"),
        (lambda h: h.update({"ce-Partition": "x", "ce-a_b": "1"}), "a_b"),
    ],
)
def test_binary_headers_are_read_strictly(change: Any, named: str) -> None:
    message = inbound_example("unit.achieved.v1")
    headers = headers_of(message)
    change(headers)
    error = refusal(json.dumps(message["data"]), headers=headers)
    assert error.reason is RejectionReason.MALFORMED
    assert named in error.detail, error.detail


def test_header_values_are_percent_and_quote_decoded() -> None:
    headers = {
        "ce-id": '"quoted \\"id\\" %41"',
        "ce-source": "urn%3Aeportfolio%3aacme",
        "ce-note": "Euro%20%E2%82%AC%20%F0%9F%98%80",
    }
    assert binary_attributes(headers) == {
        "id": 'quoted "id" A',
        "source": "urn:eportfolio:acme",
        "note": "Euro € 😀",
    }
    with pytest.raises(BindingError):
        binary_attributes({"ce-id": "%E2%82"})  # a cut UTF-8 sequence


def test_a_binary_message_without_a_body_has_no_data() -> None:
    error = refusal(b"", headers=headers_of(inbound_example("unit.achieved.v1")))
    assert "data: required but missing" in error.detail


def test_a_binary_refusal_echoes_the_event_and_digests_its_headers() -> None:
    message = inbound_example()
    headers = headers_of(message)
    body = json.dumps(message["data"]).encode()[:-1]  # not JSON
    error = refusal(body, headers=headers)

    assert error.reason is RejectionReason.MALFORMED
    assert (error.event_id, error.uln) == ("evt-0001", ULN)
    assert isinstance(error.original, dict)
    assert error.original["id"] == "evt-0001"
    assert "1990-05-06" not in json.dumps(error.original)  # the body text, DOB blanked
    other = refusal(body, headers={**headers, "ce-id": "evt-0002"})
    assert other.digest != error.digest


# ------------------------------------------------------------------- NATS subject


@pytest.mark.parametrize("subject", [f"records.in.{ULN}", f"records.in.7.{ULN}"])
def test_the_nats_subject_names_the_events_learner(subject: str) -> None:
    assert parse_inbound(json.dumps(inbound_example()), subject=subject).uln == ULN


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        (f"records.in.{OTHER_ULN}", OTHER_ULN),
        (f"records.in.3.{OTHER_ULN}", OTHER_ULN),
        ("records.in.notauln", "notauln"),
        (f"records.out.eligible.{ULN}", "not records.in"),
        (f"records.in.a.b.{ULN}", "not records.in"),
        (f"records.in..{ULN}", "not records.in"),
    ],
)
def test_an_event_on_another_learners_subject_is_malformed(subject: str, named: str) -> None:
    error = refusal(json.dumps(inbound_example()), subject=subject)
    assert error.reason is RejectionReason.MALFORMED
    assert named in error.detail
    if "names learner" in error.detail:
        assert ULN in error.detail  # both are named
    assert (error.uln, error.nats_subject) == (ULN, subject)


def test_an_unreadable_event_is_filed_under_its_nats_subjects_learner() -> None:
    error = refusal(b"{", subject=f"records.in.2.{OTHER_ULN}")
    assert error.uln == OTHER_ULN


def test_the_nats_subject_is_checked_in_binary_mode_too() -> None:
    message = inbound_example()
    error = refusal(
        json.dumps(message["data"]), headers=headers_of(message), subject=f"records.in.{OTHER_ULN}"
    )
    assert OTHER_ULN in error.detail


# ------------------------------------------------------------------- outbound


def test_outbound_headers_say_structured_mode_and_carry_the_id_and_trace() -> None:
    assert dict(OUTBOUND_HEADERS) == {"Content-Type": "application/cloudevents+json"}
    assert outbound_headers("d-1") == {
        "Content-Type": "application/cloudevents+json",
        "Nats-Msg-Id": "d-1",
    }
    assert outbound_headers("d-1", traceparent=TRACEPARENT, tracestate="a=b") == {
        "Content-Type": "application/cloudevents+json",
        "Nats-Msg-Id": "d-1",
        "traceparent": TRACEPARENT,
        "tracestate": "a=b",
    }
    assert "tracestate" not in outbound_headers("d-1", tracestate="a=b")
    with pytest.raises(TypeError):
        OUTBOUND_HEADERS["Content-Type"] = "x"  # type: ignore[index]
