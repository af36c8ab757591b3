"""Which registrations a new fact cannot have changed: the review's shortcut.

After a review every decision a registration called for has been taken, so reviewing
it again on the same day yields nothing unless its status can have moved. Status is a
function of the facts and the day (SPEC.md §4), and most facts touch one registration
in a way whose effect is known without running the rules:

- a unit outside a qualification's structure never counts toward it;
- more units never undo completion (a maximum limits what counts, not what is taken,
  and the earliest completion date can only come sooner), so a registration that was
  eligible stays so, and a withdrawn, certificated or expired one stays as it was
  (once its unit certificate, if it owes one, has been decided);
- an in-progress registration cannot become complete while its standing units carry
  fewer credits than the rules' minimum total, or miss a mandatory unit.

Anything else (a registration, a revocation, a withdrawal, a certificate, another day)
is reviewed in full. The memo is not part of the learner's history: the application
keeps one per learner in memory beside its cached record, a learner loaded from the
store starts with none, and a failed batch throws both away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.catalogue import Catalogue
from domain.learner.facts import Achievement, Fact
from domain.learner.record import LearnerRecord
from domain.learner.status import RegistrationStatus, RegistrationView

# Statuses more units cannot change (as of the same day).
_KEPT_BY_MORE_UNITS = frozenset(
    {
        RegistrationStatus.ELIGIBLE,
        RegistrationStatus.WITHDRAWN,
        RegistrationStatus.CERTIFICATED,
        RegistrationStatus.WINDOW_EXPIRED,
    }
)

# Statuses in which a registration's first unit calls for a unit certificate.
_OWE_UNIT_CERTIFICATES = frozenset(
    {RegistrationStatus.WITHDRAWN, RegistrationStatus.WINDOW_EXPIRED}
)


@dataclass(frozen=True, slots=True)
class _Needs:
    """What a qualification needs at the least: credits, and its mandatory units."""

    credits: dict[str, int]  # its structure: URN -> credits
    minimum: int
    mandatory: frozenset[str]


_NEEDS: dict[tuple[int, str], tuple[Catalogue, _Needs]] = {}


def _needs(catalogue: Catalogue, qualification_id: str) -> _Needs:
    key = (id(catalogue), qualification_id)
    held = _NEEDS.get(key)
    if held is not None and held[0] is catalogue:
        return held[1]
    qualification = catalogue.qualification(qualification_id)
    credits = {
        unit.urn: catalogue.unit(unit.urn).credits or 0
        for group in qualification.groups
        for unit in group.units
    }
    mandatory_groups = {g.id for g in qualification.groups if g.mandatory} | {
        rule.group for rule in qualification.rules if rule.kind == "mandatory_group"
    }
    needs = _Needs(
        credits=credits,
        minimum=max(
            (rule.credits for rule in qualification.rules if rule.kind == "minimum_credits"),
            default=0,
        ),
        mandatory=frozenset(
            unit.urn
            for group in qualification.groups
            if group.id in mandatory_groups
            for unit in group.units
        ),
    )
    _NEEDS[key] = (catalogue, needs)
    return needs


@dataclass(slots=True)
class Settled:
    """Each registration's status when it was last reviewed in full, and on which day."""

    statuses: dict[str, tuple[date, RegistrationStatus]] = field(default_factory=dict)

    def note(self, views: list[RegistrationView], day: date) -> None:
        for view in views:
            self.statuses[view.qualification] = (day, view.status)

    def unchanged(
        self, record: LearnerRecord, fact: Fact, catalogue: Catalogue, day: date
    ) -> set[str]:
        """The registrations whose status ``fact`` (just added) cannot have changed."""
        if not isinstance(fact, Achievement):
            qualification = getattr(fact, "qualification", None)
            if qualification is None:  # a revocation: anything may have moved
                return set()
            return {
                q
                for q, (on, _) in self.statuses.items()
                if on == day and q != qualification and q in record.registrations
            }
        standing: dict[str, Achievement] | None = None
        kept: set[str] = set()
        for qualification, (on, status) in self.statuses.items():
            if on != day or qualification not in record.registrations:
                continue
            needs = _needs(catalogue, qualification)
            if fact.unit not in needs.credits:
                kept.add(qualification)
                continue
            if status in _KEPT_BY_MORE_UNITS:
                # ... but a first unit makes a withdrawn or expired registration owe a
                # unit certificate, unless one has been issued already.
                if status in _OWE_UNIT_CERTIFICATES and not (
                    (state := record.decided.get(qualification)) and state.unit_certificate
                ):
                    continue
                kept.add(qualification)
                continue
            if status is not RegistrationStatus.IN_PROGRESS:
                continue
            if standing is None:
                standing = record.achieved_units(day)
            in_structure = [urn for urn in standing if urn in needs.credits]
            short = sum(needs.credits[urn] for urn in in_structure) < needs.minimum
            if short or not needs.mandatory.issubset(in_structure):
                kept.add(qualification)
        return kept
