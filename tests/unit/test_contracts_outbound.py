"""Outbound contracts: decisions round-trip; a rejection naming no valid ULN goes to "unknown"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import (
    OUTBOUND_EVENT_TYPES,
    SERVICE_SOURCE,
    UNKNOWN_LEARNER,
    CausedBy,
    CertificationEligible,
    CertificationEligibleEvent,
    ContractError,
    CountedUnit,
    DecisionKind,
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
    inbound_subject,
    outbound_subject,
    parse_inbound,
    parse_outbound,
)

ULN = "1234567899"
TIME = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)
DAY = date(2025, 3, 2)
CAUSE = CausedBy(source="urn:eportfolio:acme", id="evt-7")


def unit(urn: str = "J/601/1630", credits: int = 5) -> CountedUnit:
    return CountedUnit(
        unit=urn,
        title="Principles of customer service",
        credits=credits,
        level=4,
        achieved_on=date(2024, 11, 15),
        evidence=Evidence(source="urn:eportfolio:acme", id="evt-7", type="unit.achieved.v1"),
    )


def eligible() -> CertificationEligibleEvent:
    return CertificationEligibleEvent.create(
        id="d-eligible",
        time=TIME,
        data=CertificationEligible(
            uln=ULN,
            qualification="500/9203/0",
            decided_on=DAY,
            caused_by=CAUSE,
            qualification_title="OCR Level 4 NVQ Diploma in Customer Service",
            registered_on=date(2024, 9, 2),
            completed_on=date(2024, 11, 15),
            claim_by=date(2029, 12, 31),
            credits=9,
            counted_units=(unit(), unit("Y/601/1633", 4)),
            catalogue_version="2025.1",
        ),
    )


def withdrawn() -> EligibilityWithdrawnEvent:
    return EligibilityWithdrawnEvent.create(
        id="d-withdrawn",
        time=TIME,
        data=EligibilityWithdrawn(
            uln=ULN,
            qualification="500/9203/0",
            decided_on=DAY,
            caused_by=CAUSE,
            previous_decision="d-eligible",
            reason="achievement_revoked",
            detail="achievement evt-7 revoked: malpractice",
        ),
    )


def expired() -> WindowExpiredEvent:
    return WindowExpiredEvent.create(
        id="d-expired",
        time=TIME,
        data=WindowExpired(
            uln=ULN,
            qualification="CG-4430-L4",
            decided_on=DAY,
            caused_by=None,
            registered_on=date(2013, 9, 2),
            claim_by=date(2017, 8, 31),
        ),
    )


def unit_certificate() -> UnitCertificateEvent:
    return UnitCertificateEvent.create(
        id="d-units",
        time=TIME,
        data=UnitCertificate(
            uln=ULN,
            qualification="CG-4430-L4",
            decided_on=DAY,
            caused_by=None,
            because="window_expired",
            units=(unit(),),
            credits=5,
        ),
    )


def rejected(uln: str | None = ULN) -> EventRejectedEvent:
    return EventRejectedEvent.create(
        id="d-rejected",
        time=TIME,
        uln=uln,
        data=EventRejected(
            reason=RejectionReason.UNKNOWN_UNIT,
            detail="unit X/999/9999 is in no qualification",
            original_id="evt-8",
            original_source="urn:eportfolio:acme",
            original={"id": "evt-8", "data": {"unit": "X/999/9999"}},
            decided_on=DAY,
        ),
    )


DECISIONS: dict[DecisionKind, Callable[[], OutboundEvent]] = {
    DecisionKind.ELIGIBLE: eligible,
    DecisionKind.ELIGIBILITY_WITHDRAWN: withdrawn,
    DecisionKind.WINDOW_EXPIRED: expired,
    DecisionKind.UNIT_CERTIFICATE: unit_certificate,
    DecisionKind.REJECTED: rejected,
}


def test_the_outbound_kinds_and_types_are_exactly_those_of_spec() -> None:
    assert {kind.value: kind.event_type for kind in DecisionKind} == {
        "eligible": "certification.eligible.v1",
        "eligibility_withdrawn": "certification.eligibility_withdrawn.v1",
        "window_expired": "certification.window_expired.v1",
        "unit_certificate": "certification.unit_certificate.v1",
        "rejected": "event.rejected.v1",
    }
    assert set(OUTBOUND_EVENT_TYPES) == {kind.event_type for kind in DecisionKind}
    assert all(DecisionKind.of(kind.event_type) is kind for kind in DecisionKind)


@pytest.mark.parametrize("kind", list(DecisionKind))
def test_create_serialise_parse_round_trip(kind: DecisionKind) -> None:
    created: OutboundEvent = DECISIONS[kind]()
    raw = created.to_json_bytes()
    wire = json.loads(raw)

    assert parse_outbound(raw) == created
    assert parse_outbound(json.dumps(wire, indent=2)) == created
    assert type(created).event_type() == kind.event_type == wire["type"]
    assert wire["specversion"] == "1.0"
    assert wire["source"] == SERVICE_SOURCE
    assert wire["datacontenttype"] == "application/json"
    assert wire["subject"] == ULN
    assert wire["data"].get("uln", ULN) == ULN
    assert raw == created.to_json_bytes()  # deterministic bytes, so a stable Nats-Msg-Id payload


def test_decision_data_field_names() -> None:
    common = {"uln", "qualification", "decided_on", "caused_by"}
    assert set(eligible().data.model_dump()) == common | {
        "qualification_title",
        "registered_on",
        "completed_on",
        "claim_by",
        "credits",
        "counted_units",
        "catalogue_version",
    }
    assert set(withdrawn().data.model_dump()) == common | {"previous_decision", "reason", "detail"}
    assert set(expired().data.model_dump()) == common | {"registered_on", "claim_by"}
    assert set(unit_certificate().data.model_dump()) == common | {"because", "units", "credits"}
    assert set(rejected().data.model_dump()) == {
        "reason",
        "detail",
        "original_id",
        "original_source",
        "original",
        "decided_on",
    }


def test_json_shaped_decision_data_validates_as_is() -> None:
    # What the domain holds: dates as text, units in a list.
    data: dict[str, Any] = json.loads(eligible().data.model_dump_json())
    assert isinstance(data["counted_units"], list)
    assert CertificationEligible.model_validate(data) == eligible().data


def test_the_credits_must_be_the_counted_units_total() -> None:
    data = eligible().data.model_dump()
    data["credits"] = 10
    with pytest.raises(ValidationError, match="credits 10 must equal the units' total 9"):
        CertificationEligible.model_validate(data)


def test_a_decision_subject_must_be_its_learner() -> None:
    wire = json.loads(eligible().to_json_bytes())
    wire["subject"] = "1000000019"
    with pytest.raises(ContractError) as caught:
        parse_outbound(json.dumps(wire))
    assert caught.value.reason is RejectionReason.MALFORMED
    assert "data.uln" in caught.value.detail


def test_an_outbound_event_from_another_source_is_not_ours() -> None:
    wire = json.loads(eligible().to_json_bytes())
    wire["source"] = "urn:someone-else"
    with pytest.raises(ContractError, match="source"):
        parse_outbound(json.dumps(wire))


def test_parse_outbound_refuses_an_inbound_event_and_vice_versa() -> None:
    with pytest.raises(
        ContractError, match=re.escape("unknown event type 'certification.eligible.v1'")
    ):
        parse_inbound(eligible().to_json_bytes())
    inbound = {"type": "unit.achieved.v1", "id": "x"}
    with pytest.raises(ContractError, match=re.escape("unknown event type 'unit.achieved.v1'")):
        parse_outbound(json.dumps(inbound))


# -------------------------------------------------------------- rejections


@pytest.mark.parametrize("uln", [None, "", "1234567898", "12345.6789", "*", "records.>"])
def test_a_rejection_without_a_valid_uln_is_filed_under_unknown(uln: str | None) -> None:
    event = rejected(uln)
    assert event.subject == UNKNOWN_LEARNER == "unknown"
    assert outbound_subject(DecisionKind.REJECTED, event.subject) == "records.out.rejected.unknown"
    assert parse_outbound(event.to_json_bytes()) == event


def test_a_rejection_is_built_from_a_contract_error() -> None:
    with pytest.raises(ContractError) as caught:
        parse_inbound(b'{"id": "evt-9", "source": "urn:x", "subject": "not-a-uln"}')
    error = caught.value
    event = EventRejectedEvent.create(
        id="d-9",
        time=TIME,
        uln=error.uln,
        data=EventRejected.from_contract_error(error, decided_on=DAY),
    )
    assert event.subject == "unknown"
    assert (event.data.reason, event.data.original_id, event.data.original_source) == (
        RejectionReason.MALFORMED,
        "evt-9",
        "urn:x",
    )
    assert event.data.original == {"id": "evt-9", "source": "urn:x", "subject": "not-a-uln"}
    assert parse_outbound(event.to_json_bytes()) == event


def test_a_rejection_of_unreadable_bytes_carries_their_text() -> None:
    with pytest.raises(ContractError) as caught:
        parse_inbound(b"\xff{")
    data = EventRejected.from_contract_error(caught.value, decided_on=DAY)
    assert data.original == "\ufffd{"
    assert (data.original_id, data.original_source) == (None, None)


def test_a_rejection_reason_must_be_a_spec_code() -> None:
    data = rejected().data.model_dump(mode="json")
    data["reason"] = "too_late"
    with pytest.raises(ValidationError):
        EventRejected.model_validate(data)


# ----------------------------------------------------------------- subjects


def test_subjects() -> None:
    assert inbound_subject(ULN) == "records.in.1234567899"
    assert outbound_subject(DecisionKind.ELIGIBLE, ULN) == "records.out.eligible.1234567899"
    assert (
        outbound_subject(DecisionKind.UNIT_CERTIFICATE, ULN)
        == "records.out.unit_certificate.1234567899"
    )


@pytest.mark.parametrize("uln", ["unknown", "1234567898", "a.b", ""])
def test_only_a_rejection_may_be_filed_under_no_learner(uln: str) -> None:
    with pytest.raises(ValueError):
        outbound_subject(DecisionKind.ELIGIBLE, uln)
    with pytest.raises(ValueError):
        inbound_subject(uln)
