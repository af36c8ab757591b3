"""The learner status read model in PostgreSQL, beside a PostgreSQL event store.

Two tables in the store's own database, written by psycopg in transactions of their
own: ``learner_registrations`` (one row per registration) and ``view_position``, moved in
the same transaction as the rows, under a row lock on the position, so two writers
(a rebuild, a replica that lost its lease) can never interleave. See
projections.status_view for what the view holds and promises.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import orjson
import psycopg
from psycopg_pool import ConnectionPool

from projections.status_view import PositionConflictError, Row, rows_of

__all__ = ["PostgresStatusView"]

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS learner_registrations ("
    "uln text NOT NULL, qualification text NOT NULL, status text NOT NULL, "
    "claim_by text NOT NULL, expiry_due integer NOT NULL, document text NOT NULL, "
    "PRIMARY KEY (uln, qualification))",
    "CREATE INDEX IF NOT EXISTS learner_registrations_expiry_due "
    "ON learner_registrations (claim_by, uln) WHERE expiry_due = 1",
    "CREATE TABLE IF NOT EXISTS view_position (view text PRIMARY KEY, position bigint NOT NULL)",
]
_VIEW = "learner_registrations"
_INSERT = "INSERT INTO learner_registrations VALUES (%s, %s, %s, %s, %s, %s)"


class PostgresStatusView:
    def __init__(self, url: str) -> None:
        self._pool = ConnectionPool(
            url, min_size=1, max_size=4, open=True, timeout=10.0, kwargs={"autocommit": True}
        )
        with self._transaction() as cur:
            # Two replicas starting at once both try to create the tables: one waits.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('learner_records_views'))")
            for statement in _SCHEMA:
                cur.execute(statement)
            cur.execute(
                "INSERT INTO view_position VALUES (%s, 0) ON CONFLICT (view) DO NOTHING", (_VIEW,)
            )

    def position(self) -> int:
        with self._transaction() as cur:
            cur.execute("SELECT position FROM view_position WHERE view = %s", (_VIEW,))
            found = cur.fetchone()
        return int(found[0]) if found else 0

    def apply(
        self,
        expected: int,
        position: int,
        learners: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        durable: bool = True,
    ) -> None:
        with self._transaction(durable=durable) as cur:
            self._move(cur, expected, position)
            cur.execute("DELETE FROM learner_registrations WHERE uln = ANY(%s)", (list(learners),))
            rows = [row for uln, docs in learners.items() for row in rows_of(uln, docs)]
            if rows:
                cur.executemany(_INSERT, rows)

    def replace(self, position: int, rows: Iterable[Row]) -> None:
        with self._transaction(durable=False) as cur:
            cur.execute("SELECT position FROM view_position WHERE view = %s FOR UPDATE", (_VIEW,))
            cur.execute("DELETE FROM learner_registrations")
            with cur.copy(
                "COPY learner_registrations (uln, qualification, status, claim_by, expiry_due, "
                "document) "
                "FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("UPDATE view_position SET position = %s WHERE view = %s", (position, _VIEW))

    def registrations(self, uln: str) -> list[dict[str, Any]] | None:
        with self._transaction() as cur:
            cur.execute(
                "SELECT document FROM learner_registrations WHERE uln = %s ORDER BY qualification",
                (uln,),
            )
            rows = cur.fetchall()
        return [orjson.loads(row[0]) for row in rows] or None

    def due_for_review(self, today: date, *, after: str = "", limit: int = 1000) -> list[str]:
        with self._transaction() as cur:
            cur.execute(
                "SELECT DISTINCT uln FROM learner_registrations "
                "WHERE expiry_due = 1 AND claim_by < %s AND uln > %s "
                "ORDER BY uln LIMIT %s",
                (today.isoformat(), after, limit),
            )
            return [row[0] for row in cur.fetchall()]

    def count(self) -> int:
        with self._transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM learner_registrations")
            found = cur.fetchone()
        return int(found[0]) if found else 0

    def rows(self) -> list[Row]:
        with self._transaction() as cur:
            cur.execute("SELECT * FROM learner_registrations ORDER BY uln, qualification")
            return [tuple(row) for row in cur.fetchall()]

    def close(self) -> None:
        self._pool.close()

    @staticmethod
    def _move(cur: psycopg.Cursor[Any], expected: int, position: int) -> None:
        cur.execute("SELECT position FROM view_position WHERE view = %s FOR UPDATE", (_VIEW,))
        found = cur.fetchone()
        if (int(found[0]) if found else 0) != expected:
            raise PositionConflictError(f"view moved from {expected} to {found}")
        cur.execute("UPDATE view_position SET position = %s WHERE view = %s", (position, _VIEW))

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[psycopg.Cursor[Any]]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if not durable:
                # A rebuild can simply be run again: no need to wait for its WAL flush.
                cur.execute("SET LOCAL synchronous_commit = off")
            yield cur
