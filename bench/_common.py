"""What the benchmarks share: the size of the run, the load, NATS servers and PostgreSQL,
the service as processes, and the figures each benchmark reports for the summary.

``BENCH=quick`` (``make bench BENCH=quick``) runs everything small and fast; the default
is the full run the README's figures come from. Work files live under ./.bench/.

Every figure is measured beside its baseline in the same run (the machine is shared and
noisy, so a baseline from another run says nothing), and reported with ``report``: the
summary table prints each beside its baseline and target, and the last line is
machine-readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from devtools.loadgen import DEFAULT_AS_OF, LoadProfile, Publication, publications

WORK = Path(".bench")
RESULTS: dict[str, float] = {}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    inprocess_learners: int  # receive_batch against the lean replica
    inprocess_rounds: int  # alternating trials of each, in fresh processes
    scaling_learners: int  # each end-to-end run of the scaling table
    latency_seconds: float
    latency_rate: float
    replay_learners: int  # the replay file (~10 events a learner)
    replay_rounds: int
    rebuild_events: int  # stored events in the store the read models are rebuilt from
    rss_learners: int  # learners in the store the service's peak RSS is read on


# The full run's scaling table uses 6,000 learners (~59,000 events) per end-to-end run:
# six runs, each between two baselines, keep the whole bench under half an hour.
FULL = Size("full", 10_000, 3, 6_000, 60.0, 500.0, 4_000, 2, 1_100_000, 100_000)
QUICK = Size("quick", 2_000, 1, 1_000, 10.0, 500.0, 1_000, 1, 50_000, 5_000)


def size() -> Size:
    return QUICK if os.environ.get("BENCH", "").lower() == "quick" else FULL


def today() -> str:
    return DEFAULT_AS_OF.isoformat()


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


def say(text: str) -> None:
    """A line of progress between the tables (long steps say what they are doing)."""
    print(f"  … {text}", flush=True)


# Figures and their targets.


@dataclass(slots=True)
class Figure:
    key: str  # the summary line's name
    label: str
    value: float
    unit: str = ""
    baseline: str = ""  # what it stands beside, measured in the same run
    target: float | None = None
    higher_is_better: bool = True

    @property
    def met(self) -> bool | None:
        if self.target is None or math.isnan(self.value):
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


FIGURES: list[Figure] = []


def report(
    key: str,
    label: str,
    value: float,
    *,
    unit: str = "",
    baseline: str = "",
    target: float | None = None,
    higher_is_better: bool = True,
) -> Figure:
    figure = Figure(key, label, value, unit, baseline, target, higher_is_better)
    FIGURES[:] = [f for f in FIGURES if f.key != key] + [figure]
    RESULTS[key] = value
    return figure


def shown(value: float, unit: str = "") -> str:
    if math.isnan(value):
        return "—"
    text = f"{value:.2f}" if unit in ("×", "ratio") or abs(value) < 10 else f"{value:,.0f}"
    return f"{text} {unit}".strip() if unit not in ("ratio",) else text


# The load.


def load(learners: int, seed: int = 1, first: int = 1) -> list[Publication]:
    """The loadgen histories of ``learners`` learners, generated once and kept in .bench."""
    path = WORK / f"load-{seed}-{first}-{learners}.txt"
    if not path.exists():
        from services.adapters.catalogue_files import load_catalogue

        WORK.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        profile = LoadProfile(learners=learners, seed=seed, first_learner=first)
        with partial.open("wb") as out, progress() as bar:
            task = bar.add_task(f"generating load ({learners:,} learners)", total=None)
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


# NATS.


@contextlib.contextmanager
def nats_server(name: str, partitions: int) -> Iterator[Any]:
    """A fresh embedded nats-server as the service starts it: the generated config (file
    storage, ``sync_interval: always``), access control on, the mapping of
    ``records.in.<ULN>`` onto ``partitions`` partition streams."""
    from services.adapters.nats.embedded import EmbeddedNatsServer

    directory = (WORK / name / "nats").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    server = EmbeddedNatsServer(directory, port=0, partitions=partitions)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def client(server: Any, role: str, in_flight: int = 2000) -> AsyncIterator[tuple[Any, Any]]:
    """(connection, JetStream context) as ``role`` (publisher, service, subscriber)."""
    from services.adapters.nats.connection import connect_once
    from services.adapters.nats.credentials import Role

    nc = await connect_once(server.options(Role(role), name=f"bench-{role}"), timeout=10.0)
    try:
        yield nc, nc.jetstream(publish_async_max_pending=in_flight)
    finally:
        await nc.close()


async def backlog(js: Any, partitions: int) -> int:
    """Messages waiting in the partition streams (work queues: not yet acknowledged)."""
    total = 0
    for k in range(partitions):
        total += (await js.stream_info(f"RECORDS_IN_{k}")).state.messages
    return total


async def out_messages(js: Any) -> int:
    try:
        return int((await js.stream_info("RECORDS_OUT")).state.messages)
    except Exception:
        return 0


# PostgreSQL, started once for the whole run when a benchmark first asks for it.

_POSTGRES: list[Any] = []


def postgres_database() -> str:
    """A new database on the run's PostgreSQL (durable: fsync and synchronous commit on)."""
    if not _POSTGRES:
        from devtools.postgres import ThrowawayPostgres

        say("starting PostgreSQL (durable: fsync, synchronous_commit, full_page_writes on)")
        _POSTGRES.append(ThrowawayPostgres(durable=True).start())
    url: str = _POSTGRES[0].create_database()
    return url


def stop_postgres() -> None:
    while _POSTGRES:
        _POSTGRES.pop().stop()


def decisions_stored(store: str) -> int:
    """Decisions and rejections committed in ``store``: what the relay must publish."""
    from services.adapters.store import open_store
    from services.application.relay import DECISION_TOPICS

    opened = open_store(store, create=False)
    try:
        return opened.pending(0, DECISION_TOPICS)
    finally:
        opened.close()


# Processes: CPU time and memory, from /proc.


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its threads included), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (Linux: VmHWM)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class Cpu:
    """CPU seconds of a replica's parts at one moment."""

    main: float = 0.0
    projection: float = 0.0

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.main - other.main, self.projection - other.projection)


class Service:
    """``learner-records serve`` on an existing NATS server, as its own process, with
    ``/metrics`` on a port of its own."""

    def __init__(
        self,
        name: str,
        server: Any,
        store: str,
        *,
        partitions: int,
        replica: str = "a",
        extra: Sequence[str] = (),
    ) -> None:
        from services.adapters.nats.credentials import Role

        self.name = name
        self.replica = replica
        self.store = store
        self.directory = WORK / name
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        seed = server.options(Role.SERVICE).nkey_file
        self.log_path = self.directory / f"service-{replica}.log"
        self.log = self.log_path.open("wb")
        command = [
            str(Path(sys.executable).with_name("learner-records")),
            "serve",
            "--nats-url",
            server.url,
            "--nats-nkey",
            str(seed),
            "--store",
            store,
            "--partitions",
            str(partitions),
            "--replica",
            replica,
            "--projection",
            "process",
            "--stream-replicas",
            "1",
            "--http",
            f"127.0.0.1:{self.port}",
            "--today",
            today(),
            "--log-format",
            "json",
            *extra,
        ]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def projection_pid(self) -> int | None:
        """The projection's process (multiprocessing spawn: ``spawn_main`` on its line)."""
        for child in _children(self.pid):
            if "spawn_main" in _cmdline(child):
                return child
        return None

    def cpu(self) -> Cpu:
        projection = self.projection_pid()
        return Cpu(cpu_seconds(self.pid), cpu_seconds(projection) if projection else 0.0)

    def peak_rss_mb(self) -> tuple[float, float]:
        """(serve, its projection process)."""
        projection = self.projection_pid()
        return peak_rss_mb(self.pid), peak_rss_mb(projection) if projection else float("nan")

    def metrics(self) -> dict[str, float]:
        """``/metrics`` as {'name{labels}': value}; empty while it does not answer."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name}/{self.replica} exited:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return {}
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    values[name] = float(value)
        return values

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass(slots=True)
class Roles:
    """Who holds what, as the replicas' /metrics say."""

    partitions: dict[str, int] = field(default_factory=dict)
    relay: list[str] = field(default_factory=list)
    projection: list[str] = field(default_factory=list)


def roles_of(services: Sequence[Service]) -> Roles | None:
    """None until every replica answers and sees all the others."""
    roles = Roles()
    for service in services:
        m = service.metrics()
        if m.get("learner_records_up") != 1.0:
            return None
        if m.get("learner_records_replicas") != float(len(services)):
            return None
        roles.partitions[service.replica] = int(m.get("learner_records_partitions_owned", 0))
        if m.get('learner_records_role_held{role="relay"}') == 1.0:
            roles.relay.append(service.replica)
        if m.get('learner_records_role_held{role="projection"}') == 1.0:
            roles.projection.append(service.replica)
    return roles


async def settled_roles(
    services: Sequence[Service], partitions: int, timeout: float = 90.0
) -> Roles:
    """Wait until the replicas have shared out every role, and nothing moved for 4 s
    (longer than a lease tick: a rebalance in progress would show)."""
    deadline = time.monotonic() + timeout
    last: Roles | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        roles = roles_of(services)
        complete = (
            roles is not None
            and sum(roles.partitions.values()) == partitions
            and len(roles.relay) == 1
            and len(roles.projection) == 1
        )
        if not complete or roles != last:
            last, since = roles, time.monotonic()
        elif time.monotonic() - since >= 4.0:
            assert roles is not None
            return roles
        await asyncio.sleep(0.25)
    raise TimeoutError(f"the replicas did not share their roles in {timeout:.0f}s: {last}")


async def drained(
    js: Any,
    partitions: int,
    events: int,
    store: str,
    services: Sequence[Service],
    label: str,
    timeout: float = 1200.0,
) -> tuple[float, int]:
    """Wait until every partition stream is empty (everything stored and acknowledged),
    then until RECORDS_OUT holds every decision the store holds (the relay caught up).
    Returns (the moment, decisions)."""
    deadline = time.monotonic() + timeout
    with progress() as bar:
        task = bar.add_task(f"{label}: stored", total=events)
        while (waiting := await backlog(js, partitions)) > 0:
            bar.update(task, completed=events - waiting)
            _check_alive(services)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: {waiting} events still waiting")
            await asyncio.sleep(0.05)
        expected = decisions_stored(store)
        bar.update(task, description=f"{label}: decisions out", total=expected, completed=0)
        while (out := await out_messages(js)) < expected:
            bar.update(task, completed=out)
            _check_alive(services)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: {expected - out} decisions not yet published")
            await asyncio.sleep(0.05)
    return time.monotonic(), expected


def _check_alive(services: Sequence[Service]) -> None:
    for service in services:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name}/{service.replica} exited:\n{service.tail()}")


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started
