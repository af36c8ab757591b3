"""Bounded input (issue 11): every hostile message ends as a ContractError naming the limit.

Each of issue 11's poison messages crashed or wedged the service; here each is refused
as malformed, and the rejection built from the refusal is small enough for one NATS
message (max_payload 1 MiB) with room to spare.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from contract_examples import ULN, inbound_example

from contracts import (
    ECHO_MAX_BYTES,
    LIMITS,
    MAX_DEPTH,
    MAX_ID_CHARS,
    MAX_INTEGER,
    MAX_MESSAGE_BYTES,
    MAX_SOURCE_CHARS,
    MAX_STRING_CHARS,
    ContractError,
    EventRejected,
    EventRejectedEvent,
    RejectionReason,
    canonical_json_bytes,
    parse_inbound,
    parse_outbound,
)
from contracts.echo import echo_size
from contracts.limits import INBOUND_LIMITS

# Far below NATS's 1 MiB: the rejection of anything stays this small.
REJECTION_BOUND = 16 * 1024


def refusal(raw: bytes | str) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_inbound(raw)
    return caught.value


def rejection_bytes(error: ContractError) -> bytes:
    rejected = EventRejected.from_contract_error(error, decided_on=date(2025, 3, 2))
    event = EventRejectedEvent.create(
        id="d-1", time=datetime(2025, 3, 2, tzinfo=UTC), data=rejected, uln=error.uln
    )
    return event.to_json_bytes()


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def assert_refused_within_bounds(error: ContractError, limit: str) -> None:
    assert error.reason is RejectionReason.MALFORMED
    assert limit in error.detail, error.detail
    assert echo_size(error.original) <= ECHO_MAX_BYTES
    assert len(rejection_bytes(error)) <= REJECTION_BOUND
    assert_rejection_reads_back(error)


def assert_rejection_reads_back(error: ContractError) -> None:
    # A subscriber reads a rejection under the same limits as anything else: the echo
    # of a message refused for a limit must not itself break one.
    raw = rejection_bytes(error)
    assert parse_outbound(raw).to_json_bytes() == raw


# ------------------------------------------------------------ issue 11's poison messages


def test_an_event_whose_data_is_nested_250_levels_is_refused_naming_the_depth() -> None:
    message = inbound_example("unit.achieved.v1")
    value: Any = "x"
    for _ in range(250):
        value = {"a": value}
    message["data"]["assessor"] = value
    raw = encode(message)
    assert 1_500 < len(raw) < 2_500  # the ~1.9 KB of the report

    error = refusal(raw)

    assert_refused_within_bounds(error, "MAX_DEPTH")
    # Over a limit the message was still read: the rejection names its event and learner.
    assert (error.event_id, error.uln) == ("evt-0001", ULN)


def test_nesting_beyond_what_orjson_reads_is_refused_naming_the_depth() -> None:
    error = refusal(b"[" * 5_000 + b"]" * 5_000)
    assert_refused_within_bounds(error, "MAX_DEPTH")


def test_an_event_id_of_600_kb_is_refused_naming_the_size() -> None:
    message = inbound_example()
    message["id"] = "x" * 600_000

    error = refusal(encode(message))

    assert_refused_within_bounds(error, "MAX_MESSAGE_BYTES")
    assert error.event_id is None  # never echoed in full, never cut into another id


def test_a_malformed_event_just_under_1_mib_is_refused_naming_the_size() -> None:
    raw = b'{"id": "' + b"x" * (1024 * 1024 - 100) + b'"'
    assert len(raw) < 1024 * 1024

    error = refusal(raw)

    assert_refused_within_bounds(error, "MAX_MESSAGE_BYTES")
    assert isinstance(error.original, str)


def test_an_integer_of_5000_digits_is_refused_not_a_value_error() -> None:
    message = inbound_example()
    raw = encode(message).replace(b'"centre": "12345"', b'"centre": ' + b"7" * 5_000)
    assert_refused_within_bounds(refusal(raw), "MAX_INTEGER")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "\\ud800"}',
        b'{"id": "\\udfff\\ud800"}',
        '{"id": "\ud800"}',
        "\ud800",
    ],
)
def test_lone_surrogates_are_refused(raw: bytes | str) -> None:
    error = refusal(raw)
    assert error.reason is RejectionReason.MALFORMED
    # The echo is publishable: encodable as UTF-8.
    canonical_json_bytes(error.original).decode("utf-8")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_refused(constant: bytes) -> None:
    error = refusal(b'{"id": ' + constant + b"}")
    assert error.reason is RejectionReason.MALFORMED
    assert "not" in error.detail


def test_duplicate_keys_are_still_refused_in_every_position() -> None:
    message = encode(inbound_example())
    top = message.replace(b'"id": "evt-0001"', b'"id": "evt-0001", "id": "evt-0002"')
    inner = message.replace(b'"centre": "12345"', b'"centre": "12345", "centre": "99999"')
    for raw in (top, inner):
        error = refusal(raw)
        assert "duplicate key" in error.detail
        # Which id was meant is unknowable: the rejection names none, echoes the text.
        assert error.event_id is None
        assert isinstance(error.original, str)


# --------------------------------------------------------------- each limit by name


@pytest.mark.parametrize(
    ("change", "limit"),
    [
        (lambda m: m.update(id="x" * (MAX_ID_CHARS + 1)), "MAX_ID_CHARS"),
        (lambda m: m.update(id="x" * (MAX_STRING_CHARS + 1)), "MAX_ID_CHARS"),
        (lambda m: m.update(source="urn:" + "x" * MAX_SOURCE_CHARS), "MAX_SOURCE_CHARS"),
        (lambda m: m["data"].update(centre="x" * (MAX_STRING_CHARS + 1)), "MAX_STRING_CHARS"),
        (lambda m: m.update(note="x" * (MAX_STRING_CHARS + 1)), "MAX_STRING_CHARS"),
        (lambda m: m.update({"k" * (MAX_STRING_CHARS + 1): 1}), "MAX_STRING_CHARS"),
        (lambda m: m.update(note=nested(MAX_DEPTH)), "MAX_DEPTH"),
        (lambda m: m.update(seq=MAX_INTEGER + 1), "MAX_INTEGER"),
        (lambda m: m.update(seq=-(10**30)), "MAX_INTEGER"),
        (lambda m: m.update(seq=1e300), "MAX_INTEGER"),
        (lambda m: m.update(note="x" * MAX_MESSAGE_BYTES), "MAX_MESSAGE_BYTES"),
    ],
)
def test_over_each_limit_is_malformed_naming_it(change: Any, limit: str) -> None:
    message = inbound_example()
    change(message)
    assert_refused_within_bounds(refusal(encode(message)), limit)


@pytest.mark.parametrize("number", [MAX_INTEGER + 1, -(MAX_INTEGER + 1), 1e300])
def test_a_rejection_echoing_a_number_beyond_the_limit_reads_back(number: float) -> None:
    message = inbound_example()
    message["data"] = number
    error = refusal(encode(message))
    assert error.original["data"] == repr(number)
    assert_rejection_reads_back(error)


def test_a_rejection_echoing_data_nested_to_the_limit_reads_back() -> None:
    # Within MAX_DEPTH as sent, so refused for something else (no such ULN), but
    # two levels deeper once it is a rejection's data.original.
    message = inbound_example()
    message["subject"] = "1234567890"
    message["data"] = nested(MAX_DEPTH - 2)
    error = refusal(encode(message))
    assert "MAX_DEPTH" not in error.detail
    assert_rejection_reads_back(error)


def test_revokes_names_an_id_and_has_the_id_limit() -> None:
    message = inbound_example("achievement.revoked.v1")
    message["data"]["revokes"] = "x" * (MAX_ID_CHARS + 1)
    assert_refused_within_bounds(refusal(encode(message)), "MAX_ID_CHARS")


def test_at_each_limit_an_event_is_accepted() -> None:
    message = inbound_example()
    message["id"] = "x" * MAX_ID_CHARS
    message["source"] = "urn:" + "x" * (MAX_SOURCE_CHARS - 4)
    message["data"]["centre"] = "x" * MAX_STRING_CHARS
    message["note"] = "y" * MAX_STRING_CHARS
    message["seq"] = 2**31 - 1
    assert parse_inbound(encode(message)).extensions == {
        "note": "y" * MAX_STRING_CHARS,
        "seq": 2**31 - 1,
    }


def test_extension_integers_are_32_bit() -> None:
    message = inbound_example()
    message["seq"] = 2**31
    error = refusal(encode(message))
    assert "32-bit" in error.detail


def test_the_limits_table_names_every_limit_once() -> None:
    names = [limit.name for limit in LIMITS]
    assert len(names) == len(set(names))
    assert {"MAX_MESSAGE_BYTES", "MAX_ID_CHARS", "MAX_SOURCE_CHARS", "MAX_STRING_CHARS"} <= set(
        names
    )
    assert {"MAX_DEPTH", "MAX_INTEGER", "ECHO_MAX_BYTES", "MAX_DETAIL_CHARS"} <= set(names)
    # Far below NATS's max_payload, which is what makes a rejection always fit.
    assert MAX_MESSAGE_BYTES + ECHO_MAX_BYTES < 1024 * 1024


# ------------------------------------------------------------------ date of birth


@pytest.mark.parametrize(
    ("born", "time"),
    [
        ("2030-01-01", "2025-03-02T09:30:00Z"),  # in the future
        ("2025-03-03", "2025-03-02T09:30:00Z"),  # the day after the event
        ("2025-03-02", "2025-03-01T23:30:00-01:00"),  # after the event's own day
    ],
)
def test_a_date_of_birth_after_the_events_time_is_malformed(born: str, time: str) -> None:
    message = inbound_example()
    message["data"]["date_of_birth"] = born
    message["time"] = time

    error = refusal(encode(message))

    assert error.reason is RejectionReason.MALFORMED
    assert "data.date_of_birth" in error.detail
    assert born not in error.detail  # a refusal never quotes a date of birth
    assert "date_of_birth" not in json.dumps(error.original)


def test_a_learner_born_on_the_day_of_the_event_is_not_refused_here() -> None:
    message = inbound_example()
    message["data"]["date_of_birth"] = "2025-03-02"
    assert parse_inbound(encode(message)).data.date_of_birth == date(2025, 3, 2)


@pytest.mark.parametrize("born", ["1990-02-30", "06/05/1990", "1990-5-6", 19900506])
def test_a_bad_date_of_birth_is_named_but_never_quoted(born: object) -> None:
    message = inbound_example()
    message["data"]["date_of_birth"] = born
    error = refusal(encode(message))
    assert "data.date_of_birth" in error.detail
    assert str(born) not in error.detail


def test_the_readme_states_the_limits_the_code_enforces() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for limit in INBOUND_LIMITS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{limit.name}` |"))
        if limit.name != "MAX_INTEGER":
            assert f"{limit.value:,} {limit.unit}" in row, row
    assert f"`ECHO_MAX_BYTES` = {ECHO_MAX_BYTES:,} bytes" in readme
