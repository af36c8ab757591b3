"""``learner-records catalogue`` through the real dispatcher, as centre staff run it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.adapters.catalogue_files import DEFAULT_CATALOGUE_DIR, load_catalogue
from services.entrypoints.cli import main

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "ofqual"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, copy)
    return copy


def test_list_shows_every_qualification(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["catalogue", "list"], capsys)
    assert status == 0
    for qualification_id in load_catalogue().qualifications:
        assert qualification_id in out
    assert "2030-08-31" in out  # OCR L3's claim_by: accreditation end + 3 years


def test_list_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["catalogue", "list", "--json"], capsys)
    assert status == 0
    document = json.loads(out)
    assert document["version"] == load_catalogue().version
    ncfe = next(q for q in document["qualifications"] if q["id"] == "501/0232/1")
    assert ncfe["minimum_age"] == 18
    assert ncfe["units"] == 33
    assert ncfe["claim_by"] == "2027-01-31"


def test_show_gives_units_rules_dates_and_age(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["catalogue", "show", "501/0232/1"], capsys)
    assert status == 0
    assert "J/601/1630" in out
    assert "at least 35 credits at level 4 or above" in out
    assert "A minimum of 35 credits must be at Level 4." in out
    assert "illustrative" in out
    assert "claim by            2027-01-31" in out
    assert "Minimum age: 18" in out


def test_show_as_json_has_filled_units_and_rules_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(["catalogue", "show", "PEARSON-L4-NVQ-DIP-CS", "--json"], capsys)
    assert status == 0
    document = json.loads(out)
    assert document["dates"]["claim_by"] == "2031-08-31"
    descriptions = [rule["description"] for rule in document["rules"]]
    assert "at most 16 counted credits from group C" in descriptions


def test_an_unknown_qualification_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["catalogue", "show", "999/9999/9"], capsys)
    assert status == 2
    assert out == ""
    assert "no qualification '999/9999/9'" in err
    assert "OCR-L3-DIP-CS" in err


def test_an_inconsistent_catalogue_is_reported_by_file(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "cg-4430-l4.json").write_text("[", encoding="utf-8")
    status, _, err = run(["catalogue", "list", "--catalogue", str(data_dir)], capsys)
    assert status == 2
    assert "cg-4430-l4.json" in err


def test_import_dates_prints_what_changed(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["catalogue", "import-dates", str(FIXTURES / "list.json"), "--catalogue", str(data_dir)]
    status, out, _ = run(argv, capsys)
    assert status == 0
    assert "500/9203/0: accreditation_end: 2026-12-31 -> 2015-12-31" in out
    assert "501/0232/1: illustrative: True -> False" in out
    status, out, _ = run(argv, capsys)
    assert status == 0
    assert out.startswith("No change")


def test_import_dates_refuses_an_unknown_number_and_changes_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    fixture = str(FIXTURES / "unknown-number.json")
    status, _, err = run(
        ["catalogue", "import-dates", fixture, "--catalogue", str(data_dir)], capsys
    )
    assert status == 2
    assert "601/9999/9" in err
    assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before


def test_the_command_as_a_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "catalogue", "show", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no qualification 'nope'" in result.stderr
