"""Refused events that name no learner we can file them under.

A malformed message or one with an invalid ULN cannot go to a learner
aggregate, but its refusal must still be durable, de-duplicated and
published. Each gets a tiny aggregate of its own, keyed by its identity
(``source`` and ``id``), or by a digest of its bytes when even those are
unreadable.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

UNATTRIBUTED = UUID("a3c9e1f4-2b7d-5e08-9c6a-1d4f8b2e7c95")


class Unattributed(Aggregate):
    @staticmethod
    def create_id(identity: str) -> UUID:
        return uuid5(UNATTRIBUTED, identity)

    @event("Received")
    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.digests: list[str] = []

    def has_seen(self, digest: str) -> bool:
        return digest in self.digests

    @event("Refused")
    def refuse(self, digest: str, decision: dict[str, Any], received_at: str) -> None:
        self.digests.append(digest)


def identity_of(source: str | None, event_id: str | None, digest: str) -> str:
    if source and event_id:
        return f"event|{source}|{event_id}"
    return f"bytes|{digest}"
