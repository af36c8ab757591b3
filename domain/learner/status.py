"""The status of a registration as of a date (SPEC.md §4), as a pure function."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.catalogue import Catalogue
from domain.learner.facts import Achievement, Certificate, Evidence, Registration, Withdrawal
from domain.learner.record import LearnerRecord
from domain.rules import Evaluation, evaluate


class RegistrationStatus(StrEnum):
    WITHDRAWN = "withdrawn"
    CERTIFICATED = "certificated"
    WINDOW_EXPIRED = "window_expired"
    ELIGIBLE = "eligible"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class RegistrationView:
    """One registration as of a date, with the reason its status holds."""

    registration: Registration
    status: RegistrationStatus
    as_of: date
    claim_by: date
    evaluation: Evaluation
    achievements: dict[str, Achievement]
    withdrawal: Withdrawal | None
    certificate: Certificate | None

    @property
    def qualification(self) -> str:
        return self.registration.qualification

    @property
    def registered_on(self) -> date:
        return self.registration.registered_on

    @property
    def completed_on(self) -> date | None:
        return self.evaluation.completed_on

    @property
    def withdrawn_on(self) -> date | None:
        return self.withdrawal.withdrawn_on if self.withdrawal else None

    @property
    def certificated_on(self) -> date | None:
        return self.certificate.issued_on if self.certificate else None

    def grounds(self) -> list[Evidence]:
        """The inbound events the status rests on: what an auditor checks it against."""
        evidence = [self.registration.evidence]
        if self.withdrawal is not None:
            return [*evidence, self.withdrawal.evidence]
        if self.certificate is not None:
            return [*evidence, self.certificate.evidence]
        return evidence + [a.evidence for a in self.counted()]

    def counted(self) -> list[Achievement]:
        """The achievements behind the counted units, in the engine's order."""
        return [self.achievements[urn] for urn in self.evaluation.counted_units]

    def structure_units(self) -> list[Achievement]:
        """Every standing achievement of a unit in this qualification (a unit certificate)."""
        outside = set(self.evaluation.outside_structure)
        return sorted(
            (a for urn, a in self.achievements.items() if urn not in outside),
            key=lambda a: (a.achieved_on, a.unit),
        )

    def reason(self) -> str:
        """Why the status holds, in a sentence an auditor can check."""
        match self.status:
            case RegistrationStatus.WITHDRAWN:
                return f"withdrawn on {self.withdrawn_on}"
            case RegistrationStatus.CERTIFICATED:
                return f"certificate issued on {self.certificated_on}"
            case RegistrationStatus.WINDOW_EXPIRED:
                return f"{self.as_of} is after the claim-by date {self.claim_by} and no certificate"
            case RegistrationStatus.ELIGIBLE:
                return (
                    f"every rule met on {self.completed_on}, "
                    f"on or before the claim-by date {self.claim_by}"
                )
            case RegistrationStatus.IN_PROGRESS:
                unmet = [r.description for r in self.evaluation.rules if not r.satisfied]
                return "rules not yet met: " + "; ".join(unmet) if unmet else "in progress"


def registration_view(
    record: LearnerRecord,
    registration: Registration,
    catalogue: Catalogue,
    as_of: date,
    achievements: dict[str, Achievement] | None = None,
) -> RegistrationView:
    """``achievements``: the record's standing units as of ``as_of``, when the caller has
    them already (one learner's registrations all share them)."""
    qualification = catalogue.qualification(registration.qualification)
    claim_by = qualification.dates.claim_by
    if achievements is None:
        achievements = record.achieved_units(as_of)
    evaluation = evaluate(
        qualification,
        {urn: a.achieved_on for urn, a in achievements.items()},
        registration.registered_on,
    )
    withdrawal = record.withdrawal(registration.qualification, as_of)
    certificate = record.certificate(registration.qualification, as_of)
    if withdrawal is not None:
        status = RegistrationStatus.WITHDRAWN
    elif certificate is not None:
        status = RegistrationStatus.CERTIFICATED
    elif as_of > claim_by:
        status = RegistrationStatus.WINDOW_EXPIRED
    elif (
        evaluation.complete
        and evaluation.completed_on is not None
        and (evaluation.completed_on <= claim_by)
    ):
        status = RegistrationStatus.ELIGIBLE
    else:
        status = RegistrationStatus.IN_PROGRESS
    return RegistrationView(
        registration=registration,
        status=status,
        as_of=as_of,
        claim_by=claim_by,
        evaluation=evaluation,
        achievements=achievements,
        withdrawal=withdrawal,
        certificate=certificate,
    )


def registration_views(
    record: LearnerRecord, catalogue: Catalogue, as_of: date, skip: Container[str] = ()
) -> list[RegistrationView]:
    """Every registration in force by ``as_of`` (registered on or before it), but those
    of the qualifications in ``skip``."""
    wanted = [
        registration
        for qualification, registration in sorted(record.registrations.items())
        if registration.registered_on <= as_of and qualification not in skip
    ]
    if not wanted:
        return []
    achievements = record.achieved_units(as_of)
    return [
        registration_view(record, registration, catalogue, as_of, achievements)
        for registration in wanted
    ]
