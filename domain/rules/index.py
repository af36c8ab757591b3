"""A qualification's rules of combination as vectors, built once per qualification.

Every minimum becomes a *need* (a dimension the counted selection must fill) and
every maximum a *cap* (a dimension it must not overflow). A unit then is two
small vectors: what it gains toward each need and what it uses of each cap. The
search in ``domain.rules.search`` works on these vectors only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.catalogue.model import (
    CreditsAtLevel,
    GroupCredits,
    MandatoryGroup,
    MinimumCredits,
    Qualification,
    Rule,
    Unit,
    UnitsFromEachGroup,
)
from domain.rules.describe import describe
from domain.rules.packing import Layout, lay_out


@dataclass(frozen=True, slots=True)
class UnitFacts:
    urn: str
    group: str
    credits: int
    level: int
    glh: int
    # Sparse: (need index, amount) and (cap index, amount), non-zero entries only.
    gains: tuple[tuple[int, int], ...]
    uses: tuple[tuple[int, int], ...]
    # (tally index, amount): what the unit adds to each rule's reported measure.
    tallies: tuple[tuple[int, int], ...]
    packed: int  # gains and uses as one addition to a packed state (see packing)
    packed_uses: int  # the uses alone
    packed_gains: int  # the gains alone
    # Per need, a bit mask of the caps this unit uses at least as much of as it
    # gains toward the need: a cap then bounds what its units can bring the need.
    # One field of len(caps) bits per need (need i at bit i * len(caps)), so the
    # masks of many units combine with one & each.
    covers: int


@dataclass(frozen=True, slots=True)
class RuleIndex:
    qualification_id: str
    rules: tuple[Rule, ...]
    needs: tuple[int, ...]
    caps: tuple[int, ...]
    # Needs measured in credits (the rest count units): the lower bounds use them.
    credit_needs: frozenset[int]
    units: Mapping[str, UnitFacts]
    group_units: Mapping[str, tuple[str, ...]]
    # Per rule, the tallies that report it (one per group for units_from_each_group).
    rule_tallies: tuple[tuple[int, ...], ...]
    tally_count: int
    descriptions: tuple[str, ...]
    layout: Layout


class IncompleteUnitError(ValueError):
    """A unit without credits or level: take qualifications from a loaded Catalogue."""


def _facts(unit: Unit, qualification_id: str) -> tuple[int, int, int]:
    if unit.credits is None or unit.level is None:
        raise IncompleteUnitError(
            f"unit {unit.urn} of {qualification_id} has no credits or level; "
            "load the qualification through domain.catalogue.Catalogue"
        )
    return unit.credits, unit.level, unit.glh or 0


def build_index(qualification: Qualification) -> RuleIndex:
    group_of: dict[str, str] = {}
    by_urn: dict[str, Unit] = {}
    group_units: dict[str, tuple[str, ...]] = {}
    for group in qualification.groups:
        group_units[group.id] = tuple(u.urn for u in group.units)
        for unit in group.units:
            # A URN listed twice counts once, in the first group that lists it.
            group_of.setdefault(unit.urn, group.id)
            by_urn.setdefault(unit.urn, unit)

    needs: list[int] = []
    caps: list[int] = []
    credit_needs: set[int] = set()
    gains: dict[str, list[tuple[int, int]]] = {urn: [] for urn in by_urn}
    uses: dict[str, list[tuple[int, int]]] = {urn: [] for urn in by_urn}
    facts = {urn: _facts(unit, qualification.id) for urn, unit in by_urn.items()}

    def add_need(need: int, amount_of: Mapping[str, int], in_credits: bool) -> None:
        if in_credits:
            credit_needs.add(len(needs))
        for urn, amount in amount_of.items():
            if amount:
                gains[urn].append((len(needs), amount))
        needs.append(need)

    tallies: dict[str, list[tuple[int, int]]] = {urn: [] for urn in by_urn}
    rule_tallies: list[tuple[int, ...]] = []
    tally_count = 0

    def add_tally(amount_of: Mapping[str, int]) -> int:
        nonlocal tally_count
        for urn, amount in amount_of.items():
            if amount:
                tallies[urn].append((tally_count, amount))
        tally_count += 1
        return tally_count - 1

    def credits_in(groups: tuple[str, ...] | None, level: int = 0) -> dict[str, int]:
        return {
            urn: credits
            for urn, (credits, unit_level, _) in facts.items()
            if (groups is None or group_of[urn] in groups) and unit_level >= level
        }

    for rule in qualification.rules:
        if isinstance(rule, MinimumCredits):
            add_need(rule.credits, credits_in(None), in_credits=True)
            rule_tallies.append((add_tally(credits_in(None)),))
        elif isinstance(rule, MandatoryGroup):
            members = group_units.get(rule.group, ())
            add_need(len(members), {urn: 1 for urn in members}, in_credits=False)
            rule_tallies.append((add_tally(credits_in((rule.group,))),))
        elif isinstance(rule, GroupCredits):
            scope = credits_in(rule.groups)
            rule_tallies.append((add_tally(scope),))
            if rule.minimum is not None:
                add_need(rule.minimum, scope, in_credits=True)
            if rule.maximum is not None:
                for urn, amount in scope.items():
                    uses[urn].append((len(caps), amount))
                caps.append(rule.maximum)
        elif isinstance(rule, UnitsFromEachGroup):
            per_group: list[int] = []
            for group_id in rule.groups:
                in_group = {urn: 1 for urn in group_units.get(group_id, ())}
                add_need(rule.units, in_group, in_credits=False)
                per_group.append(add_tally(in_group))
            rule_tallies.append(tuple(per_group))
        elif isinstance(rule, CreditsAtLevel):
            add_need(rule.credits, credits_in(rule.groups, rule.level), in_credits=True)
            rule_tallies.append((add_tally(credits_in(rule.groups, rule.level)),))

    need_totals = [0] * len(needs)
    cap_totals = [0] * len(caps)
    for urn in by_urn:
        for i, amount in gains[urn]:
            need_totals[i] += amount
        for i, amount in uses[urn]:
            cap_totals[i] += amount
    layout = lay_out(needs, need_totals, caps, cap_totals)
    units = {
        urn: UnitFacts(
            urn=urn,
            group=group_of[urn],
            credits=facts[urn][0],
            level=facts[urn][1],
            glh=facts[urn][2],
            gains=tuple(gains[urn]),
            uses=tuple(uses[urn]),
            tallies=tuple(tallies[urn]),
            packed=layout.pack(gains[urn], uses[urn]),
            packed_uses=layout.pack((), uses[urn]),
            packed_gains=layout.pack(gains[urn], ()),
            covers=_covers(len(needs), len(caps), gains[urn], uses[urn]),
        )
        for urn in by_urn
    }
    return RuleIndex(
        qualification_id=qualification.id,
        rules=tuple(qualification.rules),
        needs=tuple(needs),
        caps=tuple(caps),
        credit_needs=frozenset(credit_needs),
        units=units,
        group_units=group_units,
        rule_tallies=tuple(rule_tallies),
        tally_count=tally_count,
        descriptions=tuple(describe(rule) for rule in qualification.rules),
        layout=layout,
    )


def _covers(
    need_count: int, cap_count: int, gains: list[tuple[int, int]], uses: list[tuple[int, int]]
) -> int:
    gained = dict(gains)
    every = (1 << cap_count) - 1  # gains nothing toward the need: every cap bounds that
    return sum(
        (sum(1 << cap for cap, used in uses if used >= gained[need]) if need in gained else every)
        << (need * cap_count)
        for need in range(need_count)
    )


# Keyed by id(); the entry holds the qualification itself, so the id cannot be
# reused while the entry lives. Qualifications are few; the bound is a safety net.
_CACHE: dict[int, tuple[Qualification, RuleIndex]] = {}
_CACHE_LIMIT = 256


def index_of(qualification: Qualification) -> RuleIndex:
    entry = _CACHE.get(id(qualification))
    if entry is not None and entry[0] is qualification:
        return entry[1]
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    index = build_index(qualification)
    _CACHE[id(qualification)] = (qualification, index)
    return index
