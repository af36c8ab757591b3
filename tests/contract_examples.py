"""Valid messages of every contract, for the tests that check schemas, modes and digests.

One SPEC.md §5-shaped example per inbound type (as a publisher's JSON object) and one
built decision per outbound type.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

from contracts import (
    CausedBy,
    CertificationEligible,
    CertificationEligibleEvent,
    CountedUnit,
    EligibilityWithdrawn,
    EligibilityWithdrawnEvent,
    EventRejected,
    EventRejectedEvent,
    Evidence,
    OutboundEvent,
    RejectionReason,
    UnitCertificate,
    UnitCertificateEvent,
    WindowExpired,
    WindowExpiredEvent,
)

__all__ = ["INBOUND_DATA", "INBOUND_EXAMPLES", "ULN", "inbound_example", "outbound_examples"]

ULN = "1234567899"
TIME = "2025-03-02T09:30:00Z"
INBOUND_DATA: dict[str, dict[str, Any]] = {
    "learner.registered.v1": {
        "qualification": "500/9203/0",
        "registered_on": "2024-09-02",
        "date_of_birth": "1990-05-06",
        "centre": "12345",
    },
    "unit.achieved.v1": {
        "unit": "J/601/1630",
        "achieved_on": "2024-11-15",
        "assessor": "A. Assessor",
    },
    "credit.transferred.v1": {
        "unit": "J/601/1630",
        "achieved_on": "2023-06-30",
        "awarding_organisation": "City & Guilds",
        "certificate_ref": "CG-2023-0042",
    },
    "achievement.revoked.v1": {"revokes": "evt-0002", "reason": "assessment malpractice"},
    "registration.withdrawn.v1": {"qualification": "500/9203/0", "withdrawn_on": "2025-01-10"},
    "certificate.issued.v1": {
        "qualification": "500/9203/0",
        "issued_on": "2025-03-01",
        "certificate_number": "OCR-000123",
    },
}


def inbound_example(event_type: str = "learner.registered.v1", uln: str = ULN) -> dict[str, Any]:
    """A fresh, valid structured-mode event of ``event_type`` about ``uln``."""
    return {
        "specversion": "1.0",
        "id": "evt-0001",
        "source": "https://eportfolio.example.org/centres/12345",
        "type": event_type,
        "time": TIME,
        "subject": uln,
        "datacontenttype": "application/json",
        "data": {"uln": uln, **copy.deepcopy(INBOUND_DATA[event_type])},
    }


INBOUND_EXAMPLES: dict[str, dict[str, Any]] = {t: inbound_example(t) for t in INBOUND_DATA}


def outbound_examples() -> list[OutboundEvent]:
    """One decision of every outbound type, built through the models."""
    time = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)
    day = date(2025, 3, 2)
    cause = CausedBy(source="urn:eportfolio:acme", id="evt-7")
    unit = CountedUnit(
        unit="J/601/1630",
        title="Principles of customer service",
        credits=5,
        level=4,
        achieved_on=date(2024, 11, 15),
        evidence=Evidence(source="urn:eportfolio:acme", id="evt-7", type="unit.achieved.v1"),
    )
    common: dict[str, Any] = {"uln": ULN, "qualification": "500/9203/0", "decided_on": day}
    return [
        CertificationEligibleEvent.create(
            id="d-eligible",
            time=time,
            data=CertificationEligible(
                **common,
                caused_by=cause,
                qualification_title="OCR Level 4 NVQ Diploma in Customer Service",
                registered_on=date(2024, 9, 2),
                completed_on=date(2024, 11, 15),
                claim_by=date(2029, 12, 31),
                credits=5,
                counted_units=(unit,),
                catalogue_version="2025.1",
            ),
        ),
        EligibilityWithdrawnEvent.create(
            id="d-withdrawn",
            time=time,
            data=EligibilityWithdrawn(
                **common,
                caused_by=cause,
                previous_decision="d-eligible",
                reason="achievement_revoked",
                detail="achievement evt-7 revoked",
            ),
        ),
        WindowExpiredEvent.create(
            id="d-expired",
            time=time,
            data=WindowExpired(
                **common, caused_by=None, registered_on=date(2013, 9, 2), claim_by=date(2017, 8, 31)
            ),
        ),
        UnitCertificateEvent.create(
            id="d-units",
            time=time,
            data=UnitCertificate(
                **common, caused_by=None, because="window_expired", units=(unit,), credits=5
            ),
        ),
        EventRejectedEvent.create(
            id="d-rejected",
            time=time,
            uln=ULN,
            data=EventRejected(
                reason=RejectionReason.UNKNOWN_UNIT,
                detail="unit X/999/9999 is in no qualification",
                original_id="evt-8",
                original_source="urn:eportfolio:acme",
                original={"id": "evt-8", "data": {"unit": "X/999/9999"}},
                decided_on=day,
            ),
        ),
    ]
