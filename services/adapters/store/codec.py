"""Learner events to and from eventsourcing's stored events: topics, versions, sealing.

A stored event's topic is its class (``domain.learner.events.topic_of``); its state is
the JSON of a small envelope, ``{"e": <the event>, "v": class_version, "k": key id,
"s": sealed}``, encoded and decoded by msgspec straight to and from the typed classes
(no intermediate dicts: ~1.5 µs per event each way). Personal fields
(``Registration.date_of_birth``, ``Arrival.original``) never reach the JSON in clear:
they are taken out, packed with msgpack and sealed (AES-GCM) under the learner's own
key, with the learner's id and the event's version as associated data, so a sealed
value cannot be moved to another row. Without the key (erased) they read as None.

A state older than its class (``v`` < ``class_version``) goes through the class's
upcasters; the topics of learner-records 0.1 go through ``upcasting.LEGACY``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
import orjson
from eventsourcing.persistence import StoredEvent

from domain.learner import (
    LEARNER_EVENTS,
    Arrival,
    EventRefused,
    FactRecorded,
    LearnerEvent,
    Registered,
    Registration,
    UnattributedRefused,
    topic_of,
)
from services.adapters.store.sealing import Sealer

__all__ = ["UPCASTERS", "Codec", "StoredLearnerEvent"]

T = TypeVar("T")
Event = LearnerEvent | UnattributedRefused
# What a stored state may become: a learner's event, a refusal naming no learner, or
# nothing (a 0.1 bookkeeping event such as Learner.Opened).
StoredLearnerEvent = Event | None

# (class, version the state is at) -> a function bringing the state's "e" object to the
# next version. Empty while every class is at version 1: a new shape adds one here.
UPCASTERS: dict[tuple[type[Any], int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class _State(msgspec.Struct, Generic[T], omit_defaults=True):
    e: T
    v: int = 1
    k: str | None = None
    s: bytes | None = None


class _Personal(msgspec.Struct, omit_defaults=True, array_like=True):
    date_of_birth: date | None = None
    original: bytes | None = None


_encode = msgspec.json.Encoder().encode
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(_Personal).decode


class Codec:
    """Encodes and decodes the events of learner histories for one store."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        classes: tuple[type[Any], ...] = (*LEARNER_EVENTS, UnattributedRefused)
        self._class_of: dict[str, type[Any]] = {topic_of(cls): cls for cls in classes}
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {
            topic: msgspec.json.Decoder(_State[cls])  # type: ignore[valid-type]
            for topic, cls in self._class_of.items()
        }
        self.topics: Mapping[str, type[Any]] = self._class_of

    def encode(self, originator_id: UUID, version: int, event: Event) -> StoredEvent:
        """The stored form of ``event``, sealing its personal fields under its learner's key."""
        cls = type(event)
        kept, personal = _split(event)
        key_id, sealed = None, None
        if personal is not None:
            key_id, sealed = self.sealer.seal(
                event.uln,  # type: ignore[union-attr]  # only learner events carry personal data
                _pack(personal),
                _aad(originator_id, version),
            )
        state = _encode(_State(kept, cls.class_version, key_id, sealed))
        return StoredEvent(originator_id, version, topic_of(cls), state)

    def decode(self, stored: StoredEvent, *, personal: bool = True) -> StoredLearnerEvent:
        """The event a stored event holds; ``personal=False`` leaves sealed fields closed
        (the read models never need them, and need no key)."""
        decoder = self._decoders.get(stored.topic)
        if decoder is None:
            from services.adapters.store.upcasting import LEGACY

            legacy = LEGACY.get(stored.topic)
            if legacy is None:
                raise ValueError(f"unknown topic in the store: {stored.topic!r}")
            upcast: StoredLearnerEvent = legacy(stored.state)
            return upcast
        cls = self._class_of[stored.topic]
        state = decoder.decode(stored.state)
        if state.v != cls.class_version:
            state = self._upcast(cls, stored.state)
        event = state.e
        if personal and state.s is not None and state.k is not None:
            opened = self.sealer.open(
                event.uln,
                state.k,
                state.s,
                _aad(_uuid(stored.originator_id), stored.originator_version),
            )
            if opened is not None:
                event = _restore(event, _unpack(opened))
        result: StoredLearnerEvent = event
        return result

    def _upcast(self, cls: type[Any], raw: bytes) -> _State[Any]:
        state = orjson.loads(raw)
        version = state.get("v", 1)
        obj = state["e"]
        while version < cls.class_version:
            obj = UPCASTERS[(cls, version)](obj)
            version += 1
        state["e"], state["v"] = obj, version
        return msgspec.convert(state, _State[cls])  # type: ignore[valid-type]


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _aad(originator_id: UUID, version: int) -> bytes:
    return f"{originator_id}:{version}".encode()


def _split(event: Event) -> tuple[Event, _Personal | None]:
    """The event without its personal fields, and those fields (None when it has none).

    Built field by field rather than with dataclasses.replace: this runs for every
    event stored, and replace costs twice as much.
    """
    if isinstance(event, Registered):
        fact = event.fact
        kept_fact = Registration(
            fact.qualification,
            fact.registered_on,
            fact.centre,
            fact.evidence,
            None,
            fact.age_requirement,
        )
        kept: Event = Registered(event.uln, _without_original(event.arrival), kept_fact)
        return kept, _Personal(fact.date_of_birth, event.arrival.original)
    if isinstance(event, FactRecorded) and event.arrival.original is not None:
        kept = type(event)(event.uln, _without_original(event.arrival), event.fact)  # type: ignore[call-arg, attr-defined]
        return kept, _Personal(None, event.arrival.original)
    if isinstance(event, EventRefused) and event.arrival.original is not None:
        arrival = _without_original(event.arrival)
        return dataclasses.replace(event, arrival=arrival), _Personal(None, event.arrival.original)
    return event, None


def _without_original(arrival: Arrival) -> Arrival:
    return Arrival(arrival.received_at, arrival.digest, None, arrival.trace)


def _restore(event: Any, personal: _Personal) -> Any:
    arrival = dataclasses.replace(event.arrival, original=personal.original)
    if isinstance(event, Registered):
        fact = dataclasses.replace(event.fact, date_of_birth=personal.date_of_birth)
        return dataclasses.replace(event, fact=fact, arrival=arrival)
    return dataclasses.replace(event, arrival=arrival)
