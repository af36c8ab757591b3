"""The engine against the brute-force oracle, on random rules and on the five real ones."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.catalogue import (
    CreditsAtLevel,
    Group,
    GroupCredits,
    MandatoryGroup,
    MinimumCredits,
    Qualification,
    QualificationDates,
    Rule,
    Unit,
    UnitsFromEachGroup,
)
from domain.rules import evaluate, oracle, shortfall
from domain.rules.index import UnitFacts, index_of
from domain.rules.packing import Layout
from domain.rules.search import best_selection
from services.adapters.catalogue_files import load_catalogue

DATES = QualificationDates(
    operational_start=date(2020, 1, 1),
    accreditation_end=date(2025, 1, 1),
    certification_end=date(2028, 1, 1),
    illustrative=True,
    source="tests",
)
DAY0 = date(2021, 1, 1)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def qualifications(draw: st.DrawFn, max_units: int = 10) -> Qualification:
    group_ids = ["A", "B", "C", "D"][: draw(st.integers(1, 4))]
    sizes = [draw(st.integers(1, 4)) for _ in group_ids]
    while sum(sizes) > max_units:
        sizes[sizes.index(max(sizes))] -= 1
    groups, serial = [], 0
    for group_id, size in zip(group_ids, sizes, strict=True):
        units = []
        for _ in range(size):
            serial += 1
            units.append(
                Unit(
                    urn=f"T/{serial:03d}/{1000 + serial:04d}",
                    title=f"unit {serial}",
                    credits=draw(st.integers(1, 15)),
                    level=draw(st.integers(1, 5)),
                    glh=draw(st.integers(0, 100)),
                )
            )
        groups.append(Group(id=group_id, title=group_id, units=tuple(units)))
    some_groups = st.lists(st.sampled_from(group_ids), min_size=1, unique=True).map(tuple)
    rules = draw(st.lists(_rule(groups, some_groups), min_size=1, max_size=5))
    return Qualification(
        id="TEST",
        title="random",
        awarding_organisation="tests",
        level=3,
        source="hypothesis",
        dates=DATES,
        groups=tuple(groups),
        rules=tuple(rules),
    )


def _rule(
    groups: list[Group], some_groups: st.SearchStrategy[tuple[str, ...]]
) -> st.SearchStrategy[Rule]:
    def mandatory(group: Group) -> Rule:
        return MandatoryGroup(group=group.id, credits=sum(u.credits or 0 for u in group.units))

    def group_credits(scope: tuple[str, ...], low: int | None, high: int | None) -> Rule:
        if low is None and high is None:
            high = 10
        if low is not None and high is not None and low > high:
            low, high = high, low
        return GroupCredits(groups=scope, minimum=low or None, maximum=high)

    maybe = st.none() | st.integers(1, 30)
    return st.one_of(
        st.builds(lambda c: MinimumCredits(credits=c), st.integers(1, 60)),
        st.sampled_from(groups).map(mandatory),
        st.builds(group_credits, some_groups, maybe, maybe),
        st.builds(
            lambda g, n: UnitsFromEachGroup(groups=g, units=n), some_groups, st.integers(1, 2)
        ),
        st.builds(
            lambda lv, c, g: CreditsAtLevel(level=lv, credits=c, groups=g),
            st.integers(1, 5),
            st.integers(1, 40),
            st.none() | some_groups,
        ),
    )


@st.composite
def learners(
    draw: st.DrawFn, qualification: Qualification, outside: bool = True
) -> dict[str, date]:
    urns = sorted(u.urn for u in qualification.units())
    chosen = draw(st.lists(st.sampled_from(urns), unique=True, max_size=len(urns)))
    if outside and draw(st.booleans()):
        chosen.append("Z/999/9999")
    return {urn: DAY0 + timedelta(days=draw(st.integers(0, 20))) for urn in chosen}


registered = st.none() | st.dates(DAY0 - timedelta(days=10), DAY0 + timedelta(days=30))


@FAST
@given(st.data())
def test_engine_agrees_with_the_oracle_on_random_rules(data: st.DataObject) -> None:
    qualification = data.draw(qualifications())
    achieved = data.draw(learners(qualification))
    registered_on = data.draw(registered)

    result = evaluate(qualification, achieved, registered_on)

    assert result.complete == oracle.complete(qualification, achieved)
    assert result.completed_on == oracle.completed_on(qualification, achieved, registered_on)
    _check_explanation(qualification, achieved, registered_on)


@FAST
@given(st.data())
def test_shortfall_is_the_least_further_credits_and_glh(data: st.DataObject) -> None:
    qualification = data.draw(qualifications())
    achieved = data.draw(learners(qualification, outside=False))

    found = shortfall(qualification, achieved)
    fewest = oracle.fewest_further(qualification, achieved)

    if fewest in (0, None):
        assert found is None
        return
    assert found is not None
    assert found.fewest_credits == fewest
    assert found.cheapest_glh == oracle.fewest_further(qualification, achieved, by="glh")
    for units in (found.fewest_credit_units, found.cheapest_units):
        assert not set(units) & set(achieved)
        assert oracle.complete(qualification, [*achieved, *units])
    assert evaluate(qualification, achieved).shortfall == found


@FAST
@given(st.data())
def test_more_units_never_undo_a_completion(data: st.DataObject) -> None:
    qualification = data.draw(qualifications())
    achieved = data.draw(learners(qualification))
    more = {**data.draw(learners(qualification)), **achieved}

    before, after = evaluate(qualification, achieved), evaluate(qualification, more)

    if before.complete:
        assert after.complete
        if before.completed_on is not None:
            assert after.completed_on is not None
            assert after.completed_on <= before.completed_on


CATALOGUE = load_catalogue()
REAL = sorted(CATALOGUE.qualifications)


@st.composite
def real_learners(draw: st.DrawFn, qualification: Qualification) -> dict[str, date]:
    """Up to 12 units (the oracle tries every subset), biased to the mandatory group
    and the capped groups, where the choice of counted units is hard."""
    mandatory = [u.urn for g in qualification.groups if g.mandatory for u in g.units]
    others = sorted(u.urn for u in qualification.units() if u.urn not in mandatory)
    chosen = [u for u in mandatory if draw(st.integers(0, 9))]  # usually all of them
    chosen += draw(st.lists(st.sampled_from(others), unique=True, max_size=12 - len(chosen)))
    return {urn: DAY0 + timedelta(days=draw(st.integers(0, 15))) for urn in chosen}


@pytest.mark.parametrize("qualification_id", REAL)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engine_agrees_with_the_oracle_on_real_qualifications(
    qualification_id: str, data: st.DataObject
) -> None:
    qualification = CATALOGUE.qualification(qualification_id)
    achieved = data.draw(real_learners(qualification))
    registered_on = data.draw(registered)

    result = evaluate(qualification, achieved, registered_on)

    assert result.complete == oracle.complete(qualification, achieved)
    _check_explanation(qualification, achieved, registered_on)


@pytest.mark.parametrize("qualification_id", REAL)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_real_shortfall_completes_and_is_no_more_than_needed(
    qualification_id: str, data: st.DataObject
) -> None:
    qualification = CATALOGUE.qualification(qualification_id)
    urns = sorted(u.urn for u in qualification.units())
    achieved = {urn: DAY0 for urn in data.draw(st.lists(st.sampled_from(urns), unique=True))}

    found = shortfall(qualification, achieved)

    if evaluate(qualification, achieved).complete:
        assert found is None
        return
    assert found is not None
    for units in (found.fewest_credit_units, found.cheapest_units):
        with_them = {**achieved, **dict.fromkeys(units, DAY0)}
        assert evaluate(qualification, with_them).complete
        # Minimal: no unit of the set can be left out.
        for urn in units:
            without = {u: d for u, d in with_them.items() if u != urn}
            assert not evaluate(qualification, without).complete
    assert found.fewest_credits <= found.cheapest_credits


def _check_explanation(
    qualification: Qualification, achieved: dict[str, date], registered_on: date | None
) -> None:
    result = evaluate(qualification, achieved, registered_on)
    structure = {u.urn for u in qualification.units()}
    counted, not_counted = set(result.counted_units), set(result.not_counted)

    assert counted | not_counted == set(achieved) & structure
    assert not counted & not_counted
    assert set(result.outside_structure) == set(achieved) - structure
    assert result.counted_credits == sum(
        u.credits or 0 for u in qualification.units() if u.urn in counted
    )
    assert result.complete == all(rule.satisfied for rule in result.rules)
    if result.complete:
        assert oracle.satisfies(qualification, counted)
        if registered_on is not None:
            assert result.completed_on is not None
            assert result.completed_on >= registered_on
    else:
        assert result.completed_on is None
    # Deterministic, whatever the order the units arrive in.
    assert evaluate(qualification, dict(reversed(achieved.items())), registered_on) == result


def _best_by_brute_force(
    layout: Layout, state: int, items: list[UnitFacts]
) -> tuple[tuple[str, ...], int]:
    """best_selection by its definition: every subset within the caps, least lacking,
    then most credits, then the earliest items (the preference mask, largest first)."""
    top = len(items) - 1
    best: tuple[int, int, int] | None = None
    for mask in range(1 << len(items)):
        taken = [u for i, u in enumerate(items) if mask >> (top - i) & 1]
        counted = state + sum(u.packed for u in taken)
        if counted & layout.overflow:
            continue
        key = (layout.lacking(counted), -sum(u.credits for u in taken), -mask)
        if best is None or key < best:
            best = key
    assert best is not None  # the empty selection always fits
    chosen = tuple(u.urn for i, u in enumerate(items) if -best[2] >> (top - i) & 1)
    return chosen, best[0]


def _check_best_selection(qualification: Qualification, achieved: dict[str, date]) -> None:
    index = index_of(qualification)
    units = [index.units[urn] for _, urn in sorted((d, u) for u, d in achieved.items())]
    always = [u for u in units if not u.uses]
    choices = [u for u in units if u.uses]
    state = index.layout.start + sum(u.packed for u in always)
    assert best_selection(index.layout, state, choices) == _best_by_brute_force(
        index.layout, state, choices
    )


@FAST
@given(st.data())
def test_best_selection_is_the_least_lacking_subset_on_random_rules(
    data: st.DataObject,
) -> None:
    qualification = data.draw(qualifications())
    _check_best_selection(qualification, data.draw(learners(qualification, outside=False)))


@pytest.mark.parametrize("qualification_id", REAL)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_best_selection_is_the_least_lacking_subset_on_real_qualifications(
    qualification_id: str, data: st.DataObject
) -> None:
    qualification = CATALOGUE.qualification(qualification_id)
    urns = sorted(u.urn for u in qualification.units())
    chosen = data.draw(st.lists(st.sampled_from(urns), unique=True, min_size=8, max_size=18))
    achieved = {urn: DAY0 + timedelta(days=data.draw(st.integers(0, 365))) for urn in chosen}
    index = index_of(qualification)
    assume(sum(1 for urn in chosen if index.units[urn].uses) <= 12)
    _check_best_selection(qualification, achieved)
