"""Reading JSON strictly and writing it canonically.

The reader refuses what Python's json module would quietly accept but another
consumer might read differently: duplicate keys (which one wins?), NaN and
Infinity (not JSON), numbers too large for a double, and bytes that are not UTF-8.
The writer is deterministic so the same message always has the same bytes,
and therefore the same digest and the same published payload.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = [
    "JsonReadError",
    "canonical_json_bytes",
    "decode_text",
    "json_kind",
    "raw_digest",
    "read_json",
    "sha256_digest",
]


class JsonReadError(ValueError):
    """The text is not one strict JSON value; the message says why."""


def _no_constants(name: str) -> Any:
    raise JsonReadError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonReadError(f"number {text} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonReadError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _refuse_lone_surrogates(value: Any) -> None:
    # json.loads turns the escape "\\ud800" into a str no UTF-8 encoder accepts;
    # refuse it now rather than fail later when the message is stored or echoed.
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


def decode_text(raw: bytes | str) -> str:
    """The message as text; JSON on the wire is UTF-8 (RFC 8259 section 8.1)."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonReadError(f"not UTF-8 text (byte {error.start})") from None


def read_json(raw: bytes | str) -> Any:
    text = decode_text(raw)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constants,
            parse_float=_finite_float,
        )
    except JsonReadError:
        raise
    except json.JSONDecodeError as error:
        raise JsonReadError(
            f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise JsonReadError("not JSON: nested too deeply") from None
    # Bytes that decoded as UTF-8 hold no lone surrogate, so one can only come from a
    # \\u escape: such text without any escape needs no walk (the ingest hot path).
    if isinstance(raw, str) or "\\u" in text:
        _refuse_lone_surrogates(value)
    return value


def canonical_json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys: one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


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
