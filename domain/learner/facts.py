"""The facts a learner record is made of, decoded from stored CloudEvents.

The aggregate stores each accepted inbound event as the JSON object it
arrived as (so an auditor sees the original); these frozen values are the
typed reading of it that the rules work on. Decoding is deliberately plain
(no pydantic): it runs on every aggregate load, and the contracts layer has
already validated the event before it was ever recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

REGISTERED = "learner.registered.v1"
UNIT_ACHIEVED = "unit.achieved.v1"
CREDIT_TRANSFERRED = "credit.transferred.v1"
ACHIEVEMENT_REVOKED = "achievement.revoked.v1"
REGISTRATION_WITHDRAWN = "registration.withdrawn.v1"
CERTIFICATE_ISSUED = "certificate.issued.v1"

INBOUND_TYPES = (
    REGISTERED,
    UNIT_ACHIEVED,
    CREDIT_TRANSFERRED,
    ACHIEVEMENT_REVOKED,
    REGISTRATION_WITHDRAWN,
    CERTIFICATE_ISSUED,
)


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
class Registration:
    qualification: str
    registered_on: date
    date_of_birth: date
    centre: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Achievement:
    """A unit achieved here, or credit transferred from elsewhere."""

    unit: str
    achieved_on: date
    transferred: bool
    evidence: Evidence


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


def decode_fact(event: Mapping[str, Any]) -> Fact:
    """Read a validated inbound CloudEvent (as a JSON object) as a fact."""
    evidence = Evidence(
        source=event["source"],
        id=event["id"],
        type=event["type"],
        time=datetime.fromisoformat(event["time"]),
    )
    data = event["data"]
    kind = evidence.type
    if kind == REGISTERED:
        return Registration(
            qualification=data["qualification"],
            registered_on=date.fromisoformat(data["registered_on"]),
            date_of_birth=date.fromisoformat(data["date_of_birth"]),
            centre=data["centre"],
            evidence=evidence,
        )
    if kind in (UNIT_ACHIEVED, CREDIT_TRANSFERRED):
        return Achievement(
            unit=data["unit"],
            achieved_on=date.fromisoformat(data["achieved_on"]),
            transferred=kind == CREDIT_TRANSFERRED,
            evidence=evidence,
        )
    if kind == ACHIEVEMENT_REVOKED:
        return Revocation(revokes=data["revokes"], reason=data["reason"], evidence=evidence)
    if kind == REGISTRATION_WITHDRAWN:
        return Withdrawal(
            qualification=data["qualification"],
            withdrawn_on=date.fromisoformat(data["withdrawn_on"]),
            evidence=evidence,
        )
    if kind == CERTIFICATE_ISSUED:
        return Certificate(
            qualification=data["qualification"],
            issued_on=date.fromisoformat(data["issued_on"]),
            certificate_number=data["certificate_number"],
            evidence=evidence,
        )
    raise ValueError(f"not an inbound fact type: {kind!r}")
