"""Catalogue files: loading, stable saving, and importing the Ofqual register's dates."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from domain.catalogue import CatalogueError, Qualification
from services.adapters.catalogue_files import (
    CATALOGUE_ENV,
    DEFAULT_CATALOGUE_DIR,
    DatesImportError,
    format_qualification,
    import_dates,
    load_catalogue,
    save_qualification,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ofqual"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, copy)
    return copy


def _contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_every_bundled_file_is_in_the_saved_format() -> None:
    # So that a save (or an import of dates) changes only the lines it must.
    for path in sorted(DEFAULT_CATALOGUE_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        qualification = Qualification.model_validate_json(text)
        assert format_qualification(qualification) == text, path.name


def test_save_round_trips_with_two_space_indent_and_a_trailing_newline(data_dir: Path) -> None:
    catalogue = load_catalogue(data_dir)
    qualification = catalogue.qualification("OCR-L3-DIP-CS")
    path = save_qualification(data_dir, qualification, "ocr-l3-dip-cs.json")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.splitlines()[1].startswith('  "id"')
    assert load_catalogue(data_dir).version == catalogue.version
    assert save_qualification(data_dir, qualification).name == "ocr-l3-dip-cs.json"


def test_the_environment_variable_chooses_the_directory(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (data_dir / "pearson-l4-nvq-dip-cs.json").unlink()
    monkeypatch.setenv(CATALOGUE_ENV, str(data_dir))
    assert "PEARSON-L4-NVQ-DIP-CS" not in load_catalogue().qualifications


def test_a_broken_file_is_named(data_dir: Path) -> None:
    (data_dir / "ocr-l3-dip-cs.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"ocr-l3-dip-cs\.json: cannot be read as JSON"):
        load_catalogue(data_dir)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no such catalogue directory"):
        load_catalogue(tmp_path / "absent")


def test_import_dates_from_one_register_record(data_dir: Path) -> None:
    before = _contents(data_dir)
    result = import_dates(data_dir, FIXTURES / "500-9203-0.json")
    dates = load_catalogue(data_dir).qualification("500/9203/0").dates
    assert (dates.operational_start, dates.accreditation_end, dates.certification_end) == (
        date(2010, 9, 1),
        date(2015, 12, 31),
        date(2018, 12, 31),
    )
    assert not dates.illustrative
    assert dates.source == "Ofqual register"
    changed = {(c.qualification, c.field): (c.old, c.new) for c in result.changes}
    assert changed == {
        ("500/9203/0", "accreditation_end"): (date(2026, 12, 31), date(2015, 12, 31)),
        ("500/9203/0", "certification_end"): (date(2029, 12, 31), date(2018, 12, 31)),
        ("500/9203/0", "illustrative"): (True, False),
        ("500/9203/0", "source"): (
            "SPEC.md §2 (the specifications give no dates)",
            "Ofqual register",
        ),
    }
    after = _contents(data_dir)
    assert [name for name in before if before[name] != after[name]] == ["ocr-l4-nvq-dip-cs.json"]
    assert set(after) == set(before)  # no temporary files left behind


def test_import_dates_from_a_list_in_either_spelling(data_dir: Path) -> None:
    result = import_dates(data_dir, FIXTURES / "list.json")
    assert result.qualifications == ("500/9203/0", "501/0232/1")
    ncfe = load_catalogue(data_dir).qualification("501/0232/1")
    assert ncfe.dates.accreditation_end == date(2015, 7, 31)
    raw = json.loads((data_dir / "ncfe-l4-nvq-dip-cs.json").read_text(encoding="utf-8"))
    assert "credits" not in raw["groups"][0]["units"][0]  # filled facts stay out of the file


def test_importing_the_same_dates_again_changes_nothing(data_dir: Path) -> None:
    import_dates(data_dir, FIXTURES / "500-9203-0.json")
    before = _contents(data_dir)
    assert import_dates(data_dir, FIXTURES / "500-9203-0.json").changes == ()
    assert _contents(data_dir) == before


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("malformed.json", "cannot be read as JSON"),
        ("unknown-number.json", "qualification number 601/9999/9 is not in the catalogue"),
        ("bad-date.json", "'31/07/2015' is not a date"),
    ],
)
def test_a_bad_register_file_changes_nothing(data_dir: Path, fixture: str, message: str) -> None:
    before = _contents(data_dir)
    with pytest.raises(DatesImportError, match=message):
        import_dates(data_dir, FIXTURES / fixture)
    assert _contents(data_dir) == before


def test_register_dates_out_of_order_are_refused(data_dir: Path, tmp_path: Path) -> None:
    record = json.loads((FIXTURES / "500-9203-0.json").read_text(encoding="utf-8"))
    record["certificationEndDate"] = "2011-01-01T00:00:00"
    path = tmp_path / "reversed.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    before = _contents(data_dir)
    with pytest.raises(DatesImportError, match="accreditation_end <= certification_end"):
        import_dates(data_dir, path)
    assert _contents(data_dir) == before


def test_a_missing_register_date_is_refused(data_dir: Path, tmp_path: Path) -> None:
    record = json.loads((FIXTURES / "500-9203-0.json").read_text(encoding="utf-8"))
    record["certificationEndDate"] = None
    path = tmp_path / "open.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(DatesImportError, match="no certificationenddate"):
        import_dates(data_dir, path)
