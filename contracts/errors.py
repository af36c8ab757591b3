"""Rejection reason codes and the error a message raises when it breaks its contract."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from contracts.jsonio import json_kind, raw_digest, read_json

__all__ = ["ContractError", "RejectionReason", "describe_errors", "original_payload"]


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


class ContractError(ValueError):
    """A message that cannot be accepted, decided from the message alone.

    ``reason`` is MALFORMED or INVALID_ULN. ``event_id``, ``source`` and
    ``subject`` are the envelope's own strings when it could be read as a JSON
    object (None otherwise), so the rejection can name what it rejects.
    ``uln`` is the first valid ULN among ``subject`` and ``data.uln``: the
    learner a rejection can be filed under, if any. ``digest`` identifies the
    message by its bytes, for when even ``source`` and ``id`` are missing.
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
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.raw = raw
        self.event_id = event_id
        self.source = source
        self.subject = subject
        self.uln = uln

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the message exactly as received (see ``raw_digest``)."""
        return raw_digest(self.raw)

    @property
    def original(self) -> dict[str, Any] | str:
        """The rejected message as ``event.rejected.v1`` carries it."""
        return original_payload(self.raw)


def original_payload(raw: bytes | str) -> dict[str, Any] | str:
    """The JSON object when ``raw`` is one, else its text (undecodable bytes as U+FFFD)."""
    try:
        value = read_json(raw)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    # A str may hold lone surrogates that no UTF-8 encoder will publish.
    return raw.encode("utf-8", errors="replace").decode("utf-8")


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
# Our own validators already quote the input; pydantic's type errors do not.
_SHOW_INPUT = (set(_MESSAGES) - {"missing", "extra_forbidden"}) | {"literal_error"}
_MAX_REPORTED = 5


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _shown_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "literal_error":
        message = f"must be {error.get('ctx', {}).get('expected')}"
    else:
        message = _MESSAGES.get(kind, error["msg"])
    if kind in _SHOW_INPUT:
        shown = error["input"]
        message += (
            ", got null" if shown is None else f", got {json_kind(shown)} {_shown_input(shown)}"
        )
    # Errors from a model-level check (subject vs data.uln) have no location;
    # their message names the fields itself.
    location = _location(error["loc"])
    return f"{location}: {message}" if location else message


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
