"""The learner-records application service: inbound CloudEvents in, receipts out.

One call to ``receive_batch`` is one store transaction: every learner the
batch touches is loaded once, every event applied in arrival order, and all
of it saved together. Callers acknowledge the messages only after it returns.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol

from contracts import ContractError, parse_inbound
from domain.catalogue import Catalogue
from domain.learner import (
    Decision,
    Learner,
    RegistrationView,
    Unattributed,
    identity_of,
    registration_views,
    rejection,
)
from services.application.clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one inbound message, and the decisions it led to."""

    outcome: str  # "recorded" | "duplicate" | "rejected"
    uln: str | None
    event_id: str | None
    source: str | None
    reason: str | None = None
    detail: str | None = None
    decisions: tuple[Decision, ...] = field(default=())


# How many learners the writer keeps in memory between batches (0: none), so a learner
# touched again is not replayed from the store. About 2-3 KB each.
CACHE_ENV = "LEARNER_RECORDS_LEARNER_CACHE"
DEFAULT_CACHE_SIZE = 20_000


def sqlite_env(path: Path | str) -> dict[str, str]:
    """eventsourcing settings for a SQLite store at ``path``."""
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


class LearnerRecords(Application[UUID]):
    """Keeps every learner's facts and decides what each registration has earned."""

    name = "LearnerRecords"

    def __init__(
        self,
        catalogue: Catalogue,
        clock: Clock | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(env=dict(env) if env is not None else None)
        self.catalogue = catalogue
        self.clock: Clock = clock or SystemClock()
        # The writer's own cache of learners as last committed. Writes go through one
        # lock, so a cached learner is never changed by two batches at once; a batch
        # that fails evicts every learner it touched (they hold changes never stored).
        # Another process writing the same learner makes our save fail on its version
        # (optimistic concurrency), which evicts it: the retry replays from the store.
        size = (env or {}).get(CACHE_ENV) or os.environ.get(CACHE_ENV)
        self._cache_size = DEFAULT_CACHE_SIZE if size is None else int(size)
        self._cache: OrderedDict[UUID, Learner] = OrderedDict()
        self._writing = threading.Lock()

    def receive(self, raw: bytes | str) -> Outcome:
        return self.receive_batch([raw])[0]

    def receive_batch(self, raws: Sequence[bytes | str]) -> list[Outcome]:
        """Apply a batch of inbound messages and store the lot in one transaction."""
        with self._writing:
            now = self.clock.now()
            touched: dict[UUID, Learner | Unattributed] = {}
            try:
                outcomes = [self._apply(raw, now, touched) for raw in raws]
                if touched:
                    self.save(*touched.values())
            except BaseException:
                self._evict(touched)
                raise
            self._keep(touched)
            return outcomes

    def review(self, ulns: Sequence[str]) -> list[Decision]:
        """Take the decisions that time alone calls for (a claim-by date passing)."""
        with self._writing:
            now = self.clock.now()
            touched: dict[UUID, Learner | Unattributed] = {}
            try:
                learners = [
                    learner for uln in ulns if (learner := self._cached(uln, touched)) is not None
                ]
                decisions = [d for learner in learners for d in learner.review(self.catalogue, now)]
                if decisions:
                    self.save(*learners)
            except BaseException:
                self._evict(touched)
                raise
            self._keep(touched)
            return decisions

    def learner(self, uln: str) -> Learner | None:
        try:
            learner: Learner = self.repository.get(Learner.create_id(uln))
        except AggregateNotFoundError:
            return None
        return learner

    def status(self, uln: str, as_of: date | None = None) -> list[RegistrationView] | None:
        learner = self.learner(uln)
        if learner is None:
            return None
        day = as_of or self.clock.now().date()
        return registration_views(learner.record, self.catalogue, day)

    def history(self, uln: str) -> Iterator[DomainEventProtocol[UUID]]:
        """Every stored event of one learner, oldest first."""
        return iter(self.events.get(Learner.create_id(uln)))

    def _apply(
        self, raw: bytes | str, now: datetime, touched: dict[UUID, Learner | Unattributed]
    ) -> Outcome:
        try:
            inbound = parse_inbound(raw)
        except ContractError as error:
            return self._refuse_unattributed(error, now, touched)
        # One serialisation serves as the stored original and as the digest's input.
        envelope, digest = inbound.wire_and_digest()
        uln = envelope["subject"]
        learner = self._learner_for(uln, touched)
        receipt = learner.receive(envelope, digest, self.catalogue, now)
        return Outcome(
            receipt.outcome,
            uln,
            envelope["id"],
            envelope["source"],
            receipt.reason,
            receipt.detail,
            receipt.decisions,
        )

    def _learner_for(self, uln: str, touched: dict[UUID, Learner | Unattributed]) -> Learner:
        learner = self._cached(uln, touched)
        if learner is None:
            learner = Learner(uln)
            touched[learner.id] = learner
        return learner

    def _cached(self, uln: str, touched: dict[UUID, Learner | Unattributed]) -> Learner | None:
        """The learner for this batch: already touched, else cached, else from the store."""
        learner_id = Learner.create_id(uln)
        held = touched.get(learner_id)
        if isinstance(held, Learner):
            return held
        learner = self._cache.get(learner_id) or self.learner(uln)
        if learner is not None:
            touched[learner_id] = learner
        return learner

    def _keep(self, touched: Mapping[UUID, Learner | Unattributed]) -> None:
        if self._cache_size <= 0:
            return
        cache = self._cache
        for aggregate_id, aggregate in touched.items():
            if isinstance(aggregate, Learner):
                cache[aggregate_id] = aggregate
                cache.move_to_end(aggregate_id)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _evict(self, touched: Mapping[UUID, Learner | Unattributed]) -> None:
        for aggregate_id in touched:
            self._cache.pop(aggregate_id, None)

    def _refuse_unattributed(
        self, error: ContractError, now: datetime, touched: dict[UUID, Learner | Unattributed]
    ) -> Outcome:
        digest = error.digest
        identity = identity_of(error.source, error.event_id, digest)
        aggregate_id = Unattributed.create_id(identity)
        held = touched.get(aggregate_id)
        log: Unattributed
        if isinstance(held, Unattributed):
            log = held
        else:
            try:
                log = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                log = Unattributed(identity)
            touched[aggregate_id] = log
        if log.has_seen(digest):
            return Outcome("duplicate", error.subject, error.event_id, error.source)
        decision = rejection(
            error.uln or "unknown",
            error.reason,
            error.detail,
            error.original,
            error.source,
            error.event_id,
            digest,
            now,
        )
        log.refuse(digest=digest, decision=decision.to_json(), received_at=now.isoformat())
        return Outcome(
            "rejected",
            error.subject,
            error.event_id,
            error.source,
            error.reason,
            error.detail,
            (decision,),
        )
