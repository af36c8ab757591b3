"""A brute-force oracle for the rules of combination, for tests and the benchmark.

It reads the rules straight from the model and tries every subset, so it is
obviously right and exponentially slow: 2**n subsets for n units. It refuses
more than ``LIMIT`` units (achieved units for completion, structure units for
the shortfall) rather than run for hours.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date

from domain.catalogue.model import (
    CreditsAtLevel,
    GroupCredits,
    MandatoryGroup,
    MinimumCredits,
    Qualification,
    Unit,
    UnitsFromEachGroup,
)

LIMIT = 20


class OracleLimitError(ValueError):
    """Too many units to enumerate every subset."""


def _structure(qualification: Qualification) -> dict[str, tuple[str, Unit]]:
    units: dict[str, tuple[str, Unit]] = {}
    for group in qualification.groups:
        for unit in group.units:
            units.setdefault(unit.urn, (group.id, unit))
    return units


def _credits(unit: Unit) -> int:
    assert unit.credits is not None, "load qualifications through the Catalogue"
    return unit.credits


def satisfies(qualification: Qualification, selection: Collection[str]) -> bool:
    """Whether counting exactly ``selection`` (URNs in the structure) meets every rule."""
    units = _structure(qualification)
    chosen = [units[urn] for urn in selection]
    for rule in qualification.rules:
        if isinstance(rule, MinimumCredits):
            ok = sum(_credits(u) for _, u in chosen) >= rule.credits
        elif isinstance(rule, MandatoryGroup):
            members = [u.urn for g in qualification.groups if g.id == rule.group for u in g.units]
            ok = all(urn in selection for urn in members)
        elif isinstance(rule, GroupCredits):
            total = sum(_credits(u) for g, u in chosen if g in rule.groups)
            ok = (rule.minimum is None or total >= rule.minimum) and (
                rule.maximum is None or total <= rule.maximum
            )
        elif isinstance(rule, UnitsFromEachGroup):
            ok = all(sum(1 for g, _ in chosen if g == want) >= rule.units for want in rule.groups)
        elif isinstance(rule, CreditsAtLevel):
            ok = (
                sum(
                    _credits(u)
                    for g, u in chosen
                    if (u.level or 0) >= rule.level and (rule.groups is None or g in rule.groups)
                )
                >= rule.credits
            )
        if not ok:
            return False
    return True


def _subsets(urns: Sequence[str]) -> Iterator[frozenset[str]]:
    for bits in range(1 << len(urns)):
        yield frozenset(urn for i, urn in enumerate(urns) if bits >> i & 1)


def _check(urns: Sequence[str]) -> None:
    if len(urns) > LIMIT:
        raise OracleLimitError(f"{len(urns)} units: 2**{len(urns)} subsets is too many")


def complete(qualification: Qualification, achieved: Collection[str]) -> bool:
    units = _structure(qualification)
    urns = sorted(urn for urn in achieved if urn in units)
    _check(urns)
    return any(satisfies(qualification, subset) for subset in _subsets(urns))


def completed_on(
    qualification: Qualification,
    achieved: Mapping[str, date],
    registered_on: date | None = None,
) -> date | None:
    """The first day, in order, whose units complete; not before registration.

    Rules that nothing at all satisfies complete at registration (None without one).
    """
    if complete(qualification, []):
        return registered_on
    for day in sorted(set(achieved.values())):
        if complete(qualification, [urn for urn, on in achieved.items() if on <= day]):
            return day if registered_on is None or registered_on <= day else registered_on
    return None


def fewest_further(
    qualification: Qualification, achieved: Collection[str], *, by: str = "credits"
) -> int | None:
    """The least credits (or GLH, ``by="glh"``) of not-yet-achieved units that complete.

    0 when already complete; None when nothing completes it.
    """
    units = _structure(qualification)
    urns = sorted(units)
    _check(urns)

    def price(urn: str) -> int:
        unit = units[urn][1]
        return _credits(unit) if by == "credits" else unit.glh or 0

    costs = [
        sum(price(urn) for urn in subset if urn not in achieved)
        for subset in _subsets(urns)
        if satisfies(qualification, subset)
    ]
    return min(costs, default=None)
