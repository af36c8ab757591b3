"""Field types shared by every message: ISO dates, RFC 3339 timestamps, URNs, URIs.

Each type accepts either the Python value (when the service builds a message)
or the exact wire text (when it reads one), and nothing looser: pydantic's own
date parsing would take ``2024-05-01T00:00:00`` or a Unix timestamp for a date.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from contracts.limits import MAX_ID_CHARS, MAX_SOURCE_CHARS, MAX_STRING_CHARS

__all__ = [
    "DATE_PATTERN",
    "JSON_MEDIA_TYPE_PATTERN",
    "TIMESTAMP_PATTERN",
    "URI_REFERENCE_PATTERN",
    "URN_PATTERN",
    "AbsoluteUri",
    "EventId",
    "IsoDate",
    "JsonMediaType",
    "NonEmptyStr",
    "Timestamp",
    "UriReference",
    "Urn",
    "is_urn",
]

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# RFC 3339 section 5.6 date-time: the offset is mandatory ("Z" or ±HH:MM).
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
# Ofqual unit reference number, e.g. J/601/1630. [0-9] rather than \d, which
# also matches non-ASCII digits.
URN_PATTERN = r"^[A-Z]/[0-9]{3}/[0-9]{4}$"
# RFC 3986 URI-reference characters; no spaces or controls. Not a full parser:
# CloudEvents only needs `source` to be a non-empty URI-reference.
URI_REFERENCE_PATTERN = r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$"

# application/json, optionally with parameters such as "; charset=utf-8".
JSON_MEDIA_TYPE_PATTERN = r"^application/json[ \t]*(;.*)?$"

_ABSOLUTE_URI_PATTERN = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$"

_DATE_RE = re.compile(DATE_PATTERN)
_ABSOLUTE_URI_RE = re.compile(_ABSOLUTE_URI_PATTERN)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
_URN_RE = re.compile(URN_PATTERN)


def is_urn(text: str) -> bool:
    return _URN_RE.fullmatch(text) is not None


def _iso_date(value: Any) -> Any:
    # datetime is a subclass of date: refuse it explicitly, a date field holds a day.
    if isinstance(value, datetime):
        raise PydanticCustomError("iso_date", "expected a date, got a datetime")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError as error:
            raise PydanticCustomError(
                "iso_date",
                "{value} is not a calendar date ({error})",
                {"value": repr(value), "error": str(error)},
            ) from None
    raise PydanticCustomError(
        "iso_date", "expected a date as YYYY-MM-DD, got {value}", {"value": _show(value)}
    )


def _timestamp(value: Any) -> Any:
    # One validator for both ways in (a datetime from the service, text from the wire):
    # each call from pydantic-core into Python costs, and this runs for every event.
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str) and _TIMESTAMP_RE.fullmatch(value):
        try:
            # 3.11's fromisoformat takes "Z" but not the lowercase "t"/"z" RFC 3339 allows.
            return _aware(datetime.fromisoformat(value.upper()))
        except ValueError as error:
            raise PydanticCustomError(
                "timestamp",
                "{value} is not a valid time ({error})",
                {"value": repr(value), "error": str(error)},
            ) from None
    raise PydanticCustomError(
        "timestamp",
        "expected an RFC 3339 timestamp with an offset, YYYY-MM-DDThh:mm:ss and Z or ±hh:mm;"
        " got {value}",
        {"value": _show(value)},
    )


def _absolute_uri(value: str) -> str:
    if _ABSOLUTE_URI_RE.fullmatch(value) is None:
        raise PydanticCustomError(
            "uri", "expected an absolute URI, got {value}", {"value": _show(value)}
        )
    return value


def _aware(value: datetime) -> datetime:
    # A naive time would be read differently by every consumer's local clock.
    offset = value.utcoffset()
    if offset is None:
        raise PydanticCustomError("timestamp", "the time needs a UTC offset")
    # RFC 3339 offsets are whole minutes; a finer one could not be written back.
    if offset.total_seconds() % 60:
        raise PydanticCustomError("timestamp", "the UTC offset must be whole minutes")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    Field(json_schema_extra={"pattern": DATE_PATTERN}),
]
Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    Field(json_schema_extra={"pattern": TIMESTAMP_PATTERN}),
]
# Plain patterns are checked by pydantic-core itself (no call into Python per field);
# contracts.errors words their failures.
Urn = Annotated[str, Field(pattern=URN_PATTERN, description="Ofqual unit reference number")]
NonEmptyStr = Annotated[str, Field(min_length=1, max_length=MAX_STRING_CHARS)]
EventId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
UriReference = Annotated[str, Field(pattern=URI_REFERENCE_PATTERN, max_length=MAX_SOURCE_CHARS)]
AbsoluteUri = Annotated[
    str,
    AfterValidator(_absolute_uri),
    Field(max_length=MAX_SOURCE_CHARS, json_schema_extra={"pattern": _ABSOLUTE_URI_PATTERN}),
]
JsonMediaType = Annotated[
    str,
    Field(
        pattern=JSON_MEDIA_TYPE_PATTERN,
        max_length=MAX_STRING_CHARS,
        description="data is JSON: application/json, parameters allowed",
    ),
]
