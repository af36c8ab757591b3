"""eventsourcing's process recorders, extended by the tables that live beside the events.

The events, the notification log and the tracking positions are eventsourcing's own
(SQLite or PostgreSQL, chosen by its environment settings). Beside them live three
small tables of ours, written in the same transaction as the events
(``insert_events(..., side=...)``): the learners' keys, parked messages, and decisions
the relay could not publish. All raw SQL on eventsourcing's tables is in this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    ProcessRecorder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder
from eventsourcing.utils import Environment, get_topic

__all__ = [
    "SideWrite",
    "StoreRecorder",
    "open_recorder",
    "shard_of",
]

# The environment name 0.1 used (eventsourcing prefixes PostgreSQL tables with it),
# so a 0.1 store is read in place.
ENV_NAME = "LearnerRecords"


@dataclass(frozen=True, slots=True)
class SideWrite:
    """A statement run in the same transaction as a batch of events.

    ``sql`` is per dialect: ``{"sqlite": ..., "postgres": ...}``; ``rows`` are its
    parameters, one tuple per execution.
    """

    sql: dict[str, str]
    rows: Sequence[tuple[Any, ...]]


_SQLITE_TABLES = [
    "CREATE TABLE IF NOT EXISTS learner_keys ("
    "uln TEXT PRIMARY KEY, key_id TEXT NOT NULL, key BLOB NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS parked_messages ("
    "stream TEXT NOT NULL, seq INTEGER NOT NULL, uln TEXT NOT NULL, subject TEXT NOT NULL, "
    "message BLOB NOT NULL, key_id TEXT, reason TEXT NOT NULL, parked_at TEXT NOT NULL, "
    "redrive INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (stream, seq))",
    "CREATE INDEX IF NOT EXISTS parked_messages_by_learner ON parked_messages (uln, stream, seq)",
    "CREATE TABLE IF NOT EXISTS undeliverable_decisions ("
    "notification_id INTEGER PRIMARY KEY, decision_id TEXT NOT NULL, subject TEXT NOT NULL, "
    "reason TEXT NOT NULL, failed_at TEXT NOT NULL, redrive INTEGER NOT NULL DEFAULT 0)",
]
POSTGRES_TABLES = [
    "CREATE TABLE IF NOT EXISTS learner_keys ("
    "uln text PRIMARY KEY, key_id text NOT NULL, key bytea NOT NULL, created_at text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS parked_messages ("
    "stream text NOT NULL, seq bigint NOT NULL, uln text NOT NULL, subject text NOT NULL, "
    "message bytea NOT NULL, key_id text, reason text NOT NULL, parked_at text NOT NULL, "
    "redrive integer NOT NULL DEFAULT 0, PRIMARY KEY (stream, seq))",
    "CREATE INDEX IF NOT EXISTS parked_messages_by_learner ON parked_messages (uln, stream, seq)",
    "CREATE TABLE IF NOT EXISTS undeliverable_decisions ("
    "notification_id bigint PRIMARY KEY, decision_id text NOT NULL, subject text NOT NULL, "
    "reason text NOT NULL, failed_at text NOT NULL, redrive integer NOT NULL DEFAULT 0)",
]


class SQLiteStoreRecorder(SQLiteProcessRecorder):
    dialect = "sqlite"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_SQLITE_TABLES]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        # The positions of the other partitions whose batches share this transaction
        # (a group commit): each moves forward under the same rule as ``tracking``.
        for tracking in kwargs.get("also_tracking", ()):
            self._insert_tracking(c, tracking)
        for write in kwargs.get("side", ()):
            _run(c, write.sql[self.dialect], write.rows)
        return returning

    # Reads of our own, each in one read transaction.

    def select_learner_events(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these learners, by learner then version: one query."""
        if not originator_ids:
            return []
        marks = ",".join("?" * len(originator_ids))
        statement = (
            "SELECT originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE originator_id IN ({marks}) "
            "ORDER BY originator_id, originator_version"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [i.hex for i in originator_ids])
            return [StoredEvent(UUID(r[0]), r[1], r[2], r[3]) for r in c.fetchall()]

    def select_shard(
        self, after: int, limit: int, topics: Sequence[str], shard: tuple[int, int]
    ) -> tuple[int, list[tuple[int, StoredEvent]]]:
        """Up to ``limit`` notifications of ``topics`` after ``after``, of the learners in
        ``shard`` (index, count) only: the last position scanned, and (position, event)
        for those. Rows of other shards are skipped before anything is built from them,
        so that each of several processes decodes only its own learners."""
        marks = ",".join("?" * len(topics))
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE rowid > ? AND topic IN ({marks}) "
            "ORDER BY rowid LIMIT ?"
        )
        index, count = shard
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [after, *topics, limit])
            rows = c.fetchall()
        mine = [
            (r[0], StoredEvent(UUID(r[1]), r[2], r[3], r[4]))
            for r in rows
            if shard_of(r[1], count) == index
        ]
        return (rows[-1][0] if rows else after), mine

    def count_notifications(self, after: int, topics: Sequence[str]) -> int:
        """How many notifications of these topics lie after position ``after`` (the
        relay's lag: a range scan of the rows after it, none of their states read)."""
        marks = ",".join("?" * len(topics))
        statement = (
            f"SELECT COUNT(*) FROM {self.events_table_name} WHERE rowid > ? AND topic IN ({marks})"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [after, *topics])
            return int(c.fetchone()[0])

    def query(self, sql: dict[str, str], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql[self.dialect], params)
            return [tuple(row) for row in c.fetchall()]

    def execute(self, writes: Iterable[SideWrite]) -> None:
        """Run statements of ours in one transaction of their own."""
        with self.datastore.transaction(commit=True) as c:
            for write in writes:
                _run(c, write.sql[self.dialect], write.rows)


def shard_of(originator_id: UUID | str, count: int) -> int:
    """Which of ``count`` shards a learner's history falls in: its id's last 32 bits
    modulo ``count``, the same from a UUID (PostgreSQL) or its hex (SQLite)."""
    low = (
        originator_id.int & 0xFFFFFFFF
        if isinstance(originator_id, UUID)
        else int(originator_id.replace("-", "")[-8:], 16)
    )
    return low % count


def _run(cursor: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    # A statement with one empty row of parameters (a PRAGMA) is executed once; executemany
    # is for data statements only.
    if list(rows) == [()]:
        cursor.execute(sql)
    elif rows:
        cursor.executemany(sql, rows)


# What the rest of the adapter relies on: eventsourcing's process recorder plus ours.
StoreRecorder = Any


def open_recorder(env: dict[str, str]) -> tuple[StoreRecorder, InfrastructureFactory[Any]]:
    """The process recorder for the store ``env`` names (eventsourcing's settings)."""
    settings = dict(env)
    if settings["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        # Imported only here: psycopg comes with the optional `postgres` extra.
        from services.adapters.store.postgres import PostgresStoreRecorder

        settings["PROCESS_RECORDER_TOPIC"] = get_topic(PostgresStoreRecorder)
    else:
        settings["PROCESS_RECORDER_TOPIC"] = get_topic(SQLiteStoreRecorder)
    factory = InfrastructureFactory.construct(Environment(ENV_NAME, settings))
    recorder: ProcessRecorder = factory.process_recorder()
    assert isinstance(recorder, TrackingRecorder)
    return recorder, factory
