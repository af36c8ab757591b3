"""Reading JSON strictly and within bounds, and writing it canonically.

The reader refuses what a lenient reader would quietly accept but another consumer
might read differently: duplicate keys (which one wins?), NaN and Infinity (not JSON),
lone surrogates and bytes that are not UTF-8; and whatever is over a stated limit
(contracts.limits): nesting, string lengths, number sizes. orjson does the reading;
the standard library's reader, with hooks, runs only to explain a refusal exactly.

The writer is deterministic, so the same message always has the same bytes, and
therefore the same digest and the same published payload.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final, NoReturn

import orjson

from contracts.limits import MAX_DEPTH, MAX_INTEGER, LimitExceededError, limit_named

__all__ = [
    "JsonReadError",
    "canonical_json_bytes",
    "check_bounds",
    "count_members",
    "decode_text",
    "json_kind",
    "location",
    "raw_digest",
    "read_json",
    "reference_canonical_json_bytes",
    "sha256_digest",
    "shown",
]

# More digits than this cannot be within MAX_INTEGER; checked before int() so that a
# 5,000-digit number never reaches Python's int parser (which refuses over 4,300 digits).
_MAX_INTEGER_DIGITS: Final = len(str(MAX_INTEGER))
# One JSON string token, escapes included (the text is known to be JSON when it is used).
_STRING_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STRING_TEXT = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
# Tokens that change the nesting depth, strings skipped whole so their brackets do not count.
_DEPTH_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class JsonReadError(ValueError):
    """The text is not one strict JSON value; the message says why."""


def decode_text(raw: bytes | str) -> str:
    """The message as text; JSON on the wire is UTF-8 (RFC 8259 section 8.1)."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonReadError(f"not UTF-8 text (byte {error.start})") from None


def read_json(raw: bytes | str, field_limits: Mapping[str, str] | None = None) -> Any:
    """The one JSON value ``raw`` holds, strict and within the limits; else JsonReadError.

    ``field_limits`` names a tighter limit for the strings at some locations (an
    event's ``id`` has MAX_ID_CHARS), so the refusal names the limit that applies.
    Over a limit raises LimitExceededError (also a ValueError).
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        _explain_refusal(raw, error)
    check_bounds(value, field_limits)
    if count_members(raw) != _parsed_members(value):
        _explain_refusal(raw, None)
    return value


def count_members(raw: bytes | str) -> int:
    """How many object members (key: value pairs) the JSON text ``raw`` spells out.

    Exact for valid JSON: outside strings, a colon appears only between a member's
    key and value. A parsed object that holds fewer members than its text spelled
    out had a duplicate key. Without a backslash, strings are simply the odd-numbered
    pieces between double quotes (the common case, and fast).
    """
    if isinstance(raw, bytes):
        if b"\\" not in raw:
            return b"".join(raw.split(b'"')[::2]).count(b":")
        return _STRING_BYTES.sub(b"", raw).count(b":")
    if "\\" not in raw:
        return "".join(raw.split('"')[::2]).count(":")
    return _STRING_TEXT.sub("", raw).count(":")


def _parsed_members(value: Any) -> int:
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            total += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


def check_bounds(value: Any, field_limits: Mapping[str, str] | None = None) -> None:
    """Raise LimitExceededError if a parsed value nests, or holds strings or numbers, over limits.

    Iterative, so a hostile depth cannot exhaust the stack.
    """
    top = field_limits or {}
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise LimitExceededError(
                    f"{location(path) or 'the message'}: nested deeper than {MAX_DEPTH} levels",
                    "MAX_DEPTH",
                )
            if isinstance(item, dict):
                for key, member in item.items():
                    _check_string(key, (*path, key), "MAX_STRING_CHARS", what="a key")
                    stack.append((member, depth + 1, (*path, key)))
            else:
                stack.extend((member, depth + 1, (*path, n)) for n, member in enumerate(item))
        elif isinstance(item, str):
            limit = top.get(location(path), "MAX_STRING_CHARS") if top else "MAX_STRING_CHARS"
            _check_string(item, path, limit, what="a string")
        elif _is_number(item) and (not math.isfinite(item) or abs(item) > MAX_INTEGER):
            # orjson reads an integer beyond 64 bits as a float: the magnitude catches both.
            raise LimitExceededError(
                f"{location(path) or 'the message'}: a number beyond ±{MAX_INTEGER:,}",
                "MAX_INTEGER",
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_string(text: str, path: tuple[str | int, ...], limit_name: str, *, what: str) -> None:
    if len(text) > limit_named(limit_name).value:
        raise LimitExceededError(
            f"{location(path) or 'the message'}: {what} of {len(text):,} characters", limit_name
        )


def location(path: tuple[str | int, ...]) -> str:
    """``data.units[2].unit``: where in a message a value is, as a detail names it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _explain_refusal(raw: bytes | str, error: orjson.JSONDecodeError | None) -> NoReturn:
    """Raise the exact reason orjson refused ``raw`` (or why its members do not add up).

    The standard library's reader, with hooks, names duplicate keys, NaN and numbers
    out of range; nesting is measured first, so it never recurses deeply. Reached only
    for refused messages, so its cost does not matter.
    """
    text = decode_text(raw)
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise LimitExceededError(f"the message: nested deeper than {MAX_DEPTH} levels", "MAX_DEPTH")
    try:
        json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constants,
            parse_float=_bounded_float,
            parse_int=_bounded_int,
        )
    except (JsonReadError, LimitExceededError):
        raise
    except json.JSONDecodeError as refused:
        raise JsonReadError(
            f"not JSON: {refused.msg} at line {refused.lineno} column {refused.colno}"
        ) from None
    if "\\u" in text or isinstance(raw, str):
        _refuse_lone_surrogates(text)
    # orjson refused what the standard reader took: trust the stricter of the two.
    reason = str(error).split(":", 1)[0] if error is not None else "its members do not add up"
    raise JsonReadError(f"not JSON: {reason}")


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (which need not be valid JSON)."""
    depth = deepest = 0
    for match in _DEPTH_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonReadError(f"duplicate key {shown(key)}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise JsonReadError(f"{name} is not valid JSON")


def _bounded_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_INTEGER:
        raise LimitExceededError(f"the number {shown(text)}", "MAX_INTEGER")
    return value


def _bounded_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > _MAX_INTEGER_DIGITS or abs(int(text)) > MAX_INTEGER:
        raise LimitExceededError(f"an integer of {len(digits):,} digits", "MAX_INTEGER")
    return int(text)


def _refuse_lone_surrogates(text: str) -> None:
    # json.loads turns the escape "\\ud800" into a str no UTF-8 encoder accepts.
    value = json.loads(text)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonReadError("a string holds a lone UTF-16 surrogate") from None


def shown(text: str) -> str:
    """``text`` quoted for a detail, cut to 60 characters."""
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def reference_canonical_json_bytes(value: Any) -> bytes:
    """The definition of the canonical form: what every stored digest was taken of.

    Compact, keys sorted by code point, UTF-8, non-ASCII unescaped.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys: one byte string per value.

    orjson writes it; for every value without a float it is byte-for-byte
    ``reference_canonical_json_bytes`` (tests/unit/test_contracts_jsonio.py checks this
    over arbitrary strings, escapes and key orders). A float may be spelled differently
    (``1e-7`` for ``1e-07``); no digest covers one, since a valid inbound event holds no
    float. Integers beyond 64 bits, which orjson will not write, go the reference way.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return reference_canonical_json_bytes(value)


def sha256_digest(data: bytes) -> str:
    """``sha256:`` and the hex SHA-256 of ``data``: the form of every digest we store."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def raw_digest(raw: bytes | str) -> str:
    """The digest of a message exactly as received, whether or not it can be read.

    A str is encoded as UTF-8 with lone surrogates passed through, so two
    different strings never share their bytes (and so their digest).
    """
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="surrogatepass")
    return sha256_digest(data)


def json_kind(value: Any) -> str:
    """A JSON reader's name for the kind of ``value``: "a string", "null", …"""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
