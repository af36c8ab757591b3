"""The CloudEvents NATS protocol binding 1.0.3: both content modes, and our headers.

A receiver tells the modes apart by the ``Content-Type`` header (binding §3): one
starting ``application/cloudevents`` (case-insensitively) means *structured* mode —
the body is the whole event in the JSON event format. Otherwise the message is in
*binary* mode: each attribute is a ``ce-<name>`` header, percent-encoded (§3.1.3.2),
and the body is the event's ``data``. One deviation, for the publishers we already
have: a message with neither a CloudEvents content type nor any ``ce-`` header is
read as structured, as it always was here (in binary mode it could not be an event:
it would lack ``ce-specversion``, ``ce-id`` and the rest).

``datacontenttype`` travels as ``ce-datacontenttype`` (the binding) or as
``Content-Type`` (what the Go SDK and HTTP-minded publishers send); both are taken,
and must agree when both are there. Header names are case-insensitive (ADR-4).

The service publishes structured mode with ``Content-Type: application/cloudevents+json``
and ``Nats-Msg-Id`` (``contracts.headers.outbound_headers``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Final
from urllib.parse import unquote_to_bytes

from contracts.headers import CE_HEADER_PREFIX, CLOUDEVENTS_JSON_CONTENT_TYPE, CONTENT_TYPE_HEADER
from contracts.jsonio import sha256_digest, shown

__all__ = [
    "BindingError",
    "ContentMode",
    "binary_attributes",
    "binary_digest",
    "content_mode",
    "headers_size",
    "read_headers",
]

_STRUCTURED_PREFIX: Final = "application/cloudevents"
# The event formats we read in structured mode: JSON, and the bare type some
# pre-1.0.3 publishers send for it. Parameters (";charset=utf-8") are allowed.
_JSON_FORMATS: Final = frozenset({CLOUDEVENTS_JSON_CONTENT_TYPE, _STRUCTURED_PREFIX})
_CONTENT_TYPE: Final = CONTENT_TYPE_HEADER.lower()
_DATACONTENTTYPE_HEADER: Final = CE_HEADER_PREFIX + "datacontenttype"
# Header values are printable US-ASCII, with optional spaces and tabs (binding §3.1.3.2).
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_QUOTED_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class ContentMode(StrEnum):
    STRUCTURED = "structured"
    BINARY = "binary"


class BindingError(ValueError):
    """The headers do not follow the binding; the message says how."""


def headers_size(headers: Mapping[str, str] | None) -> int:
    """The bytes the headers' names and values take (they count toward MAX_MESSAGE_BYTES)."""
    if not headers:
        return 0
    text = "".join(headers) + "".join(headers.values())
    return len(text) if text.isascii() else len(_utf8(text))


def content_mode(headers: Mapping[str, str] | None) -> ContentMode:
    """Structured or binary, as binding 1.0.3 §3 tells them apart (see the module's note)."""
    return read_headers(headers)[0]


def read_headers(headers: Mapping[str, str] | None) -> tuple[ContentMode, dict[str, str]]:
    """The mode, and for binary mode the attributes the headers carry: one pass over them."""
    if not headers:
        return ContentMode.STRUCTURED, {}
    lowered = _lowered(headers)
    mode = _mode(lowered)
    return mode, (_attributes(lowered) if mode is ContentMode.BINARY else {})


def _mode(lowered: Mapping[str, str]) -> ContentMode:
    content_type = lowered.get(_CONTENT_TYPE)
    if content_type is not None and content_type.strip().lower().startswith(_STRUCTURED_PREFIX):
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in _JSON_FORMATS:
            raise BindingError(
                f"{CONTENT_TYPE_HEADER} {shown(content_type)}: the only event format read "
                f"here is JSON ({CLOUDEVENTS_JSON_CONTENT_TYPE})"
            )
        return ContentMode.STRUCTURED
    if any(name.startswith(CE_HEADER_PREFIX) for name in lowered):
        return ContentMode.BINARY
    return ContentMode.STRUCTURED


def binary_attributes(headers: Mapping[str, str]) -> dict[str, str]:
    """The context attributes a binary-mode message's headers carry, decoded.

    Every value is a string: a header carries no type, so an extension that is an
    integer or a boolean in structured mode arrives here as its canonical string.
    """
    return _attributes(_lowered(headers))


def _attributes(lowered: Mapping[str, str]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name, value in lowered.items():
        if not name.startswith(CE_HEADER_PREFIX):
            continue
        attribute = name.removeprefix(CE_HEADER_PREFIX)
        if attribute in ("data", "data_base64"):
            raise BindingError(f"header {name}: data travels in the body, not in a header")
        attributes[attribute] = _decoded(name, value)
    content_type = lowered.get(_CONTENT_TYPE)
    if content_type is not None:
        declared = attributes.setdefault("datacontenttype", content_type.strip())
        if declared != content_type.strip():
            raise BindingError(
                f"headers {CONTENT_TYPE_HEADER} and {_DATACONTENTTYPE_HEADER} disagree: "
                f"{shown(content_type)} and {shown(declared)}"
            )
    return attributes


def binary_digest(headers: Mapping[str, str], body: bytes | str) -> str:
    """The digest of a binary-mode message as received: its CloudEvents headers and body.

    Headers as ``name:value`` lines, names lowercased, sorted, then a blank line and the
    body; so two messages differing only in a ``ce-`` header never share a digest.
    """
    lines = sorted(
        f"{name}:{value}\r\n"
        for name, value in _lowered(headers).items()
        if name.startswith(CE_HEADER_PREFIX) or name == _CONTENT_TYPE
    )
    return sha256_digest(
        _utf8("".join(lines)) + b"\r\n" + (body if isinstance(body, bytes) else _utf8(body))
    )


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    if len(lowered) != len(headers):
        seen: set[str] = set()
        for name in headers:
            if name.lower() in seen:
                raise BindingError(
                    f"header {shown(name.lower())} given twice (names are case-insensitive)"
                )
            seen.add(name.lower())
    return lowered


def _decoded(name: str, value: str) -> str:
    """One header value as its attribute's string (binding §3.1.3.2)."""
    if value.isascii() and value.isprintable() and "%" not in value and '"' not in value:
        return value.strip(" ")  # nothing encoded: the common case, and fast
    if _HEADER_VALUE.fullmatch(value) is None:
        raise BindingError(f"header {name}: only printable US-ASCII may appear; percent-encode")
    text = value.strip(" \t")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        # Older publishers may quote a value (RFC 7230 §3.2.6); undo it first.
        text = _QUOTED_ESCAPE.sub(r"\1", text[1:-1])
    if _STRAY_PERCENT.search(text):
        raise BindingError(f"header {name}: a % that starts no %XX escape")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise BindingError(f"header {name}: its percent-escapes are not UTF-8") from None


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")
