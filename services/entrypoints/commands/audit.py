"""``learner-records audit ULN``: one learner's stored history, and why each status holds."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from rich.table import Table

from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import open_records, store_location
from services.application.audit import Step, timeline
from services.application.clock import SystemClock
from services.entrypoints.commands._args import iso_date, uln
from services.entrypoints.commands._output import console, fail, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="a learner's stored history as a timeline, and why each status holds",
        description=(
            "Rebuild one learner's record from the event store fact by fact, showing after "
            "each fact the status and rule progress of every registration and the decisions "
            "taken, and ending with why each status holds as of the audit date and which "
            "events it rests on."
        ),
    )
    parser.add_argument("uln", type=uln, metavar="ULN")
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="the event store: a SQLite file or postgresql:// URL "
        "($LEARNER_RECORDS_STORE, else var/records.sqlite)",
    )
    parser.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="history known by this day (today)"
    )
    parser.add_argument("--json", action="store_true", help="the complete timeline as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    catalogue = load_catalogue()
    location = store_location(args.store)
    as_of: date = args.as_of or SystemClock().now().date()
    try:
        records = open_records(location, catalogue, create=False)
    except FileNotFoundError as error:
        fail(str(error))
    try:
        stored = list(records.history(args.uln))
    finally:
        records.close()
    if not stored:
        fail(f"no history for learner {args.uln} in {location}")
    steps, final = timeline(args.uln, stored, catalogue, as_of)
    if args.json:
        print_json(
            {
                "uln": args.uln,
                "as_of": as_of.isoformat(),
                "store": location,
                "timeline": [step.to_json() for step in steps],
                "registrations": final,
            }
        )
    else:
        _print(args.uln, as_of, steps, final)
    return 0


def _print(learner: str, as_of: date, steps: list[Step], final: list[dict[str, Any]]) -> None:
    out = console()
    out.print(f"[bold]Audit of learner {learner}[/], history known by {as_of}\n")
    for number, step in enumerate(steps, start=1):
        when = step.received_at.strftime("%Y-%m-%d %H:%M") if step.received_at else "—"
        out.print(f"[bold]{number:>3}.[/] {when}  {_headline(step)}")
        if step.refusal:
            out.print(
                f"       [red]refused[/]: {step.refusal['reason']} — {step.refusal['detail']}"
            )
        for reg in step.registrations:
            unmet = [r for r in reg["rules"] if not r["satisfied"]]
            met = len(reg["rules"]) - len(unmet)
            progress = f"{met}/{len(reg['rules'])} rules met, {reg['credits']} credits"
            out.print(f"       {reg['qualification']}: [cyan]{reg['status']}[/] ({progress})")
            for rule in unmet:
                out.print(f"         [dim]✗ {rule['description']}: has {rule['had']}[/]")
        for decision in step.decisions:
            out.print(f"       [green]→ {decision['type']}[/] {decision['id']}")
    out.print()
    table = Table(title=f"As of {as_of}", title_justify="left")
    for column in ("qualification", "status", "why", "rests on"):
        table.add_column(column)
    for reg in final:
        table.add_row(
            reg["qualification"],
            reg["status"],
            reg["reason"],
            "\n".join(f"{e['type']} {e['id']}" for e in reg["rests_on"]),
        )
    out.print(table)


def _headline(step: Step) -> str:
    if step.kind == "decision":
        return "time passed"
    event = step.event or {}
    data: dict[str, Any] = event["data"] if isinstance(event.get("data"), dict) else {}
    what = data.get("unit") or data.get("qualification") or data.get("revokes") or ""
    effective = next(
        (
            data[k]
            for k in ("registered_on", "achieved_on", "withdrawn_on", "issued_on")
            if k in data
        ),
        "",
    )
    kind = event.get("type", "unreadable event")
    return f"{kind} {what} {effective}  [dim]({event.get('id', '')})[/]"
