"""The facts a learner record is made of: typed readings of accepted inbound events.

Each fact keeps its ``Evidence`` (which inbound event it rests on), so every status
and decision can be traced back to what a publisher sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from contracts.inbound import (
    AchievementRevokedEvent,
    CertificateIssuedEvent,
    CreditTransferredEvent,
    InboundEvent,
    LearnerRegisteredEvent,
    RegistrationWithdrawnEvent,
    UnitAchievedEvent,
)

__all__ = [
    "Achievement",
    "AgeRequirement",
    "Certificate",
    "Evidence",
    "Fact",
    "Registration",
    "Revocation",
    "Withdrawal",
    "effective_on",
    "fact_of",
]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Which inbound event a fact (and so a decision) rests on."""

    source: str
    id: str
    type: str
    time: datetime

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.id)

    def cite(self) -> dict[str, str]:
        return {"source": self.source, "id": self.id, "type": self.type}


@dataclass(frozen=True, slots=True)
class AgeRequirement:
    """A qualification's minimum age, checked once at registration.

    Kept so that statuses and decisions replay after the date of birth is erased:
    the check is never taken again from the date itself.
    """

    minimum: int
    met: bool


@dataclass(frozen=True, slots=True)
class Registration:
    qualification: str
    registered_on: date
    centre: str
    evidence: Evidence
    # Personal: sealed at rest under the learner's key; None once the learner is erased.
    date_of_birth: date | None = None
    age_requirement: AgeRequirement | None = None


@dataclass(frozen=True, slots=True)
class Achievement:
    """A unit achieved here, or credit transferred from elsewhere."""

    unit: str
    achieved_on: date
    transferred: bool
    evidence: Evidence
    assessor: str | None = None
    awarding_organisation: str | None = None
    certificate_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Revocation:
    revokes: str
    reason: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Withdrawal:
    qualification: str
    withdrawn_on: date
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Certificate:
    qualification: str
    issued_on: date
    certificate_number: str
    evidence: Evidence


Fact = Registration | Achievement | Revocation | Withdrawal | Certificate


def effective_on(fact: Fact) -> date | None:
    """The day a fact takes effect; a revocation has none (it voids from the start)."""
    match fact:
        case Registration():
            return fact.registered_on
        case Achievement():
            return fact.achieved_on
        case Withdrawal():
            return fact.withdrawn_on
        case Certificate():
            return fact.issued_on
        case Revocation():
            return None


def fact_of(event: InboundEvent) -> Fact:
    """The fact a validated inbound event states (before any acceptance check)."""
    evidence = Evidence(event.source, event.id, event.type, event.time)
    match event:
        case LearnerRegisteredEvent(data=d):
            return Registration(
                d.qualification, d.registered_on, d.centre, evidence, date_of_birth=d.date_of_birth
            )
        case UnitAchievedEvent(data=d):
            return Achievement(d.unit, d.achieved_on, False, evidence, assessor=d.assessor)
        case CreditTransferredEvent(data=d):
            return Achievement(
                d.unit,
                d.achieved_on,
                True,
                evidence,
                awarding_organisation=d.awarding_organisation,
                certificate_ref=d.certificate_ref,
            )
        case AchievementRevokedEvent(data=d):
            return Revocation(d.revokes, d.reason, evidence)
        case RegistrationWithdrawnEvent(data=d):
            return Withdrawal(d.qualification, d.withdrawn_on, evidence)
        case CertificateIssuedEvent(data=d):
            return Certificate(d.qualification, d.issued_on, d.certificate_number, evidence)
    raise TypeError(f"not an inbound event: {type(event).__name__}")  # pragma: no cover
