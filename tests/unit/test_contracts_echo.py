"""The rejection's echo: personal fields removed, within ECHO_MAX_BYTES, whatever was refused."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from contract_examples import inbound_example
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    ECHO_MAX_BYTES,
    MAX_DETAIL_CHARS,
    ContractError,
    EventRejected,
    RejectionReason,
    echo_of,
    parse_inbound,
)
from contracts.echo import DATED_FIELDS, REMOVED, TRUNCATED, echo_size, is_echo, is_personal
from devtools.schemas import CONTRACTS_DIR

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=30), children, max_size=8)
    ),
    max_leaves=60,
)


def test_the_date_of_birth_is_removed_and_everything_else_kept() -> None:
    message = inbound_example()
    echo = echo_of(message)
    assert isinstance(echo, dict)
    assert "date_of_birth" not in echo["data"]
    del message["data"]["date_of_birth"]
    assert echo == message


@pytest.mark.parametrize(
    "name", ["date_of_birth", "dateOfBirth", "DOB", "dob", "birth_date", "birthDate", "Birthday"]
)
def test_a_member_named_like_a_date_of_birth_is_removed_wherever_it_is(name: str) -> None:
    echo = echo_of({"data": {"x": [{name: "1990-05-06", "kept": 1}]}, name: "1990-05-06"})
    assert echo == {"data": {"x": [{"kept": 1}]}}
    assert is_personal(name)


def test_names_are_matched_loosely_for_birth() -> None:
    assert all(is_personal(name) for name in ("Adate_of_birth", "place_of_birth", "ce-dob"))
    assert not any(is_personal(name) for name in ("uln", "centre", "dobson", "registered_on"))


def test_dates_are_kept_only_in_the_contracts_own_date_fields() -> None:
    message = inbound_example()
    message["data"]["date_ofXbirth"] = "1990-05-06"  # mangled beyond any name rule
    message["data"]["born"] = "1990-05-06T00:00:00Z"
    message["note"] = ["on 1990-05-06", {"when": "1990-05-06"}]
    echo = echo_of(message)
    assert "1990-05-06" not in json.dumps(echo)
    assert isinstance(echo, dict)
    assert echo["data"]["registered_on"] == "2024-09-02"  # type: ignore[index]
    assert echo["time"] == message["time"]
    assert echo["note"] == ["on [date removed]", {"when": "[date removed]"}]


def test_the_dated_fields_are_the_contracts_date_fields_less_the_date_of_birth() -> None:
    dated: set[str] = set()
    for path in (CONTRACTS_DIR / "schemas").glob("*.json"):
        stack: list[Any] = [json.loads(path.read_text(encoding="utf-8"))]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for name, sub in node.get("properties", {}).items():
                    text = json.dumps(sub)
                    if '"format": "date"' in text or '"format": "date-time"' in text:
                        dated.add(name)
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    assert dated - {"date_of_birth"} == DATED_FIELDS


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"data": {"date_of_birth": "1990-05-06", "centre": ', "1990-05-06"),
        ('{"dob":1990-05-06,', "1990-05-06"),
        ('{"DateOfBirth" :  "06/05/1990"', "06/05/1990"),
        ('{"date_of_birth": "1990-05-0', "1990-05-0"),
    ],
)
def test_in_unreadable_text_the_value_of_a_date_of_birth_is_blanked(text: str, value: str) -> None:
    echo = echo_of(text.encode())
    assert isinstance(echo, str)
    assert value not in echo
    assert REMOVED in echo


def test_a_refusal_of_an_unreadable_registration_keeps_no_date_of_birth() -> None:
    raw = json.dumps(inbound_example()).encode()[:-1]  # cut short: not JSON
    with pytest.raises(ContractError) as caught:
        parse_inbound(raw)
    assert "1990-05-06" not in json.dumps(caught.value.original)


def test_a_small_object_is_echoed_whole() -> None:
    message = {"id": "e", "data": {"note": "x" * 1_000}}
    assert echo_of(message) == message


def test_an_object_over_the_bound_has_long_strings_cut() -> None:
    message = {"id": "e", "data": {"note": "x" * 20_000}}
    echo = echo_of(message)
    assert isinstance(echo, dict)
    assert echo["id"] == "e"
    assert str(echo["data"]["note"]).endswith(TRUNCATED)  # type: ignore[index]
    assert echo_size(echo) <= ECHO_MAX_BYTES


def test_an_object_still_over_the_bound_is_echoed_as_cut_text() -> None:
    message = {f"k{n:04}": "x" * 250 for n in range(30)} | {"many": list(range(3_000))}
    echo = echo_of(message)
    assert isinstance(echo, dict)  # members cut: 32 at most
    huge = {f"k{n:04}": {f"j{m}": "y" * 250 for m in range(32)} for n in range(32)}
    text = echo_of(huge)
    assert isinstance(text, str)
    assert text.endswith(TRUNCATED)
    assert text.startswith('{"k0000":{')
    assert echo_size(text) <= ECHO_MAX_BYTES


def test_text_that_grows_when_escaped_is_still_within_the_bound() -> None:
    # Each control character takes six bytes as a JSON escape.
    echo = echo_of("\x01" * 50_000)
    assert isinstance(echo, str)
    assert echo_size(echo) <= ECHO_MAX_BYTES


def test_undecodable_bytes_and_lone_surrogates_are_replaced() -> None:
    assert echo_of(b"\xffnot json") == "\ufffdnot json"
    assert echo_of("{\ud800") == "{?"


def keys_of(value: object) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(key for item in value.values() for key in keys_of(item))]
    if isinstance(value, list):
        return [key for item in value for key in keys_of(item)]
    return []


@settings(max_examples=300)
@given(json_values)
def test_any_parsed_value_echoes_within_the_bound_with_no_personal_member(value: Any) -> None:
    message = {"data": value, "date_of_birth": "1990-05-06"}
    echo = echo_of(message)
    assert echo_size(echo) <= ECHO_MAX_BYTES
    assert not any(is_personal(key) for key in keys_of(echo))
    assert "1990-05-06" not in json.dumps(echo)


@settings(max_examples=300)
@given(st.binary(max_size=20_000) | st.text(max_size=20_000))
def test_any_text_echoes_within_the_bound(raw: bytes | str) -> None:
    echo = echo_of(raw)
    assert isinstance(echo, str)
    assert echo_size(echo) <= ECHO_MAX_BYTES
    echo.encode("utf-8")  # publishable


def test_a_rejection_carries_the_echo_of_whatever_original_it_is_given() -> None:
    # The domain's own refusals hand over the whole event: the model makes the echo.
    message = inbound_example() | {"note": "x" * (2 * ECHO_MAX_BYTES)}
    rejected = EventRejected(
        reason=RejectionReason.LEARNER_UNDER_MINIMUM_AGE,
        detail="x" * (2 * MAX_DETAIL_CHARS),
        original_id="evt-0001",
        original_source="urn:eportfolio:acme",
        original=message,
        decided_on=date(2025, 3, 2),
    )
    assert rejected.original == echo_of(message)
    assert echo_size(rejected.original) <= ECHO_MAX_BYTES
    assert len(rejected.detail) == MAX_DETAIL_CHARS
    assert EventRejected.model_validate_json(rejected.model_dump_json()) == rejected


@settings(max_examples=300)
@given(json_values | st.text(max_size=10_000))
def test_a_rejection_keeps_an_echo_as_it_is(value: Any) -> None:
    echo = echo_of({"data": value} if not isinstance(value, str) else value)
    assert is_echo(echo)
    rejected = EventRejected(
        reason=RejectionReason.MALFORMED,
        detail="x",
        original_id=None,
        original_source=None,
        original=echo,
        decided_on=date(2025, 3, 2),
    )
    assert rejected.original == echo


def test_a_contract_error_bounds_its_detail_and_drops_oversized_ids() -> None:
    error = ContractError(
        RejectionReason.MALFORMED,
        "x" * 10_000,
        b"{}",
        event_id="i" * 10_000,
        source="s" * 10_000,
        subject="u" * 10_000,
    )
    assert len(error.detail) == MAX_DETAIL_CHARS
    assert (error.event_id, error.source, error.subject) == (None, None, None)
    assert error.original == {}
