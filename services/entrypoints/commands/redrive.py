"""``learner-records redrive``: send parked messages (or undeliverable decisions) back.

A message at fault is parked with every later message of its learner, so none
overtakes it (services.application.parking). Once the cause is fixed (a new release, a
corrected catalogue), ``redrive ULN`` asks for that learner's parked messages to be
applied again, in order: the owner of the learner's partition does so within seconds,
in its own writer, and parks afresh any that fail again. ``redrive --decisions`` asks
the relay to publish again the decisions the broker once refused. ``--list`` shows
what is parked and set aside. The service must be running for either to happen.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.markup import escape
from rich.table import Table

from services.adapters.store import RecordsStore, StoreUnavailableError, open_store, store_location
from services.adapters.store.parked import ParkedTable
from services.application.relay import request_redrive_of_decisions, undeliverable_rows
from services.entrypoints.commands._args import description, uln
from services.entrypoints.commands._output import EXIT_NOT_FOUND, console, fail, print_json

EXIT_STILL_PARKED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "redrive",
        help="apply a learner's parked messages again, in order, once their cause is fixed",
        description=description(__doc__),
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("uln", nargs="?", type=uln, metavar="ULN", help="the learner to redrive")
    what.add_argument("--list", action="store_true", help="what is parked and set aside")
    what.add_argument(
        "--decisions", action="store_true", help="publish the undeliverable decisions again"
    )
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        help="the event store ($LEARNER_RECORDS_STORE, else var/records.sqlite)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to wait for the service to redrive the learner (0: do not wait)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        store = open_store(store_location(args.store), create=False)
    except StoreUnavailableError as error:
        fail(str(error))
    try:
        if args.list:
            return _list(store, args.json)
        if args.decisions:
            count = request_redrive_of_decisions(store)
            _say(
                args.json, {"decisions": count}, f"{count} undeliverable decisions to publish again"
            )
            return 0
        return _learner(store, args.uln, args.wait, args.json)
    finally:
        store.close()


def _learner(store: RecordsStore, learner: str, wait: float, as_json: bool) -> int:
    parked = ParkedTable(store.recorder, store.codec.sealer)
    before = parked.of_learner(learner)
    if not before:
        fail(f"nothing is parked for learner {learner}", EXIT_NOT_FOUND)
    parked.request_redrive(learner)
    deadline = time.monotonic() + wait
    remaining = before
    while wait > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        remaining = parked.of_learner(learner)
        if not remaining or all(_parked_afresh(m, before) for m in remaining):
            break
    reasons = sorted({m.reason for m in remaining})
    summary: dict[str, Any] = {
        "uln": learner,
        "requested": len(before),
        "still_parked": len(remaining),
        "reasons": reasons,
    }
    if remaining and wait > 0:
        text = (
            f"learner {learner}: {len(remaining)} of {len(before)} messages still parked: "
            + "; ".join(escape(r) for r in reasons)
        )
        _say(as_json, summary, text)
        return EXIT_STILL_PARKED
    _say(as_json, summary, f"learner {learner}: {len(before)} parked messages redriven")
    return 0


def _parked_afresh(message: Any, before: list[Any]) -> bool:
    """Parked again by the redrive (a newer parked_at), rather than still waiting for it."""
    first = {m.seq: m.parked_at for m in before}
    return message.seq in first and message.parked_at > first[message.seq]


def _list(store: RecordsStore, as_json: bool) -> int:
    parked = ParkedTable(store.recorder, store.codec.sealer).summary()
    undeliverable = undeliverable_rows(store)
    if as_json:
        print_json(
            {
                "parked": [
                    {"uln": u, "stream": s, "messages": n, "since": t, "redrive": r}
                    for u, s, n, t, r in parked
                ],
                "undeliverable": [
                    {"position": p, "decision": d, "subject": s, "reason": r, "failed_at": f}
                    for p, d, s, r, f in undeliverable
                ],
            }
        )
        return 0
    out = console()
    table = Table(title="Parked learners", title_justify="left")
    for column in ("learner", "stream", "messages", "since", "redrive asked"):
        table.add_column(column)
    for u, s, n, t, r in parked:
        table.add_row(u, s, str(n), t[:19], "yes" if r else "")
    out.print(table)
    table = Table(title="Undeliverable decisions", title_justify="left")
    for column in ("position", "decision", "subject", "reason"):
        table.add_column(column)
    for p, d, s, r, _ in undeliverable:
        table.add_row(str(p), d, s, escape(r))
    out.print(table)
    return 0


def _say(as_json: bool, summary: dict[str, Any], text: str) -> None:
    if as_json:
        print_json(summary)
    else:
        console().print(text)
