"""The learner status read model in a SQLite file of its own (beside a SQLite store).

A separate file keeps the rebuildable view out of the event store's write lock, and can
be deleted at any time (``learner-records rebuild`` recreates it). See
projections.status_view for what the view holds and promises.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from projections.status_view import PositionConflictError, Row, rows_of

__all__ = ["SqliteStatusView"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS learner_registrations (
    uln TEXT NOT NULL,
    qualification TEXT NOT NULL,
    status TEXT NOT NULL,
    claim_by TEXT NOT NULL,
    expiry_due INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (uln, qualification)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS learner_registrations_expiry_due
    ON learner_registrations (claim_by) WHERE expiry_due = 1;
CREATE TABLE IF NOT EXISTS view_position (
    view TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
-- The view before expiry_due (0.1): rebuilt from the store, so its rows just go.
DROP TABLE IF EXISTS registration_status;
DELETE FROM view_position WHERE view = 'learner_status';
"""
_VIEW = "learner_registrations"
_INSERT = "INSERT INTO learner_registrations VALUES (?, ?, ?, ?, ?, ?)"
_MOVE = (
    "INSERT INTO view_position VALUES (?, ?) "
    "ON CONFLICT (view) DO UPDATE SET position = excluded.position"
)


class SqliteStatusView:
    """Reads and writes of the view; every method opens its own short-lived connection,
    so it may be called from any thread (the service calls it from worker threads)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def position(self) -> int:
        with self._connect() as db:
            row = db.execute("SELECT position FROM view_position WHERE view = ?", (_VIEW,))
            found = row.fetchone()
        return int(found[0]) if found else 0

    def apply(
        self,
        expected: int,
        position: int,
        learners: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        durable: bool = True,
    ) -> None:
        """Replace the rows of each learner given and move the position, atomically.

        ``expected`` is the position the caller started from; if the stored one differs
        (a rebuild reset it meanwhile) nothing is written and PositionConflictError raised.
        ``durable=False`` (a rebuild only) commits without waiting for the disk: still
        atomic, but a power cut may lose the last pages, and the rebuild is simply rerun.
        Only this file, the rebuildable view, is ever written so; never the event store.
        """
        with self._transaction(durable=durable) as db:
            current = db.execute("SELECT position FROM view_position WHERE view = ?", (_VIEW,))
            found = current.fetchone()
            if (int(found[0]) if found else 0) != expected:
                raise PositionConflictError(f"view moved from {expected} to {found}")
            db.executemany(
                "DELETE FROM learner_registrations WHERE uln = ?", [(u,) for u in learners]
            )
            db.executemany(
                _INSERT, [row for uln, docs in learners.items() for row in rows_of(uln, docs)]
            )
            db.execute(_MOVE, (_VIEW, position))

    def replace(self, position: int, rows: Iterable[Row]) -> None:
        """Replace every row by ``rows`` and set the position, atomically (a rebuild).

        Whatever the position was, it is moved, so a running projection's next
        ``apply`` finds it moved and starts again from ``position``. Committed without
        waiting for the disk, then checkpointed and synced: a crash before that loses
        the rebuild, which is simply run again (only this view file is written so).
        """
        with self._transaction(durable=False) as db:
            db.execute("DELETE FROM learner_registrations")
            db.executemany(_INSERT, rows)
            db.execute(_MOVE, (_VIEW, position))
        self.checkpoint()

    def checkpoint(self) -> None:
        """Write the log into the file and sync it (the end of a non-durable rebuild)."""
        with self._connect() as db:
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def reset(self) -> None:
        """Empty the view and put its position back to the start (a rebuild)."""
        with self._transaction() as db:
            db.execute("DELETE FROM learner_registrations")
            db.execute("DELETE FROM view_position WHERE view = ?", (_VIEW,))

    def registrations(self, uln: str) -> list[dict[str, Any]] | None:
        """The learner's registration documents; None if the view has no row for them."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT document FROM learner_registrations WHERE uln = ? ORDER BY qualification",
                (uln,),
            ).fetchall()
        return [orjson.loads(row[0]) for row in rows] or None

    def due_for_review(self, today: date, *, after: str = "", limit: int = 1000) -> list[str]:
        """Learners with a registration whose claim-by date has passed while still open,
        in ULN order from after ``after`` (pages that do not depend on the view changing)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT uln FROM learner_registrations "
                "WHERE expiry_due = 1 AND claim_by < ? AND uln > ? "
                "ORDER BY uln LIMIT ?",
                (today.isoformat(), after, limit),
            ).fetchall()
        return [row[0] for row in rows]

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM learner_registrations").fetchone()[0])

    def rows(self) -> list[Row]:
        with self._connect() as db:
            return db.execute(
                "SELECT * FROM learner_registrations ORDER BY uln, qualification"
            ).fetchall()

    def close(self) -> None:
        pass  # every method opens and closes its own connection

    def _connect(self) -> contextlib.closing[sqlite3.Connection]:
        # Autocommit mode: transactions are begun explicitly, IMMEDIATE, so two writers
        # queue on the busy timeout instead of failing on a lock upgrade.
        return contextlib.closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None))

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            if not durable:
                db.execute("PRAGMA synchronous=OFF")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
