"""The one place where a decision is shaped: outbound contract models, built when taken.

Pure: given the record, the catalogue, the moment and the event that prompted the
review, the same inputs always give the same decisions with the same ids (uuid5 of
what the decision is about), so a replay reproduces them and a subscriber can
de-duplicate on the id. Each decision is validated against its outbound contract here,
before anything is stored: a decision that would break its contract fails the batch
that took it instead of reaching the store (and then a relay that could never publish it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid5

from contracts.outbound import (
    CausedBy,
    CertificationEligible,
    CertificationEligibleEvent,
    CountedUnit,
    DecisionKind,
    EligibilityWithdrawnEvent,
    EventRejected,
    EventRejectedEvent,
    LearnerDecisionEnvelope,
    UnitCertificate,
    UnitCertificateEvent,
    WindowExpiredEvent,
)
from contracts.outbound import EligibilityWithdrawn as EligibilityWithdrawnData
from contracts.outbound import WindowExpired as WindowExpiredData
from contracts.subjects import outbound_subject
from domain.catalogue import Catalogue
from domain.learner.events import (
    Decision,
    DecisionTaken,
    EligibilityWithdrawn,
    FoundEligible,
    UnitCertificateDue,
    WindowExpired,
)
from domain.learner.facts import Achievement, Evidence
from domain.learner.record import LearnerRecord
from domain.learner.status import RegistrationStatus, RegistrationView

__all__ = ["counted_unit", "decision_id", "decisions_for", "rejection"]

DECISIONS = UUID("6d1e7a0c-3f52-5b8e-9a41-0c2f7d9b1e53")


def decision_id(kind: DecisionKind, *about: str) -> str:
    return str(uuid5(DECISIONS, "|".join((kind.value, *about))))


def decisions_for(
    record: LearnerRecord,
    views: Sequence[RegistrationView],
    catalogue: Catalogue,
    cause: Evidence | None,
    now: datetime,
    trace: str | None = None,
) -> list[DecisionTaken]:
    """What these views of the record's registrations call for and was not decided yet."""
    taken: list[DecisionTaken] = []
    for view in views:
        taken.extend(_for_registration(record, view, catalogue, cause, now, trace))
    return taken


def _for_registration(
    record: LearnerRecord,
    view: RegistrationView,
    catalogue: Catalogue,
    cause: Evidence | None,
    now: datetime,
    trace: str | None,
) -> list[DecisionTaken]:
    state = record.decided[view.qualification]
    uln = record.uln
    out: list[DecisionTaken] = []
    status = view.status
    if status is RegistrationStatus.ELIGIBLE and state.eligible_decision is None:
        decision = _eligible(uln, view, catalogue, cause, state.eligible_count, now, trace)
        out.append(FoundEligible(uln, decision))
    if state.eligible_decision is not None and status in (
        RegistrationStatus.IN_PROGRESS,
        RegistrationStatus.WITHDRAWN,
    ):
        decision = _eligibility_withdrawn(record, view, state.eligible_decision, cause, now, trace)
        out.append(EligibilityWithdrawn(uln, decision))
    if status is RegistrationStatus.WINDOW_EXPIRED and not state.window_expired:
        out.append(WindowExpired(uln, _window_expired(uln, view, cause, now, trace)))
    if (
        status in (RegistrationStatus.WITHDRAWN, RegistrationStatus.WINDOW_EXPIRED)
        and not state.unit_certificate
        and view.structure_units()
    ):
        decision = _unit_certificate(uln, view, catalogue, cause, now, trace)
        out.append(UnitCertificateDue(uln, decision))
    return out


def _eligible(
    uln: str,
    view: RegistrationView,
    catalogue: Catalogue,
    cause: Evidence | None,
    ordinal: int,
    now: datetime,
    trace: str | None,
) -> Decision:
    qualification = catalogue.qualification(view.qualification)
    assert view.completed_on is not None
    units = _counted(view.counted(), catalogue)
    data = CertificationEligible(
        uln=uln,
        qualification=qualification.id,
        decided_on=view.as_of,
        caused_by=_cite(cause),
        qualification_title=qualification.title,
        registered_on=view.registered_on,
        completed_on=view.completed_on,
        claim_by=view.claim_by,
        credits=view.evaluation.counted_credits,
        counted_units=units,
        catalogue_version=catalogue.version,
    )
    # The n-th time this registration became eligible: the same id whatever
    # order the facts arrived in, whichever event tipped it and on whatever day.
    ident = _registration_decision_id(DecisionKind.ELIGIBLE, uln, view, str(ordinal))
    return _learner_decision(CertificationEligibleEvent, ident, data, view, now, trace)


def _eligibility_withdrawn(
    record: LearnerRecord,
    view: RegistrationView,
    previous: str,
    cause: Evidence | None,
    now: datetime,
    trace: str | None,
) -> Decision:
    if view.status is RegistrationStatus.WITHDRAWN:
        reason, detail = "registration_withdrawn", f"registration withdrawn on {view.withdrawn_on}"
    elif cause is not None and cause.type == "achievement.revoked.v1":
        reason, detail = "achievement_revoked", _revocation_detail(record, cause)
    else:
        reason, detail = "no_longer_complete", view.reason()
    data = EligibilityWithdrawnData(
        uln=record.uln,
        qualification=view.qualification,
        decided_on=view.as_of,
        caused_by=_cite(cause),
        previous_decision=previous,
        reason=reason,
        detail=detail,
    )
    # At most one withdrawal per eligible decision.
    ident = _registration_decision_id(
        DecisionKind.ELIGIBILITY_WITHDRAWN, record.uln, view, previous
    )
    return _learner_decision(EligibilityWithdrawnEvent, ident, data, view, now, trace)


def _window_expired(
    uln: str, view: RegistrationView, cause: Evidence | None, now: datetime, trace: str | None
) -> Decision:
    data = WindowExpiredData(
        uln=uln,
        qualification=view.qualification,
        decided_on=view.as_of,
        caused_by=_cite(cause),
        registered_on=view.registered_on,
        claim_by=view.claim_by,
    )
    # Once per registration: the same whatever prompted it.
    ident = _registration_decision_id(DecisionKind.WINDOW_EXPIRED, uln, view)
    return _learner_decision(WindowExpiredEvent, ident, data, view, now, trace)


def _unit_certificate(
    uln: str,
    view: RegistrationView,
    catalogue: Catalogue,
    cause: Evidence | None,
    now: datetime,
    trace: str | None,
) -> Decision:
    units = _counted(view.structure_units(), catalogue)
    because: Literal["withdrawn", "window_expired"] = (
        "withdrawn" if view.status is RegistrationStatus.WITHDRAWN else "window_expired"
    )
    data = UnitCertificate(
        uln=uln,
        qualification=view.qualification,
        decided_on=view.as_of,
        caused_by=_cite(cause),
        because=because,
        units=units,
        credits=sum(unit.credits for unit in units),
    )
    ident = _registration_decision_id(DecisionKind.UNIT_CERTIFICATE, uln, view)
    return _learner_decision(UnitCertificateEvent, ident, data, view, now, trace)


def rejection(
    uln: str | None,
    reason: str,
    detail: str,
    original: dict[str, Any] | str,
    original_source: str | None,
    original_id: str | None,
    digest: str,
    now: datetime,
    trace: str | None = None,
) -> Decision:
    """The ``event.rejected.v1`` for a refused inbound event, filed under ``uln`` when
    it is a valid ULN and under "unknown" otherwise."""
    # The digest is part of the identity: a conflicting duplicate shares
    # (source, id) with the event it conflicts with but is a different refusal.
    ident = decision_id(DecisionKind.REJECTED, original_source or "", original_id or "", digest)
    data = EventRejected(
        reason=reason,
        detail=detail,
        original_id=original_id,
        original_source=original_source,
        original=original,
        decided_on=now.date(),
    )
    event = EventRejectedEvent.create(id=ident, time=now, data=data, uln=uln)
    return Decision(
        id=ident,
        kind=DecisionKind.REJECTED,
        qualification=None,
        decided_on=now.date(),
        subject=outbound_subject(DecisionKind.REJECTED, event.subject),
        cloudevent=event.to_json_bytes().decode(),
        trace=trace,
    )


def counted_unit(achievement: Achievement, catalogue: Catalogue) -> dict[str, Any]:
    """A unit as decisions and read models list it: the catalogue's facts and the evidence
    (JSON-ready; the decisions validate it as the contract's CountedUnit)."""
    unit = catalogue.unit(achievement.unit)
    evidence = achievement.evidence
    return {
        "unit": unit.urn,
        "title": unit.title,
        "credits": unit.credits,
        "level": unit.level,
        "achieved_on": achievement.achieved_on.isoformat(),
        "evidence": {"source": evidence.source, "id": evidence.id, "type": evidence.type},
    }


def _counted(achievements: Sequence[Achievement], catalogue: Catalogue) -> tuple[CountedUnit, ...]:
    return tuple(CountedUnit.model_validate(counted_unit(a, catalogue)) for a in achievements)


def _registration_decision_id(
    kind: DecisionKind, uln: str, view: RegistrationView, *about: str
) -> str:
    registration = view.registration.evidence
    return decision_id(kind, uln, view.qualification, registration.source, registration.id, *about)


def _learner_decision(
    envelope: type[LearnerDecisionEnvelope[Any]],
    ident: str,
    data: Any,
    view: RegistrationView,
    now: datetime,
    trace: str | None,
) -> Decision:
    event = envelope.create(id=ident, time=now, data=data)
    kind = DecisionKind.of(event.type)
    return Decision(
        id=ident,
        kind=kind,
        qualification=view.qualification,
        decided_on=view.as_of,
        subject=outbound_subject(kind, data.uln),
        cloudevent=event.to_json_bytes().decode(),
        trace=trace,
    )


def _cite(cause: Evidence | None) -> CausedBy | None:
    return None if cause is None else CausedBy(source=cause.source, id=cause.id)


def _revocation_detail(record: LearnerRecord, cause: Evidence) -> str:
    for achievement_key, revocation in record.revoked.items():
        if revocation.evidence.key == cause.key:
            return f"achievement {achievement_key[1]} revoked: {revocation.reason}"
    return "an achievement was revoked"
