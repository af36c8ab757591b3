"""Inbound contracts: SPEC examples parse; looser messages are refused, naming the field."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts import (
    INBOUND_EVENT_TYPES,
    ContractError,
    InboundEnvelope,
    LearnerRegistered,
    LearnerRegisteredEvent,
    RejectionReason,
    parse_inbound,
    parse_status_request,
    raw_digest,
)

ULN = "1234567899"
OTHER_ULN = "1000000019"

# One SPEC.md §5 example per inbound type: the data fields and nothing else.
DATA: dict[str, dict[str, Any]] = {
    "learner.registered.v1": {
        "qualification": "500/9203/0",
        "registered_on": "2024-09-02",
        "date_of_birth": "1990-05-06",
        "centre": "12345",
    },
    "unit.achieved.v1": {
        "unit": "J/601/1630",
        "achieved_on": "2024-11-15",
        "assessor": "A. Assessor",
    },
    "credit.transferred.v1": {
        "unit": "J/601/1630",
        "achieved_on": "2023-06-30",
        "awarding_organisation": "City & Guilds",
        "certificate_ref": "CG-2023-0042",
    },
    "achievement.revoked.v1": {"revokes": "evt-0002", "reason": "assessment malpractice"},
    "registration.withdrawn.v1": {"qualification": "500/9203/0", "withdrawn_on": "2025-01-10"},
    "certificate.issued.v1": {
        "qualification": "500/9203/0",
        "issued_on": "2025-03-01",
        "certificate_number": "OCR-000123",
    },
}
EFFECTIVE_DATE_FIELD = {
    "learner.registered.v1": "registered_on",
    "unit.achieved.v1": "achieved_on",
    "credit.transferred.v1": "achieved_on",
    "achievement.revoked.v1": None,
    "registration.withdrawn.v1": "withdrawn_on",
    "certificate.issued.v1": "issued_on",
}


def event(event_type: str = "learner.registered.v1", uln: str = ULN) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "evt-0001",
        "source": "https://eportfolio.example.org/centres/12345",
        "type": event_type,
        "time": "2025-03-02T09:30:00Z",
        "subject": uln,
        "datacontenttype": "application/json",
        "data": {"uln": uln, **DATA[event_type]},
    }


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def refusal(message: dict[str, Any] | bytes | str) -> ContractError:
    raw = encode(message) if isinstance(message, dict) else message
    with pytest.raises(ContractError) as caught:
        parse_inbound(raw)
    return caught.value


def changed(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    message = copy.deepcopy(event())
    change(message)
    return message


# ------------------------------------------------------------------ what SPEC lists


def test_the_inbound_types_are_exactly_those_of_spec() -> None:
    assert set(INBOUND_EVENT_TYPES) == set(DATA)


def test_the_rejection_reasons_are_exactly_those_of_spec() -> None:
    assert [reason.value for reason in RejectionReason] == [
        "malformed",
        "invalid_uln",
        "unknown_qualification",
        "unknown_unit",
        "future_dated",
        "registration_outside_accreditation_period",
        "learner_under_minimum_age",
        "already_registered",
        "not_registered",
        "unknown_achievement",
        "conflicting_duplicate",
    ]


@pytest.mark.parametrize("event_type", sorted(DATA))
def test_every_inbound_type_parses_from_a_spec_shaped_example(event_type: str) -> None:
    parsed = parse_inbound(encode(event(event_type)))

    assert type(parsed) is INBOUND_EVENT_TYPES[event_type]
    assert (parsed.id, parsed.source, parsed.type) == (
        "evt-0001",
        "https://eportfolio.example.org/centres/12345",
        event_type,
    )
    assert parsed.time == datetime(2025, 3, 2, 9, 30, tzinfo=UTC)
    assert parsed.uln == parsed.subject == parsed.data.uln == ULN
    assert parsed.data.model_dump(mode="json") == event(event_type)["data"]
    field = EFFECTIVE_DATE_FIELD[event_type]
    expected = None if field is None else date.fromisoformat(DATA[event_type][field])
    assert parsed.effective_on == expected


def test_optional_attributes_may_be_absent_and_extensions_are_kept() -> None:
    message = changed(lambda m: m.pop("datacontenttype"))
    message["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    message["partition"] = 3
    message["comexampleempty"] = None  # a null attribute is an absent one

    parsed = parse_inbound(encode(message))

    assert parsed.datacontenttype is None
    assert parsed.extensions == {"traceparent": message["traceparent"], "partition": 3}
    assert "comexampleempty" not in parse_inbound(parsed.to_json_bytes()).extensions


def test_datacontenttype_may_carry_parameters() -> None:
    message = changed(lambda m: m.update(datacontenttype="application/json; charset=utf-8"))
    assert parse_inbound(encode(message)).datacontenttype == "application/json; charset=utf-8"


def test_time_may_have_any_whole_minute_offset_and_fractional_seconds() -> None:
    message = changed(lambda m: m.update(time="2025-03-02T10:30:00.250+01:00"))
    parsed = parse_inbound(encode(message))
    assert parsed.time == datetime(2025, 3, 2, 9, 30, 0, 250000, tzinfo=UTC)


def test_create_then_serialise_then_parse_gives_the_same_event() -> None:
    created = LearnerRegisteredEvent.create(
        id="evt-9",
        source="urn:eportfolio:acme",
        time=datetime(2025, 3, 2, 9, 30, tzinfo=UTC),
        data=LearnerRegistered(
            uln=ULN,
            qualification="501/0232/1",
            registered_on=date(2025, 1, 6),
            date_of_birth=date(2000, 2, 29),
            centre="C-1",
        ),
    )
    assert created.subject == ULN
    assert parse_inbound(created.to_json_bytes()) == created


# ---------------------------------------------------------------- strictness


@pytest.mark.parametrize(
    ("change", "reason", "named"),
    [
        (lambda m: m["data"].update(nickname="Jo"), "malformed", "data.nickname"),
        (lambda m: m["data"].pop("centre"), "malformed", "data.centre"),
        (lambda m: m["data"].update(centre=12345), "malformed", "data.centre"),
        (lambda m: m["data"].update(centre=""), "malformed", "data.centre"),
        (lambda m: m["data"].update(registered_on="2025-02-30"), "malformed", "data.registered_on"),
        (lambda m: m["data"].update(registered_on="2025-2-3"), "malformed", "data.registered_on"),
        (
            lambda m: m["data"].update(registered_on="2024-09-02T00:00:00Z"),
            "malformed",
            "data.registered_on",
        ),
        (lambda m: m["data"].update(registered_on=20240902), "malformed", "data.registered_on"),
        (lambda m: m["data"].update(date_of_birth="02/09/1990"), "malformed", "data.date_of_birth"),
        (lambda m: m.update(time="2025-03-02T09:30:00"), "malformed", "time"),
        (lambda m: m.update(time="2025-03-02"), "malformed", "time"),
        (lambda m: m.update(time="2025-02-30T09:30:00Z"), "malformed", "time"),
        (lambda m: m.update(time=1740907800), "malformed", "time"),
        (lambda m: m.pop("time"), "malformed", "time"),
        (lambda m: m.pop("subject"), "malformed", "subject"),
        (lambda m: m.pop("id"), "malformed", "id"),
        (lambda m: m.update(id=""), "malformed", "id"),
        (lambda m: m.update(id=7), "malformed", "id"),
        (lambda m: m.pop("source"), "malformed", "source"),
        (lambda m: m.update(source="not a uri"), "malformed", "source"),
        (lambda m: m.pop("specversion"), "malformed", "specversion"),
        (lambda m: m.update(specversion="0.3"), "malformed", "specversion"),
        (lambda m: m.update(datacontenttype="application/xml"), "malformed", "datacontenttype"),
        (lambda m: m.pop("data"), "malformed", "data"),
        (lambda m: m.update(data=None), "malformed", "data"),
        (lambda m: m.update(data="{}"), "malformed", "data"),
        (lambda m: m.update(type="learner.registered.v2"), "malformed", "type"),
        (lambda m: m.pop("type"), "malformed", "type"),
        (lambda m: m.update(Partition=1), "malformed", "'Partition'"),
        (lambda m: m.update(partition={"a": 1}), "malformed", "'partition'"),
        (lambda m: m.update(data_base64="e30="), "malformed", "data_base64"),
        (lambda m: m.update(subject=OTHER_ULN), "malformed", "data.uln"),
        (lambda m: m.update(subject="1234567898"), "invalid_uln", "subject"),
        (lambda m: m["data"].update(uln="123456789"), "invalid_uln", "data.uln"),
        (lambda m: m["data"].update(uln="12345678999"), "invalid_uln", "data.uln"),
        (lambda m: m["data"].update(uln="12345678a9"), "invalid_uln", "data.uln"),
        (lambda m: m["data"].update(uln=1234567899), "malformed", "data.uln"),
    ],
)
def test_a_looser_message_is_refused_naming_the_field(
    change: Callable[[dict[str, Any]], object], reason: str, named: str
) -> None:
    error = refusal(changed(change))
    assert error.reason == reason
    assert named in error.detail


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("unit.achieved.v1", "unit", "J6011630"),
        ("unit.achieved.v1", "unit", "4430-401"),  # an alias is not a URN on the wire
        ("credit.transferred.v1", "awarding_organisation", None),
        ("achievement.revoked.v1", "revokes", ""),
        ("registration.withdrawn.v1", "withdrawn_on", "2025-13-01"),
        ("certificate.issued.v1", "certificate_number", 123),
    ],
)
def test_each_type_checks_its_own_fields(event_type: str, field: str, value: object) -> None:
    message = event(event_type)
    message["data"][field] = value
    error = refusal(message)
    assert error.reason is RejectionReason.MALFORMED
    assert f"data.{field}" in error.detail


def test_a_mixture_of_faults_is_malformed_not_invalid_uln() -> None:
    error = refusal(changed(lambda m: (m.update(subject="1"), m["data"].pop("centre"))))
    assert error.reason is RejectionReason.MALFORMED


def test_a_mismatched_subject_is_filed_under_the_subject_it_came_on() -> None:
    error = refusal(changed(lambda m: m.update(subject=OTHER_ULN)))
    assert (error.subject, error.uln) == (OTHER_ULN, OTHER_ULN)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"{", "not JSON"),
        (b"", "not JSON"),
        (b"[]", "an array"),
        (b'"learner.registered.v1"', "a string"),
        (b'{"id": "a", "id": "b"}', "duplicate key"),
        (b'{"id": NaN}', "NaN"),
        (b'{"id": 1e999}', "MAX_INTEGER"),
        (b'{"id": "\xff"}', "UTF-8"),
        (b'{"id": "\\ud800"}', "surrogate"),
    ],
)
def test_what_is_not_one_strict_json_object_is_malformed(raw: bytes, named: str) -> None:
    error = refusal(raw)
    assert error.reason is RejectionReason.MALFORMED
    assert named in error.detail
    assert (error.event_id, error.source, error.subject, error.uln) == (None, None, None, None)


def test_a_refusal_keeps_what_it_could_read_of_the_message() -> None:
    message = changed(lambda m: m["data"].update(centre=None))
    raw = encode(message)
    error = refusal(raw)

    assert error.event_id == "evt-0001"
    assert error.source == "https://eportfolio.example.org/centres/12345"
    assert error.subject == error.uln == ULN
    # The echo is the message less its personal field (test_contracts_echo.py).
    del message["data"]["date_of_birth"]
    assert error.original == message
    assert error.raw == raw


def test_an_unreadable_message_is_kept_as_text() -> None:
    assert refusal(b"\xffnot json").original == "\ufffdnot json"
    assert refusal("{\ud800").original == "{?"


# ------------------------------------------------------------------- digests


def test_the_digest_is_stable_under_key_order_and_whitespace() -> None:
    message = event("unit.achieved.v1")
    message["traceparent"] = "00-abc-01"
    reordered = dict(reversed(list(message.items())))
    reordered["data"] = dict(reversed(list(message["data"].items())))
    compact = json.dumps(message, separators=(",", ":")).encode()
    spaced = json.dumps(reordered, indent=4).encode()
    assert compact != spaced

    digest = parse_inbound(compact).digest()

    assert parse_inbound(spaced).digest() == digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["data"].update(assessor="B. Assessor"),
        lambda m: m.update(time="2025-03-02T09:30:01Z"),
        lambda m: m.update(traceparent="00-abc-01"),
        lambda m: m.update(id="evt-0002"),
    ],
)
def test_any_change_of_content_changes_the_digest(
    change: Callable[[dict[str, Any]], object],
) -> None:
    message = event("unit.achieved.v1")
    other = copy.deepcopy(message)
    change(other)
    assert parse_inbound(encode(message)).digest() != parse_inbound(encode(other)).digest()


def test_a_refusal_digests_the_bytes_as_received() -> None:
    raw = encode(changed(lambda m: m.pop("time")))
    error = refusal(raw)
    assert error.digest == raw_digest(raw) == raw_digest(raw.decode())
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", error.digest)
    assert refusal(raw + b" ").digest != error.digest


def test_distinct_strings_never_share_a_refusal_digest() -> None:
    # "replace" would map both lone surrogates to "?"; surrogatepass keeps them apart.
    assert refusal("\ud800").digest != refusal("\ud801").digest


# ------------------------------------------------------------------- status


def test_a_status_request_names_a_learner_and_optionally_a_day() -> None:
    assert parse_status_request(b'{"uln": "1234567899"}').as_of is None
    request = parse_status_request(b'{"uln": "1234567899", "as_of": "2025-01-31"}')
    assert (request.uln, request.as_of) == (ULN, date(2025, 1, 31))


@pytest.mark.parametrize(
    ("raw", "reason", "named"),
    [
        (b'{"uln": "1234567898"}', "invalid_uln", "uln"),
        (b'{"uln": "1234567899", "as_of": "2025-02-30"}', "malformed", "as_of"),
        (b'{"uln": "1234567899", "asof": "2025-01-31"}', "malformed", "asof"),
        (b"{}", "malformed", "uln"),
    ],
)
def test_a_bad_status_request_is_refused(raw: bytes, reason: str, named: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_status_request(raw)
    assert caught.value.reason == reason
    assert named in caught.value.detail


def test_every_inbound_class_is_an_inbound_envelope() -> None:
    assert all(issubclass(cls, InboundEnvelope) for cls in INBOUND_EVENT_TYPES.values())
