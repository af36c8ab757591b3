"""Every unit row of the five specifications, checked against the catalogue.

The specifications in ../shared/specs are the ground truth: this reads their
tables independently of how the data files were made, so a typo in the data
(or a unit left out) fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue

SPECS = Path(__file__).parents[2].parent / "shared" / "specs"
URN = re.compile(r"^[A-Z]/\d{3}/\d{4}$")


@dataclass(frozen=True)
class Row:
    group: str
    urn: str | None
    title: str
    credits: int | None = None
    level: int | None = None
    glh: int | None = None
    number: str | None = None
    alias: str | None = None


def spec_lines(prefix: str) -> list[str]:
    # Fail, not skip: without the specifications the data is unchecked.
    matches = sorted(SPECS.glob(f"{prefix}_*.txt"))
    assert len(matches) == 1, f"specification {prefix}_*.txt not found in {SPECS}"
    return matches[0].read_text(encoding="utf-8").splitlines()


def ocr_l4_rows() -> list[Row]:
    """Unit No, title, UAN, credit, level, GLH; groups from 'Group X - …' lines."""
    rows, group = [], ""
    for line in spec_lines("000"):
        if heading := re.match(r"^Group ([A-Z])\b", line):
            group = heading.group(1)
        cells = line.split("\t")
        if len(cells) == 6 and URN.match(cells[2]):
            number, title, urn, credits, level, glh = cells
            rows.append(Row(group, urn, title, int(credits), int(level), int(glh), number, number))
    return rows


def cg_rows() -> list[Row]:
    """C&G number, 'title (ICS code)', level, credit, GLH; one header row per group, A first."""
    rows, groups = [], iter("ABCDEFGH")
    group = ""
    for line in spec_lines("001"):
        cells = line.split("\t")
        if cells[0] == "City & Guilds unit number":
            group = next(groups)
        elif len(cells) == 5 and cells[0].startswith("4430-"):
            number, named, level, credits, glh = cells
            found = re.match(r"^(.*) \(([A-Z]\d+)\)$", named)
            assert found, named
            title, ics = found.groups()
            rows.append(Row(group, None, title, int(credits), int(level), int(glh), number, ics))
    return rows


NCFE_THEMES = {
    "Mandatory Units": "A",
    "Impression and Image Theme": "B",
    "Delivery Theme": "C",
    "Handling Problems Theme": "D",
    "Development and Improvement Theme": "E",
}


def ncfe_rows() -> list[Row]:
    """'[title URN](#)' links under theme headings; no credits, levels or GLH."""
    rows, group = [], ""
    for line in spec_lines("002"):
        text = line.strip().strip("-[]() #").strip()
        if text in NCFE_THEMES:  # "Mandatory Units" plain, the themes as "- [Delivery Theme](#)"
            group = NCFE_THEMES[text]
            continue
        if link := re.search(r"\[(.+) ([A-Z]/\d{3}/\d{4})\]", line):
            rows.append(Row(group, link.group(2), link.group(1)))
    return rows


def ocr_l3_rows() -> list[Row]:
    rows, group = [], ""
    for line in spec_lines("003"):
        if heading := re.match(r"^<b>Group ([A-Z])\b", line):
            group = heading.group(1)
        cells = line.split("\t")
        if len(cells) == 6 and URN.match(cells[2]):
            number, title, urn, credits, level, glh = cells
            rows.append(Row(group, urn, title, int(credits), int(level), int(glh), number))
    return rows


def pearson_rows() -> list[Row]:
    """Unit, URN, title, level, credit, GLH (level before credit)."""
    rows, group = [], ""
    for line in spec_lines("004"):
        if heading := re.match(r"^(?:Mandatory|Optional) Group ([A-Z])\b", line):
            group = heading.group(1)
        cells = line.split("\t")
        if len(cells) == 6 and URN.match(cells[1]):
            number, urn, title, level, credits, glh = cells
            rows.append(Row(group, urn, title, int(credits), int(level), int(glh), number))
    return rows


TABLES = {
    "500/9203/0": (ocr_l4_rows, 33),
    "CG-4430-L4": (cg_rows, 33),
    "501/0232/1": (ncfe_rows, 33),  # "2 mandatory units" and "31 optional units"
    "OCR-L3-DIP-CS": (ocr_l3_rows, 45),
    "PEARSON-L4-NVQ-DIP-CS": (pearson_rows, 34),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_the_specifications_are_where_the_tests_look() -> None:
    assert SPECS.is_dir(), f"the specifications are missing: {SPECS}"


@pytest.mark.parametrize("qualification_id", list(TABLES))
def test_every_row_of_the_specification_is_in_the_catalogue(
    catalogue: Catalogue, qualification_id: str
) -> None:
    parse, count = TABLES[qualification_id]
    rows = parse()
    assert len(rows) == count, "the table parser missed rows"
    qualification = catalogue.qualification(qualification_id)
    listed = {}
    for row in rows:
        # C&G gives no URNs: its rows are found by C&G number, and the ICS code must agree.
        ref = row.urn or row.number
        assert ref is not None
        unit = catalogue.resolve_unit(ref, qualification_id)
        if row.urn is not None:
            assert unit.urn == row.urn
        if row.alias is not None:
            assert catalogue.resolve_unit(row.alias, qualification_id).urn == unit.urn, row
        group = qualification.group_of(unit.urn)
        assert group is not None and group.id == row.group, row
        assert unit.title == row.title, row
        assert unit.number == row.number, row
        for fact in ("credits", "level", "glh"):
            stated = getattr(row, fact)
            if stated is not None:
                assert getattr(unit, fact) == stated, (row, fact)
        listed[unit.urn] = row
    # And nothing in the catalogue that the specification does not list.
    assert {u.urn for u in qualification.units()} == set(listed)


def test_ncfe_facts_come_from_the_same_units_in_the_ocr_table(catalogue: Catalogue) -> None:
    stated = {row.urn: (row.credits, row.level, row.glh) for row in ocr_l4_rows()}
    for row in ncfe_rows():
        unit = catalogue.unit(row.urn or "")
        assert (unit.credits, unit.level, unit.glh) == stated[row.urn]
