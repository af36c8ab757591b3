"""What happens to a learner record: the events its history is made of.

One class per fact kind, one for a refused event, one per kind of decision, and the
erasure of the learner's personal data. Every event names its learner. These classes
are the vocabulary of the store (services.adapters.store): the topic of a stored event
is its class (``topic_of``), never a string literal, and a change of shape bumps a
class's ``class_version`` and adds an upcaster there.

Personal data sits only in ``Registration.date_of_birth`` and ``Arrival.original``;
the store seals both under the learner's own key, so destroying the key erases them
while every status and decision still replays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from contracts.outbound import DecisionKind
from domain.learner.facts import Achievement, Certificate, Registration, Revocation, Withdrawal

__all__ = [
    "DECISION_EVENTS",
    "FACT_EVENTS",
    "LEARNER_EVENTS",
    "AchievementRevoked",
    "Arrival",
    "CertificateIssued",
    "CreditTransferred",
    "Decision",
    "DecisionTaken",
    "EligibilityWithdrawn",
    "EventRefused",
    "FactRecorded",
    "FoundEligible",
    "LearnerErased",
    "LearnerEvent",
    "Registered",
    "RegistrationWithdrawn",
    "UnitAchieved",
    "UnitCertificateDue",
    "WindowExpired",
    "topic_of",
]


@dataclass(frozen=True, slots=True)
class Arrival:
    """How an inbound event reached the service."""

    # Transaction time: the service clock when the event was stored ("as known at").
    received_at: datetime
    # sha256 of the event's canonical JSON: tells a redelivery from a conflicting duplicate.
    digest: str
    # The event as received (structured JSON), for auditors. Personal: sealed at rest
    # under the learner's key, None once the learner is erased.
    original: bytes | None = None
    # W3C traceparent the event came with, carried onto the decisions it causes.
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision as it is published: shaped and validated against its outbound contract
    when taken (domain.learner.decisions), stored as the exact CloudEvent to publish."""

    id: str
    kind: DecisionKind
    qualification: str | None
    decided_on: date
    # NATS subject: records.out.<kind>.<ULN>, or .unknown for a rejection naming no learner.
    subject: str
    # The outbound CloudEvent, canonical JSON. The relay publishes these bytes as they are.
    cloudevent: str
    # W3C traceparent of the inbound event that caused it, if any (a NATS header, not content).
    trace: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The decision's ``data``, as published (for readers: reports, audits, tests)."""
        data: dict[str, Any] = json.loads(self.cloudevent)["data"]
        return data

    @property
    def taken_at(self) -> datetime:
        """When it was taken: its CloudEvent's ``time``."""
        return datetime.fromisoformat(json.loads(self.cloudevent)["time"])


@dataclass(frozen=True, slots=True)
class LearnerEvent:
    uln: str

    # Bumped when a class's shape changes; the store upcasts older states on read.
    class_version: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class FactRecorded(LearnerEvent):
    """An inbound event accepted as a fact about the learner."""

    arrival: Arrival


@dataclass(frozen=True, slots=True)
class Registered(FactRecorded):
    fact: Registration


@dataclass(frozen=True, slots=True)
class UnitAchieved(FactRecorded):
    fact: Achievement


@dataclass(frozen=True, slots=True)
class CreditTransferred(FactRecorded):
    fact: Achievement


@dataclass(frozen=True, slots=True)
class AchievementRevoked(FactRecorded):
    fact: Revocation


@dataclass(frozen=True, slots=True)
class RegistrationWithdrawn(FactRecorded):
    fact: Withdrawal


@dataclass(frozen=True, slots=True)
class CertificateIssued(FactRecorded):
    fact: Certificate


@dataclass(frozen=True, slots=True)
class EventRefused(LearnerEvent):
    """An inbound event naming this learner that was refused, and the rejection published."""

    source: str | None
    id: str | None
    reason: str
    detail: str
    arrival: Arrival
    decision: Decision


@dataclass(frozen=True, slots=True)
class DecisionTaken(LearnerEvent):
    """A decision about one of the learner's registrations, to be published once."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class FoundEligible(DecisionTaken):
    pass


@dataclass(frozen=True, slots=True)
class EligibilityWithdrawn(DecisionTaken):
    pass


@dataclass(frozen=True, slots=True)
class WindowExpired(DecisionTaken):
    pass


@dataclass(frozen=True, slots=True)
class UnitCertificateDue(DecisionTaken):
    pass


@dataclass(frozen=True, slots=True)
class LearnerErased(LearnerEvent):
    """The learner's key was destroyed: their personal data is unreadable from here on."""

    erased_at: datetime
    reason: str


FACT_EVENTS: tuple[type[FactRecorded], ...] = (
    Registered,
    UnitAchieved,
    CreditTransferred,
    AchievementRevoked,
    RegistrationWithdrawn,
    CertificateIssued,
)
DECISION_EVENTS: tuple[type[DecisionTaken], ...] = (
    FoundEligible,
    EligibilityWithdrawn,
    WindowExpired,
    UnitCertificateDue,
)
LEARNER_EVENTS: tuple[type[LearnerEvent], ...] = (
    *FACT_EVENTS,
    EventRefused,
    *DECISION_EVENTS,
    LearnerErased,
)


def topic_of(cls: type[object]) -> str:
    """The stored topic of an event class: where it is defined, as eventsourcing writes it."""
    return f"{cls.__module__}:{cls.__qualname__}"
