"""Property-based fuzzing of the contract parser (issue 11): an event or a refusal, nothing else.

Arbitrary bytes, and structured mutations of valid events — values replaced by any
JSON (deep, long, huge numbers), members dropped or added, keys repeated, text cut
short or spliced — in either CloudEvents mode, with and without a NATS subject and
headers. Each must end, within a bounded time, as a parsed event or a ContractError
whose rejection is bounded and carries no date of birth. ``make fuzz`` runs the
coverage-guided fuzzer (atheris) over the same entry point for longer.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import orjson
from contract_examples import INBOUND_EXAMPLES, ULN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import (
    ECHO_MAX_BYTES,
    MAX_DETAIL_CHARS,
    ContractError,
    EventRejected,
    RejectionReason,
    parse_inbound,
)
from contracts.echo import echo_size
from contracts.jsonio import check_bounds

DATE_OF_BIRTH = INBOUND_EXAMPLES["learner.registered.v1"]["data"]["date_of_birth"]
# Generous for a shared, loaded machine; a wedged parser takes forever, not a second.
SECONDS_PER_MESSAGE = 2.0
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**15, max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
    | st.text(max_size=3_000).map(lambda s: s * 3)
    | st.sampled_from(
        ["", ULN, "1000000019", "2025-03-02", "2025-03-02T09:30:00Z", "unit.achieved.v1"]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
deep = st.integers(1, 400).map(lambda n: json.loads("[" * n + "]" * n))
subjects = (
    st.none()
    | st.sampled_from(
        [
            f"records.in.{ULN}",
            f"records.in.4.{ULN}",
            "records.in.1000000019",
            "records.in.x",
            "records.out.a.b",
        ]
    )
    | st.text(max_size=40)
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    message = json.loads(
        json.dumps(INBOUND_EXAMPLES[draw(st.sampled_from(sorted(INBOUND_EXAMPLES)))])
    )
    for _ in range(draw(st.integers(0, 3))):
        target = (
            message
            if draw(st.booleans()) or not isinstance(message.get("data"), dict)
            else message["data"]
        )
        keys = sorted(target) or ["id"]
        key = draw(st.sampled_from(keys) | st.text(max_size=25))
        action = draw(st.sampled_from(["set", "drop", "deep"]))
        if action == "drop":
            target.pop(key, None)
        else:
            target[key] = draw(deep if action == "deep" else json_values)
    return message


@st.composite
def texts(draw: st.DrawFn, message: dict[str, Any]) -> bytes:
    text = json.dumps(message, ensure_ascii=draw(st.booleans()))
    edit = draw(st.sampled_from(["none", "cut", "repeat key", "splice"]))
    if edit == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif edit == "repeat key":
        text = '{"id": "again", ' + text[1:]
    elif edit == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=10)) + text[at:]
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def binary_headers(draw: st.DrawFn, message: dict[str, Any]) -> dict[str, str]:
    headers = {
        f"ce-{name}": quote(str(value), safe="!#$&'()*+,/:;<=>?@[]^_`{|}~-.")
        for name, value in message.items()
        if name != "data"
    }
    for _ in range(draw(st.integers(0, 2))):
        choice = draw(st.sampled_from(["drop", "garbage", "case", "content-type"]))
        name = draw(st.sampled_from(sorted(headers) or ["ce-id"]))
        if choice == "drop":
            headers.pop(name, None)
        elif choice == "garbage":
            headers[draw(st.sampled_from([name, "ce-" + draw(st.text(max_size=8))]))] = draw(
                st.text(max_size=30)
            )
        elif choice == "case":
            headers[name.upper()] = headers.get(name, "x")
        else:
            headers["Content-Type"] = draw(
                st.sampled_from(["application/json", "application/cloudevents+json", "text/plain"])
            )
    return headers


def check_outcome(raw: bytes | str, **kwargs: Any) -> None:
    started = time.perf_counter()
    try:
        event = parse_inbound(raw, **kwargs)
    except ContractError as error:
        check_refusal(error)
    else:
        wire, digest = event.wire_and_digest()
        assert wire == event.to_wire()
        check_bounds(orjson.loads(orjson.dumps(wire)))  # a valid event is within every limit
        assert digest == event.digest()
    assert time.perf_counter() - started < SECONDS_PER_MESSAGE


def strings_of(value: object) -> str:
    """Every string in ``value``, keys included, one a line (not JSON: its escapes
    could spell a date that is not there, as "\\u0001990-05-06" does)."""
    if isinstance(value, dict):
        return "\n".join(strings_of(item) for pair in value.items() for item in pair)
    if isinstance(value, list):
        return "\n".join(strings_of(item) for item in value)
    return value if isinstance(value, str) else ""


def check_refusal(error: ContractError) -> None:
    assert error.reason in (RejectionReason.MALFORMED, RejectionReason.INVALID_ULN)
    assert 0 < len(error.detail) <= MAX_DETAIL_CHARS
    assert echo_size(error.original) <= ECHO_MAX_BYTES
    assert DATE_OF_BIRTH not in strings_of(error.original)
    assert DATE_OF_BIRTH not in error.detail
    EventRejected.model_validate(
        {
            "reason": error.reason,
            "detail": error.detail,
            "original_id": error.event_id,
            "original_source": error.source,
            "original": error.original,
            "decided_on": "2025-03-02",
        }
    )
    assert error.digest.startswith("sha256:")


@FUZZ
@given(st.binary(max_size=3_000), subjects)
def test_arbitrary_bytes_end_as_an_event_or_a_refusal(raw: bytes, subject: str | None) -> None:
    check_outcome(raw, subject=subject)


@FUZZ
@given(st.text(max_size=2_000))
def test_arbitrary_text_ends_as_an_event_or_a_refusal(raw: str) -> None:
    check_outcome(raw)


@FUZZ
@given(st.data(), subjects, st.booleans())
def test_mutated_events_in_structured_mode_end_as_an_event_or_a_refusal(
    data: st.DataObject, subject: str | None, with_content_type: bool
) -> None:
    raw = data.draw(texts(data.draw(mutated_events())))
    headers = {"Content-Type": "application/cloudevents+json"} if with_content_type else None
    check_outcome(raw, subject=subject, headers=headers)


@FUZZ
@given(st.data(), subjects)
def test_mutated_events_in_binary_mode_end_as_an_event_or_a_refusal(
    data: st.DataObject, subject: str | None
) -> None:
    message = data.draw(mutated_events())
    headers = data.draw(binary_headers(message))
    body = data.draw(texts(message["data"])) if "data" in message else b""
    check_outcome(body, subject=subject, headers=headers)


@FUZZ
@given(st.data())
def test_arbitrary_headers_end_as_an_event_or_a_refusal(data: st.DataObject) -> None:
    headers = data.draw(
        st.dictionaries(
            st.sampled_from(["ce-id", "ce-type", "CE-SOURCE", "Content-Type", "ce-x"])
            | st.text(max_size=10),
            st.text(max_size=40),
            max_size=8,
        )
    )
    check_outcome(data.draw(st.binary(max_size=200)), headers=headers)
