"""The PostgreSQL process recorder, with the tables that live beside the events.

A module of its own so that psycopg (the optional `postgres` extra) is imported only
when a store is on PostgreSQL. See services.adapters.store.recorders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg.sql import SQL, Composed, Identifier

from services.adapters.store.recorders import POSTGRES_TABLES, SideWrite, _run, shard_of

__all__ = ["PostgresStoreRecorder", "reach"]


def reach(env: Mapping[str, str]) -> None:
    """Connect once, directly, and hang up: raises what the server said.

    eventsourcing's pool retries a refused connection until its timeout and then reports
    only that it could not get one; a direct attempt says at once why (a wrong password,
    no such database, nothing listening), which is what a person at a command line needs.
    """
    import psycopg

    psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
    ).close()


class PostgresStoreRecorder(PostgresProcessRecorder):
    dialect = "postgres"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in POSTGRES_TABLES)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        for tracking in kwargs.get("also_tracking", ()):
            self._insert_tracking(curs, tracking)
        for write in kwargs.get("side", ()):
            _run(curs, write.sql[self.dialect], write.rows)

    def select_learner_events(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these learners, by learner then version: one query."""
        if not originator_ids:
            return []
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (list(originator_ids),))
            return [
                StoredEvent(
                    r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"])
                )
                for r in curs.fetchall()
            ]

    def select_shard(
        self, after: int, limit: int, topics: Sequence[str], shard: tuple[int, int]
    ) -> tuple[int, list[tuple[int, StoredEvent]]]:
        """As SQLiteStoreRecorder.select_shard."""
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {0}.{1} WHERE notification_id > %s AND topic = ANY(%s) "
            "ORDER BY notification_id LIMIT %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        index, count = shard
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (after, list(topics), limit))
            rows = curs.fetchall()
        mine = [
            (
                r["notification_id"],
                StoredEvent(
                    r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"])
                ),
            )
            for r in rows
            if shard_of(r["originator_id"], count) == index
        ]
        return (rows[-1]["notification_id"] if rows else after), mine

    def count_notifications(self, after: int, topics: Sequence[str]) -> int:
        """How many notifications of these topics lie after position ``after``."""
        statement = SQL(
            "SELECT COUNT(*) AS n FROM {0}.{1} WHERE notification_id > %s AND topic = ANY(%s)"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (after, list(topics)))
            row = curs.fetchone()
            return int(row["n"]) if row else 0

    def query(self, sql: dict[str, str], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql[self.dialect], params)
            return [tuple(row.values()) for row in curs.fetchall()]

    def execute(self, writes: Iterable[SideWrite]) -> None:
        """Run statements of ours in one transaction of their own."""
        with self.datastore.transaction(commit=True) as curs:
            for write in writes:
                _run(curs, write.sql[self.dialect], write.rows)
