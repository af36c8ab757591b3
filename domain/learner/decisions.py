"""Decisions derived from a learner record: what to tell certification services.

Pure: given the record, the catalogue, the day and the event that prompted
the review, the same inputs always give the same decisions with the same ids
(uuid5 of what the decision is about), so a replay reproduces them and a
subscriber can de-duplicate on the id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from contracts.outbound import DecisionKind
from domain.catalogue import Catalogue
from domain.learner.facts import Achievement, Evidence
from domain.learner.record import LearnerRecord
from domain.learner.status import RegistrationStatus, RegistrationView, registration_views

DECISIONS = UUID("6d1e7a0c-3f52-5b8e-9a41-0c2f7d9b1e53")


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    kind: DecisionKind
    uln: str
    qualification: str | None
    decided_on: date
    taken_at: datetime = field(compare=False)
    data: Mapping[str, Any] = field(hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "uln": self.uln,
            "qualification": self.qualification,
            "decided_on": self.decided_on.isoformat(),
            "taken_at": self.taken_at.isoformat(),
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Decision:
        return cls(
            id=obj["id"],
            kind=DecisionKind(obj["kind"]),
            uln=obj["uln"],
            qualification=obj["qualification"],
            decided_on=date.fromisoformat(obj["decided_on"]),
            taken_at=datetime.fromisoformat(obj["taken_at"]),
            data=obj["data"],
        )


def decision_id(kind: DecisionKind, *about: str) -> str:
    return str(uuid5(DECISIONS, "|".join((kind.value, *about))))


def derive_decisions(
    record: LearnerRecord, catalogue: Catalogue, now: datetime, cause: Evidence | None
) -> list[Decision]:
    """What the record now calls for, as of ``now``, that has not been decided already."""
    return decisions_for(
        record, registration_views(record, catalogue, now.date()), catalogue, cause, now
    )


def decisions_for(
    record: LearnerRecord,
    views: Sequence[RegistrationView],
    catalogue: Catalogue,
    cause: Evidence | None,
    now: datetime,
) -> list[Decision]:
    """What these views of the record's registrations call for, not yet decided."""
    decisions: list[Decision] = []
    for view in views:
        decisions.extend(_for_registration(record, view, catalogue, cause, now))
    return decisions


def _for_registration(
    record: LearnerRecord,
    view: RegistrationView,
    catalogue: Catalogue,
    cause: Evidence | None,
    now: datetime,
) -> list[Decision]:
    state = record.decided[view.qualification]
    out: list[Decision] = []
    status = view.status
    if status is RegistrationStatus.ELIGIBLE and state.eligible_decision is None:
        out.append(_eligible(record.uln, view, catalogue, cause, state.eligible_count, now))
    if state.eligible_decision is not None and status in (
        RegistrationStatus.IN_PROGRESS,
        RegistrationStatus.WITHDRAWN,
    ):
        out.append(_eligibility_withdrawn(record, view, state.eligible_decision, cause, now))
    if status is RegistrationStatus.WINDOW_EXPIRED and not state.window_expired:
        out.append(_window_expired(record.uln, view, cause, now))
    if (
        status in (RegistrationStatus.WITHDRAWN, RegistrationStatus.WINDOW_EXPIRED)
        and not state.unit_certificate
        and view.structure_units()
    ):
        out.append(_unit_certificate(record.uln, view, catalogue, cause, now))
    return out


def _eligible(
    uln: str,
    view: RegistrationView,
    catalogue: Catalogue,
    cause: Evidence | None,
    ordinal: int,
    now: datetime,
) -> Decision:
    qualification = catalogue.qualification(view.qualification)
    assert view.completed_on is not None
    units = [counted_unit(a, catalogue) for a in view.counted()]
    data = {
        "uln": uln,
        "qualification": qualification.id,
        "qualification_title": qualification.title,
        "registered_on": view.registered_on.isoformat(),
        "completed_on": view.completed_on.isoformat(),
        "claim_by": view.claim_by.isoformat(),
        "credits": view.evaluation.counted_credits,
        "counted_units": units,
        "catalogue_version": catalogue.version,
        "decided_on": view.as_of.isoformat(),
        "caused_by": _cite(cause),
    }
    # The n-th time this registration became eligible: the same id whatever
    # order the facts arrived in, whichever event tipped it and on whatever day.
    return _decision(DecisionKind.ELIGIBLE, uln, view, data, (str(ordinal),), now)


def _eligibility_withdrawn(
    record: LearnerRecord,
    view: RegistrationView,
    previous: str,
    cause: Evidence | None,
    now: datetime,
) -> Decision:
    if view.status is RegistrationStatus.WITHDRAWN:
        reason, detail = "registration_withdrawn", f"registration withdrawn on {view.withdrawn_on}"
    elif cause is not None and cause.type == "achievement.revoked.v1":
        reason, detail = "achievement_revoked", _revocation_detail(record, cause)
    else:
        reason, detail = "no_longer_complete", view.reason()
    data = {
        "uln": record.uln,
        "qualification": view.qualification,
        "previous_decision": previous,
        "reason": reason,
        "detail": detail,
        "decided_on": view.as_of.isoformat(),
        "caused_by": _cite(cause),
    }
    # At most one withdrawal per eligible decision.
    return _decision(DecisionKind.ELIGIBILITY_WITHDRAWN, record.uln, view, data, (previous,), now)


def _window_expired(
    uln: str, view: RegistrationView, cause: Evidence | None, now: datetime
) -> Decision:
    data = {
        "uln": uln,
        "qualification": view.qualification,
        "registered_on": view.registered_on.isoformat(),
        "claim_by": view.claim_by.isoformat(),
        "decided_on": view.as_of.isoformat(),
        "caused_by": _cite(cause),
    }
    # Once per registration: the same whatever prompted it.
    return _decision(DecisionKind.WINDOW_EXPIRED, uln, view, data, (), now)


def _unit_certificate(
    uln: str, view: RegistrationView, catalogue: Catalogue, cause: Evidence | None, now: datetime
) -> Decision:
    units = [counted_unit(a, catalogue) for a in view.structure_units()]
    because = "withdrawn" if view.status is RegistrationStatus.WITHDRAWN else "window_expired"
    data = {
        "uln": uln,
        "qualification": view.qualification,
        "because": because,
        "units": units,
        "credits": sum(entry["credits"] for entry in units),
        "decided_on": view.as_of.isoformat(),
        "caused_by": _cite(cause),
    }
    return _decision(DecisionKind.UNIT_CERTIFICATE, uln, view, data, (), now)


def rejection(
    uln: str,
    reason: str,
    detail: str,
    original: Mapping[str, Any] | str,
    original_source: str | None,
    original_id: str | None,
    digest: str,
    now: datetime,
) -> Decision:
    """The ``event.rejected.v1`` decision for a refused inbound event."""
    data = {
        "reason": reason,
        "detail": detail,
        "original_id": original_id,
        "original_source": original_source,
        "original": original,
        "decided_on": now.date().isoformat(),
    }
    # The digest is part of the identity: a conflicting duplicate shares
    # (source, id) with the event it conflicts with but is a different refusal.
    ident = decision_id(DecisionKind.REJECTED, original_source or "", original_id or "", digest)
    return Decision(ident, DecisionKind.REJECTED, uln, None, now.date(), now, data)


def _decision(
    kind: DecisionKind,
    uln: str,
    view: RegistrationView,
    data: dict[str, Any],
    about: tuple[str, ...],
    now: datetime,
) -> Decision:
    registration = view.registration.evidence
    ident = decision_id(kind, uln, view.qualification, registration.source, registration.id, *about)
    return Decision(ident, kind, uln, view.qualification, view.as_of, now, data)


def _cite(cause: Evidence | None) -> dict[str, str] | None:
    return None if cause is None else {"source": cause.source, "id": cause.id}


def counted_unit(achievement: Achievement, catalogue: Catalogue) -> dict[str, Any]:
    """A unit as decisions and read models list it: the catalogue's facts and the evidence."""
    unit = catalogue.unit(achievement.unit)
    return {
        "unit": unit.urn,
        "title": unit.title,
        "credits": unit.credits,
        "level": unit.level,
        "achieved_on": achievement.achieved_on.isoformat(),
        "evidence": achievement.evidence.cite(),
    }


def _revocation_detail(record: LearnerRecord, cause: Evidence) -> str:
    for achievement_key, revocation in record.revoked.items():
        if revocation.evidence.key == cause.key:
            return f"achievement {achievement_key[1]} revoked: {revocation.reason}"
    return "an achievement was revoked"
