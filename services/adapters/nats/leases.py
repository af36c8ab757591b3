"""Leases and membership on a NATS KV bucket whose entries expire (the bucket's TTL).

A lease is a key holding its owner's id: taken by creating it (which fails while it
exists), kept by updating it at its last revision (which fails if anyone else wrote it
since), released by deleting it. An owner that dies stops renewing, and the key
expires after the bucket's TTL, so another replica can take it. Membership is the
same: each replica puts ``members.<id>`` every renewal; a replica not seen within the
TTL is gone.
"""

from __future__ import annotations

import contextlib

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

__all__ = ["KvLeases"]

_MEMBERS = "members."


class KvLeases:
    def __init__(self, kv: KeyValue, owner: str) -> None:
        self._kv = kv
        self.owner = owner
        self._revisions: dict[str, int] = {}

    async def acquire(self, name: str) -> bool:
        """Take the lease ``name`` if it is free (or already ours); True if held now."""
        key = f"leases.{name}"
        try:
            self._revisions[name] = await self._kv.create(key, self.owner.encode())
            return True
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        # Ours from before a restart of this replica (same id): take it back.
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            entry = await self._kv.get(key)
            if entry.value == self.owner.encode() and entry.revision is not None:
                return await self._update(name, entry.revision)
        return False

    async def renew(self, name: str) -> bool:
        """Keep the lease; False if it was lost (expired and taken, or deleted)."""
        revision = self._revisions.get(name)
        if revision is None:
            return False
        return await self._update(name, revision)

    async def release(self, name: str) -> None:
        revision = self._revisions.pop(name, None)
        if revision is None:
            return
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError, nats.errors.Error):
            await self._kv.delete(f"leases.{name}", last=revision)

    def held(self) -> set[str]:
        return set(self._revisions)

    def forget(self, name: str) -> None:
        self._revisions.pop(name, None)

    async def heartbeat(self) -> None:
        await self._kv.put(_MEMBERS + self.owner, b"1")

    async def leave(self) -> None:
        with contextlib.suppress(nats.errors.Error, nats.js.errors.KeyNotFoundError):
            await self._kv.delete(_MEMBERS + self.owner)

    async def members(self) -> set[str]:
        """The replicas seen within the TTL, this one included."""
        try:
            keys = await self._kv.keys()
        except nats.js.errors.NoKeysError:
            keys = []
        found = {k.removeprefix(_MEMBERS) for k in keys if k.startswith(_MEMBERS)}
        return found | {self.owner}

    async def _update(self, name: str, revision: int) -> bool:
        try:
            self._revisions[name] = await self._kv.update(
                f"leases.{name}", self.owner.encode(), last=revision
            )
            return True
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            self._revisions.pop(name, None)
            return False
