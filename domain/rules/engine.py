"""evaluate() and shortfall(): the rules of combination against a learner's units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial

from domain.catalogue.model import MandatoryGroup, Qualification
from domain.rules.index import RuleIndex, UnitFacts, index_of
from domain.rules.progress import progress
from domain.rules.results import Evaluation, Shortfall
from domain.rules.search import (
    best_selection,
    can_complete,
    cheapest,
    remaining,
    within_caps,
)


def evaluate(
    qualification: Qualification,
    achieved: Mapping[str, date],
    registered_on: date | None = None,
) -> Evaluation:
    """Whether ``achieved`` (URN -> date achieved) completes the qualification, when, and why.

    The counted selection is exact: some selection satisfies every rule at once
    whenever one exists. Among those it has the most credits, then prefers the
    earliest-achieved units (then by URN). When incomplete it is the selection
    that leaves least lacking across the rules' minimums.
    """
    index = index_of(qualification)
    units = _in_preference_order(index, achieved)
    always, choices = _split(units)
    layout = index.layout
    chosen, lacking = best_selection(layout, _counting(layout.start, always), choices)
    counted = {u.urn for u in always} | set(chosen)
    counted_units = tuple(u.urn for u in units if u.urn in counted)
    complete = lacking == 0
    completed_on = _completed_on(index, achieved, units, registered_on) if complete else None
    return Evaluation(
        qualification_id=qualification.id,
        complete=complete,
        completed_on=completed_on,
        counted_units=counted_units,
        counted_credits=sum(index.units[urn].credits for urn in counted_units),
        _progress=partial(progress, index, frozenset(counted)),
        not_counted=tuple(u.urn for u in units if u.urn not in counted),
        outside_structure=tuple(sorted(urn for urn in achieved if urn not in index.units)),
        _explain=None if complete else partial(shortfall, qualification, dict(achieved)),
    )


def shortfall(qualification: Qualification, achieved: Mapping[str, date]) -> Shortfall | None:
    """The fewest further credits, and a cheapest set of units by GLH, that would complete.

    Only units not yet achieved are considered. None when already complete, or
    when no set of further units can complete it.
    """
    index = index_of(qualification)
    units = _in_preference_order(index, achieved)
    # The answer depends only on which units of the structure are achieved, in
    # order of preference: learners at the same stage share it, and a report over
    # thousands of learners (replay, the audit pages) asks for it again and again.
    key = (id(index), tuple(u.urn for u in units))
    known = _SHORTFALLS.get(key)
    if known is not None and known[0] is index:
        return known[1]
    if len(_SHORTFALLS) >= _SHORTFALLS_LIMIT:
        _SHORTFALLS.clear()
    found = _shortfall(index, units, achieved)
    _SHORTFALLS[key] = (index, found)
    return found


_SHORTFALLS: dict[tuple[int, tuple[str, ...]], tuple[RuleIndex, Shortfall | None]] = {}
_SHORTFALLS_LIMIT = 4096


def _shortfall(
    index: RuleIndex, units: Sequence[UnitFacts], achieved: Mapping[str, date]
) -> Shortfall | None:
    always, choices = _split(units)
    if can_complete(index.layout, _counting(index.layout.start, always), choices):
        return None
    # Every unit of a mandatory group is in every completion: take them up front.
    forced_urns = {
        urn
        for rule in index.rules
        if isinstance(rule, MandatoryGroup)
        for urn in index.group_units.get(rule.group, ())
        if urn not in achieved
    }
    forced = [index.units[urn] for urn in sorted(forced_urns)]
    caps = within_caps(index.caps, forced)
    if caps is None:
        return None
    deficits = remaining(index.needs, [*always, *forced])
    candidates = [
        u
        for urn, u in sorted(index.units.items())
        if urn not in achieved and urn not in forced_urns
    ]
    by_credits = cheapest(deficits, caps, choices, candidates, _credits, _glh)
    by_glh = cheapest(deficits, caps, choices, candidates, _glh, _credits)
    if by_credits is None or by_glh is None:
        return None
    fewest = sorted(forced_urns | set(by_credits[1]))
    glh_units = sorted(forced_urns | set(by_glh[1]))
    return Shortfall(
        fewest_credits=sum(index.units[u].credits for u in fewest),
        fewest_credit_units=tuple(fewest),
        cheapest_units=tuple(glh_units),
        cheapest_glh=sum(index.units[u].glh for u in glh_units),
        cheapest_credits=sum(index.units[u].credits for u in glh_units),
    )


def _credits(unit: UnitFacts) -> int:
    return unit.credits


def _glh(unit: UnitFacts) -> int:
    return unit.glh


def _in_preference_order(index: RuleIndex, achieved: Mapping[str, date]) -> list[UnitFacts]:
    inside = sorted((day, urn) for urn, day in achieved.items() if urn in index.units)
    return [index.units[urn] for _, urn in inside]


def _counting(state: int, units: Sequence[UnitFacts]) -> int:
    return state + sum(u.packed for u in units)


def _split(units: Sequence[UnitFacts]) -> tuple[list[UnitFacts], list[UnitFacts]]:
    """Units no maximum touches (always counted: they only add to minimums) and the rest."""
    return [u for u in units if not u.uses], [u for u in units if u.uses]


def _completes_by(
    index: RuleIndex, achieved: Mapping[str, date], units: Sequence[UnitFacts], day: date
) -> bool:
    always, choices = _split([u for u in units if achieved[u.urn] <= day])
    return can_complete(index.layout, _counting(index.layout.start, always), choices)


def _first_day_ignoring_maxima(
    index: RuleIndex, achieved: Mapping[str, date], units: Sequence[UnitFacts], days: list[date]
) -> int:
    """The first day whose units would complete if no maximum limited what counts.

    Dropping the maxima only makes completing easier, so no earlier day completes.
    """
    left = list(index.needs)
    at = 0
    for position, day in enumerate(days):
        while at < len(units) and achieved[units[at].urn] <= day:
            for i, amount in units[at].gains:
                left[i] -= amount
            at += 1
        if all(short <= 0 for short in left):
            return position
    return len(days) - 1


def _completed_on(
    index: RuleIndex,
    achieved: Mapping[str, date],
    units: Sequence[UnitFacts],
    registered_on: date | None,
) -> date | None:
    """The earliest day whose units complete the rules, not before registration.

    Completion is monotone in the set of units (a maximum only limits what counts,
    so a selection that completes stays available when units are added), hence a
    binary search over the distinct days.
    """
    days = sorted({achieved[u.urn] for u in units})
    if not days or can_complete(index.layout, index.layout.start, ()):
        # Rules that need nothing (only maxima) are met from the start.
        return registered_on
    low, high = _first_day_ignoring_maxima(index, achieved, units, days), len(days) - 1
    # days[high] completes (the caller checked) and nothing before days[low] can.
    # Try days[low] first: the maxima rarely bind, so it usually completes.
    if low < high and index.caps and not _completes_by(index, achieved, units, days[low]):
        low += 1
        while low < high:
            mid = (low + high) // 2
            if _completes_by(index, achieved, units, days[mid]):
                high = mid
            else:
                low = mid + 1
    day = days[low]
    return day if registered_on is None or registered_on <= day else registered_on
