"""``learner-records check`` end to end through the dispatcher, on the bundled catalogue."""

from __future__ import annotations

import json

import pytest

from services.entrypoints.cli import main

OCR_L3_A = ["1", "2", "3", "4", "5", "6"]  # OCR's unit numbers for mandatory group A
LEVEL_2_B = ["D/506/2119", "T/506/2126", "L/506/2133", "Y/506/2135", "T/506/2143"]
C_TRAP = [
    "L/506/1807@2022-01-02",  # level 2, achieved first
    "L/506/1869@2022-01-03",
    "H/506/1814@2022-01-04",
    "T/506/1820@2022-01-10",  # level 3, achieved later: these must count
    "M/506/1931@2022-01-11",
    "K/502/8622@2022-01-12",
]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["check", *argv, "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_complete_learner_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    units = [f"{u}@2022-01-01" for u in OCR_L3_A + LEVEL_2_B] + C_TRAP
    result = run_json(capsys, "OCR-L3-DIP-CS", "--units", *units, "--registered-on", "2021-09-01")

    assert result["complete"] is True
    assert result["completed_on"] == "2022-01-12"
    assert result["missing"] is None
    assert {"T/506/1820", "M/506/1931", "K/502/8622"} <= set(result["counted_units"])  # type: ignore[arg-type]
    not_counted = {entry["unit"]: entry["reason"] for entry in result["not_counted"]}  # type: ignore[attr-defined]
    assert set(not_counted) == {"L/506/1807", "L/506/1869", "H/506/1814"}
    assert all("at most 9 credits" in reason for reason in not_counted.values())
    rules = result["rules"]
    assert isinstance(rules, list)
    assert all(rule["satisfied"] for rule in rules)
    assert rules[0]["needed"] == {"minimum": 55, "maximum": None}
    assert rules[0]["had"] == 55


def test_incomplete_learner_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    # C&G numbers and ICS codes resolve to URNs; only group A is achieved.
    result = run_json(capsys, "CG-4430-L4", "--units", "4430-401", "F6@2021-05-05")

    assert result["complete"] is False
    assert result["completed_on"] is None
    assert result["counted_units"] == ["D/601/1634", "J/601/1630"]
    missing = result["missing"]
    assert isinstance(missing, dict)
    assert missing["fewest_credits"] == 47
    assert missing["cheapest_units"]
    assert missing["cheapest_glh"] > 0


def test_a_unit_of_another_qualification_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # J/506/1921 is a Pearson and OCR L3 unit, not in the OCR Level 4 structure.
    with pytest.raises(SystemExit) as exit_:
        main(["check", "500/9203/0", "--units", "J/506/1921"])
    assert exit_.value.code == 2
    assert "J/506/1921" in capsys.readouterr().err


def test_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "PEARSON-L4-NVQ-DIP-CS", "--units", "M/506/2898"]) == 0
    out = capsys.readouterr().out
    assert "not complete" in out
    assert "at least 38 credits at level 4 or above" in out
    assert "✗" in out and "✓" in out
    assert "missing: at least" in out
    assert "Cheapest units to complete" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "NOPE"], "no qualification 'NOPE'"),
        (["check", "500/9203/0", "--units", "F99"], "F99"),
        (["check", "500/9203/0", "--units", "F5@2022-02-30"], "not a date"),
        (["check", "500/9203/0", "--registered-on", "yesterday"], "not a date"),
    ],
)
def test_errors_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
