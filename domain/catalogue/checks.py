"""Consistency checks across qualification files, and filling of omitted unit facts.

Every check returns problems as sentences rather than raising, so that the
catalogue can report all of them at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from domain.catalogue.model import (
    CreditsAtLevel,
    GroupCredits,
    MandatoryGroup,
    Qualification,
    Rule,
    Unit,
    UnitsFromEachGroup,
)

UNIT_FACTS = ("credits", "level", "glh")

Label = Callable[[str], str]


def normalise_ref(ref: str) -> str:
    """Aliases and unit numbers are matched case-insensitively: people type 'f5'."""
    return ref.strip().upper()


def rule_groups(rule: Rule) -> tuple[str, ...]:
    if isinstance(rule, MandatoryGroup):
        return (rule.group,)
    if isinstance(rule, GroupCredits | UnitsFromEachGroup):
        return rule.groups
    if isinstance(rule, CreditsAtLevel):
        return rule.groups or ()
    return ()


def _duplicates(values: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def check_qualification(qualification: Qualification, label: Label) -> list[str]:
    """Problems visible inside one qualification: duplicates and dangling group names."""
    where = label(qualification.id)
    problems: list[str] = []
    group_ids = [group.id for group in qualification.groups]
    problems += [f"{where}: group {g} is defined twice" for g in _duplicates(group_ids)]
    urns = [unit.urn for unit in qualification.units()]
    problems += [f"{where}: unit {u} is listed more than once" for u in _duplicates(urns)]
    numbers = [normalise_ref(u.number) for u in qualification.units() if u.number]
    problems += [f"{where}: unit number {n} names more than one unit" for n in _duplicates(numbers)]
    mandatory = {group.id for group in qualification.groups if group.mandatory}
    ruled_mandatory: set[str] = set()
    for index, rule in enumerate(qualification.rules, start=1):
        for group_id in rule_groups(rule):
            if group_id not in group_ids:
                problems.append(
                    f"{where}: rule {index} ({rule.kind}) names group {group_id}, "
                    "which does not exist"
                )
        if isinstance(rule, MandatoryGroup):
            ruled_mandatory.add(rule.group)
            if rule.group in group_ids and rule.group not in mandatory:
                problems.append(
                    f"{where}: rule {index} (mandatory_group) names group {rule.group}, "
                    "which is not marked mandatory"
                )
    for group_id in sorted(mandatory - ruled_mandatory):
        problems.append(
            f"{where}: group {group_id} is mandatory but no mandatory_group rule states its credits"
        )
    return problems


def check_unit_facts(qualifications: Sequence[Qualification], label: Label) -> list[str]:
    """One URN is one unit: the same credits, level and GLH wherever it is listed."""
    stated: dict[tuple[str, str], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for qualification in qualifications:
        for unit in qualification.units():
            for fact in UNIT_FACTS:
                value = getattr(unit, fact)
                if value is not None:
                    stated[(unit.urn, fact)][value].append(qualification.id)
    problems: list[str] = []
    for (urn, fact), values in sorted(stated.items()):
        if len(values) > 1:
            claims = "; ".join(
                f"{value} in {', '.join(label(q) for q in ids)}"
                for value, ids in sorted(values.items())
            )
            problems.append(f"unit {urn} has more than one {fact} value: {claims}")
    for qualification in qualifications:
        for unit in qualification.units():
            for fact in UNIT_FACTS:
                if getattr(unit, fact) is None and (unit.urn, fact) not in stated:
                    problems.append(
                        f"{label(qualification.id)}: unit {unit.urn} has no {fact}, "
                        "and no other qualification states it"
                    )
    return problems


def known_facts(qualifications: Sequence[Qualification]) -> dict[str, dict[str, int]]:
    facts: dict[str, dict[str, int]] = defaultdict(dict)
    for qualification in qualifications:
        for unit in qualification.units():
            for fact in UNIT_FACTS:
                value = getattr(unit, fact)
                if value is not None:
                    facts[unit.urn].setdefault(fact, value)
    return facts


def fill_unit_facts(
    qualification: Qualification, facts: Mapping[str, Mapping[str, int]]
) -> Qualification:
    """The qualification with omitted credits/level/GLH taken from the same URN elsewhere."""

    def filled(unit: Unit) -> Unit:
        missing = {
            fact: facts[unit.urn][fact]
            for fact in UNIT_FACTS
            if getattr(unit, fact) is None and fact in facts.get(unit.urn, {})
        }
        return unit.model_copy(update=missing) if missing else unit

    groups = tuple(
        group.model_copy(update={"units": tuple(filled(u) for u in group.units)})
        for group in qualification.groups
    )
    return qualification.model_copy(update={"groups": groups})


def check_mandatory_credits(qualification: Qualification, label: Label) -> list[str]:
    """A mandatory group's units must add up to the credits its rule states."""
    groups = {group.id: group for group in qualification.groups}
    problems: list[str] = []
    for rule in qualification.rules:
        if not isinstance(rule, MandatoryGroup) or rule.group not in groups:
            continue
        credits = [unit.credits for unit in groups[rule.group].units]
        if any(c is None for c in credits):
            continue  # already reported as a unit without credits
        total = sum(c for c in credits if c is not None)
        if total != rule.credits:
            problems.append(
                f"{label(qualification.id)}: mandatory group {rule.group} units add up to "
                f"{total} credits, but the rule states {rule.credits}"
            )
    return problems


def alias_index(
    qualifications: Sequence[Qualification], label: Label
) -> tuple[dict[str, str], list[str]]:
    """Every alias to the one URN it names, and the clashes where it names more."""
    named: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    urns = {unit.urn for q in qualifications for unit in q.units()}
    for qualification in qualifications:
        for unit in qualification.units():
            for alias in unit.aliases:
                named[normalise_ref(alias)][unit.urn].append(qualification.id)
    index: dict[str, str] = {}
    problems: list[str] = []
    for alias, targets in sorted(named.items()):
        if len(targets) > 1:
            claims = "; ".join(
                f"{urn} in {', '.join(label(q) for q in ids)}"
                for urn, ids in sorted(targets.items())
            )
            problems.append(f"alias {alias} names more than one unit: {claims}")
            continue
        (urn,) = targets
        if alias in urns and alias != urn:
            problems.append(f"alias {alias} of unit {urn} is itself the URN of another unit")
            continue
        index[alias] = urn
    return index, problems
