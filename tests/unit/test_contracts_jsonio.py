"""The fast paths keep the definitions: canonical bytes, member counts, wire form, digests.

Stored digests from earlier versions must still match, so the digest stays the sha256
of ``reference_canonical_json_bytes`` (the standard library's sorted, compact form) of
the event's structured wire form; orjson must write exactly those bytes, and the
parser's shortcut wire form must be exactly ``to_wire()``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from contract_examples import INBOUND_EXAMPLES
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from contracts import canonical_json_bytes, parse_inbound
from contracts.cloudevents import wire_time
from contracts.jsonio import count_members, reference_canonical_json_bytes, sha256_digest

# Digests of fixed events as the json-based code before orjson computed them
# (commit f7d7051): non-ASCII, U+2028, a control character, escapes, extensions of
# each kind and a time spelled other than pydantic writes it.
PINNED = {
    "achievement.revoked.v1": "cec6b100844c8437d95676c9cd5fb0bedb1b46faef0feb08a3965f831869056e",
    "certificate.issued.v1": "7d5ad0396f001f2812a7f03e234b36382ad788e27a3903b04d6400d22f95c47a",
    "credit.transferred.v1": "67b3376377e307510d89670e997032e1e5b89dd633ccf4c889f90468f7904f46",
    "learner.registered.v1": "fd75275fb1fa439eaf87705094ffc23f2393fabd1b7796f942061ff512da6d22",
    "registration.withdrawn.v1": "22045ea3998b579dfae43238cbd88881c677728fee06a8bfffd75dc3a482aa08",
    "unit.achieved.v1": "f3cddfd143c4c98c0bab7950dde78ec8323e4ea5e067362b7ca7583893833fac",
}

# Every code point but the surrogates, which no valid event can hold.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
float_free = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | any_text,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(any_text, children, max_size=6)
    ),
    max_leaves=40,
)


@pytest.mark.parametrize("event_type", sorted(PINNED))
def test_digests_are_those_earlier_versions_stored(event_type: str) -> None:
    message = dict(INBOUND_EXAMPLES[event_type])
    message["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    message["partition"] = 3
    message["flag"] = True
    message["note"] = 'é\u2028\x01"\\/<>'
    message["time"] = "2025-03-02T10:30:00.250+01:00"
    event = parse_inbound(json.dumps(message, ensure_ascii=False).encode())
    assert event.digest() == "sha256:" + PINNED[event_type]


@settings(max_examples=500)
@given(float_free)
def test_orjson_writes_the_reference_canonical_bytes_for_every_float_free_value(
    value: Any,
) -> None:
    assert canonical_json_bytes(value) == reference_canonical_json_bytes(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_may_be_spelled_differently_but_reads_back_the_same(value: float) -> None:
    # Why digests are only of float-free values: 1e-07 is written 1e-7 by orjson.
    assert json.loads(canonical_json_bytes(value)) == json.loads(
        reference_canonical_json_bytes(value)
    )


def test_integers_beyond_64_bits_are_written_the_reference_way() -> None:
    assert canonical_json_bytes({"n": 2**70}) == b'{"n":1180591620717411303424}'


def members(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(members(v) for v in value.values())
    if isinstance(value, list):
        return sum(members(v) for v in value)
    return 0


@settings(max_examples=300)
@given(
    float_free,
    st.sampled_from([None, 0, 2]),
    st.sampled_from([(",", ":"), (", ", ": "), (",", " : ")]),
    st.booleans(),
)
def test_member_counts_are_exact_for_any_json_text(
    value: Any, indent: int | None, separators: tuple[str, str], ascii_only: bool
) -> None:
    text = json.dumps(value, indent=indent, separators=separators, ensure_ascii=ascii_only)
    assert count_members(text) == count_members(text.encode()) == members(value)


def test_a_repeated_key_spells_out_more_members_than_are_read() -> None:
    text = '{"a": "x\\":", "a": {"b:": 1}}'
    assert count_members(text) == 3
    assert members(json.loads(text)) == 2


offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=300)
@given(st.datetimes(timezones=offsets | st.just(UTC)))
def test_wire_time_is_how_pydantic_writes_a_datetime(value: datetime) -> None:
    assert wire_time(value) == TypeAdapter(datetime).dump_python(value, mode="json")


extension_values = (
    any_text.filter(lambda s: len(s) <= 1024)
    | st.integers(-(2**31), 2**31 - 1)
    | st.booleans()
    | st.none()
)
times = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2099, 1, 1), timezones=offsets | st.just(UTC)
)


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(INBOUND_EXAMPLES)),
    st.dictionaries(st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True), extension_values, max_size=4),
    times,
    st.sampled_from(["iso", "upper", "lower"]),
    st.booleans(),
)
def test_the_parsers_wire_form_and_digest_are_those_of_to_wire(
    event_type: str,
    extensions: dict[str, Any],
    time: datetime,
    spelling: str,
    with_content_type: bool,
) -> None:
    message = dict(INBOUND_EXAMPLES[event_type])
    assume(not set(extensions) & set(message))
    message.update(extensions)
    stamp = time.isoformat()
    message["time"] = {"iso": stamp, "upper": stamp.upper(), "lower": stamp.lower()}[spelling]
    if not with_content_type:
        message["datacontenttype"] = None
    if event_type == "learner.registered.v1":
        message["data"] = {**message["data"], "date_of_birth": "1900-01-01"}
    event = parse_inbound(json.dumps(message, ensure_ascii=False))

    wire, digest = event.wire_and_digest()

    assert wire == event.to_wire()
    assert digest == sha256_digest(reference_canonical_json_bytes(event.to_wire()))
    assert digest == event.digest()
    built = type(event).model_validate(event.to_wire())  # the same event, not parsed
    assert built.wire_and_digest() == (wire, digest)
