"""Everything accepted about one learner, and what has been decided for them.

A plain mutable value the aggregate owns and the auditor rebuilds step by
step; it holds facts, never conclusions drawn from a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.learner.facts import (
    Achievement,
    Certificate,
    Fact,
    Registration,
    Revocation,
    Withdrawal,
)


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
    seen: dict[tuple[str, str], str] = field(default_factory=dict)
    decided: dict[str, DecisionState] = field(default_factory=dict)

    def add(self, fact: Fact) -> None:
        match fact:
            case Registration():
                self.registrations[fact.qualification] = fact
                self.decided.setdefault(fact.qualification, DecisionState())
            case Achievement():
                self.achievements.append(fact)
            case Revocation():
                target = self.find_achievement(fact.revokes, fact.evidence.source)
                if target is not None:
                    self.revoked.setdefault(target.evidence.key, fact)
            case Withdrawal():
                self.withdrawals.setdefault(fact.qualification, []).append(fact)
            case Certificate():
                self.certificates.setdefault(fact.qualification, []).append(fact)

    def note(self, kind: str, qualification: str | None, decision_id: str) -> None:
        """Remember a decision taken, so the same one is not taken again."""
        if qualification is None:
            return
        state = self.decided.setdefault(qualification, DecisionState())
        if kind == "eligible":
            state.eligible_decision = decision_id
            state.eligible_count += 1
        elif kind == "eligibility_withdrawn":
            state.eligible_decision = None
        elif kind == "window_expired":
            state.window_expired = True
        elif kind == "unit_certificate":
            state.unit_certificate = True

    def find_achievement(self, event_id: str, source: str) -> Achievement | None:
        """The achievement or transfer an ``id`` names: same source first, then any."""
        matches = [a for a in self.achievements if a.evidence.id == event_id]
        for achievement in matches:
            if achievement.evidence.source == source:
                return achievement
        return matches[0] if len(matches) == 1 else None

    def is_revoked(self, achievement: Achievement) -> bool:
        return achievement.evidence.key in self.revoked

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
