"""What erasing a learner does to the store beyond destroying their key.

Destroying the key (in the same transaction as the ``LearnerErased`` event) is the
erasure: every sealed field becomes unreadable. Two things remain to be made sure of:

- the deleted key must not linger in free pages or the write-ahead log: SQLite is
  told to overwrite deleted content (``secure_delete``) and its log is checkpointed and
  truncated; PostgreSQL's table is vacuumed, so the dead row version is reclaimed
  (its WAL segments are recycled in time, which nothing here can force);
- stores written by 0.1 kept the date of birth in clear in the learner's
  ``Learner.FactRecorded`` and ``Learner.FactRefused`` rows: those rows are redacted in
  place, the one rewrite of history the service ever makes.
"""

from __future__ import annotations

import contextlib
import sqlite3

import orjson

from domain.learner import learner_id
from services.adapters.store.recorders import SideWrite, StoreRecorder

__all__ = ["redact_legacy_rows", "scrub"]

_PERSONAL = "date_of_birth"
_LEGACY_TOPICS = (
    "domain.learner.aggregate:Learner.FactRecorded",
    "domain.learner.aggregate:Learner.FactRefused",
)


def redact_legacy_rows(recorder: StoreRecorder, uln: str) -> int:
    """Remove the date of birth from the learner's 0.1 rows; how many were rewritten."""
    originator = learner_id(uln)
    rewritten = []
    for stored in recorder.select_learner_events([originator]):
        if stored.topic not in _LEGACY_TOPICS:
            continue
        state = orjson.loads(stored.state)
        if not _strip(state):
            continue
        rewritten.append((orjson.dumps(state), stored.originator_version))
    if not rewritten:
        return 0
    ident = originator.hex if recorder.dialect == "sqlite" else originator
    rows = [(state, ident, version) for state, version in rewritten]
    recorder.execute(
        [
            SideWrite(
                {
                    "sqlite": f"UPDATE {recorder.events_table_name} SET state = ? "
                    "WHERE originator_id = ? AND originator_version = ?",
                    "postgres": f"UPDATE {recorder.events_table_name} SET state = %s "
                    "WHERE originator_id = %s AND originator_version = %s",
                },
                rows,
            )
        ]
    )
    return len(rows)


def _strip(value: object) -> bool:
    """Drop every date_of_birth in a JSON value, in place; whether one was found."""
    found = False
    if isinstance(value, dict):
        if _PERSONAL in value:
            del value[_PERSONAL]
            found = True
        for item in value.values():
            found = _strip(item) or found
    elif isinstance(value, list):
        for item in value:
            found = _strip(item) or found
    return found


def scrub(recorder: StoreRecorder) -> None:
    """Make sure deleted rows (the key) are gone from the files, not only unlinked."""
    if recorder.dialect == "sqlite":
        # A connection of its own: a checkpoint cannot run inside a transaction.
        with contextlib.closing(sqlite3.connect(recorder.datastore.pool.db_name)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with recorder.datastore.get_connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM learner_keys")
        conn.autocommit = False
