"""Everything accepted about one learner, and what has been decided for them.

``LearnerRecord.apply`` is the one place where an event changes a learner: the writer
(domain.learner.learner), the status projection and the auditor's timeline all fold a
learner's history through it, event by event. The record holds facts, never
conclusions drawn from a clock; statuses are worked out from it (domain.learner.status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from contracts.outbound import DecisionKind
from domain.learner.events import (
    AchievementRevoked,
    CertificateIssued,
    CreditTransferred,
    DecisionTaken,
    EventRefused,
    LearnerErased,
    LearnerEvent,
    Registered,
    RegistrationWithdrawn,
    UnitAchieved,
)
from domain.learner.facts import (
    Achievement,
    Certificate,
    Registration,
    Revocation,
    Withdrawal,
)

__all__ = ["DecisionState", "LearnerRecord"]


@dataclass(slots=True)
class DecisionState:
    """What has been published for one registration, so it is never said twice."""

    eligible_decision: str | None = None
    eligible_count: int = 0
    window_expired: bool = False
    unit_certificate: bool = False


@dataclass(slots=True)
class LearnerRecord:
    uln: str
    registrations: dict[str, Registration] = field(default_factory=dict)
    achievements: list[Achievement] = field(default_factory=list)
    revoked: dict[tuple[str, str], Revocation] = field(default_factory=dict)
    withdrawals: dict[str, list[Withdrawal]] = field(default_factory=dict)
    certificates: dict[str, list[Certificate]] = field(default_factory=dict)
    # (source, id) of every inbound event received -> its digest: duplicates and conflicts.
    seen: dict[tuple[str, str], str] = field(default_factory=dict)
    decided: dict[str, DecisionState] = field(default_factory=dict)
    refusals: list[EventRefused] = field(default_factory=list)
    erased_at: datetime | None = None
    # How many events have been applied: the stored version of the learner's history.
    version: int = 0

    def apply(self, event: LearnerEvent) -> None:
        """Move the record on by one event of its history."""
        match event:
            case Registered(fact=fact, arrival=arrival):
                self.registrations[fact.qualification] = fact
                self.decided.setdefault(fact.qualification, DecisionState())
                self.seen[fact.evidence.key] = arrival.digest
            case (
                UnitAchieved(fact=fact, arrival=arrival)
                | CreditTransferred(fact=fact, arrival=arrival)
            ):
                self.achievements.append(fact)
                self.seen[fact.evidence.key] = arrival.digest
            case AchievementRevoked(fact=fact, arrival=arrival):
                target = self.find_achievement(fact.revokes, fact.evidence.source)
                if target is not None:
                    self.revoked.setdefault(target.evidence.key, fact)
                self.seen[fact.evidence.key] = arrival.digest
            case RegistrationWithdrawn(fact=fact, arrival=arrival):
                self.withdrawals.setdefault(fact.qualification, []).append(fact)
                self.seen[fact.evidence.key] = arrival.digest
            case CertificateIssued(fact=fact, arrival=arrival):
                self.certificates.setdefault(fact.qualification, []).append(fact)
                self.seen[fact.evidence.key] = arrival.digest
            case EventRefused():
                # A refused event is remembered so that the same one again is a duplicate,
                # and another with its identity is a conflict.
                if event.source is not None and event.id is not None:
                    self.seen.setdefault((event.source, event.id), event.arrival.digest)
                self.refusals.append(event)
            case DecisionTaken(decision=decision):
                self._note(decision.kind, decision.qualification, decision.id)
            case LearnerErased():
                self.erased_at = event.erased_at
            case _:
                raise TypeError(f"not an event of a learner's history: {type(event).__name__}")
        self.version += 1

    def _note(self, kind: DecisionKind, qualification: str | None, decision_id: str) -> None:
        if qualification is None:
            return
        state = self.decided.setdefault(qualification, DecisionState())
        match kind:
            case DecisionKind.ELIGIBLE:
                state.eligible_decision = decision_id
                state.eligible_count += 1
            case DecisionKind.ELIGIBILITY_WITHDRAWN:
                state.eligible_decision = None
            case DecisionKind.WINDOW_EXPIRED:
                state.window_expired = True
            case DecisionKind.UNIT_CERTIFICATE:
                state.unit_certificate = True

    def find_achievement(self, event_id: str, source: str) -> Achievement | None:
        """The achievement or transfer an ``id`` names: same source first, then any."""
        matches = [a for a in self.achievements if a.evidence.id == event_id]
        for achievement in matches:
            if achievement.evidence.source == source:
                return achievement
        return matches[0] if len(matches) == 1 else None

    def achieved_units(self, as_of: date | None = None) -> dict[str, Achievement]:
        """Each unit's earliest standing achievement, on or before ``as_of``.

        Revoked achievements never count, whatever the date: a revocation
        voids from the start.
        """
        best: dict[str, Achievement] = {}
        for achievement in self.achievements:
            if achievement.evidence.key in self.revoked:
                continue
            if as_of is not None and achievement.achieved_on > as_of:
                continue
            held = best.get(achievement.unit)
            if held is None or achievement.achieved_on < held.achieved_on:
                best[achievement.unit] = achievement
        return best

    def withdrawal(self, qualification: str, as_of: date) -> Withdrawal | None:
        """The earliest withdrawal from ``qualification`` in effect by ``as_of``."""
        found = [w for w in self.withdrawals.get(qualification, ()) if w.withdrawn_on <= as_of]
        return min(found, key=lambda w: w.withdrawn_on) if found else None

    def certificate(self, qualification: str, as_of: date) -> Certificate | None:
        """The earliest certificate for ``qualification`` issued by ``as_of``."""
        found = [c for c in self.certificates.get(qualification, ()) if c.issued_on <= as_of]
        return min(found, key=lambda c: c.issued_on) if found else None
