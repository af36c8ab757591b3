"""The learner-records application service: inbound CloudEvents in, receipts out.

One call to ``receive_batch`` is one store transaction: every learner the
batch touches is loaded once, every event applied in arrival order, and all
of it saved together. Callers acknowledge the messages only after it returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
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
from services.clock import Clock, SystemClock


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

    def receive(self, raw: bytes | str) -> Outcome:
        return self.receive_batch([raw])[0]

    def receive_batch(self, raws: Sequence[bytes | str]) -> list[Outcome]:
        """Apply a batch of inbound messages and store the lot in one transaction."""
        now = self.clock.now()
        touched: dict[UUID, Learner | Unattributed] = {}
        outcomes = [self._apply(raw, now, touched) for raw in raws]
        if touched:
            self.save(*touched.values())
        return outcomes

    def review(self, ulns: Sequence[str]) -> list[Decision]:
        """Take the decisions that time alone calls for (a claim-by date passing)."""
        now = self.clock.now()
        learners = [learner for uln in ulns if (learner := self.learner(uln)) is not None]
        decisions = [d for learner in learners for d in learner.review(self.catalogue, now)]
        if decisions:
            self.save(*learners)
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
        envelope: dict[str, Any] = inbound.model_dump(mode="json", exclude_none=True)
        uln = envelope["subject"]
        learner = self._learner_for(uln, touched)
        receipt = learner.receive(envelope, inbound.digest(), self.catalogue, now)
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
        learner_id = Learner.create_id(uln)
        held = touched.get(learner_id)
        if isinstance(held, Learner):
            return held
        learner = self.learner(uln) or Learner(uln)
        touched[learner_id] = learner
        return learner

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
