"""The catalogue: the bundled data loads, and each inconsistency is refused by name."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from domain.catalogue import (
    Catalogue,
    CatalogueError,
    Qualification,
    QualificationDates,
    UnknownQualificationError,
    UnknownUnitError,
)
from services.adapters.catalogue_files import DEFAULT_CATALOGUE_DIR, load_catalogue, read_documents

IDS = ("500/9203/0", "501/0232/1", "CG-4430-L4", "OCR-L3-DIP-CS", "PEARSON-L4-NVQ-DIP-CS")


@pytest.fixture(scope="module")
def documents() -> dict[str, Any]:
    return read_documents(DEFAULT_CATALOGUE_DIR)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEFAULT_CATALOGUE_DIR)


def _refusal(documents: dict[str, Any]) -> CatalogueError:
    with pytest.raises(CatalogueError) as caught:
        Catalogue.from_documents(documents)
    return caught.value


def _qualification(documents: dict[str, Any], file: str) -> dict[str, Any]:
    document: dict[str, Any] = documents[file]
    return document


def test_the_bundled_catalogue_has_the_five_qualifications_of_the_spec(
    catalogue: Catalogue,
) -> None:
    assert tuple(catalogue.qualifications) == IDS


def test_rules_as_the_specifications_state_them(catalogue: Catalogue) -> None:
    def kinds(qualification_id: str) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for rule in catalogue.qualification(qualification_id).rules:
            fields = rule.model_dump(exclude={"text", "kind"}, exclude_none=True)
            out.append(
                (rule.kind, *(tuple(v) if isinstance(v, list) else v for v in fields.values()))
            )
        return out

    optional = ("B", "C", "D", "E")
    assert kinds("500/9203/0") == [
        ("minimum_credits", 67),
        ("mandatory_group", "A", 20),
        ("group_credits", optional, 47),
        ("units_from_each_group", optional, 1),
        ("credits_at_level", 4, 15, optional),
    ]
    for qualification_id in ("CG-4430-L4", "501/0232/1"):
        assert sorted(kinds(qualification_id)) == sorted(
            [
                ("minimum_credits", 67),
                ("credits_at_level", 4, 35),
                ("mandatory_group", "A", 20),
                ("group_credits", optional, 47),
                ("units_from_each_group", optional, 1),
            ]
        )
    assert kinds("OCR-L3-DIP-CS") == [
        ("minimum_credits", 55),
        ("mandatory_group", "A", 31),
        ("group_credits", ("B",), 15),
        ("group_credits", ("C",), 9),
        ("credits_at_level", 3, 40),
    ]
    assert kinds("PEARSON-L4-NVQ-DIP-CS") == [
        ("minimum_credits", 50),
        ("credits_at_level", 4, 38),
        ("mandatory_group", "A", 14),
        ("group_credits", ("B",), 20),
        ("group_credits", ("B", "C"), 36),
        ("group_credits", ("C",), 16),
    ]
    assert all(rule.text for q in catalogue.qualifications.values() for rule in q.rules)


def test_dates_and_minimum_age_are_the_illustrative_ones_of_spec_section_2(
    catalogue: Catalogue,
) -> None:
    expected = {
        "500/9203/0": ("2010-09-01", "2026-12-31", "2029-12-31", None),
        "501/0232/1": ("2011-01-01", "2025-07-31", "2027-01-31", 18),
        "CG-4430-L4": ("2010-09-01", "2014-08-31", "2017-08-31", None),
        "OCR-L3-DIP-CS": ("2015-09-01", "2027-08-31", "2031-08-31", None),
        "PEARSON-L4-NVQ-DIP-CS": ("2015-09-01", "2028-08-31", "2031-08-31", None),
    }
    for qualification_id, (start, accreditation, certification, age) in expected.items():
        qualification = catalogue.qualification(qualification_id)
        dates = qualification.dates
        assert (dates.operational_start, dates.accreditation_end, dates.certification_end) == (
            date.fromisoformat(start),
            date.fromisoformat(accreditation),
            date.fromisoformat(certification),
        )
        assert dates.illustrative
        assert qualification.minimum_age == age
    # min(accreditation end + 3 years, certification end)
    assert catalogue.qualification("OCR-L3-DIP-CS").dates.claim_by == date(2030, 8, 31)
    assert catalogue.qualification("CG-4430-L4").dates.claim_by == date(2017, 8, 31)


def test_ncfe_units_take_credits_level_and_glh_from_the_same_urn_elsewhere(
    catalogue: Catalogue, documents: dict[str, Any]
) -> None:
    raw = _qualification(documents, "ncfe-l4-nvq-dip-cs.json")
    assert all("credits" not in u for g in raw["groups"] for u in g["units"])
    ncfe = catalogue.qualification("501/0232/1")
    ocr = catalogue.qualification("500/9203/0")
    facts = {u.urn: (u.credits, u.level, u.glh) for u in ocr.units()}
    assert {u.urn: (u.credits, u.level, u.glh) for u in ncfe.units()} == facts


def test_unit_by_urn_has_aliases_from_every_listing(catalogue: Catalogue) -> None:
    unit = catalogue.unit("J/601/1630")
    assert (unit.credits, unit.level, unit.glh) == (10, 4, 65)
    assert set(unit.aliases) == {"F5", "4430-401"}


def test_resolve_unit_by_urn_alias_and_scoped_number(catalogue: Catalogue) -> None:
    assert catalogue.resolve_unit("F5").urn == "J/601/1630"
    assert catalogue.resolve_unit("4430-402").urn == "D/601/1634"
    assert catalogue.resolve_unit("f6").urn == "D/601/1634"
    assert catalogue.resolve_unit("J/601/1630").urn == "J/601/1630"
    # Unit numbers repeat across awarding bodies, so they resolve within one qualification.
    assert catalogue.resolve_unit("1", "OCR-L3-DIP-CS").urn == "L/506/2150"
    assert catalogue.resolve_unit("1", "PEARSON-L4-NVQ-DIP-CS").urn == "M/506/2898"
    in_cg = catalogue.resolve_unit("F5", "CG-4430-L4")
    assert in_cg.number == "4430-401"
    assert catalogue.resolve_unit("F5", "501/0232/1").urn == "J/601/1630"
    with pytest.raises(UnknownUnitError, match="'1'"):
        catalogue.resolve_unit("1")
    with pytest.raises(UnknownUnitError, match="OCR-L3-DIP-CS"):
        catalogue.resolve_unit("J/601/1630", "OCR-L3-DIP-CS")


def test_unknown_unit_and_qualification_name_what_was_asked(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownUnitError, match=r"Z/999/9999"):
        catalogue.unit("Z/999/9999")
    with pytest.raises(UnknownQualificationError) as caught:
        catalogue.qualification("999/9999/9")
    message = str(caught.value)
    assert "999/9999/9" in message
    assert all(qualification_id in message for qualification_id in IDS)
    assert isinstance(caught.value, LookupError)


def test_credit_achieved_once_counts_toward_every_qualification_containing_it(
    catalogue: Catalogue,
) -> None:
    assert catalogue.qualifications_containing("J/601/1630") == (
        "500/9203/0",
        "501/0232/1",
        "CG-4430-L4",
    )
    assert catalogue.qualifications_containing("D/506/2153") == (
        "OCR-L3-DIP-CS",
        "PEARSON-L4-NVQ-DIP-CS",
    )
    assert catalogue.qualifications_containing("Z/999/9999") == ()


def test_version_is_stable_and_changes_with_the_data(catalogue: Catalogue) -> None:
    assert catalogue.version.startswith("sha256:")
    assert load_catalogue(DEFAULT_CATALOGUE_DIR).version == catalogue.version
    dates = QualificationDates(
        operational_start=date(2010, 9, 1),
        accreditation_end=date(2027, 12, 31),
        certification_end=date(2030, 12, 31),
        illustrative=False,
        source="Ofqual register",
    )
    changed = catalogue.with_dates("500/9203/0", dates)
    assert changed.qualification("500/9203/0").dates == dates
    assert changed.version != catalogue.version
    assert catalogue.qualification("500/9203/0").dates.illustrative  # the original is unchanged
    with pytest.raises(UnknownQualificationError):
        catalogue.with_dates("nope", dates)


def test_built_from_models_as_from_documents(catalogue: Catalogue) -> None:
    rebuilt = Catalogue(list(catalogue.qualifications.values()))
    assert rebuilt.version == catalogue.version


# Each inconsistency, introduced into a copy of the real documents, is refused by name.


@pytest.fixture
def bad(documents: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(documents)


def _unit(documents: dict[str, Any], file: str, urn: str) -> dict[str, Any]:
    for group in documents[file]["groups"]:
        for unit in group["units"]:
            if unit["urn"] == urn:
                found: dict[str, Any] = unit
                return found
    raise AssertionError(urn)


def test_refuses_one_urn_with_two_credit_values(bad: dict[str, Any]) -> None:
    _unit(bad, "pearson-l4-nvq-dip-cs.json", "D/506/2153")["credits"] = 5
    _unit(bad, "pearson-l4-nvq-dip-cs.json", "T/506/2952")["level"] = 4
    # Group A no longer adds up to 14 either; every problem is reported at once.
    problems = _refusal(bad).problems
    assert any("D/506/2153" in p and "credits" in p for p in problems)
    assert any("T/506/2952" in p and "level" in p for p in problems)
    assert any("mandatory group A" in p and "15" in p for p in problems)


def test_refuses_a_rule_naming_a_missing_group(bad: dict[str, Any]) -> None:
    bad["ocr-l3-dip-cs.json"]["rules"][2]["groups"] = ["Z"]
    error = _refusal(bad)
    assert "group Z, which does not exist" in str(error)
    assert "ocr-l3-dip-cs.json" in str(error)


def test_refuses_a_unit_whose_credits_are_stated_nowhere(bad: dict[str, Any]) -> None:
    unit = {"urn": "Z/999/9999", "title": "A unit no table gives"}
    bad["ncfe-l4-nvq-dip-cs.json"]["groups"][1]["units"].append(unit)
    problems = _refusal(bad).problems
    for fact in ("credits", "level", "glh"):
        assert any("Z/999/9999" in p and f"no {fact}" in p for p in problems)


@pytest.mark.parametrize(
    ("file", "stated"),
    [
        ("ocr-l3-dip-cs.json", 31),
        ("pearson-l4-nvq-dip-cs.json", 14),
        ("ocr-l4-nvq-dip-cs.json", 20),
    ],
)
def test_refuses_mandatory_credits_that_do_not_add_up(
    bad: dict[str, Any], file: str, stated: int
) -> None:
    rule = next(r for r in bad[file]["rules"] if r["kind"] == "mandatory_group")
    assert rule["credits"] == stated
    rule["credits"] = stated + 1
    assert f"but the rule states {stated + 1}" in str(_refusal(bad))


def test_refuses_a_urn_listed_twice_in_one_qualification(bad: dict[str, Any]) -> None:
    groups = bad["ocr-l3-dip-cs.json"]["groups"]
    groups[2]["units"].append(copy.deepcopy(groups[1]["units"][0]))
    assert "unit Y/506/2166 is listed more than once" in str(_refusal(bad))


def test_refuses_an_alias_naming_two_units(bad: dict[str, Any]) -> None:
    _unit(bad, "cg-4430-l4.json", "D/601/1634")["aliases"] = ["4430-402", "F5"]
    assert "alias F5 names more than one unit" in str(_refusal(bad))


def test_refuses_two_files_with_one_id(bad: dict[str, Any]) -> None:
    bad["zz-copy.json"] = copy.deepcopy(bad["ocr-l3-dip-cs.json"])
    assert (
        "zz-copy.json: qualification id OCR-L3-DIP-CS is already defined by ocr-l3-dip-cs.json"
        in str(_refusal(bad))
    )


def test_refuses_a_malformed_document_naming_its_file_and_field(bad: dict[str, Any]) -> None:
    _unit(bad, "ocr-l3-dip-cs.json", "L/506/2150")["credits"] = -1
    del bad["pearson-l4-nvq-dip-cs.json"]["title"]
    problems = _refusal(bad).problems
    assert any(p.startswith("ocr-l3-dip-cs.json: groups.0.units.0.credits") for p in problems)
    assert any(p.startswith("pearson-l4-nvq-dip-cs.json: title") for p in problems)


def test_models_keep_their_names_for_other_code() -> None:
    assert {"claim_by"} <= set(dir(QualificationDates))
    assert "qualification_number" in Qualification.model_fields
