"""Rejection reason codes and the error a message raises when it breaks its contract."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from contracts.echo import echo_of, is_personal, without_dates
from contracts.fields import URI_REFERENCE_PATTERN, URN_PATTERN
from contracts.jsonio import json_kind, location, raw_digest, read_json
from contracts.limits import (
    LIMITS,
    MAX_DETAIL_CHARS,
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_SOURCE_CHARS,
    MAX_STRING_CHARS,
)

__all__ = ["ContractError", "RejectionReason", "describe_errors"]


class RejectionReason(StrEnum):
    """Why an inbound event is refused (SPEC.md section 5)."""

    MALFORMED = "malformed"
    INVALID_ULN = "invalid_uln"
    UNKNOWN_QUALIFICATION = "unknown_qualification"
    UNKNOWN_UNIT = "unknown_unit"
    FUTURE_DATED = "future_dated"
    REGISTRATION_OUTSIDE_ACCREDITATION_PERIOD = "registration_outside_accreditation_period"
    LEARNER_UNDER_MINIMUM_AGE = "learner_under_minimum_age"
    ALREADY_REGISTERED = "already_registered"
    NOT_REGISTERED = "not_registered"
    UNKNOWN_ACHIEVEMENT = "unknown_achievement"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"


# The default for ``readable``: read what can be read of ``raw`` when the echo is asked for.
_FROM_RAW: Final = object()


class ContractError(ValueError):
    """A message that cannot be accepted, decided from the message alone.

    ``reason`` is MALFORMED or INVALID_ULN; ``detail`` says why, within
    MAX_DETAIL_CHARS. ``event_id``, ``source`` and ``subject`` are the envelope's own
    strings when it could be read and they are within their limits (None otherwise),
    so the rejection can name what it rejects. ``uln`` is the first valid ULN among
    ``subject``, ``data.uln`` and the learner token of the NATS subject: the learner a
    rejection can be filed under, if any. ``nats_subject`` is the subject the message
    came on, when the caller gave it. ``digest`` identifies the message by its bytes,
    for when even ``source`` and ``id`` are missing (for binary mode, the bytes of its
    CloudEvents headers too). ``original`` is the echo a rejection carries
    (``contracts.echo``): bounded, personal fields removed, made from ``readable`` —
    what could be read of the message; None when nothing could, so the text is
    echoed — or, when not given, from ``raw`` read as JSON if it can be.
    """

    def __init__(
        self,
        reason: RejectionReason,
        detail: str,
        raw: bytes | str,
        *,
        event_id: str | None = None,
        source: str | None = None,
        subject: str | None = None,
        uln: str | None = None,
        readable: object = _FROM_RAW,
        digest: str | None = None,
        nats_subject: str | None = None,
    ) -> None:
        # A detail quotes what it refuses, and whose a date in garbage is cannot be
        # told: no detail quotes a date (the echo keeps the contracts' own dates).
        detail = _bounded(without_dates(detail), MAX_DETAIL_CHARS) or "refused"
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.raw = raw
        self.event_id = _within(event_id, MAX_ID_CHARS)
        self.source = _within(source, MAX_SOURCE_CHARS)
        self.subject = _within(subject, MAX_STRING_CHARS)
        self.uln = uln
        self.nats_subject = nats_subject
        self._readable = readable
        self._digest = digest
        self._original: dict[str, Any] | str | None = None

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the message exactly as received (see ``raw_digest``)."""
        if self._digest is None:
            self._digest = raw_digest(self.raw)
        return self._digest

    @property
    def original(self) -> dict[str, Any] | str:
        """The rejected message as ``event.rejected.v1`` carries it (``echo_of``)."""
        if self._original is None:
            readable = self._readable
            if readable is _FROM_RAW:
                readable = _read_object(self.raw)
            self._original = echo_of(self.raw if readable is None else readable)
        return self._original


def _read_object(raw: bytes | str) -> dict[str, Any] | None:
    """``raw``'s JSON object when it is one within the limits, else None (echo the text)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        value = read_json(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _within(text: str | None, limit: int) -> str | None:
    # Over its limit, a string is not the message's identity but an attack on the
    # rejection's size: it is dropped rather than cut, so no two ids are made one.
    return text if text is not None and len(text) <= limit else None


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Pydantic's wording for the errors a publisher meets most, in ours.
_MESSAGES = {
    "missing": "required but missing",
    "extra_forbidden": "not allowed here",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "tuple_type": "must be a JSON array",
    "string_too_short": "must not be empty",
}
# What a pattern stands for, in words, for pydantic-core's own pattern checks.
_PATTERN_MEANING = {
    URN_PATTERN: "must be an Ofqual unit reference number like J/601/1630",
    URI_REFERENCE_PATTERN: "must be a non-empty URI-reference (no spaces)",
}
# A length limit by its value: each stated limit on characters has its own number.
_LIMIT_BY_CHARS = {limit.value: limit for limit in LIMITS if limit.unit == "characters"}
# Our own validators already quote the input; pydantic's type errors do not.
_SHOW_INPUT = (set(_MESSAGES) - {"missing", "extra_forbidden"}) | {
    "literal_error",
    "string_pattern_mismatch",
}
_MAX_REPORTED = 5


def _shown_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "string_too_long":
        limit = _LIMIT_BY_CHARS.get(ctx.get("max_length", -1))
        name = f"{limit.name} = " if limit else ""
        return f"{len(error['input']):,} characters, over the limit {name}{ctx.get('max_length')}"
    if kind == "string_pattern_mismatch":
        return _PATTERN_MEANING.get(ctx.get("pattern", ""), f"must match {ctx.get('pattern')}")
    return _MESSAGES.get(kind, error["msg"])


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    message = _message(error)
    where = location(tuple(error["loc"]))
    # A refusal must not spread what it refuses to keep: a date of birth is never quoted.
    personal = any(isinstance(part, str) and is_personal(part) for part in error["loc"])
    if kind in _SHOW_INPUT and not personal:
        shown = error["input"]
        message += (
            ", got null" if shown is None else f", got {json_kind(shown)} {_shown_input(shown)}"
        )
    elif personal:
        message = (
            "must be a calendar date as YYYY-MM-DD"
            if kind == "iso_date"
            else message.split(", got ", 1)[0]
        )
    # Errors from a model-level check (subject vs data.uln) have no location;
    # their message names the fields itself.
    return f"{where}: {message}" if where else message


def describe_errors(error: ValidationError) -> tuple[RejectionReason, str]:
    """The reason code and a human detail for a failed validation.

    Only when every problem is a bad ULN is the reason INVALID_ULN; anything
    else wrong with the message makes it MALFORMED, the more basic fault.
    """
    errors = error.errors(include_url=False)
    reason = (
        RejectionReason.INVALID_ULN
        if all(item["type"] == "invalid_uln" for item in errors)
        else RejectionReason.MALFORMED
    )
    details = [_describe(item) for item in errors[:_MAX_REPORTED]]
    if len(errors) > _MAX_REPORTED:
        details.append(f"and {len(errors) - _MAX_REPORTED} more")
    return reason, "; ".join(details)
