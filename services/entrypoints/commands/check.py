"""``learner-records check``: would these units complete a qualification, and why (not)?"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from domain.catalogue import (
    Catalogue,
    CatalogueError,
    GroupCredits,
    Qualification,
    UnknownQualificationError,
    UnknownUnitError,
)
from domain.rules import Evaluation, RuleProgress, evaluate
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import SystemClock
from services.entrypoints.commands._args import iso_date
from services.entrypoints.commands._output import console, fail, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check units against a qualification's rules of combination",
        description="Whether the units complete the qualification, which count, what is missing.",
    )
    parser.add_argument("id", help="qualification id, e.g. OCR-L3-DIP-CS")
    parser.add_argument(
        "--units",
        nargs="*",
        default=[],
        metavar="UNIT[@YYYY-MM-DD]",
        help="achieved units: URN, ICS code, C&G or unit number; achieved today unless dated",
    )
    parser.add_argument(
        "--registered-on", type=iso_date, metavar="YYYY-MM-DD", help="completion not before this"
    )
    parser.add_argument(
        "--catalogue", type=Path, default=None, metavar="DIR", help="catalogue directory"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=check_command)


def check_command(args: argparse.Namespace) -> int:
    catalogue = _load(args.catalogue)
    try:
        qualification = catalogue.qualification(args.id)
    except UnknownQualificationError as error:
        fail(str(error))
    achieved = _achieved(catalogue, qualification.id, args.units, SystemClock().now().date())
    evaluation = evaluate(qualification, achieved, args.registered_on)
    if args.json:
        print_json(as_json(qualification, evaluation, achieved))
    else:
        _print(qualification, evaluation, achieved)
    return 0


def _load(directory: Path | None) -> Catalogue:
    try:
        return load_catalogue(directory)
    except CatalogueError as error:
        fail(str(error))


def _achieved(
    catalogue: Catalogue, qualification_id: str, refs: list[str], today: date
) -> dict[str, date]:
    achieved: dict[str, date] = {}
    for ref in refs:
        name, _, when = ref.partition("@")
        try:
            day = date.fromisoformat(when) if when else today
        except ValueError:
            fail(f"not a date in YYYY-MM-DD form: {when!r} (in {ref!r})")
        try:
            urn = catalogue.resolve_unit(name, qualification_id).urn
        except UnknownUnitError as error:
            fail(str(error))
        # The same unit twice: it was achieved the first time.
        achieved[urn] = min(day, achieved.get(urn, day))
    return achieved


def as_json(
    qualification: Qualification, evaluation: Evaluation, achieved: dict[str, date]
) -> dict[str, Any]:
    shortfall = evaluation.shortfall
    why = _not_counted_reasons(qualification, evaluation)
    return {
        "qualification": qualification.id,
        "complete": evaluation.complete,
        "completed_on": evaluation.completed_on,
        "counted_units": list(evaluation.counted_units),
        "counted_credits": evaluation.counted_credits,
        "not_counted": [{"unit": urn, "reason": why[urn]} for urn in evaluation.not_counted],
        "outside_structure": list(evaluation.outside_structure),
        "rules": [_rule_json(rule) for rule in evaluation.rules],
        "missing": None
        if shortfall is None
        else {
            "fewest_credits": shortfall.fewest_credits,
            "fewest_credit_units": list(shortfall.fewest_credit_units),
            "cheapest_units": list(shortfall.cheapest_units),
            "cheapest_glh": shortfall.cheapest_glh,
            "cheapest_credits": shortfall.cheapest_credits,
        },
        "achieved": {urn: day for urn, day in sorted(achieved.items())},
    }


def _rule_json(rule: RuleProgress) -> dict[str, Any]:
    return {
        "rule": rule.rule_index,
        "kind": rule.kind,
        "description": rule.description,
        "measure": rule.measure,
        "needed": {"minimum": rule.minimum, "maximum": rule.maximum},
        "had": rule.had,
        "satisfied": rule.satisfied,
        "groups": list(rule.groups),
        "missing_units": list(rule.missing_units),
        "short_groups": list(rule.short_groups),
    }


def _not_counted_reasons(qualification: Qualification, evaluation: Evaluation) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for urn in evaluation.not_counted:
        group = qualification.group_of(urn)
        limits = [
            progress.description
            for progress, rule in zip(evaluation.rules, qualification.rules, strict=True)
            if isinstance(rule, GroupCredits)
            and rule.maximum is not None
            and group is not None
            and group.id in rule.groups
        ]
        reasons[urn] = "over the maximum: " + "; ".join(limits) if limits else "not needed"
    return reasons


def _needed(rule: RuleProgress) -> str:
    unit = "" if rule.measure == "credits" else " units"
    if rule.minimum is not None and rule.maximum is not None:
        return f"{rule.minimum}–{rule.maximum}{unit}"
    if rule.minimum is not None:
        return f"≥ {rule.minimum}{unit}"
    return f"≤ {rule.maximum}{unit}"


def _print(qualification: Qualification, evaluation: Evaluation, achieved: dict[str, date]) -> None:
    out = console()
    units = {u.urn: (group.id, u) for group in qualification.groups for u in group.units}
    if evaluation.complete:
        verdict = f"[green]complete[/green] on {evaluation.completed_on}"
    else:
        verdict = "[red]not complete[/red]"
    out.print(f"[bold]{qualification.id}[/bold] {qualification.title}: {verdict}")

    rules = Table(title="Rules of combination")
    for heading in ("rule", "needed", "had", ""):
        rules.add_column(heading)
    for rule in evaluation.rules:
        had = f"{rule.had}" if rule.measure == "credits" else f"{rule.had} units"
        extra = ""
        if rule.missing_units:
            extra = f" (missing {', '.join(rule.missing_units)})"
        elif rule.short_groups:
            extra = f" (short: group {', '.join(rule.short_groups)})"
        mark = "[green]✓[/green]" if rule.satisfied else "[red]✗[/red]"
        rules.add_row(rule.description, _needed(rule), had + extra, mark)
    out.print(rules)

    counted = Table(title=f"Counted units: {evaluation.counted_credits} credits")
    for heading in ("unit", "title", "group", "level", "credits", "achieved"):
        counted.add_column(heading)
    for urn in evaluation.counted_units:
        group, unit = units[urn]
        counted.add_row(
            urn, unit.title, group, str(unit.level), str(unit.credits), str(achieved[urn])
        )
    out.print(counted)

    why = _not_counted_reasons(qualification, evaluation)
    for urn in evaluation.not_counted:
        out.print(f"not counted: {urn} {units[urn][1].title} — {why[urn]}")
    for urn in evaluation.outside_structure:
        out.print(f"ignored: {urn} is not in this qualification's structure")

    shortfall = evaluation.shortfall
    if evaluation.complete:
        return
    if shortfall is None:
        out.print("[red]missing: no further units can complete this qualification[/red]")
        return
    out.print(f"missing: at least [bold]{shortfall.fewest_credits}[/bold] more credits")
    cheapest = Table(
        title=f"Cheapest units to complete: {shortfall.cheapest_glh} GLH, "
        f"{shortfall.cheapest_credits} credits"
    )
    for heading in ("unit", "title", "group", "level", "credits", "GLH"):
        cheapest.add_column(heading)
    for urn in shortfall.cheapest_units:
        group, unit = units[urn]
        cheapest.add_row(urn, unit.title, group, str(unit.level), str(unit.credits), str(unit.glh))
    out.print(cheapest)
