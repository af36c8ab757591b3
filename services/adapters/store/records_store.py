"""The learner histories in eventsourcing's store: the application's port to it.

Reads fold stored events through the one fold (``LearnerRecord.apply``); writes go in
one transaction per batch with everything that must be atomic with them: the
tracking position of the stream they came from, new learners' keys, erased learners'
keys destroyed, parked messages. No eventsourcing aggregate or mapper is involved:
the rows are encoded and decoded by ``Codec`` straight from the typed events.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking

from domain.learner import (
    LearnerEvent,
    LearnerRecord,
    UnattributedRefused,
    learner_id,
    unattributed_id,
)
from services.adapters.store.codec import Codec
from services.adapters.store.keys import KeyTable
from services.adapters.store.recorders import SideWrite, StoreRecorder
from services.adapters.store.sealing import KeyRing, Sealer

__all__ = ["Append", "Logged", "RecordsStore", "UnattributedLog"]


@dataclass(slots=True)
class UnattributedLog:
    """What is stored of one unattributed identity: its version and digests seen."""

    version: int = 0
    digests: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Append:
    """One batch's writes: every learner's new events after the version it was loaded at."""

    learners: list[tuple[str, int, Sequence[LearnerEvent]]] = field(default_factory=list)
    unattributed: list[tuple[str, int, Sequence[UnattributedRefused]]] = field(default_factory=list)
    tracking: Tracking | None = None
    # More positions stored in the same transaction: a group commit of several
    # partitions' batches (LearnerRecords.receive_batches).
    also_tracking: list[Tracking] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)
    side: list[SideWrite] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Logged:
    """An event as the notification log holds it: its position, and whose it is."""

    position: int
    originator_id: UUID
    version: int
    event: LearnerEvent | UnattributedRefused | None


class RecordsStore:
    def __init__(self, recorder: StoreRecorder, factory: Any) -> None:
        self.recorder = recorder
        self._factory = factory
        self.keys = KeyRing(KeyTable(recorder).read)
        self.codec = Codec(Sealer(self.keys))

    @property
    def dialect(self) -> str:
        return str(self.recorder.dialect)

    def records(self, ulns: Collection[str], *, personal: bool = False) -> dict[str, LearnerRecord]:
        """The records of those of these learners who have a history (one query)."""
        by_id = {learner_id(uln): uln for uln in ulns}
        if personal:
            self.keys.prefetch(ulns)
        found: dict[str, LearnerRecord] = {}
        for stored in self.recorder.select_learner_events(list(by_id)):
            uln = by_id[_uuid(stored.originator_id)]
            record = found.get(uln)
            if record is None:
                record = found[uln] = LearnerRecord(uln)
            event = self.codec.decode(stored, personal=personal)
            if isinstance(event, LearnerEvent):
                record.apply(event)
            # Bookkeeping events of 0.1 decode to nothing but still count as versions.
            record.version = stored.originator_version
        return found

    def unattributed(self, identities: Collection[str]) -> dict[str, UnattributedLog]:
        by_id = {unattributed_id(identity): identity for identity in identities}
        logs: dict[str, UnattributedLog] = {}
        for stored in self.recorder.select_learner_events(list(by_id)):
            log = logs.setdefault(by_id[_uuid(stored.originator_id)], UnattributedLog())
            log.version = stored.originator_version
            event = self.codec.decode(stored, personal=False)
            if isinstance(event, UnattributedRefused):
                log.digests.add(event.digest)
        return logs

    def append(self, batch: Append) -> None:
        """Store the batch in one transaction, or nothing at all."""
        stored: list[StoredEvent] = []
        for uln, version, events in batch.learners:
            originator = learner_id(uln)
            for offset, event in enumerate(events, start=1):
                stored.append(self.codec.encode(originator, version + offset, event))
        for identity, version, refusals in batch.unattributed:
            originator = unattributed_id(identity)
            for offset, refusal in enumerate(refusals, start=1):
                stored.append(self.codec.encode(originator, version + offset, refusal))
        created = [k for k in self.keys.take_created() if k.uln not in batch.erased]
        side = list(batch.side)
        if created:
            side.append(KeyTable.inserts(created))
        if batch.erased:
            side.extend(KeyTable.deletes(batch.erased))
        try:
            self.recorder.insert_events(
                stored, tracking=batch.tracking, also_tracking=batch.also_tracking, side=side
            )
        except BaseException:
            self.keys.forget(batch.erased)
            raise
        self.keys.stored(created)
        self.keys.forget(batch.erased)

    def finish_erasure(self, uln: str) -> int:
        """After an erasure is stored: redact the learner's 0.1 rows, and make sure the
        destroyed key is gone from the files. How many 0.1 rows were redacted."""
        from services.adapters.store.erasure import redact_legacy_rows, scrub

        redacted = redact_legacy_rows(self.recorder, uln)
        scrub(self.recorder)
        return redacted

    def position(self, name: str) -> int:
        """How far the reader ``name`` has come (a tracking record), 0 if it never began."""
        return int(self.recorder.max_tracking_id(name) or 0)

    def history(self, uln: str, *, personal: bool = True) -> list[LearnerEvent]:
        """Every stored event of one learner, oldest first."""
        if personal:
            self.keys.prefetch([uln])
        events = (
            self.codec.decode(s, personal=personal)
            for s in self.recorder.select_learner_events([learner_id(uln)])
        )
        return [e for e in events if isinstance(e, LearnerEvent)]

    def history_until(self, uln: str, version: int) -> list[LearnerEvent]:
        """The learner's events up to and including ``version`` (personal data sealed)."""
        events = (
            self.codec.decode(s, personal=False)
            for s in self.recorder.select_learner_events([learner_id(uln)])
            if s.originator_version <= version
        )
        return [e for e in events if isinstance(e, LearnerEvent)]

    def log(self, after: int, limit: int, topics: Sequence[str] = ()) -> list[Logged]:
        """Up to ``limit`` notifications after position ``after``, decoded (personal data
        left sealed): what the read models and the relay follow."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False
        )
        return [
            Logged(
                n.id,
                _uuid(n.originator_id),
                n.originator_version,
                self.codec.decode(n, personal=False),
            )
            for n in notifications
        ]

    def log_shard(
        self, after: int, limit: int, topics: Sequence[str], shard: tuple[int, int]
    ) -> tuple[int, list[Logged]]:
        """The entries of ``log`` that belong to the learners of ``shard`` (index, count),
        decoded; the others skipped undecoded. The last position scanned comes first."""
        reached, rows = self.recorder.select_shard(after, limit, topics, shard)
        return reached, [
            Logged(
                position,
                _uuid(stored.originator_id),
                stored.originator_version,
                self.codec.decode(stored, personal=False),
            )
            for position, stored in rows
        ]

    def raw_log(self, after: int, limit: int, topics: Sequence[str] = ()) -> Sequence[Any]:
        """The notifications themselves (eventsourcing's), for readers that decode
        only part of a state (the relay reads a decision without the rest)."""
        return self.recorder.select_notifications(  # type: ignore[no-any-return]
            start=after, limit=limit, topics=topics, inclusive_of_start=False
        )

    def last_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def pending(self, after: int, topics: Sequence[str]) -> int:
        """How many notifications of ``topics`` a reader at ``after`` has still to read."""
        return int(self.recorder.count_notifications(after, topics))

    def iter_log(self, page: int = 5_000) -> Iterator[Logged]:
        after = 0
        while entries := self.log(after, page):
            yield from entries
            after = entries[-1].position

    def close(self) -> None:
        self._factory.close()


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
