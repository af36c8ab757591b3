"""What the read models need of the event store: a port the store adapter implements.

Projections never import the services: they follow a log of typed learner events by
position, and read a learner's earlier history when it is not in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.learner import LearnerEvent, UnattributedRefused

__all__ = ["EventLog", "LoggedEvent"]


class LoggedEvent(Protocol):
    """One entry of the notification log: its position, whose event it is, the event."""

    @property
    def position(self) -> int: ...
    @property
    def originator_id(self) -> UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def event(self) -> LearnerEvent | UnattributedRefused | None: ...


class EventLog(Protocol):
    def log(self, after: int, limit: int, topics: Sequence[str] = ()) -> Sequence[LoggedEvent]:
        """Up to ``limit`` entries after position ``after`` (personal data left sealed)."""
        ...

    def log_shard(
        self, after: int, limit: int, topics: Sequence[str], shard: tuple[int, int]
    ) -> tuple[int, Sequence[LoggedEvent]]:
        """The entries of ``log`` of the learners in ``shard`` (index, count) only, the
        others skipped undecoded; the last position scanned first."""
        ...

    def last_position(self) -> int: ...

    def history_until(self, uln: str, version: int) -> list[LearnerEvent]:
        """The learner's events up to and including ``version``."""
        ...
