"""Per-learner keys and the sealing of personal data (crypto-shredding).

Every learner with personal data in the store has one key in ``learner_keys``, beside
the events. Personal fields are sealed with AES-GCM (the ``cryptography`` package)
under that key; erasing a learner deletes the key row, after which their sealed fields
cannot be read by anyone, while the rest of every event still replays. A learner
registered again after an erasure gets a new key (a new key id), so what was sealed
before stays unreadable.

Keys are created in memory when first needed and written in the same transaction as
the events they seal (``take_created``); a batch that fails forgets them.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KeyRing", "LearnerKey", "Sealer"]

_NONCE = 12


@dataclass(frozen=True, slots=True)
class LearnerKey:
    uln: str
    key_id: str
    key: bytes
    created_at: datetime


# Reads the stored keys of these learners: uln -> key (absent: none, or erased).
KeyReader = Callable[[Iterable[str]], Mapping[str, LearnerKey]]


class KeyRing:
    """The learners' keys: cached, read in one query per batch, created on first need."""

    def __init__(self, read: KeyReader, *, cache: int = 50_000) -> None:
        self._read = read
        self._cache: OrderedDict[str, LearnerKey | None] = OrderedDict()
        self._size = cache
        self._created: dict[str, LearnerKey] = {}
        self._lock = threading.Lock()

    def prefetch(self, ulns: Iterable[str]) -> None:
        """Read the keys of these learners (one query), so sealing needs no more."""
        wanted = [u for u in set(ulns) if u not in self._cache and u not in self._created]
        if not wanted:
            return
        found = self._read(wanted)
        with self._lock:
            for uln in wanted:
                self._remember(uln, found.get(uln))

    def for_sealing(self, uln: str) -> LearnerKey:
        """The learner's key, created now if they have none."""
        with self._lock:
            key = self._created.get(uln) or self._cached(uln)
            if key is None:
                key = LearnerKey(uln, uuid.uuid4().hex, AESGCM.generate_key(256), datetime.now(UTC))
                self._created[uln] = key
            return key

    def for_opening(self, uln: str, key_id: str) -> bytes | None:
        with self._lock:
            key = self._created.get(uln) or self._cached(uln)
        return key.key if key is not None and key.key_id == key_id else None

    def take_created(self) -> list[LearnerKey]:
        """Keys created since the last call: the caller stores them with its batch."""
        with self._lock:
            created, self._created = list(self._created.values()), {}
            return created

    def stored(self, keys: Iterable[LearnerKey]) -> None:
        """These keys were committed: keep them."""
        with self._lock:
            for key in keys:
                self._remember(key.uln, key)

    def forget(self, ulns: Iterable[str] = ()) -> None:
        """Drop keys created but never stored (a failed batch), and these learners'."""
        with self._lock:
            self._created.clear()
            for uln in ulns:
                self._cache.pop(uln, None)

    def _cached(self, uln: str) -> LearnerKey | None:
        if uln not in self._cache:
            self._remember(uln, self._read([uln]).get(uln))
        self._cache.move_to_end(uln)
        return self._cache[uln]

    def _remember(self, uln: str, key: LearnerKey | None) -> None:
        self._cache[uln] = key
        self._cache.move_to_end(uln)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)


class Sealer:
    """Seals and opens personal data with the learners' keys."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def seal(self, uln: str, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        key = self.keys.for_sealing(uln)
        nonce = os.urandom(_NONCE)
        return key.key_id, nonce + AESGCM(key.key).encrypt(nonce, plaintext, aad)

    def open(self, uln: str, key_id: str, sealed: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or None when the key is gone (the learner was erased)."""
        key = self.keys.for_opening(uln, key_id)
        if key is None:
            return None
        try:
            return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except InvalidTag:
            # Not this key's, or altered: as unreadable as an erased value.
            return None
