"""The CLR 2.0 builder on hand-made learner records: what goes in, what stays out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.catalogue import Catalogue
from domain.learner import (
    AchievementRevoked,
    Arrival,
    CertificateIssued,
    CreditTransferred,
    LearnerRecord,
    Registered,
    RegistrationWithdrawn,
    UnitAchieved,
    registration_views,
)
from domain.learner.facts import (
    Achievement,
    Certificate,
    Evidence,
    Registration,
    Revocation,
    Withdrawal,
)
from domain.rules import shortfall
from services.adapters.catalogue_files import load_catalogue
from services.application.clr import (
    CLR_CONTEXTS,
    OB_CONTEXTS,
    IssuerProfile,
    NothingToExportError,
    clr_document,
)

ULN = "1000000019"
OCR_L4 = "500/9203/0"  # OCR Level 4 NVQ Diploma, 67 credits, Ofqual number 500/9203/0
OCR_L3 = "OCR-L3-DIP-CS"
EXTRA_UNIT = "R/601/1226"  # in OCR_L4's group B, not in its cheapest completing set
AS_OF = date(2026, 11, 23)
ISSUED_AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
ISSUER = IssuerProfile.named("Example Awarding Services")
BIRTHDAY = date(1990, 4, 2)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


class History:
    """Facts for one learner, with event ids in order."""

    def __init__(self) -> None:
        self.record = LearnerRecord(uln=ULN)
        self.count = 0

    def evidence(self, kind: str, day: date) -> Evidence:
        self.count += 1
        at = datetime(day.year, day.month, day.day, 17, tzinfo=UTC)
        return Evidence(source="urn:test", id=f"e-{self.count}", type=kind, time=at)

    def arrival(self, evidence: Evidence) -> Arrival:
        return Arrival(evidence.time, f"sha256:{evidence.id}")

    def register(self, qualification: str, on: date) -> None:
        evidence = self.evidence("learner.registered.v1", on)
        fact = Registration(qualification, on, "C0001", evidence, date_of_birth=BIRTHDAY)
        self.record.apply(Registered(ULN, self.arrival(evidence), fact))

    def achieve(self, unit: str, on: date, *, transferred: bool = False) -> str:
        kind = "credit.transferred.v1" if transferred else "unit.achieved.v1"
        evidence = self.evidence(kind, on)
        fact = Achievement(unit, on, transferred, evidence)
        event = CreditTransferred if transferred else UnitAchieved
        self.record.apply(event(ULN, self.arrival(evidence), fact))
        return evidence.id

    def revoke(self, event_id: str, on: date) -> None:
        evidence = self.evidence("achievement.revoked.v1", on)
        fact = Revocation(event_id, "malpractice", evidence)
        self.record.apply(AchievementRevoked(ULN, self.arrival(evidence), fact))

    def certificate(self, qualification: str, on: date, number: str) -> None:
        evidence = self.evidence("certificate.issued.v1", on)
        fact = Certificate(qualification, on, number, evidence)
        self.record.apply(CertificateIssued(ULN, self.arrival(evidence), fact))

    def withdraw(self, qualification: str, on: date) -> None:
        evidence = self.evidence("registration.withdrawn.v1", on)
        fact = Withdrawal(qualification, on, evidence)
        self.record.apply(RegistrationWithdrawn(ULN, self.arrival(evidence), fact))


def completing(catalogue: Catalogue, qualification: str) -> tuple[str, ...]:
    found = shortfall(catalogue.qualification(qualification), {})
    assert found is not None
    return found.cheapest_units


@pytest.fixture
def certificated(catalogue: Catalogue) -> History:
    """Certificated on OCR's level 4 NVQ: one unit by credit transfer, one extra unit
    revoked, and a withdrawn registration on OCR's level 3 Diploma with one unit."""
    history = History()
    history.register(OCR_L4, date(2024, 1, 8))
    units = completing(catalogue, OCR_L4)
    history.achieve(units[0], date(2023, 5, 1), transferred=True)
    for k, urn in enumerate(units[1:]):
        history.achieve(urn, date(2024, 2, 1 + k))
    revoked = history.achieve(EXTRA_UNIT, date(2024, 3, 1))
    history.revoke(revoked, date(2024, 4, 1))
    history.certificate(OCR_L4, date(2024, 7, 15), "OCR-CN-42")
    history.register(OCR_L3, date(2024, 1, 8))
    history.achieve(completing(catalogue, OCR_L3)[0], date(2024, 2, 20))
    history.withdraw(OCR_L3, date(2024, 5, 1))
    return history


def export(history: History, catalogue: Catalogue, as_of: date = AS_OF) -> dict[str, Any]:
    views = registration_views(history.record, catalogue, as_of)
    return clr_document(
        history.record, views, catalogue, as_of=as_of, issued_at=ISSUED_AT, issuer=ISSUER
    )


def credentials(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["credentialSubject"]["verifiableCredential"]
    return found


def by_code(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each credential by its achievement's human code (a URN or a qualification number)."""
    return {c["credentialSubject"]["achievement"]["humanCode"]: c for c in credentials(document)}


def test_one_credential_per_standing_unit_and_per_completed_qualification(
    certificated: History, catalogue: Catalogue
) -> None:
    document = export(certificated, catalogue)
    assert document["@context"] == list(CLR_CONTEXTS)
    assert document["type"] == ["VerifiableCredential", "ClrCredential"]
    assert document["credentialSubject"]["type"] == ["ClrSubject"]
    units = set(completing(catalogue, OCR_L4)) | {completing(catalogue, OCR_L3)[0]}
    assert set(by_code(document)) == units | {OCR_L4}
    for credential in credentials(document):
        assert credential["@context"] == list(OB_CONTEXTS)
        assert credential["type"] == ["VerifiableCredential", "AchievementCredential"]
        assert credential["issuer"] == ISSUER.to_json()


def test_a_revoked_unit_appears_nowhere(certificated: History, catalogue: Catalogue) -> None:
    text = json.dumps(export(certificated, catalogue))
    assert EXTRA_UNIT not in text


def test_no_date_of_birth_and_the_learner_is_named_by_uln_only(
    certificated: History, catalogue: Catalogue
) -> None:
    document = export(certificated, catalogue)
    text = json.dumps(document)
    assert BIRTHDAY.isoformat() not in text and "C0001" not in text
    assert "dateOfBirth" not in text and "date_of_birth" not in text
    uln = {
        "type": "IdentityObject",
        "hashed": False,
        "identityHash": ULN,
        "identityType": "ext:ULN",
    }
    assert document["credentialSubject"]["identifier"] == [uln]
    assert all(c["credentialSubject"]["identifier"] == [uln] for c in credentials(document))
    assert "id" not in document["credentialSubject"]  # no invented DID for the learner


def test_the_certificated_qualification_carries_the_awarding_organisation_and_credits(
    certificated: History, catalogue: Catalogue
) -> None:
    credential = by_code(export(certificated, catalogue))[OCR_L4]
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    assert achievement["achievementType"] == "Diploma"
    assert achievement["name"] == "OCR Level 4 NVQ Diploma in Customer Service"
    assert achievement["creator"]["name"] == "OCR"
    assert achievement["creator"]["type"] == ["Profile"]
    assert achievement["creditsAvailable"] == 67
    assert achievement["tag"] == ["Level 4"]
    assert achievement["otherIdentifier"] == [
        {
            "type": "IdentifierEntry",
            "identifier": OCR_L4,
            "identifierType": "ext:OfqualQualificationNumber",
        }
    ]
    assert "at least 67 credits in total" in achievement["criteria"]["narrative"]
    view = registration_views(certificated.record, catalogue, AS_OF)[0]
    assert subject["creditsEarned"] == view.evaluation.counted_credits >= 67
    assert subject["result"] == [
        {
            "type": ["Result"],
            "resultDescription": achievement["resultDescription"][0]["id"],
            "status": "Completed",
        }
    ]
    assert subject["activityStartDate"] == "2024-01-08"
    assert subject["activityEndDate"] == view.completed_on.isoformat()  # type: ignore[union-attr]
    # Awarded when the certificate was issued; a summer day starts at 23:00 UTC.
    assert credential["awardedDate"] == credential["validFrom"] == "2024-07-15T00:00:00+01:00"
    assert "OCR-CN-42" in credential["description"]


def test_units_say_what_they_are_and_a_transfer_says_so(
    certificated: History, catalogue: Catalogue
) -> None:
    units = completing(catalogue, OCR_L4)
    credentials_by_unit = by_code(export(certificated, catalogue))
    transferred = credentials_by_unit[units[0]]
    assert transferred["description"].startswith("Credit transferred")
    assert transferred["validFrom"] == "2023-05-01T00:00:00+01:00"
    achieved = credentials_by_unit[units[1]]
    assert "transferred" not in achieved["description"]
    unit = catalogue.unit(units[1])
    achievement = achieved["credentialSubject"]["achievement"]
    assert achievement["name"] == unit.title
    assert achievement["creditsAvailable"] == achieved["credentialSubject"]["creditsEarned"]
    assert achievement["creditsAvailable"] == unit.credits
    assert achievement["tag"] == [f"Level {unit.level}"]
    assert achievement["otherIdentifier"][0]["identifier"] == unit.urn
    assert achieved["credentialSubject"]["result"][0]["status"] == "Completed"


def test_the_qualification_is_parent_of_the_units_it_counted(
    certificated: History, catalogue: Catalogue
) -> None:
    document = export(certificated, catalogue)
    codes = by_code(document)
    parent = codes[OCR_L4]["credentialSubject"]["achievement"]["id"]
    view = registration_views(certificated.record, catalogue, AS_OF)[0]
    expected = {
        ("isParentOf", parent, codes[urn]["credentialSubject"]["achievement"]["id"])
        for urn in view.evaluation.counted_units
    }
    associations = document["credentialSubject"]["association"]
    assert all(a["type"] == ["Association"] for a in associations)
    assert {(a["associationType"], a["sourceId"], a["targetId"]) for a in associations} == expected


def test_an_eligible_qualification_not_yet_certificated_is_provisional(
    catalogue: Catalogue,
) -> None:
    history = History()
    history.register(OCR_L3, date(2024, 1, 8))
    for k, urn in enumerate(completing(catalogue, OCR_L3)):
        history.achieve(urn, date(2024, 2, 1 + k))
    credential = by_code(export(history, catalogue))[OCR_L3]
    assert credential["credentialSubject"]["result"][0]["status"] == "Provisional"
    assert credential["credentialSubject"]["achievement"]["humanCode"] == OCR_L3
    assert "otherIdentifier" not in credential["credentialSubject"]["achievement"]
    assert credential["validFrom"].startswith("2024-02-12")  # the completing unit's day


def test_as_of_an_earlier_day_leaves_out_what_came_after(
    certificated: History, catalogue: Catalogue
) -> None:
    document = export(certificated, catalogue, as_of=date(2024, 2, 3))
    codes = set(by_code(document))
    assert OCR_L4 not in codes  # not complete yet, so not a credential
    assert "association" not in document["credentialSubject"]
    assert all(c["validFrom"] < "2024-02-04" for c in credentials(document)), (
        "nothing achieved after the as-of day"
    )


def test_the_same_record_gives_the_same_document_and_ids_are_urns(
    certificated: History, catalogue: Catalogue
) -> None:
    first, second = export(certificated, catalogue), export(certificated, catalogue)
    assert first == second
    ids = [first["id"]] + [c["id"] for c in credentials(first)]
    assert all(i.startswith("urn:uuid:") for i in ids) and len(set(ids)) == len(ids)
    # A unit's Achievement is one definition whoever achieved it.
    other = History()
    unit = completing(catalogue, OCR_L4)[1]
    other.record.uln = "1000000027"
    other.achieve(unit, date(2025, 1, 1))
    theirs = by_code(export(other, catalogue))[unit]["credentialSubject"]["achievement"]
    assert theirs == by_code(first)[unit]["credentialSubject"]["achievement"]


def test_every_object_has_what_the_1edtech_data_models_require(
    certificated: History, catalogue: Catalogue
) -> None:
    """The required properties of CLR 2.0 and OB 3.0's data models (their JSON Schemas
    are not in any npm or PyPI package, so the test states them itself)."""
    document = export(certificated, catalogue)
    required = {"@context", "id", "type", "issuer", "validFrom", "name", "credentialSubject"}
    assert required <= set(document)
    assert {"type", "verifiableCredential"} <= set(document["credentialSubject"])
    for credential in credentials(document):
        assert required <= set(credential)
        subject = credential["credentialSubject"]
        assert {"type", "achievement"} <= set(subject)
        assert "id" in subject or subject["identifier"]
        achievement = subject["achievement"]
        assert {"id", "type", "criteria", "description", "name"} <= set(achievement)
        assert "id" in achievement["criteria"] or "narrative" in achievement["criteria"]
        for identity in subject["identifier"]:
            assert {"type", "hashed", "identityHash", "identityType"} <= set(identity)
        for description in achievement["resultDescription"]:
            assert {"id", "type", "name", "resultType"} <= set(description)
        assert {"id", "type"} <= set(credential["issuer"])
    for association in document["credentialSubject"]["association"]:
        assert {"type", "associationType", "sourceId", "targetId"} <= set(association)


def test_a_learner_with_nothing_achieved_has_nothing_to_export(catalogue: Catalogue) -> None:
    history = History()
    history.register(OCR_L4, date(2024, 1, 8))
    with pytest.raises(NothingToExportError, match="no achieved unit"):
        export(history, catalogue)


def test_issued_at_must_be_an_instant(certificated: History, catalogue: Catalogue) -> None:
    views = registration_views(certificated.record, catalogue, AS_OF)
    with pytest.raises(ValueError, match="timezone"):
        clr_document(
            certificated.record,
            views,
            catalogue,
            as_of=AS_OF,
            issued_at=datetime(2026, 11, 23, 9, 30),
            issuer=ISSUER,
        )
    document = export(certificated, catalogue)
    assert document["validFrom"] == "2026-11-23T09:30:00Z"


def test_a_certificate_stands_even_where_the_units_held_here_do_not_complete(
    catalogue: Catalogue,
) -> None:
    history = History()
    history.register(OCR_L4, date(2024, 1, 8))
    unit = completing(catalogue, OCR_L4)[0]
    history.achieve(unit, date(2024, 2, 1))
    history.certificate(OCR_L4, date(2024, 9, 1), "OCR-CN-7")
    document = export(history, catalogue)
    credential = by_code(document)[OCR_L4]
    subject = credential["credentialSubject"]
    assert subject["result"][0]["status"] == "Completed"
    assert "activityEndDate" not in subject
    assert "do not complete" in credential["description"]
    assert credential["validFrom"].startswith("2024-09-01")
    assert (
        document["credentialSubject"]["association"][0]["targetId"]
        == (by_code(document)[unit]["credentialSubject"]["achievement"]["id"])
    )
