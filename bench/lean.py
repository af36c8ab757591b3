"""A lean replica of the write path: the yardstick for ``receive_batch`` (issue 10, item 3).

The same domain code as the service (``Learner``, ``LearnerRecord``, the acceptance
checks, the rules engine, the decisions built as contract models), the same pydantic
validation (``contracts.parse_inbound``), the same digest (``wire_and_digest``), the same
typed events, encoded with msgspec in the same ``{"e": event, "v": class_version}``
envelope as the store's codec, into a table shaped like eventsourcing's
``stored_events`` (same columns, same primary key, rowid as the notification id), with
``executemany`` and one transaction per batch of 500 on SQLite in WAL mode with its
default ``synchronous`` (FULL), as the service's store has. The heap is frozen after
each batch, as the service does (``gc.freeze()``), so the comparison is not about GC.

What it leaves out, compared with ``LearnerRecords.receive_batch`` on the service's
store (each is work the service does per event or per batch that this does not):

- **sealing**: personal fields (``date_of_birth``, the original bytes of every fact)
  are stored in clear, not sealed with AES-GCM under the learner's key; no
  ``learner_keys`` table, no key look-up per batch, no key rows written;
- **tracking**: no stream position written with the batch;
- **parking**: no check per message for parked learners, no ``parked_messages``;
- **the unattributed log**: refusals naming no learner are remembered in memory only
  (the service reads their identities from the store per batch);
- **the cache's bookkeeping**: every learner stays in a plain dict (no LRU, no
  eviction, nothing forgotten on failure), no writer lock, no ``Inbound``/``Outcome``
  objects, no trace-context look-ups;
- **eventsourcing's recorder**: one ``executemany`` instead of one ``execute`` per row
  (the recorder reads back each ``lastrowid``), and no eventsourcing transaction wrapper.

It keeps: one query per batch for the learners not in memory (and the decoding and
folding of what it finds), the ``Settled`` memo beside each learner, every refusal and
decision, and one commit per batch.

``python -m bench.lean [LEARNERS]`` runs it alone and prints events/s.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec

from contracts import ContractError, InboundEvent, parse_inbound
from contracts.jsonio import raw_digest
from domain.catalogue import Catalogue
from domain.learner import (
    LEARNER_EVENTS,
    Arrival,
    Learner,
    LearnerEvent,
    LearnerRecord,
    Settled,
    UnattributedRefused,
    identity_of,
    learner_id,
    rejection,
    topic_of,
    unattributed_id,
)

__all__ = ["BATCH", "LeanReplica"]

BATCH = 500
T = TypeVar("T")

# eventsourcing's SQLite application recorder, as it creates the table.
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS stored_events (originator_id TEXT, originator_version "
    "INTEGER, topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)
INSERT = (
    "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
    "VALUES (?, ?, ?, ?)"
)


class _State(msgspec.Struct, Generic[T], omit_defaults=True):
    """The store codec's envelope (services/adapters/store/codec.py), less the sealed part."""

    e: T
    v: int = 1


_encode = msgspec.json.Encoder().encode
_TOPIC: dict[type[Any], str] = {
    cls: topic_of(cls) for cls in (*LEARNER_EVENTS, UnattributedRefused)
}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    topic: msgspec.json.Decoder(_State[cls])  # type: ignore[valid-type]
    for cls, topic in _TOPIC.items()
}


class LeanReplica:
    """Parse, fold, decide, encode, insert: one transaction per batch."""

    def __init__(self, path: str, catalogue: Catalogue, now: datetime) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(CREATE_TABLE)
        self.catalogue = catalogue
        self.now = now
        self.learners: dict[str, tuple[LearnerRecord, Settled]] = {}
        self.unattributed: dict[str, tuple[int, set[str]]] = {}
        # Time spent encoding the rows, inserting them and committing: the store's share.
        self.store_seconds = 0.0

    def receive_batch(self, messages: Sequence[bytes]) -> int:
        """Apply a batch and store it in one transaction; how many rows were written."""
        now = self.now
        parsed: list[tuple[InboundEvent | ContractError, str | None]] = []
        for raw in messages:
            try:
                event = parse_inbound(raw)
            except ContractError as error:
                parsed.append((error, error.uln))
            else:
                parsed.append((event, event.subject))
        self._load({uln for _, uln in parsed if uln is not None})
        touched: dict[str, tuple[Learner, int]] = {}
        refused: dict[str, list[UnattributedRefused]] = {}
        for raw, (result, uln) in zip(messages, parsed, strict=True):
            if uln is None:
                assert isinstance(result, ContractError)
                self._unattributed(result, raw, refused)
                continue
            held = touched.get(uln)
            if held is None:
                cached = self.learners.get(uln)
                record = cached[0] if cached is not None else LearnerRecord(uln)
                held = touched[uln] = (Learner(record), record.version)
            learner = held[0]
            if isinstance(result, ContractError):
                arrival = Arrival(now, result.digest, raw)
                learner.refuse(
                    result.reason.value,
                    result.detail,
                    result.original,
                    result.source,
                    result.event_id,
                    arrival,
                    now,
                )
                continue
            _, digest = result.wire_and_digest()
            settled = self.learners[uln][1] if uln in self.learners else None
            learner.receive(result, Arrival(now, digest, raw), self.catalogue, now, settled)
        storing = time.perf_counter()
        rows: list[tuple[str, int, str, bytes]] = []
        for uln, (learner, version) in touched.items():
            originator = learner_id(uln).hex
            for offset, taken in enumerate(learner.collect(), start=1):
                rows.append((originator, version + offset, _TOPIC[type(taken)], _row(taken)))
        for identity, refusals in refused.items():
            version, _ = self.unattributed[identity]
            originator = unattributed_id(identity).hex
            start, topic = version - len(refusals), _TOPIC[UnattributedRefused]
            for offset, refusal in enumerate(refusals, start=1):
                rows.append((originator, start + offset, topic, _row(refusal)))
        self.db.execute("BEGIN")
        try:
            self.db.executemany(INSERT, rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.store_seconds += time.perf_counter() - storing
        for uln, (learner, _) in touched.items():
            if uln not in self.learners:
                self.learners[uln] = (learner.record, Settled())
        gc.freeze()
        return len(rows)

    def _load(self, ulns: set[str]) -> None:
        """The learners not in memory, from the table, in one query."""
        missing = {learner_id(uln).hex: uln for uln in ulns if uln not in self.learners}
        if not missing:
            return
        marks = ",".join("?" * len(missing))
        found: dict[str, LearnerRecord] = {}
        for originator, version, topic, state in self.db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
            list(missing),
        ):
            uln = missing[originator]
            record = found.get(uln) or found.setdefault(uln, LearnerRecord(uln))
            record.apply(_DECODERS[topic].decode(state).e)
            record.version = version
        for uln, record in found.items():
            self.learners[uln] = (record, Settled())

    def _unattributed(
        self, error: ContractError, raw: bytes, refused: dict[str, list[UnattributedRefused]]
    ) -> None:
        identity = identity_of("-", error.source, error.event_id, error.digest)
        version, digests = self.unattributed.get(identity, (0, set()))
        if error.digest in digests:
            return
        now = self.now
        decision = rejection(
            None,
            error.reason.value,
            error.detail,
            error.original,
            error.source,
            error.event_id,
            error.digest,
            now,
        )
        digests.add(error.digest)
        self.unattributed[identity] = (version + 1, digests)
        refused.setdefault(identity, []).append(
            UnattributedRefused(
                identity,
                error.source,
                error.event_id,
                error.reason.value,
                error.detail,
                now,
                error.digest or raw_digest(raw),
                decision,
            )
        )

    def close(self) -> None:
        self.db.close()


def _row(event: LearnerEvent | UnattributedRefused) -> bytes:
    return _encode(_State(event, event.class_version))


def run(payloads: Sequence[bytes], catalogue: Catalogue, now: datetime) -> tuple[float, int, float]:
    """Seconds to take every payload in batches of BATCH, rows written, and the seconds
    of those spent encoding, inserting and committing."""
    with tempfile.TemporaryDirectory() as directory:
        lean = LeanReplica(str(Path(directory) / "lean.sqlite"), catalogue, now)
        try:
            rows = 0
            started = time.perf_counter()
            for start in range(0, len(payloads), BATCH):
                rows += lean.receive_batch(payloads[start : start + BATCH])
            return time.perf_counter() - started, rows, lean.store_seconds
        finally:
            lean.close()


def main(argv: list[str] | None = None) -> None:
    from bench._common import load, size
    from devtools.loadgen import DEFAULT_AS_OF
    from services.adapters.catalogue_files import load_catalogue
    from services.application.clock import FixedClock

    args = sys.argv[1:] if argv is None else argv
    learners = int(args[0]) if args else size().inprocess_learners
    payloads = [p for _, p in load(learners, seed=2)]
    seconds, rows, _ = run(payloads, load_catalogue(), FixedClock(DEFAULT_AS_OF).now())
    print(f"lean replica: {len(payloads) / seconds:,.0f} events/s ({rows:,} rows, {seconds:.1f}s)")


if __name__ == "__main__":
    main()
