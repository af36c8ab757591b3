"""The learner: the only writer of one learner's history.

Every inbound event that names a learner ends here as exactly one recorded fact or one
refusal, followed by the decisions it calls for. Each event taken is applied to the
record at once (``LearnerRecord.apply``, the one fold) and kept in ``pending`` until the
application stores the batch; facts and decisions go to the store in one transaction,
so the store is the outbox a relay publishes from. Pure: no I/O, no clock of its own
(``now`` comes in, already in the calendar's time zone), no framework.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from contracts.echo import echo_of
from contracts.inbound import InboundEvent
from domain.catalogue import Catalogue
from domain.learner.acceptance import accept
from domain.learner.decisions import decisions_for, rejection
from domain.learner.events import (
    AchievementRevoked,
    Arrival,
    CertificateIssued,
    CreditTransferred,
    Decision,
    EventRefused,
    FactRecorded,
    LearnerErased,
    LearnerEvent,
    Registered,
    RegistrationWithdrawn,
    UnitAchieved,
)
from domain.learner.facts import (
    Achievement,
    Certificate,
    Evidence,
    Fact,
    Registration,
    Revocation,
    Withdrawal,
    fact_of,
)
from domain.learner.record import LearnerRecord
from domain.learner.refusals import ConflictingDuplicateError, FactRefusedError
from domain.learner.settled import Settled
from domain.learner.status import registration_views

__all__ = ["LEARNERS", "Learner", "Receipt", "learner_id"]

LEARNERS = UUID("0b5f3a2e-8c41-5d67-a2f9-4e6b1c8d7a30")


@lru_cache(maxsize=65_536)
def learner_id(uln: str) -> UUID:
    """A learner's id in the store: deterministic, so look-ups need no index."""
    return uuid5(LEARNERS, uln)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one inbound event."""

    outcome: str  # "recorded" | "duplicate" | "rejected"
    decisions: tuple[Decision, ...] = ()
    reason: str | None = None
    detail: str | None = None


class Learner:
    __slots__ = ("pending", "record")

    def __init__(self, record: LearnerRecord) -> None:
        self.record = record
        self.pending: list[LearnerEvent] = []

    @classmethod
    def new(cls, uln: str) -> Learner:
        return cls(LearnerRecord(uln))

    @property
    def uln(self) -> str:
        return self.record.uln

    @property
    def id(self) -> UUID:
        return learner_id(self.record.uln)

    def receive(
        self,
        event: InboundEvent,
        arrival: Arrival,
        catalogue: Catalogue,
        now: datetime,
        settled: Settled | None = None,
    ) -> Receipt:
        """Accept or refuse one validated inbound event, then decide what follows."""
        key = (event.source, event.id)
        seen = self.record.seen.get(key)
        if seen == arrival.digest:
            return Receipt("duplicate")
        fact = fact_of(event)
        try:
            if seen is not None:
                raise ConflictingDuplicateError(
                    f"event {event.id} from {event.source} was received before with other content"
                )
            fact = accept(self.record, fact, catalogue, now.tzinfo or _no_zone())
        except FactRefusedError as refused:
            echo = _echo(event)
            return self.refuse(
                refused.reason.value, refused.detail, echo, event.source, event.id, arrival, now
            )
        self._take(_recorded(self.uln, fact, arrival))
        unchanged = settled.unchanged(self.record, fact, catalogue, now.date()) if settled else ()
        decisions = self.review(catalogue, now, fact.evidence, unchanged, settled, arrival.trace)
        return Receipt("recorded", tuple(decisions))

    def refuse(
        self,
        reason: str,
        detail: str,
        echo: dict[str, Any] | str,
        source: str | None,
        event_id: str | None,
        arrival: Arrival,
        now: datetime,
    ) -> Receipt:
        """Record the refusal of an event that names this learner, and its rejection."""
        if self._refused_before(source, event_id, arrival.digest):
            return Receipt("duplicate")
        decision = rejection(
            self.uln, reason, detail, echo, source, event_id, arrival.digest, now, arrival.trace
        )
        self._take(EventRefused(self.uln, source, event_id, reason, detail, arrival, decision))
        return Receipt("rejected", (decision,), reason, detail)

    def review(
        self,
        catalogue: Catalogue,
        now: datetime,
        cause: Evidence | None = None,
        unchanged: Container[str] = (),
        settled: Settled | None = None,
        trace: str | None = None,
    ) -> list[Decision]:
        """Take the decisions the record calls for as of ``now`` and not yet taken
        (by the registrations not known to be ``unchanged``)."""
        day = now.date()
        views = registration_views(self.record, catalogue, day, unchanged)
        taken = decisions_for(self.record, views, catalogue, cause, now, trace)
        for event in taken:
            self._take(event)
        if settled is not None:
            settled.note(views, day)
        return [event.decision for event in taken]

    def erase(self, reason: str, now: datetime) -> None:
        """Record that the learner's personal data was erased (their key destroyed)."""
        self._take(LearnerErased(self.uln, now, reason))

    def collect(self) -> list[LearnerEvent]:
        """The events taken since the last collect, for the application to store."""
        pending, self.pending = self.pending, []
        return pending

    def _refused_before(self, source: str | None, event_id: str | None, digest: str) -> bool:
        """Whether these very bytes were received before. ``seen`` holds only the first
        content an identity came with, so a conflicting duplicate (or a malformed event
        reusing an accepted event's id, or one whose id cannot be read) sent again is
        found among the refusals: the same message again has no effect."""
        known = None if source is None or event_id is None else (source, event_id)
        if known is not None and self.record.seen.get(known) == digest:
            return True
        return any(
            r.arrival.digest == digest and r.id == event_id and r.source == source
            for r in self.record.refusals
        )

    def _take(self, event: LearnerEvent) -> None:
        self.record.apply(event)
        self.pending.append(event)


def _recorded(uln: str, fact: Fact, arrival: Arrival) -> FactRecorded:
    match fact:
        case Registration():
            return Registered(uln, arrival, fact)
        case Achievement() if fact.transferred:
            return CreditTransferred(uln, arrival, fact)
        case Achievement():
            return UnitAchieved(uln, arrival, fact)
        case Revocation():
            return AchievementRevoked(uln, arrival, fact)
        case Withdrawal():
            return RegistrationWithdrawn(uln, arrival, fact)
        case Certificate():
            return CertificateIssued(uln, arrival, fact)
    raise TypeError(f"not a fact: {type(fact).__name__}")  # pragma: no cover


def _echo(event: InboundEvent) -> dict[str, Any] | str:
    """What a rejection echoes of a valid event: its wire form without personal data,
    within the contract's bound."""
    return echo_of(event.to_wire())


def _no_zone() -> Any:
    raise ValueError("now must be an aware datetime in the calendar's time zone")
