"""The echo of a refused message in its rejection: personal fields removed, size bounded.

A rejection (``event.rejected.v1``) repeats what it refuses so its publisher can see
what went wrong, but it must never spread a learner's date of birth, and it must fit
in one NATS message whatever was refused. ``echo_of`` makes that echo from whatever
could be read of the message: the parsed JSON object, or else its text.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, cast

from pydantic import JsonValue

from contracts.fields import DATE_PATTERN, TIMESTAMP_PATTERN
from contracts.jsonio import canonical_json_bytes
from contracts.limits import ECHO_MAX_BYTES, MAX_DEPTH, MAX_INTEGER, MAX_STRING_CHARS

__all__ = [
    "DATED_FIELDS",
    "DATE_REMOVED",
    "ECHO_DESCRIPTION",
    "ECHO_MAX_DEPTH",
    "PERSONAL_FIELDS",
    "REMOVED",
    "TRUNCATED",
    "echo_of",
    "echo_size",
    "is_echo",
    "is_personal",
    "unreadable_text",
    "without_dates",
]

# Judged personal: the learner's date of birth (SPEC.md §6: the field erasure is for),
# and so anything named for a birth (a place of birth is as personal). The ULN names the
# learner but is also the rejection's own subject, so it stays; the rest (qualification,
# units, centre and assessor ids) say nothing about the learner as a person.
#
# A refused message is often not what it should be, so names are matched loosely (any
# member whose name, letters only, contains "birth" or is "dob", at any depth), and
# dates are kept only in the fields known to hold a non-personal one: a date under any
# other name might be a date of birth under a name mangled beyond recognition. In text
# that could not be read as JSON, whose a date is cannot be told at all: every date goes.
PERSONAL_FIELDS: Final = frozenset({"date_of_birth"})
# The contracts' own dates that are not personal (tests check this list against them).
DATED_FIELDS: Final = frozenset(
    {
        "time",
        "registered_on",
        "achieved_on",
        "withdrawn_on",
        "issued_on",
        "decided_on",
        "completed_on",
        "claim_by",
        "as_of",
    }
)
_NON_LETTERS = re.compile(r"[^a-z]")
_PERSONAL_IN_TEXT = re.compile(
    r'("[^"]*(?:birth|dob)[^"]*"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]*)',
    re.IGNORECASE | re.DOTALL,
)
_DATE_IN_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_DATE = re.compile(f"{DATE_PATTERN}|{TIMESTAMP_PATTERN}")
REMOVED: Final = '"[removed]"'
DATE_REMOVED: Final = "[date removed]"
TRUNCATED: Final = "…[truncated]"
# A rejection nests its echo two levels down (the event, its data, then ``original``),
# and a rejection is read back under the same limits as anything else: so the echo
# keeps to two levels fewer than MAX_DEPTH, strings in it to MAX_STRING_CHARS, and
# numbers no JSON reader holds exactly (beyond ±MAX_INTEGER) are echoed as their text.
ECHO_MAX_DEPTH: Final = MAX_DEPTH - 2
# Second try for an object over the bound: shorter strings, fewer members, less depth.
_FIRST_CUT: Final = (MAX_STRING_CHARS, None, ECHO_MAX_DEPTH)
_SECOND_CUT: Final = (256, 32, 4)

ECHO_DESCRIPTION: Final = (
    "The refused message as far as it could be read: the JSON object when it was one "
    "(for binary mode, the event as structured mode carries it), else its text. "
    "Personal fields are removed: data.date_of_birth, and any member whose name contains "
    '"birth" or is "dob", at any depth (in text, its value is replaced by "[removed]"). '
    "A date is kept only as the whole value of one of the contracts' own date fields "
    f"({', '.join(sorted(DATED_FIELDS))})"
    f"; elsewhere, and anywhere in text that could not be read as JSON, it is replaced "
    f"by {DATE_REMOVED!r}, since whose date it is cannot be told. At most ECHO_MAX_BYTES = "
    f"{ECHO_MAX_BYTES:,} bytes as canonical UTF-8 JSON: when longer, long strings, large "
    "containers and deep nesting are cut, and if it is still too long the echo is the "
    f"object's JSON text cut short; whatever was cut ends with {TRUNCATED!r}. So that a "
    "rejection reads back under the inbound limits, nesting is kept to ECHO_MAX_DEPTH = "
    f"{ECHO_MAX_DEPTH} levels, a string within an object to MAX_STRING_CHARS, and a "
    "number beyond ±MAX_INTEGER is echoed as its text."
)


def is_personal(name: str) -> bool:
    """Whether a member (or a binary-mode ``ce-`` header) of this name is personal."""
    letters = _NON_LETTERS.sub("", name.lower().removeprefix("ce-"))
    return name in PERSONAL_FIELDS or "birth" in letters or letters == "dob"


def is_echo(value: object) -> bool:
    """Whether ``value`` may stand as an echo as it is: within the bound, no personal member.

    Everything ``echo_of`` returns is one, so making an echo of an echo changes nothing.
    """
    if not isinstance(value, dict | str) or echo_size(value) > ECHO_MAX_BYTES:
        return False
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth >= ECHO_MAX_DEPTH:
            return False
        if _out_of_range(item):
            return False
        if isinstance(item, str) and depth > 0 and len(item) > MAX_STRING_CHARS:
            return False
        if isinstance(item, dict):
            if any(
                not isinstance(key, str) or is_personal(key) or len(key) > MAX_STRING_CHARS
                for key in item
            ):
                return False
            stack.extend((member, depth + 1) for member in item.values())
        elif isinstance(item, list):
            stack.extend((member, depth + 1) for member in item)
    return True


def echo_size(echo: object) -> int:
    """The size the bound applies to: the echo's canonical UTF-8 JSON, in bytes."""
    return len(canonical_json_bytes(echo))


def echo_of(readable: object) -> dict[str, JsonValue] | str:
    """The echo of a refused message: ``readable`` is its parsed object, or its raw text.

    Always within ECHO_MAX_BYTES, never holding a personal field; an object stays an
    object when it can, anything else becomes text (undecodable bytes as U+FFFD).
    """
    if isinstance(readable, dict):
        return _echo_object(readable)
    if isinstance(readable, bytes | str):
        return _bounded_text(unreadable_text(readable))
    return _bounded_text(_blanked(canonical_json_bytes(readable).decode("utf-8")))


def without_dates(text: str) -> str:
    """``text`` with every calendar date in it replaced by DATE_REMOVED."""
    return _DATE_IN_TEXT.sub(DATE_REMOVED, text)


def unreadable_text(raw: bytes | str) -> str:
    """Text that could not be read as JSON, as an echo may show it: no date in it.

    Undecodable bytes and lone surrogates become U+FFFD and "?", so it can be published.
    """
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="replace")
    else:
        text = raw.encode("utf-8", errors="replace").decode("utf-8")
    return without_dates(_blanked(text))


def _blanked(text: str) -> str:
    """``text`` with the value after any date-of-birth-like name replaced by REMOVED."""
    if '"' not in text:
        return text
    return _PERSONAL_IN_TEXT.sub(lambda match: match.group(1) + REMOVED, text)


def _echo_object(message: dict[Any, Any]) -> dict[str, JsonValue] | str:
    whole = cast(dict[str, JsonValue], _pruned(message, *_FIRST_CUT, depth=0, key=""))
    if echo_size(whole) <= ECHO_MAX_BYTES:
        return whole
    cut = cast(dict[str, JsonValue], _pruned(message, *_SECOND_CUT, depth=0, key=""))
    if echo_size(cut) <= ECHO_MAX_BYTES:
        return cut
    return _bounded_text(canonical_json_bytes(whole).decode("utf-8"))


def _pruned(
    value: Any,
    max_chars: int | None,
    max_members: int | None,
    max_depth: int,
    *,
    depth: int,
    key: str,
) -> Any:
    """A copy of ``value``, the member ``key`` (or an item of it), with nothing personal.

    Within the given cuts; recursion stops at ``max_depth`` (≤ ECHO_MAX_DEPTH), so a
    hostile depth cannot exhaust the stack.
    """
    if isinstance(value, dict | list) and depth >= max_depth:
        return TRUNCATED
    if isinstance(value, dict):
        members = [(str(k), v) for k, v in value.items() if not is_personal(str(k))]
        kept = members if max_members is None else members[:max_members]
        pruned = {
            _text(name, max_chars, dated=False): _pruned(
                v, max_chars, max_members, max_depth, depth=depth + 1, key=name
            )
            for name, v in kept
        }
        if len(kept) < len(members):
            pruned[TRUNCATED] = f"{len(members) - len(kept)} more members"
        return pruned
    if isinstance(value, list):
        items = value if max_members is None else value[:max_members]
        pruned_items = [
            _pruned(v, max_chars, max_members, max_depth, depth=depth + 1, key=key) for v in items
        ]
        if len(items) < len(value):
            pruned_items.append(f"{TRUNCATED} {len(value) - len(items)} more items")
        return pruned_items
    if isinstance(value, str):
        # A date is kept only as the whole value of one of the contracts' date fields.
        dated = key in DATED_FIELDS and _WHOLE_DATE.fullmatch(value) is not None
        return _text(value, max_chars, dated=dated)
    if _out_of_range(value):
        return _text(repr(value), max_chars, dated=False)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _text(str(value), max_chars, dated=False)


def _out_of_range(value: object) -> bool:
    """Whether ``value`` is a number a rejection could not carry as a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not math.isfinite(value) or abs(value) > MAX_INTEGER


def _text(text: str, max_chars: int | None, *, dated: bool) -> str:
    # A string may itself hold JSON text with a date of birth (a binary-mode body that
    # could not be read, a publisher's nested JSON): blank it there too.
    try:
        text = _blanked(text)
        if not dated:
            text = _DATE_IN_TEXT.sub(DATE_REMOVED, text)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    if max_chars is not None and len(text) > max_chars:
        return text[: max_chars - len(TRUNCATED)] + TRUNCATED
    return text


def _bounded_text(text: str) -> str:
    """``text`` cut so that, as a JSON string, it is within ECHO_MAX_BYTES."""
    if echo_size(text) <= ECHO_MAX_BYTES:
        return text
    data = text.encode("utf-8")
    keep = ECHO_MAX_BYTES - len(TRUNCATED.encode("utf-8")) - 2  # the JSON quotes
    while True:
        # errors="ignore" drops a character the cut split in two.
        candidate = data[:keep].decode("utf-8", errors="ignore") + TRUNCATED
        excess = echo_size(candidate) - ECHO_MAX_BYTES
        if excess <= 0:
            return candidate
        keep -= excess  # escapes made it longer; each round removes at least the excess
