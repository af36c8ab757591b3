"""The echo of a refused message in its rejection: personal fields removed, size bounded.

A rejection (``event.rejected.v1``) repeats what it refuses so its publisher can see
what went wrong, but it must never spread a learner's date of birth, and it must fit
in one NATS message whatever was refused. ``echo_of`` makes that echo from whatever
could be read of the message: the parsed JSON object, or else its text.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

from pydantic import JsonValue

from contracts.jsonio import canonical_json_bytes
from contracts.limits import ECHO_MAX_BYTES, MAX_DEPTH

__all__ = [
    "ECHO_DESCRIPTION",
    "PERSONAL_FIELDS",
    "REMOVED",
    "TRUNCATED",
    "echo_of",
    "echo_size",
    "is_personal",
]

# Judged personal: the learner's date of birth (SPEC.md §6: the field erasure is for).
# The ULN names the learner but is also the rejection's own subject, so it stays; the
# rest (qualification, units, centre and assessor ids) say nothing about the learner
# as a person. Members named like a date of birth are removed too, wherever they are,
# since a publisher's misspelt field is exactly what gets refused and echoed.
PERSONAL_FIELDS: Final = frozenset({"date_of_birth"})
_PERSONAL_NAMES: Final = frozenset({"dateofbirth", "dob", "birthdate", "birthday"})
_NON_LETTERS = re.compile(r"[^a-z]")
# In text that cannot be read as JSON, the value after such a name is blanked instead.
_PERSONAL_IN_TEXT = re.compile(
    r'("(?:date_?of_?birth|dob|birth_?date|birthday)"\s*:\s*)'
    r'("(?:[^"\\]|\\.)*"?|[^,}\]\s]*)',
    re.IGNORECASE | re.DOTALL,
)
REMOVED: Final = '"[removed]"'
TRUNCATED: Final = "…[truncated]"
# Second try for an object over the bound: shorter strings, fewer members, less depth.
_FIRST_CUT: Final = (None, None, MAX_DEPTH)
_SECOND_CUT: Final = (256, 32, 4)

ECHO_DESCRIPTION: Final = (
    "The refused message as far as it could be read: the JSON object when it was one "
    "(for binary mode, the event as structured mode carries it), else its text. "
    "Personal fields are removed: data.date_of_birth, and any member named like a date "
    'of birth (in text, its value is replaced by "[removed]"). At most ECHO_MAX_BYTES = '
    f"{ECHO_MAX_BYTES:,} bytes as canonical UTF-8 JSON: when longer, long strings, large "
    "containers and deep nesting are cut, and if it is still too long the echo is the "
    f"object's JSON text cut short; whatever was cut ends with {TRUNCATED!r}."
)


def is_personal(name: str) -> bool:
    """Whether a member (or a binary-mode ``ce-`` header) of this name is personal."""
    lowered = name.lower().removeprefix("ce-")
    return name in PERSONAL_FIELDS or _NON_LETTERS.sub("", lowered) in _PERSONAL_NAMES


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
    if isinstance(readable, bytes):
        text = readable.decode("utf-8", errors="replace")
    elif isinstance(readable, str):
        # A str may hold lone surrogates that no UTF-8 encoder will publish.
        text = readable.encode("utf-8", errors="replace").decode("utf-8")
    else:
        text = canonical_json_bytes(readable).decode("utf-8")
    return _bounded_text(_PERSONAL_IN_TEXT.sub(lambda m: m.group(1) + REMOVED, text))


def _echo_object(message: dict[Any, Any]) -> dict[str, JsonValue] | str:
    whole = cast(dict[str, JsonValue], _pruned(message, *_FIRST_CUT, depth=0))
    if echo_size(whole) <= ECHO_MAX_BYTES:
        return whole
    cut = cast(dict[str, JsonValue], _pruned(message, *_SECOND_CUT, depth=0))
    if echo_size(cut) <= ECHO_MAX_BYTES:
        return cut
    return _bounded_text(canonical_json_bytes(whole).decode("utf-8"))


def _pruned(
    value: Any, max_chars: int | None, max_members: int | None, max_depth: int, *, depth: int
) -> Any:
    """A copy of ``value`` without personal members and within the given cuts.

    Recursion stops at ``max_depth`` (≤ MAX_DEPTH), so a hostile depth cannot
    exhaust the stack.
    """
    if isinstance(value, dict | list) and depth >= max_depth:
        return TRUNCATED
    if isinstance(value, dict):
        members = [(str(k), v) for k, v in value.items() if not is_personal(str(k))]
        kept = members if max_members is None else members[:max_members]
        pruned = {
            _text(key, max_chars): _pruned(v, max_chars, max_members, max_depth, depth=depth + 1)
            for key, v in kept
        }
        if len(kept) < len(members):
            pruned[TRUNCATED] = f"{len(members) - len(kept)} more members"
        return pruned
    if isinstance(value, list):
        items = value if max_members is None else value[:max_members]
        pruned_items = [
            _pruned(v, max_chars, max_members, max_depth, depth=depth + 1) for v in items
        ]
        if len(items) < len(value):
            pruned_items.append(f"{TRUNCATED} {len(value) - len(items)} more items")
        return pruned_items
    if isinstance(value, str):
        return _text(value, max_chars)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _text(str(value), max_chars)


def _text(text: str, max_chars: int | None) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    if max_chars is not None and len(text) > max_chars:
        return text[:max_chars] + TRUNCATED
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
