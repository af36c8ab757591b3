"""The checks a fact must pass before the learner record accepts it.

Each ``check_*`` raises a named ``FactRefusedError``; none looks at a clock:
"future" means later than the day of the event's own ``time`` (SPEC.md §4), in the
calendar the service counts its days in (UK days: Europe/London by default).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, tzinfo

from domain.catalogue import Catalogue, UnknownQualificationError, UnknownUnitError
from domain.learner.facts import (
    Achievement,
    AgeRequirement,
    Certificate,
    Fact,
    Registration,
    Revocation,
    Withdrawal,
    effective_on,
)
from domain.learner.record import LearnerRecord
from domain.learner.refusals import (
    AlreadyRegisteredError,
    FutureDatedError,
    NotRegisteredError,
    OutsideAccreditationPeriodError,
    QualificationNotInCatalogueError,
    UnderMinimumAgeError,
    UnitNotInCatalogueError,
    UnknownAchievementError,
)


def accept(record: LearnerRecord, fact: Fact, catalogue: Catalogue, zone: tzinfo) -> Fact:
    """The fact as the record keeps it, or a FactRefusedError saying why it is refused."""
    check_not_future_dated(fact, zone)
    match fact:
        case Registration():
            return check_registration(record, fact, catalogue)
        case Achievement():
            check_unit_known(fact, catalogue)
        case Revocation():
            check_revocable(record, fact)
        case Withdrawal() | Certificate():
            check_registered(record, fact.qualification, catalogue)
    return fact


def check_not_future_dated(fact: Fact, zone: tzinfo) -> None:
    day = effective_on(fact)
    sent_on = fact.evidence.time.astimezone(zone).date()
    if day is not None and day > sent_on:
        raise FutureDatedError(f"effective date {day} is later than the event's time {sent_on}")


def check_registration(
    record: LearnerRecord, fact: Registration, catalogue: Catalogue
) -> Registration:
    """The registration with its age check taken, or why it is refused."""
    try:
        qualification = catalogue.qualification(fact.qualification)
    except UnknownQualificationError:
        raise QualificationNotInCatalogueError(
            f"no qualification {fact.qualification!r} in the catalogue"
        ) from None
    if fact.qualification in record.registrations:
        held = record.registrations[fact.qualification]
        raise AlreadyRegisteredError(
            f"already registered on {fact.qualification} on {held.registered_on} "
            f"(event {held.evidence.id})"
        )
    dates = qualification.dates
    if not dates.operational_start <= fact.registered_on <= dates.accreditation_end:
        raise OutsideAccreditationPeriodError(
            f"registered_on {fact.registered_on} is outside {fact.qualification}'s "
            f"registration period {dates.operational_start} to {dates.accreditation_end}"
        )
    minimum = qualification.minimum_age
    if minimum is None:
        return fact
    if fact.date_of_birth is None:  # pragma: no cover - inbound registrations carry one
        raise UnderMinimumAgeError(f"{fact.qualification} needs {minimum} and no date of birth")
    age = age_on(fact.date_of_birth, fact.registered_on)
    if age < minimum:
        raise UnderMinimumAgeError(
            f"the learner is {age} on {fact.registered_on}; {fact.qualification} needs {minimum}"
        )
    return replace(fact, age_requirement=AgeRequirement(minimum, met=True))


def check_unit_known(fact: Achievement, catalogue: Catalogue) -> None:
    try:
        catalogue.unit(fact.unit)
    except UnknownUnitError:
        raise UnitNotInCatalogueError(f"no unit {fact.unit} in the catalogue") from None


def check_revocable(record: LearnerRecord, fact: Revocation) -> None:
    if record.find_achievement(fact.revokes, fact.evidence.source) is None:
        raise UnknownAchievementError(
            f"no recorded achievement or transfer with id {fact.revokes!r} for this learner"
        )


def check_registered(record: LearnerRecord, qualification: str, catalogue: Catalogue) -> None:
    if qualification not in record.registrations:
        if qualification not in catalogue.qualifications:
            raise QualificationNotInCatalogueError(
                f"no qualification {qualification!r} in the catalogue"
            )
        raise NotRegisteredError(f"the learner is not registered on {qualification}")


def age_on(date_of_birth: date, day: date) -> int:
    """Whole years old on ``day``; someone born on 29 February turns a year older on 1 March."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years
