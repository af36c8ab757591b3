"""The stated bounds of every inbound message, in one place (SPEC.md §5, issue 11).

An inbound CloudEvent is a few hundred bytes, a few KB at most; these limits leave a
wide margin above that while keeping what one hostile message can cost — to parse, to
store, to echo in its rejection — small and known. Anything over a limit is refused as
``malformed`` with a detail naming the limit (``LimitExceededError``). The schemas,
the AsyncAPI document and the README state the same numbers: they are read from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ECHO_MAX_BYTES",
    "INBOUND_LIMITS",
    "LIMITS",
    "MAX_DEPTH",
    "MAX_DETAIL_CHARS",
    "MAX_ID_CHARS",
    "MAX_INTEGER",
    "MAX_MESSAGE_BYTES",
    "MAX_SOURCE_CHARS",
    "MAX_STRING_CHARS",
    "REJECTION_LIMITS",
    "Limit",
    "LimitExceededError",
    "limit_named",
]

# The whole message: the body, plus every header name and value in binary mode.
# NATS allows 1 MiB; an event is ~0.5 KB.
MAX_MESSAGE_BYTES: Final = 64 * 1024
# `id`, and `data.revokes`, which names an id. A UUID is 36; a URN-style id ~100.
MAX_ID_CHARS: Final = 256
# `source` and `dataschema`: URI-references.
MAX_SOURCE_CHARS: Final = 512
# Every other string: data fields, extension values, object keys.
MAX_STRING_CHARS: Final = 1024
# Nested objects and arrays; a valid event needs 2 (the envelope and its data).
MAX_DEPTH: Final = 16
# Any JSON number: an integer within ±(2**53 − 1) (I-JSON, RFC 7493 §2.2), which every
# JSON reader holds exactly. Extension integers are further held to 32 bits (CloudEvents).
MAX_INTEGER: Final = 2**53 - 1
# A rejection's `original` (the echo of the refused message), as canonical UTF-8 JSON.
ECHO_MAX_BYTES: Final = 8 * 1024
# A rejection's `detail`.
MAX_DETAIL_CHARS: Final = 2048


@dataclass(frozen=True, slots=True)
class Limit:
    """One row of the limits table: its name in details, value, unit and what it bounds."""

    name: str
    value: int
    unit: str
    bounds: str

    def describe(self) -> str:
        return f"{self.name} = {self.value:,} {self.unit}: {self.bounds}"


INBOUND_LIMITS: Final = (
    Limit(
        "MAX_MESSAGE_BYTES",
        MAX_MESSAGE_BYTES,
        "bytes",
        "a whole inbound message (body, plus header names and values in binary mode)",
    ),
    Limit("MAX_ID_CHARS", MAX_ID_CHARS, "characters", "id, and data.revokes"),
    Limit("MAX_SOURCE_CHARS", MAX_SOURCE_CHARS, "characters", "source and dataschema"),
    Limit(
        "MAX_STRING_CHARS",
        MAX_STRING_CHARS,
        "characters",
        "every other string, object keys and extension values included",
    ),
    Limit("MAX_DEPTH", MAX_DEPTH, "levels", "nesting of JSON objects and arrays"),
    Limit(
        "MAX_INTEGER",
        MAX_INTEGER,
        "in magnitude",
        "any JSON number (extension integers: 32-bit, as CloudEvents says)",
    ),
)
# What keeps a rejection within one NATS message whatever it refuses.
REJECTION_LIMITS: Final = (
    Limit(
        "ECHO_MAX_BYTES",
        ECHO_MAX_BYTES,
        "bytes",
        "a rejection's echo of the refused message (canonical UTF-8 JSON)",
    ),
    Limit("MAX_DETAIL_CHARS", MAX_DETAIL_CHARS, "characters", "a rejection's detail"),
)
LIMITS: Final = INBOUND_LIMITS + REJECTION_LIMITS
_BY_NAME: Final = {limit.name: limit for limit in LIMITS}


def limit_named(name: str) -> Limit:
    """The row of the limits table called ``name`` (KeyError for an unknown name)."""
    return _BY_NAME[name]


class LimitExceededError(ValueError):
    """A message goes over one of the stated limits; the message names it."""

    def __init__(self, what: str, limit_name: str) -> None:
        limit = limit_named(limit_name)
        super().__init__(f"{what}: over the limit {limit.name} = {limit.value:,} {limit.unit}")
        self.limit = limit
