"""``learner-records audit ULN``: one learner's stored history, and why each status holds."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from rich.markup import escape
from rich.table import Table

from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import StoreUnavailableError, redact, store_location
from services.application.audit import Audit, Step, timeline
from services.application.clock import SystemClock
from services.entrypoints.commands._args import iso_date, timestamp, uln
from services.entrypoints.commands._output import EXIT_NOT_FOUND, console, fail, print_json
from services.entrypoints.wiring import open_records


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="a learner's stored history as a timeline, and why each status holds",
        description=(
            "Rebuild one learner's record from the event store fact by fact, showing after "
            "each fact the status and rule progress of every registration and the decisions "
            "taken, and ending with why each status holds as of the audit date and which "
            "events it rests on. --as-of is valid time (facts effective by that day); "
            "--as-known-at is transaction time (only what was stored by that moment); "
            "they combine."
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
        "--as-of",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="statuses as of this day, from the facts effective by then (default: today)",
    )
    parser.add_argument(
        "--as-known-at",
        type=timestamp,
        metavar="TIMESTAMP",
        help="only what the service had stored by this moment, e.g. 2026-03-03T12:00:00Z "
        "(default: everything stored)",
    )
    parser.add_argument("--json", action="store_true", help="the complete timeline as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    catalogue = load_catalogue()
    location = store_location(args.store)
    as_of: date = args.as_of or SystemClock().now().date()
    try:
        records = open_records(location, catalogue, create=False)
        try:
            history = records.history(args.uln)
        finally:
            records.close()
    except StoreUnavailableError as error:
        fail(str(error))
    if not history:
        fail(f"no history for learner {args.uln} in {redact(location)}", EXIT_NOT_FOUND)
    audit = timeline(args.uln, history, catalogue, as_of, args.as_known_at)
    if args.json:
        print_json({**audit.to_json(), "store": redact(location)})
    else:
        _print(audit)
    return 0


def _print(audit: Audit) -> None:
    out = console()
    known = f", as known at {audit.known_at.isoformat()}" if audit.known_at else ""
    out.print(f"[bold]Audit of learner {audit.uln}[/], as of {audit.as_of}{known}\n")
    for number, step in enumerate(audit.steps, start=1):
        when = step.received_at.strftime("%Y-%m-%d %H:%M") if step.received_at else "—"
        out.print(f"[bold]{number:>3}.[/] received {when}  {_headline(step)}")
        if step.refusal:
            out.print(
                f"       [red]refused[/]: {escape(step.refusal['reason'])} — "
                f"{escape(step.refusal['detail'])}"
            )
        for reg in step.registrations:
            unmet = [r for r in reg["rules"] if not r["satisfied"]]
            met = len(reg["rules"]) - len(unmet)
            progress = f"{met}/{len(reg['rules'])} rules met, {reg['credits']} credits"
            out.print(f"       {reg['qualification']}: [cyan]{reg['status']}[/] ({progress})")
            for rule in unmet:
                out.print(f"         [dim]✗ {escape(rule['description'])}: has {rule['had']}[/]")
        for decision in step.decisions:
            out.print(f"       [green]→ {decision['type']}[/] {decision['id']}")
    out.print()
    table = Table(title=f"As of {audit.as_of}", title_justify="left")
    for column in ("qualification", "status", "why", "rests on"):
        table.add_column(column)
    for reg in audit.registrations:
        table.add_row(
            escape(reg["qualification"]),
            reg["status"],
            escape(reg["reason"]),
            "\n".join(escape(f"{e['type']} {e['id']}") for e in reg["rests_on"]),
        )
    out.print(table)
    if audit.refusals:
        table = Table(title="Refused events naming this learner", title_justify="left")
        for column in ("received", "event id", "reason", "detail"):
            table.add_column(column)
        for r in audit.refusals:
            table.add_row(
                r["received_at"][:16],
                escape(r["event_id"] or "—"),
                r["reason"],
                escape(r["detail"]),
            )
        out.print(table)


def _headline(step: Step) -> str:
    if step.kind == "decision":
        return "time passed"
    if step.kind == "erased":
        return "[yellow]personal data erased[/]"
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
    effective = f"effective {effective}" if effective else ""
    return escape(f"{kind} {what} {effective}") + f"  [dim]({escape(str(event.get('id', '')))})[/]"
