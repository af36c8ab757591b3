"""Fuzzing ``LearnerRecords.receive_batch`` on a real SQLite store (issue 11 item 2).

Batches of a few messages each: arbitrary bytes and text, and structured mutations of
valid loadgen events (a value replaced by any JSON, deep, long or huge; a member
dropped or added; the type changed; the text cut or spliced), some with a NATS
subject. Whatever arrives, every message ends as recorded, duplicate or rejected;
the batch never raises (a ``MessageFault`` would park a learner's whole stream); and
each rejection is one publishable CloudEvent that fits in one NATS message.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from learner_histories import bundled_catalogue, busy_profile

from contracts import parse_outbound
from devtools.loadgen import learner_history
from domain.learner import DecisionKind
from services.application.clock import FixedClock
from services.application.records import Inbound, LearnerRecords
from services.entrypoints.wiring import open_records

# NATS's default max_payload, which the service's streams keep (Streams.max_msg_size).
ONE_MESSAGE = 1024 * 1024
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def fresh_records() -> Iterator[LearnerRecords]:
    with tempfile.TemporaryDirectory() as tmp:
        records = open_records(
            str(Path(tmp) / "fuzz.sqlite"), bundled_catalogue(), FixedClock(date(2026, 6, 30))
        )
        try:
            yield records
        finally:
            records.close()


@st.composite
def valid_lines(draw: st.DrawFn) -> list[bytes]:
    """A learner's loadgen history (mistakes included): the material to mutate."""
    seed = draw(st.integers(1, 500))
    n = draw(st.integers(1, 5_000))
    return learner_history(bundled_catalogue(), busy_profile(seed, 1, n), n)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**60)
    | st.integers(max_value=-(10**18))
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["", "1000000019", "2016-02-30", "2016-01-04", "Z/999/9999", "\u0000"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
# Shapes that have stopped the service (issue 11): nesting hundreds deep, strings of
# hundreds of KB, integers of thousands of digits. The nesting and the integers are
# written into the text for a placeholder: Python's json cannot write them itself.
hostile = (
    st.integers(50, 3_000).map(lambda n: f"@@deep:{n}@@")
    | st.integers(1, 9).map(lambda k: "x" * (100_000 * k))
    | st.integers(1_000, 6_000).map(lambda n: f"@@digits:{n}@@")
)
_PLACEHOLDER = re.compile(r'"@@(deep|digits):(\d+)@@"')


def _unfold(found: re.Match[str]) -> str:
    n = int(found.group(2))
    return "[" * n + "]" * n if found.group(1) == "deep" else "9" * n


def any_text(size: int) -> st.SearchStrategy[str]:
    """Text, now and then with lone surrogates: a str handed over need not be UTF-8."""
    surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    return st.text(max_size=size) | st.text(st.characters() | surrogates, max_size=size)


EVENT_TYPES = [
    "learner.registered.v1",
    "unit.achieved.v1",
    "credit.transferred.v1",
    "achievement.revoked.v1",
    "registration.withdrawn.v1",
    "certificate.issued.v1",
    "certification.eligible.v1",
]


@st.composite
def mutated(draw: st.DrawFn, lines: list[bytes], extreme: bool) -> bytes | str:
    """One of the learner's lines, perhaps with its JSON changed, perhaps its text."""
    raw = draw(st.sampled_from(lines))
    try:
        message: Any = json.loads(raw)
    except ValueError:
        return raw  # a loadgen mistake already cut short
    for _ in range(draw(st.integers(0, 3))):
        data = message.get("data") if isinstance(message, dict) else None
        target = data if isinstance(data, dict) and draw(st.booleans()) else message
        if not isinstance(target, dict):
            break
        key = draw(st.sampled_from(sorted(target) or ["id"]) | st.text(max_size=12))
        actions = ["set", "drop", "type", *(["hostile"] * extreme)]
        action = draw(st.sampled_from(actions))
        if action == "drop":
            target.pop(key, None)
        elif action == "type":
            message["type"] = draw(st.sampled_from(EVENT_TYPES))
        else:
            target[key] = draw(hostile if action == "hostile" else json_values)
    text = _PLACEHOLDER.sub(_unfold, json.dumps(message, ensure_ascii=draw(st.booleans())))
    edit = draw(st.sampled_from(["none", "none", "cut", "splice", "repeat key"]))
    if edit == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif edit == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(any_text(8)) + text[at:]
    elif edit == "repeat key":
        text = '{"id": "again", ' + text[1:]
    if draw(st.integers(0, 4)) == 0:
        return text  # a str, as the application takes from a caller
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def batches(draw: st.DrawFn, extreme: bool = False) -> list[Inbound | bytes | str]:
    """1-6 messages about one learner (and strangers): mutated, as sent, or noise."""
    lines = draw(valid_lines())
    noise = st.binary(max_size=200) | any_text(100)
    one = mutated(lines, extreme) | st.sampled_from(lines) | noise
    messages: list[Inbound | bytes | str] = []
    for payload in draw(st.lists(one, min_size=1, max_size=6)):
        if isinstance(payload, bytes) and draw(st.booleans()):
            token = draw(st.sampled_from([lines_uln(lines), "1000000019", "unknown", "x.y"]))
            messages.append(Inbound(payload, subject=f"records.in.{token}"))
        else:
            messages.append(payload)
    return messages


def lines_uln(lines: list[bytes]) -> str:
    subject = json.loads(lines[0])["subject"]
    assert isinstance(subject, str)
    return subject


def check(messages: list[Inbound | bytes | str]) -> None:
    """Each message recorded, a duplicate or rejected, and each rejection publishable in
    one message; the same batch again changes nothing (every message a duplicate)."""
    with fresh_records() as records:
        outcomes = records.receive_batch(messages)
        again = records.receive_batch(messages)

    assert len(outcomes) == len(messages) == len(again)
    for outcome in outcomes:
        assert outcome.outcome in {"recorded", "duplicate", "rejected"}, outcome
        rejections = [d for d in outcome.decisions if d.kind is DecisionKind.REJECTED]
        if outcome.outcome == "rejected":
            assert outcome.reason and len(rejections) == 1, outcome
        else:
            assert rejections == [], outcome
        for decision in rejections:
            size = len(decision.cloudevent.encode())
            assert size < ONE_MESSAGE, (outcome.reason, size)
            # A subscriber reads it with the contracts' own parser, under the same
            # limits as anything else: an echo must not break one.
            read = parse_outbound(decision.cloudevent.encode())
            assert (read.id, read.type) == (decision.id, "event.rejected.v1")
    assert [o.outcome for o in again] == ["duplicate"] * len(messages), [
        (o.outcome, o.reason) for o in again
    ]


@FUZZ
@given(batches())
def test_every_message_ends_recorded_duplicate_or_rejected_and_a_rejection_fits(
    messages: list[Inbound | bytes | str],
) -> None:
    check(messages)


@settings(FUZZ, max_examples=40)
@given(batches(extreme=True))
def test_hostile_messages_never_stop_a_batch_and_their_rejections_fit(
    messages: list[Inbound | bytes | str],
) -> None:
    # Before the bounded parser (contracts.limits) these stopped a batch: nesting ~900
    # deep overflowed pydantic's validation of the rejection (MessageFault), a
    # 5,000-digit integer raised ValueError from the JSON reader, and a malformed
    # message near 1 MiB was echoed into a rejection of ~1.8 MB.
    check(messages)
