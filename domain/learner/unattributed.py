"""Refused events that name no learner they can be filed under.

A message whose NATS subject names no valid ULN, and whose body names none either,
cannot go to a learner's history, but its refusal must still be durable,
de-duplicated and published. Each gets a tiny history of its own, keyed by where it
arrived and its identity (``source`` and ``id``), or by a digest of its bytes when even
those are unreadable. Nothing personal is kept: the rejection's echo has the personal
fields removed, and the original bytes are not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from domain.learner.events import Decision

__all__ = ["UNATTRIBUTED", "UnattributedRefused", "identity_of", "unattributed_id"]

UNATTRIBUTED = UUID("a3c9e1f4-2b7d-5e08-9c6a-1d4f8b2e7c95")


@dataclass(frozen=True, slots=True)
class UnattributedRefused:
    identity: str
    source: str | None
    id: str | None
    reason: str
    detail: str
    received_at: datetime
    digest: str
    decision: Decision

    class_version: ClassVar[int] = 1


def identity_of(where: str, source: str | None, event_id: str | None, digest: str) -> str:
    """``where`` is the NATS subject's learner token (or a file's name): two partitions
    never share an identity, so each is written by its partition's owner alone."""
    if source and event_id:
        return f"event|{where}|{source}|{event_id}"
    return f"bytes|{where}|{digest}"


def unattributed_id(identity: str) -> UUID:
    return uuid5(UNATTRIBUTED, identity)
