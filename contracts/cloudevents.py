"""The CloudEvents 1.0 envelope in structured JSON mode, generic over its ``data``.

Each message type subclasses ``CloudEvent[SomeData]`` and narrows ``type`` to a
``Literal``; the literal is the type's name everywhere (dispatch, schemas).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Literal, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.fields import EventId, Timestamp, UriReference
from contracts.jsonio import canonical_json_bytes, sha256_digest
from contracts.limits import MAX_STRING_CHARS

__all__ = [
    "EXTENSION_NAME_PATTERN",
    "JSON_CONTENT_TYPE",
    "SPECVERSION",
    "CloudEvent",
    "Extension",
    "event_type_of",
    "wire_time",
]

SPECVERSION: Final = "1.0"
JSON_CONTENT_TYPE: Final = "application/json"
# CloudEvents 1.0 section "Attribute Naming Convention" (≤ 20 is its SHOULD; we make it a MUST).
EXTENSION_NAME_PATTERN = r"^[a-z0-9]{1,20}$"
_EXTENSION_NAME_RE = re.compile(EXTENSION_NAME_PATTERN)
_INT32 = range(-(2**31), 2**31)

Extension = str | int | bool
DataT = TypeVar("DataT", bound=BaseModel)


def _envelope_schema(schema: dict[str, Any]) -> None:
    # Every core attribute name also fits the extension pattern, so one
    # propertyNames rule covers both; extensions are scalars (CloudEvents'
    # String, Integer, Boolean in JSON). anyOf rather than a type array: ajv's
    # strict mode refuses union types unless told to allow them.
    if schema.get("additionalProperties") is not False:
        schema["propertyNames"] = {"type": "string", "pattern": EXTENSION_NAME_PATTERN}
        schema["additionalProperties"] = {
            "anyOf": [
                {"type": "string", "maxLength": MAX_STRING_CHARS},
                {"type": "integer", "minimum": _INT32.start, "maximum": _INT32.stop - 1},
                {"type": "boolean"},
            ]
        }


class CloudEvent(BaseModel, Generic[DataT]):
    """The required context attributes plus ``data``; other top-level keys are extensions.

    The optional ``datacontenttype`` and ``dataschema`` are declared by the
    subclasses, which differ: inbound events may carry them, ours always say
    application/json and never name a schema.
    """

    model_config = ConfigDict(
        strict=True, frozen=True, extra="allow", json_schema_extra=_envelope_schema
    )

    # Optional attributes a subclass declares, left out of the wire form when
    # absent: in CloudEvents JSON a null attribute means no attribute.
    _OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("datacontenttype", "dataschema")

    id: EventId = Field(description="unique within its source; (source, id) identifies the event")
    source: UriReference = Field(description="URI-reference naming the publisher")
    specversion: Literal["1.0"]
    type: str
    time: Timestamp = Field(description="when the occurrence happened, RFC 3339 with an offset")
    subject: str
    data: DataT

    # The wire form and digest once known (see wire_and_digest). Plain slots, not
    # pydantic private attributes: those cost a few µs on every model built, and
    # the ingest path builds one per event. Not fields, so equality ignores them.
    __slots__ = ("_digest", "_wire")
    if TYPE_CHECKING:
        _wire: dict[str, Any]
        _digest: str | None

    @model_validator(mode="after")
    def _check(self) -> Self:
        # The one model-level validator: every call from pydantic-core into Python
        # costs, and the ingest path validates every event. Subclasses add theirs
        # in _check_more.
        extra = self.__pydantic_extra__
        if extra:
            # In CloudEvents JSON a null attribute is an absent one, so a null
            # extension is dropped. Done here rather than in a "before" validator,
            # which would turn JSON-mode validation into Python-mode validation
            # (and strict Python mode refuses a JSON array for a tuple).
            for name in [name for name, value in extra.items() if value is None]:
                del extra[name]
            for name, value in extra.items():
                _check_extension(name, value)
        self._check_more()
        return self

    def _check_more(self) -> None:
        """A subclass's own model-level checks; raise PydanticCustomError to refuse."""

    @property
    def extensions(self) -> dict[str, Extension]:
        return dict(self.model_extra or {})

    def to_wire(self) -> dict[str, Any]:
        """The event as the JSON object it is in structured mode (a fresh dict)."""
        wire = self.model_dump(mode="json")
        for name in self._OMIT_WHEN_NONE:
            if wire.get(name, "") is None:
                del wire[name]
        return wire

    def to_json_bytes(self) -> bytes:
        """Compact JSON with sorted keys: the bytes that are published."""
        return canonical_json_bytes(self.to_wire())

    def wire_and_digest(self) -> tuple[dict[str, Any], str]:
        """``to_wire()`` and ``digest()`` at once, cheaply: the ingest hot path.

        For a parsed event both were taken from the parsed message, which holds exactly
        ``to_wire()``'s content (tests/unit/test_contracts_speed.py checks this), so no
        second serialisation is needed. Treat the dict as read-only: it may be shared.
        """
        try:
            wire, digest = self._wire, self._digest
        except AttributeError:  # built by the service, not parsed
            wire, digest = self.to_wire(), None
            object.__setattr__(self, "_wire", wire)
        if digest is None:
            digest = sha256_digest(canonical_json_bytes(wire))
            object.__setattr__(self, "_digest", digest)
        return wire, digest

    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of the whole event in structured mode.

        Extensions are included. Two deliveries of one event digest alike however
        their keys were ordered or spaced, and in either CloudEvents mode; any change
        of content changes the digest. With (source, id) it tells a redelivery from a
        conflicting duplicate.
        """
        return self.wire_and_digest()[1]

    def _keep_wire(self, message: dict[str, Any]) -> None:
        """Remember the wire form of a parsed ``message``, which it takes over.

        Only the parser calls this, with the dict it has just read and owns.
        It is ``message`` without its null attributes (in CloudEvents JSON a null
        attribute is an absent one) and with ``time`` in the one spelling pydantic
        writes; every other value already reads as pydantic would write it.
        """
        wire = message
        if None in message.values():
            wire = {name: value for name, value in message.items() if value is not None}
        wire["time"] = wire_time(self.time)
        object.__setattr__(self, "_wire", wire)
        object.__setattr__(self, "_digest", None)

    @classmethod
    def event_type(cls) -> str:
        return event_type_of(cls)


def wire_time(value: datetime) -> str:
    """``value`` as pydantic writes a datetime in JSON: ISO 8601, UTC as ``Z``."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def event_type_of(model: type[BaseModel]) -> str:
    """The single ``Literal`` value a message class gives its ``type``."""
    choices = get_args(model.model_fields["type"].annotation)
    if len(choices) != 1 or not isinstance(choices[0], str):
        raise TypeError(f"{model.__name__}.type must be a Literal of one string")
    return choices[0]


def _check_extension(name: str, value: Any) -> None:
    if name == "data_base64":
        raise PydanticCustomError("extension", "data_base64 is not accepted: data must be JSON")
    if _EXTENSION_NAME_RE.fullmatch(name) is None:
        raise PydanticCustomError(
            "extension",
            "unknown attribute {name}: extension names are 1-20 of a-z and 0-9",
            {"name": repr(name)},
        )
    if isinstance(value, str):
        if len(value) <= MAX_STRING_CHARS:
            return
        raise PydanticCustomError(
            "extension",
            "extension attribute {name}: {length} characters, over the limit MAX_STRING_CHARS"
            " = {limit}",
            {"name": repr(name), "length": len(value), "limit": MAX_STRING_CHARS},
        )
    if isinstance(value, bool) or (isinstance(value, int) and value in _INT32):
        return
    raise PydanticCustomError(
        "extension",
        "extension attribute {name} must be a string, a 32-bit integer or a boolean",
        {"name": repr(name)},
    )
