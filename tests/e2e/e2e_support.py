"""Helpers for the end-to-end tests: the service as a process, histories, stream reads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from contracts.uln import make_uln
from devtools.publishing import inbound_route
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.nats.jetstream import MSG_ID_HEADER, publish_once
from services.application.clock import FixedClock
from services.entrypoints.wiring import open_records

# The service runs on a fixed day so that the tests' own replay of the same events
# takes exactly the same decisions, with the same ids.
TODAY = date(2025, 1, 15)
# Qualifications whose claim-by dates are after TODAY: no time-driven decisions.
OPEN_QUALIFICATIONS = ("500/9203/0", "OCR-L3-DIP-CS", "PEARSON-L4-NVQ-DIP-CS")
_START_TIMEOUT = 30.0


class ServiceProcess:
    """One `learner-records serve` child; its JSON log goes to a file the tests can read."""

    def __init__(
        self,
        workdir: Path,
        nats_url: str | None,
        extra: Sequence[str] = (),
        *,
        today: date = TODAY,
        store: str | Path | None = None,
        log_name: str = "service.log",
    ) -> None:
        self.workdir = workdir
        self.today = today
        # A SQLite file (default: in workdir) or a postgresql:// URL.
        self.store: str | Path = store if store is not None else workdir / "store.sqlite"
        self.log = workdir / log_name
        self.nats_url = nats_url
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "services.entrypoints.cli",
            "serve",
            "--store",
            str(self.store),
        ]
        if self.nats_url is not None:
            command += ["--nats-url", self.nats_url]
        return [
            *command,
            "--today",
            self.today.isoformat(),
            "--log-format",
            "json",
            *self.extra,
        ]

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1
        self.wait_for_log("service.started", offset)

    def wait_for_log(self, event: str, offset: int = 0, timeout: float = _START_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.entries(offset):
                if entry.get("event") == event:
                    return entry
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"service exited ({self.process.returncode}):\n{self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"no {event} in the service log:\n{self.tail()}")

    def entries(self, offset: int = 0) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        with self.log.open("rb") as handle:
            handle.seek(offset)
            lines = handle.read().splitlines()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a partial last line, or something not ours
        return out

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no batch finished, no outbox flushed, nothing tidied."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the clean shutdown."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def completing_history(
    catalogue: Catalogue, uln: str, qualification: str, prefix: str
) -> list[bytes]:
    """Registration, then units that complete it, a week apart: one eligible decision."""
    events = EventFactory(source="urn:eportfolio:e2e", prefix=prefix)
    q = catalogue.qualification(qualification)
    registered_on = max(q.dates.operational_start, date(2016, 1, 4))
    out = [events.registered(uln, q.id, registered_on, date(1990, 1, 1))]
    for k, urn in enumerate(completing_units(q)):
        out.append(events.achieved(uln, urn, registered_on + timedelta(weeks=k + 1)))
    return out


def many_histories(
    catalogue: Catalogue, learners: int, first: int, together: int = 4
) -> list[bytes]:
    """Histories of ``learners`` learners; ``together`` at a time are interleaved, as several
    publishers would send them, so decisions fall all along the stream."""
    histories = [
        completing_history(
            catalogue, make_uln(first + i), OPEN_QUALIFICATIONS[i % 3], f"m{first + i}"
        )
        for i in range(learners)
    ]
    out: list[bytes] = []
    for start in range(0, learners, together):
        group = histories[start : start + together]
        for step in range(max(len(h) for h in group)):
            out.extend(h[step] for h in group if step < len(h))
    return out


def expected_decisions(catalogue: Catalogue, events: Sequence[bytes], tmp: Path) -> dict[str, str]:
    """The decisions the service must publish for ``events``: id -> type, from a replay."""
    records = open_records(str(tmp / "expected.sqlite"), catalogue, FixedClock(TODAY))
    try:
        outcomes = records.receive_batch(list(events))
    finally:
        records.close()
    return {d.id: d.kind.event_type for o in outcomes for d in o.decisions}


async def publish_events(js: JetStreamContext, events: Sequence[bytes]) -> None:
    for raw in events:
        subject, msg_id = inbound_route(raw)
        await publish_once(js, subject, raw, msg_id)


async def published(
    js: JetStreamContext, stream: str = "RECORDS_OUT"
) -> list[tuple[str, dict[str, Any]]]:
    """Every message in ``stream``: (Nats-Msg-Id, the CloudEvent)."""
    try:
        info = await js.stream_info(stream)
    except Exception:
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    if not info.state.messages:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        assert msg.headers is not None and msg.data is not None
        out.append((msg.headers[MSG_ID_HEADER], json.loads(msg.data)))
    return out


async def until(check: Callable[[], Any], timeout: float = 30.0) -> None:
    """Poll an async ``check`` until true: for state in another process."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def all_consumed(js: JetStreamContext, partitions: int = 8) -> bool:
    """Every inbound message stored and acknowledged: the work-queue streams are empty."""
    try:
        for partition in range(partitions):
            if (await js.stream_info(f"RECORDS_IN_{partition}")).state.messages:
                return False
    except Exception:
        return False
    return True
