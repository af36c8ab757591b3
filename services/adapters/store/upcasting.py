"""Reading stores written by learner-records 0.1: its topics, upcast to today's events.

0.1 stored generic envelopes made by eventsourcing's aggregate machinery:
``Learner.FactRecorded`` (the inbound CloudEvent as a JSON object), ``Learner.FactRefused``
and ``Learner.DecisionTaken`` (a decision as a dict), ``Unattributed.Refused``, plus two
bookkeeping events (``Learner.Opened``, ``Unattributed.Received``) that carry nothing a
history needs. Each is read here as the typed event today's code would have stored.
A decision keeps the bytes the 0.1 relay published for it, so a re-publication after
an upgrade repeats exactly what subscribers already have.

The 0.1 rows are never rewritten; they hold the date of birth in clear (0.1 did not
seal), which ``learner-records erase`` redacts in place, the one rewrite it makes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import orjson

from contracts import DECISION_EVENT_CLASSES, DecisionKind, parse_inbound
from contracts.jsonio import canonical_json_bytes
from contracts.outbound import SERVICE_SOURCE, rejection_subject
from contracts.subjects import outbound_subject
from domain.learner import (
    AchievementRevoked,
    Arrival,
    CertificateIssued,
    CreditTransferred,
    Decision,
    DecisionTaken,
    EligibilityWithdrawn,
    EventRefused,
    FactRecorded,
    FoundEligible,
    Registered,
    RegistrationWithdrawn,
    UnattributedRefused,
    UnitAchieved,
    UnitCertificateDue,
    WindowExpired,
    fact_of,
)
from domain.learner.events import LearnerEvent

__all__ = ["LEGACY", "LEGACY_TOPICS"]

_LEARNER = "domain.learner.aggregate:Learner."
_UNATTRIBUTED = "domain.learner.unattributed:Unattributed."

_DECISION_EVENTS: dict[DecisionKind, type[DecisionTaken]] = {
    DecisionKind.ELIGIBLE: FoundEligible,
    DecisionKind.ELIGIBILITY_WITHDRAWN: EligibilityWithdrawn,
    DecisionKind.WINDOW_EXPIRED: WindowExpired,
    DecisionKind.UNIT_CERTIFICATE: UnitCertificateDue,
}


def _skipped(state: bytes) -> None:
    return None


def _fact_recorded(state: bytes) -> FactRecorded:
    stored = orjson.loads(state)
    inbound = stored["inbound"]
    original = canonical_json_bytes(inbound)
    erased = inbound["type"] == "learner.registered.v1" and "date_of_birth" not in inbound["data"]
    if erased:
        # Redacted by an erasure: read as a registration whose date of birth is gone.
        inbound = {**inbound, "data": {**inbound["data"], "date_of_birth": "1900-01-01"}}
    fact = fact_of(parse_inbound(canonical_json_bytes(inbound)))
    if erased:
        fact = dataclasses.replace(fact, date_of_birth=None)  # type: ignore[arg-type]
    arrival = Arrival(_time(stored["received_at"]), stored["digest"], None if erased else original)
    uln = inbound["subject"]
    recorded: FactRecorded
    match inbound["type"]:
        case "learner.registered.v1":
            recorded = Registered(uln, arrival, fact)  # type: ignore[arg-type]
        case "unit.achieved.v1":
            recorded = UnitAchieved(uln, arrival, fact)  # type: ignore[arg-type]
        case "credit.transferred.v1":
            recorded = CreditTransferred(uln, arrival, fact)  # type: ignore[arg-type]
        case "achievement.revoked.v1":
            recorded = AchievementRevoked(uln, arrival, fact)  # type: ignore[arg-type]
        case "registration.withdrawn.v1":
            recorded = RegistrationWithdrawn(uln, arrival, fact)  # type: ignore[arg-type]
        case _:
            recorded = CertificateIssued(uln, arrival, fact)  # type: ignore[arg-type]
    return recorded


def _fact_refused(state: bytes) -> EventRefused:
    stored = orjson.loads(state)
    decision = _decision(stored["decision"])
    data = stored["decision"]["data"]
    arrival = Arrival(_time(stored["received_at"]), stored["digest"])
    return EventRefused(
        stored["decision"]["uln"],
        stored["source"],
        stored["event_id"],
        data["reason"],
        data["detail"],
        arrival,
        decision,
    )


def _decision_taken(state: bytes) -> LearnerEvent:
    stored = orjson.loads(state)["decision"]
    decision = _decision(stored)
    return _DECISION_EVENTS[decision.kind](stored["uln"], decision)


def _unattributed_refused(state: bytes) -> UnattributedRefused:
    stored = orjson.loads(state)
    decision = _decision(stored["decision"])
    data = stored["decision"]["data"]
    return UnattributedRefused(
        identity="0.1",
        source=data["original_source"],
        id=data["original_id"],
        reason=data["reason"],
        detail=data["detail"],
        received_at=_time(stored["received_at"]),
        digest=stored["digest"],
        decision=decision,
    )


def _decision(stored: Mapping[str, Any]) -> Decision:
    """A 0.1 decision dict as the CloudEvent its relay published (outbound_message)."""
    kind = DecisionKind(stored["kind"])
    uln = rejection_subject(stored["uln"]) if kind is DecisionKind.REJECTED else stored["uln"]
    envelope = {
        "specversion": "1.0",
        "id": stored["id"],
        "source": SERVICE_SOURCE,
        "type": kind.event_type,
        "time": stored["taken_at"],
        "subject": uln,
        "datacontenttype": "application/json",
        "data": stored["data"],
    }
    event = DECISION_EVENT_CLASSES[kind].model_validate_json(orjson.dumps(envelope))
    return Decision(
        id=stored["id"],
        kind=kind,
        qualification=stored["qualification"],
        decided_on=date.fromisoformat(stored["decided_on"]),
        subject=outbound_subject(kind, uln),
        cloudevent=event.to_json_bytes().decode(),
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


LEGACY: dict[str, Callable[[bytes], Any]] = {
    _LEARNER + "Opened": _skipped,
    _LEARNER + "FactRecorded": _fact_recorded,
    _LEARNER + "FactRefused": _fact_refused,
    _LEARNER + "DecisionTaken": _decision_taken,
    _UNATTRIBUTED + "Received": _skipped,
    _UNATTRIBUTED + "Refused": _unattributed_refused,
}
LEGACY_TOPICS = tuple(LEGACY)
