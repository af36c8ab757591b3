"""``learner-records replay FILE``: run recorded CloudEvents through the service offline."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from contracts.outbound import DecisionKind
from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import StoreUnavailableError
from services.application.clock import FixedClock, SystemClock
from services.application.records import LearnerRecords
from services.application.replay import BATCH_SIZE, replay_as_lived
from services.application.summaries import decision_summary, registration_summary
from services.entrypoints.commands._args import iso_date
from services.entrypoints.commands._output import console, fail, print_json
from services.entrypoints.wiring import open_records


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay CloudEvents from a JSON-lines file and show every learner's status",
        description=(
            "Read CloudEvents as JSON lines, in arrival order, run them through the same "
            "application service as the NATS service on a temporary store, as lived: each "
            "event at its own time, with the daily review of claim-by dates in between, so "
            "the decisions are those a live service would have published. Print every "
            "learner's registrations, the decisions and every refused event. A malformed "
            "line is a refused event, not an error."
        ),
    )
    parser.add_argument("file", type=Path, help="CloudEvents, one JSON object per line")
    parser.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="decide as of this day (today)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--store",
        type=Path,
        metavar="PATH",
        help="keep the event store (a new SQLite file) here, for the audit command; "
        "default: a temporary one",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    lines = _read_lines(args.file)
    catalogue = load_catalogue()
    as_of: date = args.as_of or SystemClock().now().date()
    with _store(args.store) as location:
        try:
            records = open_records(location, catalogue, FixedClock(as_of))
        except StoreUnavailableError as error:
            fail(str(error))
        try:
            report = replay(records, lines, as_of)
        finally:
            records.close()
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    return 0


def replay(records: LearnerRecords, lines: Sequence[bytes], as_of: date) -> dict[str, Any]:
    """Replay ``lines`` as lived (services.application.replay) and report as SPEC.md §7 says."""
    with _progress(len(lines)) as advance:
        replayed = replay_as_lived(records, lines, as_of, advance)
    outcomes = replayed.outcomes
    ulns = sorted({o.uln for o in outcomes if o.uln is not None and o.outcome != "rejected"})
    learners = []
    for uln in ulns:
        views = records.status(uln, as_of) or []
        learners.append(
            {
                "uln": uln,
                "registrations": [registration_summary(v, records.catalogue) for v in views],
            }
        )
    return {
        "as_of": as_of.isoformat(),
        "events": len(lines),
        "recorded": sum(o.outcome == "recorded" for o in outcomes),
        "duplicates": sum(o.outcome == "duplicate" for o in outcomes),
        "learners": learners,
        "rejected": [
            {
                "line": number,
                "event_id": o.event_id,
                "source": o.source,
                "uln": o.uln,
                "reason": o.reason,
                "detail": o.detail,
                "decision": o.decisions[0].id if o.decisions else None,
            }
            for number, o in enumerate(outcomes, start=1)
            if o.outcome == "rejected"
        ],
        "decisions": [
            decision_summary(d) for d in replayed.decisions if d.kind is not DecisionKind.REJECTED
        ],
    }


def _read_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    # Blank lines carry no event; every other line is one message, bytes as published.
    return [line for line in data.splitlines() if line.strip()]


@contextmanager
def _store(keep: Path | None) -> Iterator[str]:
    if keep is not None:
        if keep.exists():
            fail(f"{keep} already exists; replay keeps a new store, give a new path")
        yield str(keep)
        return
    with tempfile.TemporaryDirectory(prefix="learner-records-replay-") as directory:
        yield str(Path(directory) / "records.sqlite")


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    # Progress goes to stderr, and only for a person watching a long replay.
    if total < 5 * BATCH_SIZE or not sys.stderr.isatty():
        yield lambda n: None
        return
    with Progress(transient=True) as progress:
        task = progress.add_task("replaying", total=total)
        yield lambda n: progress.advance(task, n)


def _print_report(report: dict[str, Any]) -> None:
    out = console()
    out.print(
        f"[bold]Replay as of {report['as_of']}[/]: {report['events']} events, "
        f"{report['recorded']} recorded, {report['duplicates']} duplicates, "
        f"{len(report['rejected'])} rejected"
    )
    table = Table(title="Registrations", title_justify="left")
    for column in ("learner", "qualification", "status", "registered", "completed", "claim by"):
        table.add_column(column)
    table.add_column("credits", justify="right")
    table.add_column("why")
    for learner in report["learners"]:
        for reg in learner["registrations"]:
            table.add_row(
                learner["uln"],
                reg["qualification"],
                reg["status"],
                reg["registered_on"],
                reg["completed_on"] or "—",
                reg["claim_by"],
                str(reg["credits"]),
                reg["reason"],
            )
    out.print(table)
    if report["decisions"]:
        table = Table(title="Decisions", title_justify="left")
        for column in ("id", "type", "uln", "qualification"):
            table.add_column(column)
        for d in report["decisions"]:
            table.add_row(d["id"], d["type"], d["uln"], d["qualification"] or "—")
        out.print(table)
    if report["rejected"]:
        table = Table(title="Rejected events", title_justify="left")
        for column in ("line", "event id", "reason", "detail"):
            table.add_column(column)
        for r in report["rejected"]:
            table.add_row(str(r["line"]), r["event_id"] or "—", r["reason"], r["detail"])
        out.print(table)
