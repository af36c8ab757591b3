"""``learner-records catalogue``: list, show, and import the register's dates."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from domain.catalogue import (
    Catalogue,
    CatalogueError,
    CreditsAtLevel,
    GroupCredits,
    MandatoryGroup,
    MinimumCredits,
    Qualification,
    Rule,
    UnitsFromEachGroup,
    UnknownQualificationError,
)
from services.adapters.catalogue_files import DatesImportError, import_dates, load_catalogue
from services.entrypoints.commands._output import console, fail, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("catalogue", help="the qualifications, their units and rules")
    commands = parser.add_subparsers(dest="catalogue_command", required=True, metavar="ACTION")

    listing = commands.add_parser("list", help="every qualification, one line each")
    _catalogue_option(listing)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=list_command)

    show = commands.add_parser("show", help="one qualification: units by group, rules, dates")
    show.add_argument("id", help="qualification id, e.g. 500/9203/0")
    _catalogue_option(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=show_command)

    dates = commands.add_parser(
        "import-dates", help="replace dates with the Ofqual register's (its Qualifications JSON)"
    )
    dates.add_argument("file", type=Path, help="the register's JSON: one qualification or a list")
    _catalogue_option(dates)
    dates.set_defaults(handler=import_dates_command)


def _catalogue_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        metavar="DIR",
        help="catalogue directory (default: $LEARNER_RECORDS_CATALOGUE or the bundled data)",
    )


def _load(directory: Path | None) -> Catalogue:
    try:
        return load_catalogue(directory)
    except CatalogueError as error:
        fail(str(error))


def list_command(args: argparse.Namespace) -> int:
    catalogue = _load(args.catalogue)
    if args.json:
        print_json(
            {
                "version": catalogue.version,
                "qualifications": [_summary(q) for q in catalogue.qualifications.values()],
            }
        )
        return 0
    table = Table(title=f"Catalogue {catalogue.version[:19]}…")
    for heading in ("id", "title", "AO", "level", "units", "dates", "claim by"):
        table.add_column(heading)
    for q in catalogue.qualifications.values():
        table.add_row(
            q.id,
            q.title,
            q.awarding_organisation,
            str(q.level),
            str(len(q.units())),
            _dates_cell(q),
            q.dates.claim_by.isoformat(),
        )
    console().print(table)
    return 0


def show_command(args: argparse.Namespace) -> int:
    catalogue = _load(args.catalogue)
    try:
        qualification = catalogue.qualification(args.id)
    except UnknownQualificationError as error:
        fail(str(error))
    if args.json:
        print_json(_detail(qualification))
        return 0
    out = console()
    q = qualification
    out.print(f"[bold]{q.id}[/bold]  {q.title}")
    out.print(f"Awarding organisation: {q.awarding_organisation}    Level {q.level}")
    if q.qualification_number:
        out.print(f"Qualification number: {q.qualification_number}")
    out.print(f"Minimum age: {q.minimum_age if q.minimum_age is not None else 'none'}")
    d = q.dates
    kind = "illustrative" if d.illustrative else "authoritative"
    out.print(f"Dates, {kind}, from {d.source}:")
    out.print(f"  operational start   {d.operational_start}")
    out.print(f"  last registration   {d.accreditation_end}")
    out.print(f"  certification end   {d.certification_end}")
    out.print(f"  claim by            {d.claim_by}")
    out.print(f"Source: {q.source}")
    out.print("\n[bold]Rules of combination[/bold]")
    for rule in q.rules:
        out.print(f"  • {describe_rule(rule)}")
        if rule.text:
            out.print(f"    [dim]“{rule.text}”[/dim]")
    for group in q.groups:
        mandatory = group.mandatory and "mandatory" not in group.title.lower()
        table = Table(
            title=f"Group {group.id}: {group.title}" + (" (mandatory)" if mandatory else "")
        )
        for heading in ("number", "URN", "title", "credits", "level", "GLH"):
            table.add_column(
                heading, justify="right" if heading in {"credits", "level", "GLH"} else "left"
            )
        for unit in group.units:
            table.add_row(
                unit.number or "",
                unit.urn,
                unit.title,
                str(unit.credits),
                str(unit.level),
                str(unit.glh),
            )
        out.print(table)
    return 0


def import_dates_command(args: argparse.Namespace) -> int:
    try:
        result = import_dates(args.catalogue, args.file)
    except (DatesImportError, CatalogueError) as error:
        fail(str(error))
    if not result.changes:
        print(f"No change: the register agrees with {', '.join(result.qualifications)}.")
        return 0
    for change in result.changes:
        print(f"{change.qualification}: {change.field}: {change.old} -> {change.new}")
    print(f"Updated {', '.join(str(p) for p in result.files)}")
    return 0


def describe_rule(rule: Rule) -> str:
    """The rule in plain words, from the data, so it can be checked against the spec text."""
    if isinstance(rule, MinimumCredits):
        return f"at least {rule.credits} credits in total"
    if isinstance(rule, MandatoryGroup):
        return f"every unit of group {rule.group} ({rule.credits} credits)"
    if isinstance(rule, GroupCredits):
        groups = _groups(rule.groups)
        bounds = []
        if rule.minimum is not None:
            bounds.append(f"at least {rule.minimum}")
        if rule.maximum is not None:
            bounds.append(f"at most {rule.maximum} counted")
        return f"{' and '.join(bounds)} credits from {groups}"
    if isinstance(rule, UnitsFromEachGroup):
        units = f"{rule.units} unit{'s' if rule.units > 1 else ''}"
        return f"at least {units} from each of {_groups(rule.groups)}"
    if isinstance(rule, CreditsAtLevel):
        within = f" within {_groups(rule.groups)}" if rule.groups else ""
        return f"at least {rule.credits} credits at level {rule.level} or above{within}"
    raise AssertionError(f"unknown rule {rule!r}")


def _groups(groups: tuple[str, ...]) -> str:
    return f"group {groups[0]}" if len(groups) == 1 else "groups " + ", ".join(groups)


def _dates_cell(q: Qualification) -> str:
    d = q.dates
    label = " (illustrative)" if d.illustrative else ""
    return f"{d.operational_start} – {d.accreditation_end} / {d.certification_end}{label}"


def _summary(q: Qualification) -> dict[str, Any]:
    return {
        "id": q.id,
        "qualification_number": q.qualification_number,
        "title": q.title,
        "awarding_organisation": q.awarding_organisation,
        "level": q.level,
        "units": len(q.units()),
        "dates": q.dates.model_dump(mode="json"),
        "claim_by": q.dates.claim_by.isoformat(),
        "minimum_age": q.minimum_age,
    }


def _detail(q: Qualification) -> dict[str, Any]:
    document = q.model_dump(mode="json")
    document["dates"]["claim_by"] = q.dates.claim_by.isoformat()
    for rule, described in zip(document["rules"], q.rules, strict=True):
        rule["description"] = describe_rule(described)
    return document
