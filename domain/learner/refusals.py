"""Why an inbound event is refused: the reason codes of SPEC.md §5 as named errors."""

from __future__ import annotations

from contracts.errors import RejectionReason as RefusalReason

__all__ = ["FactRefusedError", "RefusalReason"]


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
