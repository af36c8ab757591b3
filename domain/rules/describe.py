"""Each rule of combination in readable words."""

from __future__ import annotations

from domain.catalogue.model import (
    GroupCredits,
    MandatoryGroup,
    MinimumCredits,
    Rule,
    UnitsFromEachGroup,
)


def _groups(groups: tuple[str, ...]) -> str:
    if len(groups) == 1:
        return f"group {groups[0]}"
    return f"groups {', '.join(groups[:-1])} and {groups[-1]}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe(rule: Rule) -> str:
    if isinstance(rule, MinimumCredits):
        return f"at least {_plural(rule.credits, 'credit')} in total"
    if isinstance(rule, MandatoryGroup):
        return f"every unit of mandatory group {rule.group} ({_plural(rule.credits, 'credit')})"
    if isinstance(rule, GroupCredits):
        where = _groups(rule.groups)
        if rule.minimum is not None and rule.maximum is not None:
            return f"at least {rule.minimum} and at most {rule.maximum} credits from {where}"
        if rule.minimum is not None:
            return f"at least {_plural(rule.minimum, 'credit')} from {where}"
        return f"at most {_plural(rule.maximum or 0, 'credit')} counted from {where}"
    if isinstance(rule, UnitsFromEachGroup):
        each = "" if len(rule.groups) == 1 else "each of "
        return f"at least {_plural(rule.units, 'unit')} from {each}{_groups(rule.groups)}"
    where = "" if rule.groups is None else f" from {_groups(rule.groups)}"
    return f"at least {_plural(rule.credits, 'credit')} at level {rule.level} or above{where}"
