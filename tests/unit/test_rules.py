"""Worked examples from the five specifications, where a greedy choice goes wrong."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.catalogue import Group, Qualification, Unit
from domain.rules import IncompleteUnitError, evaluate, oracle, shortfall
from services.adapters.catalogue_files import load_catalogue

CATALOGUE = load_catalogue()
DAY = date(2022, 3, 1)


def units_of(qualification: Qualification, group: str) -> list[str]:
    return [u.urn for g in qualification.groups if g.id == group for u in g.units]


def on(urns: list[str], day: date = DAY) -> dict[str, date]:
    return dict.fromkeys(urns, day)


def ocr_level_3_trap() -> tuple[Qualification, dict[str, date]]:
    """Group A (31 credits at level 3), 15 level-2 credits from group B: 46 credits,
    31 at level 3. Group C counts at most 9 and must bring 9 credits at level 3;
    the three level-2 C units were achieved first, so taking the earliest fails."""
    qualification = CATALOGUE.qualification("OCR-L3-DIP-CS")
    level_2_b = ["D/506/2119", "T/506/2126", "L/506/2133", "Y/506/2135", "T/506/2143"]
    early_level_2_c = ["L/506/1807", "L/506/1869", "H/506/1814"]
    level_3_c = ["T/506/1820", "M/506/1931", "K/502/8622"]
    achieved = on(units_of(qualification, "A") + level_2_b)
    achieved |= {urn: DAY + timedelta(days=1 + i) for i, urn in enumerate(early_level_2_c)}
    achieved |= {urn: DAY + timedelta(days=10 + i) for i, urn in enumerate(level_3_c)}
    return qualification, achieved


def test_ocr_level_3_counts_the_level_3_units_of_capped_group_c() -> None:
    qualification, achieved = ocr_level_3_trap()

    result = evaluate(qualification, achieved, registered_on=date(2021, 9, 1))

    assert result.complete
    assert result.counted_credits == 55
    assert set(result.not_counted) == {"L/506/1807", "L/506/1869", "H/506/1814"}
    assert {"T/506/1820", "M/506/1931", "K/502/8622"} <= set(result.counted_units)
    # Complete only once the last level-3 C unit is in.
    assert result.completed_on == DAY + timedelta(days=12)
    had = {rule.description: (rule.had, rule.satisfied) for rule in result.rules}
    assert had["at least 40 credits at level 3 or above"] == (40, True)
    assert had["at most 9 credits counted from group C"] == (9, True)


def test_pearson_counts_the_level_4_unit_of_capped_group_c() -> None:
    """A and five level-4 B units give 38 credits, 35 at level 4. Group C (at most 16)
    must bring 12 credits, 3 of them at level 4: the earliest four C units are all
    level 3 and fill 15 of the 16, leaving no room for the level-4 unit."""
    qualification = CATALOGUE.qualification("PEARSON-L4-NVQ-DIP-CS")
    level_4_b = ["F/506/2176", "R/506/2179", "L/506/2181", "Y/506/2183", "R/506/2960"]
    early_level_3_c = ["T/506/1820", "A/506/1821", "J/506/1921", "F/502/8612"]
    achieved = on(units_of(qualification, "A") + level_4_b)
    achieved |= {urn: DAY + timedelta(days=1 + i) for i, urn in enumerate(early_level_3_c)}
    achieved["M/506/1962"] = DAY + timedelta(days=20)

    result = evaluate(qualification, achieved)

    assert result.complete
    assert result.completed_on == DAY + timedelta(days=20)
    # The most credits C can count with the level-4 unit in: 3 + 4 + 4 + 4.
    assert result.not_counted == ("T/506/1820",)
    assert result.counted_credits == 53
    assert oracle.satisfies(qualification, result.counted_units)


def test_subset_sum_under_a_maximum() -> None:
    """C must fill its 9 exactly: 4 + 4 does not, 3 + 3 + 3 does."""
    qualification = CATALOGUE.qualification("OCR-L3-DIP-CS")
    level_3_b = ["Y/506/2166", "D/506/2170", "K/506/2172"]  # 15 credits
    a_and_b = [*units_of(qualification, "A"), *level_3_b]
    achieved = on(a_and_b) | on(["H/506/1912", "A/506/1821"], DAY - timedelta(days=5))
    achieved |= on(["T/506/1820", "M/506/1931", "K/502/8622"])

    result = evaluate(qualification, achieved)

    assert result.complete
    assert set(result.not_counted) == {"H/506/1912", "A/506/1821"}


@pytest.mark.parametrize("qualification_id", ["500/9203/0", "CG-4430-L4", "501/0232/1"])
def test_level_4_nvq_complete_with_one_unit_from_each_optional_group(
    qualification_id: str,
) -> None:
    qualification = CATALOGUE.qualification(qualification_id)
    # F5, F6; A17, A18 (B); B13 (C); C8 (D); D16, D18 (E): 83 credits, all at level 4.
    optional = ["T/601/1235", "F/601/1237", "A/601/1236", "K/601/1524", "M/601/1587"]
    achieved = on(["J/601/1630", "D/601/1634", *optional, "Y/601/1597"])
    achieved["Z/999/9999"] = DAY  # not in the structure: ignored

    result = evaluate(qualification, achieved)

    assert result.complete
    assert result.counted_credits == 83
    assert result.outside_structure == ("Z/999/9999",)
    assert result.shortfall is None


def test_level_4_nvq_needs_a_unit_from_every_optional_group() -> None:
    qualification = CATALOGUE.qualification("500/9203/0")
    # 87 credits, but nothing from group E (Development and Improvement).
    achieved = on(["J/601/1630", "D/601/1634", "T/601/1235", "F/601/1237", "A/601/1236"])
    achieved |= on(["K/601/1524", "D/601/1519", "H/601/1229", "Y/601/1230"])

    result = evaluate(qualification, achieved)

    assert not result.complete
    unmet = [rule for rule in result.rules if not rule.satisfied]
    assert [rule.kind for rule in unmet] == ["units_from_each_group"]
    assert unmet[0].short_groups == ("E",)
    assert result.shortfall is not None
    # The smallest E unit: 7 credits (D9, D11, D13 or D17); D17 is 47 GLH and level 4.
    assert result.shortfall.fewest_credits == 7
    assert result.shortfall.cheapest_glh == 47


def test_shortfall_with_only_the_mandatory_group_of_the_ocr_level_4() -> None:
    qualification = CATALOGUE.qualification("500/9203/0")
    found = shortfall(qualification, on(["J/601/1630", "D/601/1634"]))

    assert found is not None
    assert found.fewest_credits == 47  # the optional 47, met exactly
    assert found.cheapest_credits >= 47


def test_shortfall_counts_the_missing_mandatory_units() -> None:
    qualification = CATALOGUE.qualification("PEARSON-L4-NVQ-DIP-CS")
    found = shortfall(qualification, {})

    assert found is not None
    assert found.fewest_credits == 50
    assert set(units_of(qualification, "A")) <= set(found.cheapest_units)
    assert evaluate(qualification, on(list(found.cheapest_units))).complete


def test_completed_on_is_never_before_registration() -> None:
    qualification, achieved = ocr_level_3_trap()
    result = evaluate(qualification, achieved, registered_on=DAY + timedelta(days=100))
    assert result.completed_on == DAY + timedelta(days=100)


def test_every_unit_achieved_completes_every_qualification() -> None:
    for qualification in CATALOGUE.qualifications.values():
        result = evaluate(qualification, on([u.urn for u in qualification.units()]))
        assert result.complete
        assert all(rule.satisfied for rule in result.rules)


def test_descriptions_read_as_words() -> None:
    rules = evaluate(CATALOGUE.qualification("PEARSON-L4-NVQ-DIP-CS"), {}).rules
    assert [rule.description for rule in rules] == [
        "at least 50 credits in total",
        "at least 38 credits at level 4 or above",
        "every unit of mandatory group A (14 credits)",
        "at least 20 credits from group B",
        "at least 36 credits from groups B and C",
        "at most 16 credits counted from group C",
    ]


def test_a_unit_without_credits_is_refused() -> None:
    raw = CATALOGUE.qualification("500/9203/0").model_copy(
        update={"groups": (Group(id="A", title="A", units=(Unit(urn="J/601/1630", title="x"),)),)}
    )
    with pytest.raises(IncompleteUnitError):
        evaluate(raw, {})
