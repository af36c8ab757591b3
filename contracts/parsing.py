"""From a received message to a typed event in one call, or a ContractError saying why not.

``parse_inbound`` is the ingest hot path, so its happy path does the least that keeps
every rule: orjson reads the body once; the model validates the dict (the schema's
bounds make a valid event within every limit, so no separate walk); a count of the
members the text spells out catches duplicate keys; the parsed dict, less its nulls,
is the wire form the digest is taken of. Only when something is wrong does the slow,
exact path run (contracts.jsonio) to name the first rule broken, limits first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from pydantic import ValidationError

from contracts.binding import (
    BindingError,
    ContentMode,
    binary_attributes,
    binary_digest,
    content_mode,
    headers_size,
    read_headers,
)
from contracts.echo import unreadable_text
from contracts.errors import ContractError, RejectionReason, describe_errors
from contracts.inbound import INBOUND_EVENT_TYPES, InboundEvent
from contracts.jsonio import count_members, json_kind, read_json
from contracts.limits import MAX_MESSAGE_BYTES, LimitExceededError
from contracts.outbound import OUTBOUND_EVENT_TYPES, OutboundEvent
from contracts.status import StatusRequest
from contracts.subjects import learner_token, nats_subject_problem
from contracts.uln import is_valid_uln

__all__ = ["parse_inbound", "parse_outbound", "parse_status_request"]

MALFORMED = RejectionReason.MALFORMED
# Strings at these places have a tighter limit than MAX_STRING_CHARS.
_FIELD_LIMITS = {
    "id": "MAX_ID_CHARS",
    "source": "MAX_SOURCE_CHARS",
    "dataschema": "MAX_SOURCE_CHARS",
    "data.revokes": "MAX_ID_CHARS",
}
# What we publish is read under the same limits, but for the two strings a rejection
# may make longer than MAX_STRING_CHARS: its detail, and an echo that is text.
_OUTBOUND_FIELD_LIMITS = {
    "data.detail": "MAX_DETAIL_CHARS",
    "data.original": "ECHO_MAX_BYTES",
}


@dataclass(slots=True)
class _Received:
    """One message as it came: body, headers, NATS subject, and what has been read of it."""

    raw: bytes | str
    headers: Mapping[str, str] | None
    nats_subject: str | None
    mode: ContentMode = ContentMode.STRUCTURED
    # What could be read so far: the event as a structured-mode dict, once there is one.
    readable: object = None

    def refuse(
        self,
        detail: str,
        message: Mapping[str, Any] | None = None,
        reason: RejectionReason = MALFORMED,
    ) -> ContractError:
        digest = None
        if self.mode is ContentMode.BINARY and self.headers:
            digest = binary_digest(self.headers, self.raw)
        return ContractError(
            reason,
            detail,
            self.raw,
            readable=self.readable,
            digest=digest,
            nats_subject=self.nats_subject,
            **_context(message or {}, self.nats_subject),
        )


def parse_inbound(
    raw: bytes | str,
    *,
    subject: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> InboundEvent:
    """The inbound event a message holds, validated strictly; ContractError otherwise.

    ``raw`` is the message body; ``subject`` the NATS subject it came on (its last
    token must be the event's subject); ``headers`` its NATS headers, which tell
    binary mode (``ce-*`` headers, the body is ``data``) from structured mode (the
    body is the event). Both modes give the same event, with the same digest.
    """
    if type(raw) is bytes:
        event = _valid(raw, subject, headers)
        if event is not None:
            return event
    return _parse(raw, subject, headers)


def _valid(
    raw: bytes, subject: str | None, headers: Mapping[str, str] | None
) -> InboundEvent | None:
    """The event, when the message is a valid one in either mode; None for anything else.

    The hot path: no bookkeeping for refusals. On None, ``_parse`` reads the message
    again and says exactly what is wrong, so this need only be right when it accepts.
    """
    size = len(raw)
    binary = False
    message: Any
    if headers:
        try:
            mode, message = read_headers(headers)
        except BindingError:
            return None
        binary = mode is ContentMode.BINARY
        size += headers_size(headers)
    if size > MAX_MESSAGE_BYTES or (binary and not raw):
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if binary:
        message["data"] = body
    else:
        message = body
    if type(message) is not dict:
        return None
    event_type = message.get("type")
    model = INBOUND_EVENT_TYPES.get(event_type) if type(event_type) is str else None
    if model is None:
        return None
    try:
        event = model.model_validate(message)
    except ValidationError:
        return None
    # A valid event's members are the envelope's and its data's (extensions are
    # scalars): a text spelling out more repeated a key.
    data = message["data"]
    if count_members(raw) != (len(data) if binary else len(message) + len(data)):
        return None
    if subject is not None and nats_subject_problem(subject, event.subject) is not None:
        return None
    event._keep_wire(message)
    return event


def _parse(
    raw: bytes | str, subject: str | None, headers: Mapping[str, str] | None
) -> InboundEvent:
    """``parse_inbound`` the whole way: binary mode, text, and every refusal."""
    received = _Received(raw, headers, subject)
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    size += headers_size(headers)
    if size > MAX_MESSAGE_BYTES:
        raise received.refuse(
            str(LimitExceededError(f"the message is {size:,} bytes", "MAX_MESSAGE_BYTES"))
        )
    try:
        received.mode = content_mode(headers)
        message = _binary_event(received) if received.mode is ContentMode.BINARY else None
    except BindingError as error:
        received.readable = _headers_and_body(received)
        raise received.refuse(str(error)) from None
    if message is None:
        message = _read_body(received)
        received.readable = message
        if not isinstance(message, dict):
            _check_readable(received, message)
            raise received.refuse(f"expected a JSON object, got {json_kind(message)}")
    model = _inbound_model(received, message)
    try:
        event = model.model_validate(message)
    except ValidationError as error:
        _check_readable(received, message)
        reason, detail = describe_errors(error)
        raise received.refuse(detail, message, reason) from None
    data = message["data"]
    spelled = len(data) if received.mode is ContentMode.BINARY else len(message) + len(data)
    if count_members(raw) != spelled:
        _check_readable(received, message)  # names the duplicate key
        raise received.refuse("the message repeats a key", message)
    if subject is not None:
        problem = nats_subject_problem(subject, event.subject)
        if problem is not None:
            raise received.refuse(problem, message)
    event._keep_wire(message)
    return event


def _read_body(received: _Received, attributes: Mapping[str, Any] | None = None) -> Any:
    """The body's JSON value; on refusal, the exact reason (read_json explains it).

    ``attributes`` are a binary-mode message's, which name its event even when the
    body cannot be read.
    """
    try:
        return orjson.loads(received.raw)
    except orjson.JSONDecodeError:
        pass
    try:
        read_json(received.raw, None if attributes else _FIELD_LIMITS)
    except ValueError as error:
        raise received.refuse(str(error), attributes) from None
    raise AssertionError("unreachable: read_json refuses what orjson refused")


def _binary_event(received: _Received) -> dict[str, Any]:
    """The event a binary-mode message carries, as structured mode would carry it."""
    assert received.headers is not None
    message: dict[str, Any] = dict(binary_attributes(received.headers))
    # Until the body is read, what can be echoed is the attributes and the body's text.
    received.readable = {**message, "data": unreadable_text(received.raw)}
    if received.raw:
        # An empty body is an event without data (which every one of ours needs).
        message["data"] = _read_body(received, message)
    received.readable = message
    return message


def _headers_and_body(received: _Received) -> dict[str, Any]:
    """What a rejection can echo of a message whose headers could not be read."""
    return {"headers": dict(received.headers or {}), "body": unreadable_text(received.raw)}


def _check_readable(received: _Received, value: Any) -> None:
    """Refuse ``value`` (the parsed message) if it breaks a limit or repeats a key.

    Run only once something is already wrong, so that the refusal names the most basic
    fault: a hostile size or depth before the fields it makes wrong.
    """
    binary = received.mode is ContentMode.BINARY
    if binary and not received.raw:
        return  # no body: nothing more to read
    try:
        read_json(received.raw, None if binary else _FIELD_LIMITS)
    except LimitExceededError as error:
        # Over a limit, the message was still read: its id and learner can be named.
        raise received.refuse(str(error), value if isinstance(value, dict) else None) from None
    except ValueError as error:
        # Not strict JSON (a repeated key): which id or subject is meant is unknowable,
        # so the rejection names none and echoes the text, not one reading of it.
        if not binary:
            received.readable = None
        elif isinstance(value, dict):
            received.readable = {**value, "data": unreadable_text(received.raw)}
        raise received.refuse(str(error)) from None


def _inbound_model(received: _Received, message: dict[str, Any]) -> type[InboundEvent]:
    # Checked before validation so that an unknown type gets one clear sentence,
    # not an error from every member of a union.
    event_type = message.get("type")
    if isinstance(event_type, str) and event_type in INBOUND_EVENT_TYPES:
        return INBOUND_EVENT_TYPES[event_type]
    _check_readable(received, message)
    raise received.refuse(_type_problem(message, INBOUND_EVENT_TYPES), message)


def _type_problem(message: dict[str, Any], known: Mapping[str, object]) -> str:
    event_type = message.get("type")
    if "type" not in message:
        return "type: required but missing"
    if not isinstance(event_type, str):
        return f"type: must be a string, got {json_kind(event_type)}"
    shown = event_type if len(event_type) <= 60 else event_type[:57] + "..."
    return f"type: unknown event type {shown!r}; expected one of {', '.join(sorted(known))}"


def parse_outbound(raw: bytes | str) -> OutboundEvent:
    """A published decision read back (subscribers, tests, audit tools)."""
    message = _read_object(raw, _OUTBOUND_FIELD_LIMITS)
    event_type = message.get("type")
    if not (isinstance(event_type, str) and event_type in OUTBOUND_EVENT_TYPES):
        raise ContractError(
            MALFORMED, _type_problem(message, OUTBOUND_EVENT_TYPES), raw, **_context(message)
        )
    # JSON mode: in it strict validation takes arrays for tuples and codes for enums.
    try:
        return OUTBOUND_EVENT_TYPES[event_type].model_validate_json(raw)
    except ValidationError as error:
        _raise_validation(error, message, raw)


def parse_status_request(raw: bytes | str) -> StatusRequest:
    message = _read_object(raw)
    try:
        return StatusRequest.model_validate(message)
    except ValidationError as error:
        _raise_validation(error, message, raw)


def _read_object(raw: bytes | str, field_limits: Mapping[str, str] | None = None) -> dict[str, Any]:
    if len(raw) > MAX_MESSAGE_BYTES:
        detail = str(LimitExceededError(f"the message is {len(raw):,} bytes", "MAX_MESSAGE_BYTES"))
        raise ContractError(MALFORMED, detail, raw)
    try:
        message = read_json(raw, field_limits)
    except ValueError as error:
        raise ContractError(MALFORMED, str(error), raw) from None
    if not isinstance(message, dict):
        raise ContractError(MALFORMED, f"expected a JSON object, got {json_kind(message)}", raw)
    return message


def _raise_validation(
    error: ValidationError, message: dict[str, Any], raw: bytes | str
) -> NoReturn:
    reason, detail = describe_errors(error)
    raise ContractError(reason, detail, raw, readable=message, **_context(message)) from None


def _context(message: Mapping[str, Any], nats_subject: str | None = None) -> dict[str, Any]:
    """What a rejection can say about the message even though it failed validation."""
    data = message.get("data")
    candidates = [message.get("subject"), data.get("uln") if isinstance(data, dict) else None]
    candidates.append(message.get("uln"))  # a status request names its learner at the top
    if nats_subject is not None:
        candidates.append(learner_token(nats_subject))
    return {
        "event_id": _string(message.get("id")),
        "source": _string(message.get("source")),
        "subject": _string(message.get("subject")),
        "uln": next((c for c in candidates if isinstance(c, str) and is_valid_uln(c)), None),
    }


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None
