"""Each rule of combination against a counted selection: needed, had, satisfied."""

from __future__ import annotations

from collections.abc import Collection

from domain.catalogue.model import GroupCredits, MandatoryGroup, UnitsFromEachGroup
from domain.rules.index import RuleIndex
from domain.rules.results import RuleProgress


def progress(index: RuleIndex, counted: Collection[str]) -> tuple[RuleProgress, ...]:
    tally = [0] * index.tally_count
    for urn in counted:
        for i, amount in index.units[urn].tallies:
            tally[i] += amount
    return tuple(
        _one(index, i, [tally[t] for t in tallies], counted)
        for i, tallies in enumerate(index.rule_tallies)
    )


def _one(index: RuleIndex, i: int, had: list[int], counted: Collection[str]) -> RuleProgress:
    rule = index.rules[i]
    text = index.descriptions[i]
    if isinstance(rule, MandatoryGroup):
        missing = tuple(u for u in index.group_units.get(rule.group, ()) if u not in counted)
        return RuleProgress(
            i, rule.kind, text, "credits", rule.credits, None, had[0], not missing,
            group=rule.group, groups=(rule.group,), missing_units=missing,
        )  # fmt: skip
    if isinstance(rule, GroupCredits):
        ok = (rule.minimum is None or had[0] >= rule.minimum) and (
            rule.maximum is None or had[0] <= rule.maximum
        )
        return RuleProgress(
            i, rule.kind, text, "credits", rule.minimum, rule.maximum, had[0], ok,
            group=rule.groups[0] if len(rule.groups) == 1 else None, groups=rule.groups,
        )  # fmt: skip
    if isinstance(rule, UnitsFromEachGroup):
        short = tuple(g for g, n in zip(rule.groups, had, strict=True) if n < rule.units)
        return RuleProgress(
            i, rule.kind, text, "units", rule.units, None, min(had), not short,
            groups=rule.groups, short_groups=short,
        )  # fmt: skip
    # minimum_credits and credits_at_level: a plain minimum of credits.
    groups = getattr(rule, "groups", None) or ()
    return RuleProgress(
        i, rule.kind, text, "credits", rule.credits, None, had[0], had[0] >= rule.credits,
        groups=groups,
    )  # fmt: skip
