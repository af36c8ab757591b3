"""The ``parked_messages`` table: a sequenced dead-letter queue, in the store.

A message at fault is parked with every later message of its learner, in stream
order, so nothing overtakes it; parking is written in the same transaction as the
batch that parked it (with the stream position), so a crash can neither lose a
parked message nor apply one. The message (which may hold a date of birth) is kept
sealed under the learner's key. ``redrive`` marks a learner's messages to be tried
again; the partition's owner does so, in order, in its own writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from services.adapters.store.recorders import SideWrite, StoreRecorder
from services.adapters.store.sealing import Sealer

__all__ = ["ParkedMessage", "ParkedTable"]


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    stream: str
    seq: int
    uln: str
    subject: str
    data: bytes | None  # None when the learner has been erased since
    headers: dict[str, str]
    reason: str
    parked_at: datetime


class _Sealed(msgspec.Struct, array_like=True):
    data: bytes
    headers: dict[str, str]


_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(_Sealed).decode

_INSERT = {
    "sqlite": "INSERT INTO parked_messages "
    "(stream, seq, uln, subject, message, key_id, reason, parked_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "postgres": "INSERT INTO parked_messages "
    "(stream, seq, uln, subject, message, key_id, reason, parked_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
}
_DELETE = {
    "sqlite": "DELETE FROM parked_messages WHERE stream = ? AND seq = ?",
    "postgres": "DELETE FROM parked_messages WHERE stream = %s AND seq = %s",
}
_LEARNERS = {
    "sqlite": "SELECT DISTINCT uln FROM parked_messages WHERE stream = ?",
    "postgres": "SELECT DISTINCT uln FROM parked_messages WHERE stream = %s",
}
_OF_LEARNER = {
    "sqlite": "SELECT stream, seq, uln, subject, message, key_id, reason, parked_at "
    "FROM parked_messages WHERE uln = ? ORDER BY stream, seq",
    "postgres": "SELECT stream, seq, uln, subject, message, key_id, reason, parked_at "
    "FROM parked_messages WHERE uln = %s ORDER BY stream, seq",
}
_ALL = {
    "sqlite": "SELECT uln, stream, COUNT(*), MIN(parked_at), MAX(redrive) "
    "FROM parked_messages GROUP BY uln, stream ORDER BY uln",
    "postgres": "SELECT uln, stream, COUNT(*), MIN(parked_at), MAX(redrive) "
    "FROM parked_messages GROUP BY uln, stream ORDER BY uln",
}
_REQUEST = {
    "sqlite": "UPDATE parked_messages SET redrive = 1 WHERE uln = ?",
    "postgres": "UPDATE parked_messages SET redrive = 1 WHERE uln = %s",
}
_REQUESTED = {
    "sqlite": "SELECT DISTINCT uln FROM parked_messages WHERE stream = ? AND redrive = 1",
    "postgres": "SELECT DISTINCT uln FROM parked_messages WHERE stream = %s AND redrive = 1",
}


def _aad(stream: str, seq: int) -> bytes:
    return f"parked:{stream}:{seq}".encode()


class ParkedTable:
    def __init__(self, recorder: StoreRecorder, sealer: Sealer) -> None:
        self._recorder = recorder
        self._sealer = sealer

    def inserts(self, messages: Sequence[ParkedMessage]) -> SideWrite:
        rows = []
        for m in messages:
            key_id, sealed = self._sealer.seal(
                m.uln, _pack(_Sealed(m.data or b"", m.headers)), _aad(m.stream, m.seq)
            )
            rows.append(
                (
                    m.stream,
                    m.seq,
                    m.uln,
                    m.subject,
                    sealed,
                    key_id,
                    m.reason,
                    m.parked_at.isoformat(),
                )
            )
        return SideWrite(_INSERT, rows)

    @staticmethod
    def deletes(keys: Sequence[tuple[str, int]]) -> SideWrite:
        return SideWrite(_DELETE, list(keys))

    def learners(self, stream: str) -> set[str]:
        return {row[0] for row in self._recorder.query(_LEARNERS, (stream,))}

    def of_learner(self, uln: str) -> list[ParkedMessage]:
        self._sealer.keys.prefetch([uln])
        found = []
        for stream, seq, uln_, subject, sealed, key_id, reason, parked_at in self._recorder.query(
            _OF_LEARNER, (uln,)
        ):
            opened = self._sealer.open(uln_, key_id, bytes(sealed), _aad(stream, seq))
            message = _unpack(opened) if opened is not None else None
            found.append(
                ParkedMessage(
                    stream,
                    seq,
                    uln_,
                    subject,
                    message.data if message else None,
                    message.headers if message else {},
                    reason,
                    datetime.fromisoformat(parked_at),
                )
            )
        return found

    def summary(self) -> list[tuple[str, str, int, str, bool]]:
        """(uln, stream, messages, parked since, redrive requested) for every parked learner."""
        return [(u, s, int(n), str(t), bool(r)) for u, s, n, t, r in self._recorder.query(_ALL)]

    def request_redrive(self, uln: str) -> None:
        self._recorder.execute([SideWrite(_REQUEST, [(uln,)])])

    def redrive_requested(self, stream: str) -> list[str]:
        return sorted(row[0] for row in self._recorder.query(_REQUESTED, (stream,)))
