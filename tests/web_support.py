"""Histories and a store for the auditors' pages' tests (unit, integration and browser).

The sample histories, plus two learners the pages must handle: one whose last
achievement arrives months after it was achieved (valid time against transaction time),
and one whose publisher sent markup as an event id (escaping).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units, sample_histories
from domain.catalogue import Catalogue
from services.entrypoints.cli import main
from services.entrypoints.web import TOKEN_ENV

AS_OF = date(2026, 11, 23)
QUALIFICATION = "OCR-L3-DIP-CS"
# The learner who completes OCR's level 3 diploma, the first in the sample histories.
COMPLETER = make_uln(7)
# Registered 8 January 2024; the last unit achieved 20 February 2024 but sent (and so
# received) on 3 June 2024 at 17:30 BST.
LATE_LEARNER = make_uln(20)
LATE_UNIT_ACHIEVED = date(2024, 2, 20)
LATE_ARRIVAL = datetime(2024, 6, 3, 16, 30, tzinfo=UTC)
LATE_EVENT_ID = "late-achievement"
# Markup where a publisher may put any text: an id, a source's path, a centre.
HOSTILE_LEARNER = make_uln(21)
HOSTILE_ID = '<img src=x onerror="document.body.dataset.pwned=1">'


def extra_histories(catalogue: Catalogue) -> list[bytes]:
    events = EventFactory(source="urn:eportfolio:web-tests", prefix="web")
    units = completing_units(catalogue.qualification(QUALIFICATION))
    out = [events.registered(LATE_LEARNER, QUALIFICATION, date(2024, 1, 8))]
    for k, urn in enumerate(units[:-1]):
        out.append(events.achieved(LATE_LEARNER, urn, date(2024, 1, 15) + timedelta(weeks=k)))
    out.append(
        events.achieved(
            LATE_LEARNER, units[-1], LATE_UNIT_ACHIEVED, at=LATE_ARRIVAL, id=LATE_EVENT_ID
        )
    )
    out.append(
        events.registered(HOSTILE_LEARNER, QUALIFICATION, date(2024, 2, 5), centre="<b>C</b>")
    )
    out.append(events.achieved(HOSTILE_LEARNER, "Z/999/9999", date(2024, 2, 6), id=HOSTILE_ID))
    return out


def web_history(catalogue: Catalogue) -> list[bytes]:
    """Every line in order of its ``time``, so each is received when it was sent (a replay's
    clock only moves forward). A line without a readable time goes last: a replay takes it
    as received when the one before it was, and first it would move the clock to the end."""
    lines = sample_histories(catalogue) + extra_histories(catalogue)
    return sorted(lines, key=_sent)


def build_store(directory: Path, catalogue: Catalogue) -> Path:
    """A SQLite store of ``web_history``, built as an auditor would: ``replay --store``."""
    history = directory / "history.jsonl"
    history.write_bytes(b"\n".join(web_history(catalogue)) + b"\n")
    store = directory / "store.sqlite"
    status = main(
        ["replay", str(history), "--as-of", AS_OF.isoformat(), "--json", "--store", str(store)]
    )
    assert status == 0 and store.exists()
    return store


def _sent(line: bytes) -> str:
    try:
        time = json.loads(line).get("time")
    except ValueError:
        return _LAST
    return datetime.fromisoformat(time).astimezone(UTC).isoformat() if time else _LAST


_LAST = "~"  # after every ISO timestamp


class WebProcess:
    """``learner-records web`` as a child process on a free loopback port."""

    def __init__(self, store: Path, *extra: str, token: str | None = None) -> None:
        self.command = [
            sys.executable, "-m", "services.entrypoints.cli", "web",
            "--store", str(store), "--http", "127.0.0.1:0", "--today", AS_OF.isoformat(),
            *extra,
        ]  # fmt: skip
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.env.pop(TOKEN_ENV, None)
        if token is not None:
            self.env[TOKEN_ENV] = token
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> str:
        """Start it and return its address, read from the line it prints once listening."""
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
        )
        assert self.process.stdout is not None
        ready = _first_line(self.process.stdout, timeout)
        found = re.search(r"http://[^/ ]+/", ready)
        if found is None:
            self.stop()
            raise AssertionError(f"web did not start: {ready!r}\n{self.errors()}")
        self.url = found[0]
        return self.url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def errors(self) -> str:
        if self.process is None or self.process.stderr is None or self.process.poll() is None:
            return ""
        return self.process.stderr.read()

    def __enter__(self) -> WebProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _first_line(stream: IO[str], timeout: float) -> str:
    """The first line of ``stream``, or "" after ``timeout`` seconds (a thread reads it:
    a pipe has no read timeout)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""
