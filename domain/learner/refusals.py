"""Why an inbound event is refused: the reason codes of SPEC.md §5 as named errors."""

from __future__ import annotations

from enum import StrEnum


class RefusalReason(StrEnum):
    MALFORMED = "malformed"
    INVALID_ULN = "invalid_uln"
    UNKNOWN_QUALIFICATION = "unknown_qualification"
    UNKNOWN_UNIT = "unknown_unit"
    FUTURE_DATED = "future_dated"
    REGISTRATION_OUTSIDE_ACCREDITATION_PERIOD = "registration_outside_accreditation_period"
    LEARNER_UNDER_MINIMUM_AGE = "learner_under_minimum_age"
    ALREADY_REGISTERED = "already_registered"
    NOT_REGISTERED = "not_registered"
    UNKNOWN_ACHIEVEMENT = "unknown_achievement"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"


class FactRefusedError(Exception):
    """An inbound event the learner record will not accept, and why."""

    reason: RefusalReason

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class QualificationNotInCatalogueError(FactRefusedError):
    reason = RefusalReason.UNKNOWN_QUALIFICATION


class UnitNotInCatalogueError(FactRefusedError):
    reason = RefusalReason.UNKNOWN_UNIT


class FutureDatedError(FactRefusedError):
    reason = RefusalReason.FUTURE_DATED


class OutsideAccreditationPeriodError(FactRefusedError):
    reason = RefusalReason.REGISTRATION_OUTSIDE_ACCREDITATION_PERIOD


class UnderMinimumAgeError(FactRefusedError):
    reason = RefusalReason.LEARNER_UNDER_MINIMUM_AGE


class AlreadyRegisteredError(FactRefusedError):
    reason = RefusalReason.ALREADY_REGISTERED


class NotRegisteredError(FactRefusedError):
    reason = RefusalReason.NOT_REGISTERED


class UnknownAchievementError(FactRefusedError):
    reason = RefusalReason.UNKNOWN_ACHIEVEMENT


class ConflictingDuplicateError(FactRefusedError):
    reason = RefusalReason.CONFLICTING_DUPLICATE
