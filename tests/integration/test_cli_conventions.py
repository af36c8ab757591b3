"""What every command shares: exit status 3 for a learner nobody knows, whichever command
and wherever it asks; help texts free of source markup; defaults relative to today."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.streams import Streams
from services.application.clock import FixedClock, SystemClock
from services.entrypoints.app import RecordsService
from services.entrypoints.cli import build_parser, main
from services.entrypoints.commands._output import EXIT_NOT_FOUND
from services.entrypoints.config import ServiceSettings
from services.entrypoints.wiring import open_records

KNOWN = make_uln(501)
UNKNOWN = make_uln(502)
TODAY = date(2025, 1, 15)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store holding one learner registered on a qualification."""
    path = tmp_path / "records.sqlite"
    records = open_records(str(path), clock=FixedClock(TODAY))
    try:
        events = EventFactory()
        [outcome] = records.receive_batch(
            [events.registered(KNOWN, "OCR-L3-DIP-CS", date(2024, 9, 2), date(1990, 1, 1))]
        )
        assert outcome.outcome == "recorded"
    finally:
        records.close()
    return path


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as done:
        return int(done.code or 0)


@pytest.mark.parametrize(
    "command", [["status"], ["audit"], ["export", "--format", "clr"], ["erase", "--reason", "r"]]
)
def test_an_unknown_learner_in_a_store_exits_3_for_every_command(
    store: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_status([command[0], UNKNOWN, *command[1:], "--store", str(store)]) == 3
    assert EXIT_NOT_FOUND == 3
    # ... and a known one does not (export: nothing achieved yet is its own refusal, 2).
    if command[0] != "erase":  # (which would erase them)
        known = exit_status([command[0], KNOWN, *command[1:], "--store", str(store)])
        assert known == (2 if command[0] == "export" else 0)


@pytest.fixture
async def service(nats_server: EmbeddedNatsServer, store: Path) -> AsyncIterator[RecordsService]:
    settings = ServiceSettings(
        nats_url=nats_server.url,
        store=str(store),
        streams=Streams(lease_ttl=3.0),
        replica="cli-test",
        projection_process=False,
        fetch_timeout=0.2,
    )
    async with RecordsService(settings, clock=FixedClock(TODAY)) as running:
        async with asyncio.timeout(20):
            # The read model has caught up with the store: KNOWN is in it.
            while not running.view.registrations(KNOWN):
                await asyncio.sleep(0.02)
        yield running


@pytest.mark.nats
async def test_status_over_nats_exits_3_for_an_unknown_learner(
    service: RecordsService, nats_server: EmbeddedNatsServer
) -> None:
    def ask(uln: str) -> int:
        return exit_status(["status", uln, "--nats-url", nats_server.url, "--json"])

    # The command runs its own event loop: call it from a thread.
    assert await asyncio.to_thread(ask, UNKNOWN) == 3
    assert await asyncio.to_thread(ask, KNOWN) == 0


def _parsers(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, str]]:
    yield name, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_no_help_text_shows_source_markup() -> None:
    helps = dict(_parsers(build_parser(), "learner-records"))
    assert {"learner-records serve", "learner-records loadgen", "learner-records demo"} <= set(
        helps
    )
    for name, text in helps.items():
        assert "`" not in text, f"{name} --help:\n{text}"
    # The docstring's first paragraph, whole, not cut at its first line.
    assert "with sample learners." in helps["learner-records demo"]


def test_loadgen_as_of_defaults_to_today_in_the_uk() -> None:
    args = build_parser().parse_args(["loadgen"])
    assert args.as_of == SystemClock().now().date()
