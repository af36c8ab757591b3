"""A learner's record as a 1EdTech Comprehensive Learner Record 2.0 (JSON-LD).

Pure: the learner record, the registrations' views and the catalogue come in,
a JSON-ready dict goes out. One ``ClrCredential`` whose subject holds an Open
Badges 3.0 ``AchievementCredential`` for every standing unit and for every
completed qualification, and ``isParentOf`` associations from each qualification
to the units it counted.

Choices that the specifications leave open, and why:

- **Who issues.** The ``issuer`` of every credential is whoever runs this export
  (``IssuerProfile``), because the issuer is the party that makes, and signs, the
  claim. The awarding organisation is the ``creator`` of a qualification's
  ``Achievement``: it wrote the qualification, it does not speak through us.
  A unit has no creator: the same URN sits in several awarding bodies'
  qualifications, and the facts do not say under which one it was assessed.
- **Ids.** ``urn:uuid`` v5 of a natural key (the URN, the qualification id, the
  ULN), as the rest of the service does, so the same record exported twice gives
  the same ids, and a unit's ``Achievement`` has one id for every learner.
- **Dates.** Facts carry UK days; a credential needs an instant, so a day is
  midnight in Europe/London.
- **The learner** is named only by ULN, an ``IdentityObject`` of the extension type
  ``ext:ULN`` (OB 3.0 lets ``IdentifierTypeEnum`` grow by ``ext:`` terms). No date
  of birth, no centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from domain.catalogue import Catalogue, MinimumCredits, Qualification, Unit
from domain.learner import LearnerRecord, RegistrationStatus, RegistrationView
from domain.learner.facts import Achievement
from domain.rules.describe import describe

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CLR_V2_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# CLR 2.0 §ClrCredential: the context is an ordered set beginning with these three.
CLR_CONTEXTS = (VC_V2_CONTEXT, CLR_V2_CONTEXT, OB_V3_CONTEXT)
OB_CONTEXTS = (VC_V2_CONTEXT, OB_V3_CONTEXT)

ULN_IDENTITY_TYPE = "ext:ULN"
UNIT_NUMBER_TYPE = "ext:OfqualUnitReferenceNumber"
QUALIFICATION_NUMBER_TYPE = "ext:OfqualQualificationNumber"
# No AchievementType fits a unit exactly; an NVQ unit is a unit of competence, and
# "Competency" is the closest of the enumeration's values (it has no "Unit").
UNIT_ACHIEVEMENT_TYPE = "Competency"

UK = ZoneInfo("Europe/London")
_IDS = uuid5(UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"), "urn:learner-records:clr")


class NothingToExportError(ValueError):
    """CLR 2.0 requires at least one credential; this learner has none to give."""

    def __init__(self, uln: str, as_of: date) -> None:
        super().__init__(
            f"learner {uln} has no achieved unit and no completed qualification as of {as_of}"
        )
        self.uln = uln
        self.as_of = as_of


@dataclass(frozen=True, slots=True)
class IssuerProfile:
    """The party that issues (and would sign) the exported credentials."""

    id: str
    name: str

    @classmethod
    def named(cls, name: str) -> IssuerProfile:
        """An issuer with a stable ``urn:uuid`` id derived from its name."""
        return cls(id=_urn("issuer", name), name=name)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": ["Profile"], "name": self.name}


def clr_document(
    record: LearnerRecord,
    views: Sequence[RegistrationView],
    catalogue: Catalogue,
    *,
    as_of: date,
    issued_at: datetime,
    issuer: IssuerProfile,
) -> dict[str, Any]:
    """The learner's CLR as of ``as_of``: standing units, completed qualifications.

    ``views`` are the registrations as of ``as_of`` (``registration_views``); only the
    eligible and certificated ones become credentials. Raises ``NothingToExportError``
    when there is nothing to put in it.
    """
    units = sorted(record.achieved_units(as_of).values(), key=lambda a: (a.achieved_on, a.unit))
    completed = [
        v
        for v in views
        if v.status in (RegistrationStatus.ELIGIBLE, RegistrationStatus.CERTIFICATED)
    ]
    if not units and not completed:
        raise NothingToExportError(record.uln, as_of)
    subject_id = _identity(record.uln)
    credentials = [
        *(
            _qualification_credential(v, catalogue, record.uln, subject_id, issuer)
            for v in completed
        ),
        *(_unit_credential(a, catalogue, record.uln, subject_id, issuer) for a in units),
    ]
    exported = {a.unit for a in units}
    associations = [
        {
            "type": ["Association"],
            "associationType": "isParentOf",
            "sourceId": _qualification_id(view.qualification),
            "targetId": _unit_id(urn),
        }
        for view in completed
        for urn in view.evaluation.counted_units
        if urn in exported
    ]
    subject: dict[str, Any] = {
        "type": ["ClrSubject"],
        "identifier": [subject_id],
        "verifiableCredential": credentials,
    }
    if associations:
        subject["association"] = associations
    return {
        "@context": list(CLR_CONTEXTS),
        "id": _urn("clr", record.uln),
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": f"Learner record for ULN {record.uln}",
        "description": (
            f"Units achieved and qualifications completed as of {as_of.isoformat()}, "
            f"from the learner records kept by {issuer.name}. Revoked units, withdrawn "
            "registrations and qualifications still in progress are not included."
        ),
        "issuer": issuer.to_json(),
        "validFrom": _instant(issued_at),
        "credentialSubject": subject,
    }


def _qualification_credential(
    view: RegistrationView,
    catalogue: Catalogue,
    uln: str,
    subject_id: dict[str, Any],
    issuer: IssuerProfile,
) -> dict[str, Any]:
    qualification = catalogue.qualification(view.qualification)
    completed_on = view.completed_on
    met = (
        f"every rule of combination was met on {completed_on.isoformat()}"
        if completed_on is not None
        # The awarding organisation's certificate stands even where the facts held here
        # do not complete the rules (a unit recorded elsewhere, a later revocation).
        else "the units recorded here do not complete the rules of combination"
    )
    if view.certificate is not None:
        awarded_on = view.certificate.issued_on
        status = "Completed"
        what = (
            f"Certificate {view.certificate.certificate_number} issued on "
            f"{awarded_on.isoformat()}; {met}."
        )
    elif completed_on is not None:
        # Complete by the rules but not yet certificated: OB 3.0's "Provisional" is
        # "completed, but the completed result has not yet been confirmed".
        awarded_on = completed_on
        status = "Provisional"
        what = f"{met.capitalize()}; eligible for certification, no certificate issued yet."
    else:
        raise ValueError(
            f"{view.qualification} is {view.status}, neither complete nor certificated"
        )
    achievement = _qualification_achievement(qualification)
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [subject_id],
        "achievement": achievement,
        "activityStartDate": view.registered_on.isoformat(),
        "creditsEarned": view.evaluation.counted_credits,
        "result": [_status_result(achievement, status)],
    }
    if completed_on is not None:
        subject["activityEndDate"] = completed_on.isoformat()
    return _credential(
        credential_id=_urn("credential", uln, "qualification", view.qualification),
        name=qualification.title,
        description=what,
        issuer=issuer,
        awarded_on=awarded_on,
        subject=subject,
    )


def _unit_credential(
    achievement: Achievement,
    catalogue: Catalogue,
    uln: str,
    subject_id: dict[str, Any],
    issuer: IssuerProfile,
) -> dict[str, Any]:
    unit = catalogue.unit(achievement.unit)
    if achievement.transferred:
        what = (
            f"Credit transferred: unit {unit.urn} was achieved with another awarding "
            f"organisation on {achievement.achieved_on.isoformat()} and is recognised here."
        )
    else:
        what = f"Unit {unit.urn} achieved on {achievement.achieved_on.isoformat()}."
    definition = _unit_achievement(unit)
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [subject_id],
        "achievement": definition,
        "result": [_status_result(definition, "Completed")],
    }
    if unit.credits is not None:
        subject["creditsEarned"] = unit.credits
    return _credential(
        credential_id=_urn("credential", uln, "unit", unit.urn),
        name=unit.title,
        description=what,
        issuer=issuer,
        awarded_on=achievement.achieved_on,
        subject=subject,
    )


def _credential(
    *,
    credential_id: str,
    name: str,
    description: str,
    issuer: IssuerProfile,
    awarded_on: date,
    subject: dict[str, Any],
) -> dict[str, Any]:
    # validFrom is the award too, not the export: OB 3.0 reads (issuer, id, validFrom)
    # as a version, and the same achievement exported again is the same credential.
    when = _day_start(awarded_on)
    return {
        "@context": list(OB_CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", "AchievementCredential"],
        "name": name,
        "description": description,
        "issuer": issuer.to_json(),
        "validFrom": when,
        "awardedDate": when,
        "credentialSubject": subject,
    }


def _unit_achievement(unit: Unit) -> dict[str, Any]:
    facts = [f"level {unit.level}"] if unit.level is not None else []
    if unit.credits is not None:
        facts.append(f"{unit.credits} credits")
    if unit.glh is not None:
        facts.append(f"{unit.glh} guided learning hours")
    achievement: dict[str, Any] = {
        "id": _unit_id(unit.urn),
        "type": ["Achievement"],
        "achievementType": UNIT_ACHIEVEMENT_TYPE,
        "name": unit.title,
        "description": f"Ofqual unit {unit.urn}: {unit.title}"
        + (f" ({', '.join(facts)})." if facts else "."),
        "criteria": {
            "narrative": (
                f"Meet every learning outcome of unit {unit.urn} to the standard its "
                "assessment criteria set."
            )
        },
        "humanCode": unit.urn,
        "otherIdentifier": [_identifier_entry(unit.urn, UNIT_NUMBER_TYPE)],
        "resultDescription": [_status_description(_unit_id(unit.urn))],
    }
    if unit.credits is not None:
        achievement["creditsAvailable"] = unit.credits
    if unit.level is not None:
        achievement["tag"] = [f"Level {unit.level}"]
    return achievement


def _qualification_achievement(qualification: Qualification) -> dict[str, Any]:
    number = qualification.qualification_number
    achievement_id = _qualification_id(qualification.id)
    rules = "; ".join(describe(rule) for rule in qualification.rules)
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": _qualification_type(qualification),
        "name": qualification.title,
        "description": (
            f"{qualification.title}: a level {qualification.level} qualification of "
            f"{qualification.awarding_organisation}"
            + (f", Ofqual qualification number {number}." if number else ".")
        ),
        "criteria": {"narrative": f"The rule of combination: {rules}."},
        "creator": _awarding_organisation(qualification.awarding_organisation),
        "humanCode": number or qualification.id,
        "tag": [f"Level {qualification.level}"],
        "resultDescription": [_status_description(achievement_id)],
    }
    if number:
        achievement["otherIdentifier"] = [_identifier_entry(number, QUALIFICATION_NUMBER_TYPE)]
    minimum = next((r.credits for r in qualification.rules if isinstance(r, MinimumCredits)), None)
    if minimum is not None:
        achievement["creditsAvailable"] = minimum
    return achievement


def _qualification_type(qualification: Qualification) -> str:
    """Award, Certificate or Diploma, as the title says: in the QCF/RQF the title's
    size word is fixed by the credit value, and all three are AchievementType values."""
    words = qualification.title.split()
    for kind in ("Diploma", "Certificate", "Award"):
        if kind in words:
            return kind
    return "Achievement"


def _awarding_organisation(name: str) -> dict[str, Any]:
    # The catalogue knows an awarding organisation by name only.
    return {"id": _urn("awarding-organisation", name), "type": ["Profile"], "name": name}


def _status_description(achievement_id: str) -> dict[str, Any]:
    return {
        "id": _urn("result-description", achievement_id, "status"),
        "type": ["ResultDescription"],
        "name": "Status",
        "resultType": "Status",
    }


def _status_result(achievement: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "type": ["Result"],
        "resultDescription": achievement["resultDescription"][0]["id"],
        "status": status,
    }


def _identity(uln: str) -> dict[str, Any]:
    return {
        "type": "IdentityObject",
        "hashed": False,
        "identityHash": uln,
        "identityType": ULN_IDENTITY_TYPE,
    }


def _identifier_entry(identifier: str, identifier_type: str) -> dict[str, Any]:
    return {"type": "IdentifierEntry", "identifier": identifier, "identifierType": identifier_type}


def _unit_id(urn: str) -> str:
    return _urn("achievement", "unit", urn)


def _qualification_id(qualification_id: str) -> str:
    return _urn("achievement", "qualification", qualification_id)


def _urn(*key: str) -> str:
    return f"urn:uuid:{uuid5(_IDS, '|'.join(key))}"


def _day_start(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=UK).isoformat()


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
