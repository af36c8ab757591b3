"""From wire bytes to a typed message in one call, or a ContractError saying why not."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.errors import ContractError, RejectionReason, describe_errors
from contracts.inbound import INBOUND_EVENT_TYPES, InboundEvent
from contracts.jsonio import json_kind, read_json
from contracts.outbound import OUTBOUND_EVENT_TYPES, OutboundEvent
from contracts.status import StatusRequest
from contracts.uln import is_valid_uln

__all__ = ["parse_inbound", "parse_outbound", "parse_status_request"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_inbound(raw: bytes | str) -> InboundEvent:
    """The inbound event ``raw`` holds, validated strictly; ContractError otherwise."""
    message = _read_object(raw)
    return _validate(
        INBOUND_EVENT_TYPES[_event_type(message, raw, INBOUND_EVENT_TYPES)], message, raw
    )


def parse_outbound(raw: bytes | str) -> OutboundEvent:
    """A published decision read back (subscribers, tests, audit tools)."""
    message = _read_object(raw)
    model = OUTBOUND_EVENT_TYPES[_event_type(message, raw, OUTBOUND_EVENT_TYPES)]
    # JSON mode: in it strict validation takes arrays for tuples and codes for enums.
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise _contract_error(error, message, raw) from None


def parse_status_request(raw: bytes | str) -> StatusRequest:
    message = _read_object(raw)
    return _validate(StatusRequest, message, raw)


def _read_object(raw: bytes | str) -> dict[str, Any]:
    try:
        message = read_json(raw)
    except ValueError as error:  # JsonReadError, or LimitExceededError
        raise ContractError(RejectionReason.MALFORMED, str(error), raw) from None
    if not isinstance(message, dict):
        raise ContractError(
            RejectionReason.MALFORMED, f"expected a JSON object, got {json_kind(message)}", raw
        )
    return message


def _event_type(message: dict[str, Any], raw: bytes | str, known: dict[str, Any]) -> str:
    # Checked before validation so that an unknown type gets one clear sentence,
    # not an error from every member of a union.
    event_type = message.get("type")
    if isinstance(event_type, str) and event_type in known:
        return event_type
    if "type" not in message:
        detail = "type: required but missing"
    elif not isinstance(event_type, str):
        detail = f"type: must be a string, got {json_kind(event_type)}"
    else:
        detail = (
            f"type: unknown event type {event_type!r}; expected one of {', '.join(sorted(known))}"
        )
    raise ContractError(RejectionReason.MALFORMED, detail, raw, **_context(message))


def _validate(model: type[ModelT], message: dict[str, Any], raw: bytes | str) -> ModelT:
    try:
        return model.model_validate(message)
    except ValidationError as error:
        raise _contract_error(error, message, raw) from None


def _contract_error(
    error: ValidationError, message: dict[str, Any], raw: bytes | str
) -> ContractError:
    reason, detail = describe_errors(error)
    return ContractError(reason, detail, raw, **_context(message))


def _context(message: dict[str, Any]) -> dict[str, Any]:
    """What a rejection can say about the message even though it failed validation."""
    data = message.get("data")
    candidates = [message.get("subject"), data.get("uln") if isinstance(data, dict) else None]
    candidates.append(message.get("uln"))  # a status request names its learner at the top
    return {
        "event_id": _string(message.get("id")),
        "source": _string(message.get("source")),
        "subject": _string(message.get("subject")),
        "uln": next((c for c in candidates if isinstance(c, str) and is_valid_uln(c)), None),
    }


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None
