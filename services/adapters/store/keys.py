"""The ``learner_keys`` table: reading, storing and destroying learners' keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from services.adapters.store.recorders import SideWrite, StoreRecorder
from services.adapters.store.sealing import LearnerKey

__all__ = ["KeyTable"]

_SELECT = {
    "sqlite": "SELECT uln, key_id, key, created_at FROM learner_keys WHERE uln IN ({marks})",
    "postgres": "SELECT uln, key_id, key, created_at FROM learner_keys WHERE uln = ANY(%s)",
}
_INSERT = {
    "sqlite": "INSERT INTO learner_keys VALUES (?, ?, ?, ?)",
    "postgres": "INSERT INTO learner_keys VALUES (%s, %s, %s, %s)",
}
_DELETE = {
    "sqlite": "DELETE FROM learner_keys WHERE uln = ?",
    "postgres": "DELETE FROM learner_keys WHERE uln = %s",
}


class KeyTable:
    def __init__(self, recorder: StoreRecorder) -> None:
        self._recorder = recorder

    def read(self, ulns: Iterable[str]) -> Mapping[str, LearnerKey]:
        wanted: Sequence[str] = list(ulns)
        if not wanted:
            return {}
        if self._recorder.dialect == "sqlite":
            sql = {"sqlite": _SELECT["sqlite"].format(marks=",".join("?" * len(wanted)))}
            rows = self._recorder.query(sql, wanted)
        else:
            rows = self._recorder.query(_SELECT, (wanted,))
        return {
            uln: LearnerKey(uln, key_id, bytes(key), datetime.fromisoformat(created))
            for uln, key_id, key, created in rows
        }

    @staticmethod
    def inserts(keys: Sequence[LearnerKey]) -> SideWrite:
        return SideWrite(
            _INSERT, [(k.uln, k.key_id, k.key, k.created_at.isoformat()) for k in keys]
        )

    @staticmethod
    def deletes(ulns: Sequence[str]) -> list[SideWrite]:
        """Delete these learners' keys, overwriting the deleted content in SQLite's pages
        (``secure_delete``) so a destroyed key cannot be read back from a free page."""
        secure = SideWrite({"sqlite": "PRAGMA secure_delete = ON", "postgres": "SELECT 1"}, [()])
        return [secure, SideWrite(_DELETE, [(uln,) for uln in ulns])]
