"""What the end-to-end benchmarks share: the size of the run, the load, a NATS server,
the service as a process, and the results each benchmark adds to the summary line.

``BENCH=quick`` (``make bench BENCH=quick``) runs everything small and fast; the default
is the full run the README's figures come from. Work files live under ./.bench/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from devtools.loadgen import DEFAULT_AS_OF, LoadProfile, Publication, publications

WORK = Path(".bench")
RESULTS: dict[str, float] = {}


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    e2e_learners: int  # the end-to-end run
    baseline_messages: int
    latency_seconds: float
    latency_rate: float
    rebuild_events: int  # stored events in the store the read models are rebuilt from
    rss_learners: int  # learners in the store the service's peak RSS is read on


# The full run's end to end uses 10,000 learners (~100k events) to keep it under half an
# hour; memory is measured at 100,000 learners on the rebuild's store (bench/rss.py),
# which at 1,100,000 events holds a little over 100,000 learners.
FULL = Size("full", 10_000, 100_000, 60.0, 500.0, 1_100_000, 100_000)
QUICK = Size("quick", 2_000, 20_000, 10.0, 500.0, 50_000, 5_000)


def size() -> Size:
    return QUICK if os.environ.get("BENCH", "").lower() == "quick" else FULL


def today() -> str:
    return DEFAULT_AS_OF.isoformat()


def progress() -> Progress:
    return Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


def load(learners: int, seed: int = 1, first: int = 1) -> list[Publication]:
    """The loadgen histories of ``learners`` learners, generated once and kept in .bench."""
    path = WORK / f"load-{seed}-{first}-{learners}.txt"
    if not path.exists():
        from services.adapters.catalogue_files import load_catalogue

        WORK.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        profile = LoadProfile(learners=learners, seed=seed, first_learner=first)
        with partial.open("wb") as out, progress() as bar:
            task = bar.add_task("generating load", total=None)
            for subject, payload in publications(load_catalogue(), profile):
                out.write(subject.encode() + b" " + payload + b"\n")
                bar.advance(task)
        partial.rename(path)
    pairs = []
    with path.open("rb") as lines:
        for line in lines:
            head, _, payload = line.rstrip(b"\n").partition(b" ")
            pairs.append((head.decode(), payload))
    return pairs


@contextlib.contextmanager
def nats_server(name: str) -> Iterator[str]:
    """A fresh embedded nats-server (the generated config: file storage, fsync always)."""
    from services.adapters.nats.embedded import EmbeddedNatsServer

    directory = (WORK / name / "nats").resolve()  # the config reads it from a variable
    shutil.rmtree(directory, ignore_errors=True)
    # Open (no accounts): the benchmarks measure JetStream and the service, not auth.
    server = EmbeddedNatsServer(directory, port=0, auth=False)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


class Service:
    """``learner-records serve`` on an existing NATS server, as its own process."""

    def __init__(self, name: str, url: str, store: Path | None = None) -> None:
        self.directory = WORK / name
        self.store = self.directory / "records.sqlite"
        for stale in self.directory.glob("records*.sqlite*"):
            stale.unlink()
        self.directory.mkdir(parents=True, exist_ok=True)
        if store is not None:  # start on a copy of an existing store
            shutil.copyfile(store, self.store)
        self.log = (self.directory / "service.log").open("wb")
        command = [
            str(Path(sys.executable).with_name("learner-records")),
            "serve",
            "--nats-url",
            url,
            "--store",
            str(self.store),
            "--today",
            today(),
            "--log-format",
            "json",
        ]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)

    def peak_rss_mb(self) -> float:
        """The process's high-water mark of resident memory (Linux: VmHWM)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    def decisions_stored(self) -> int:
        """Decisions and refusals committed so far: what the relay must publish."""
        with contextlib.closing(sqlite3.connect(f"file:{self.store}?mode=ro", uri=True)) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM stored_events WHERE topic LIKE '%DecisionTaken' "
                "OR topic LIKE '%Refused'"
            ).fetchone()
        return int(count)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def wait_ready(url: str, timeout: float = 30.0) -> None:
    """Until the service has declared its streams and its ingest consumer."""
    import nats
    import nats.js.errors

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while True:
            try:
                await js.consumer_info("RECORDS_IN", "ingest")
                await js.stream_info("RECORDS_OUT")
                return
            except nats.js.errors.NotFoundError:
                if time.monotonic() > deadline:
                    raise
                await _sleep(0.1)
    finally:
        await nc.close()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def connected(url: str, in_flight: int = 2000) -> AsyncIterator[tuple[object, object]]:
    import nats

    nc = await nats.connect(url, name="bench")
    try:
        yield nc, nc.jetstream(publish_async_max_pending=in_flight)
    finally:
        await nc.close()


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]
