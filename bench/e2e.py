"""The service end to end, and how it scales: 1 and 2 replicas, 1 and 8 partitions.

Each run starts a fresh nats-server (the service's config: file storage, ``sync_interval:
always``, access control, the mapping onto P partitions) and one or two
``learner-records serve`` replicas on a fresh store, waits until the replicas have shared
out every role (partitions, relay, projection) and nothing has moved for a lease tick,
then publishes the loadgen histories as a publisher does, to ``records.in.<ULN>``, as
fast as the server acknowledges. The clock runs from the first publish until every
partition stream is empty (work queues: every event stored and acknowledged) and
``RECORDS_OUT`` holds every decision and rejection the store holds (the relay caught
up). Right before and right after each run the raw JetStream baseline (bench/baseline.py)
is measured on a fresh server with the same P: each end-to-end figure stands beside the
mean of its own two baselines (the machine is shared: its load drifts within minutes).
CPU per event is read for every process of the run, so the table also says how many of
the machine's cores the run kept busy, against the baseline's.

The runs (issue 9, item 7):

- A, B: one replica, SQLite (the embedded default's store), P = 1 and 8;
- A-pg, B-pg: one replica, PostgreSQL, so that C and D compare with like;
- C, D: two replicas on one PostgreSQL, P = 1 and 8.

PostgreSQL runs durable (fsync, synchronous_commit, full_page_writes on), on this
machine. The service's CPU is read from /proc: the replica's main process and its
projection process, per event. After run B the relay's cost is measured alone
(``OutboxRelay.catch_up`` over B's store, to a fresh server) and so is ``RECORDS_OUT``'s
publish rate (``O``): the inputs of deploy/SCALING.md's "On paper".
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import baseline as raw
from bench._common import (
    WORK,
    Cpu,
    Service,
    client,
    cpu_seconds,
    drained,
    load,
    nats_server,
    postgres_database,
    progress,
    report,
    say,
    settled_roles,
    size,
)
from devtools.commands.loadgen import publish_all

__all__ = ["RUNS", "Outcome", "Run", "main"]


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    partitions: int
    replicas: int
    store: str  # "sqlite" | "postgres"


# StatefulSet-style names: rendezvous hashing gives these two 4 partitions each of 8, and
# puts the relay and the projection on different replicas. (Names decide the split:
# compose's replica-1/replica-2 get 3 and 5, "a"/"b" 1 and 7; see the README.)
REPLICAS = ("learner-records-0", "learner-records-1")

RUNS = (
    Run("A", 1, 1, "sqlite"),
    Run("A-pg", 1, 1, "postgres"),
    Run("C", 1, 2, "postgres"),
    Run("B", 8, 1, "sqlite"),
    Run("B-pg", 8, 1, "postgres"),
    Run("D", 8, 2, "postgres"),
)


@dataclass(slots=True)
class Outcome:
    run: Run
    baseline: raw.Baseline
    events: int
    decisions: int
    seconds: float
    publish_s: float
    cpu: dict[str, Cpu] = field(default_factory=dict)  # per replica, over the run
    projection_cpu: float = 0.0  # the projection's CPU until it caught up
    nats_cpu: float = 0.0
    publisher_cpu: float = 0.0  # this process: the publisher, and polling for the end
    roles: Any = None
    store_path: str = ""
    after: raw.Baseline | None = None  # the baseline again, right after the run

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def baseline_rate(self) -> float:
        """The mean of the baselines taken right before and right after the run."""
        rates = [b.rate for b in (self.baseline, self.after) if b is not None]
        return sum(rates) / len(rates)

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate

    def cpu_us(self) -> dict[str, float]:
        """CPU per event, µs: each part of the run."""
        per = 1e6 / self.events
        parts = {f"replica {n}": c.main * per for n, c in enumerate(self.cpu.values())}
        return parts | {
            "projection": self.projection_cpu * per,
            "nats-server": self.nats_cpu * per,
            "publisher": self.publisher_cpu * per,
        }


def _store(run: Run) -> str:
    if run.store == "postgres":
        return postgres_database()
    directory = WORK / f"e2e-{run.name}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return str(directory / "records.sqlite")


async def _quiet(services: Sequence[Service], seconds: float = 1.0, timeout: float = 300.0) -> Cpu:
    """Wait until the projection processes have caught up (their CPU stops growing),
    and return every replica's CPU then."""
    deadline = time.monotonic() + timeout
    before = [s.cpu() for s in services]
    while time.monotonic() < deadline:
        await asyncio.sleep(seconds)
        after = [s.cpu() for s in services]
        grown = [a.projection - b.projection for a, b in zip(after, before, strict=True)]
        if all(g < 0.02 * seconds for g in grown):
            break
        before = after
    return Cpu(sum(c.main for c in after), sum(c.projection for c in after))


async def _run(run: Run, server: Any, messages: Sequence[tuple[str, bytes]]) -> Outcome:
    store = _store(run)
    names = list(REPLICAS[: run.replicas])
    services: list[Service] = []
    try:
        for name in names:
            services.append(
                Service(f"e2e-{run.name}", server, store, partitions=run.partitions, replica=name)
            )
        roles = await settled_roles(services, run.partitions)
        cpu_before = {s.replica: s.cpu() for s in services}
        nats_before = cpu_seconds(server.pid)
        publisher_before = time.process_time()
        async with client(server, "publisher") as (_, js):
            with progress() as bar:
                task = bar.add_task(f"run {run.name}: publishing", total=len(messages))
                started = time.monotonic()
                await publish_all(js, messages, on_published=lambda *_: bar.advance(task))
                published = time.monotonic()
        async with client(server, "service") as (_, service_js):
            done, decisions = await drained(
                service_js, run.partitions, len(messages), store, services, f"run {run.name}"
            )
        nats_cpu = cpu_seconds(server.pid) - nats_before
        publisher_cpu = time.process_time() - publisher_before
        cpu = {s.replica: s.cpu() - cpu_before[s.replica] for s in services}
        settled = await _quiet(services)
        projection = settled.projection - sum(c.projection for c in cpu_before.values())
    finally:
        for service in services:
            service.stop()
    return Outcome(
        run,
        raw.Baseline(run.partitions, 0, 1, 1, 0),
        len(messages),
        decisions,
        done - started,
        published - started,
        cpu,
        projection,
        nats_cpu,
        publisher_cpu,
        roles,
        store,
    )


def measure(run: Run, messages: Sequence[tuple[str, bytes]]) -> Outcome:
    say(f"run {run.name}: baseline on a fresh server with {run.partitions} partition(s)")
    base = raw.measure(f"e2e-{run.name}-baseline", messages, run.partitions)
    say(
        f"run {run.name}: {run.replicas} replica(s), {run.partitions} partition(s), "
        f"{'PostgreSQL' if run.store == 'postgres' else 'SQLite'}"
    )
    with nats_server(f"e2e-{run.name}-nats", run.partitions) as server:
        outcome = asyncio.run(_run(run, server, messages))
    say(f"run {run.name}: the baseline again, right after")
    outcome.baseline = base
    outcome.after = raw.measure(f"e2e-{run.name}-baseline", messages, run.partitions)
    return outcome


async def _relay_alone(store_path: str) -> tuple[int, float, float]:
    """The relay over a finished store, publishing every decision to a fresh server:
    (decisions, wall seconds, CPU seconds of this process)."""
    from services.adapters.nats.publisher import JetStreamPublisher
    from services.adapters.nats.streams import Streams, declare
    from services.adapters.store import open_store
    from services.application.relay import OutboxRelay

    copy = WORK / "relay-alone" / "records.sqlite"
    shutil.rmtree(copy.parent, ignore_errors=True)
    copy.parent.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        source = Path(store_path + suffix)
        if source.exists():
            shutil.copyfile(source, str(copy) + suffix)
    store = open_store(str(copy), create=False)
    try:
        with nats_server("relay-alone-nats", 8) as server:
            async with client(server, "service") as (_, js):
                streams = Streams(partitions=8)
                await declare(js, streams)
                relay = OutboxRelay(
                    store,
                    JetStreamPublisher(js, stream=streams.outbound_stream),
                    name="bench-relay",
                )
                cpu = time.process_time()
                started = time.monotonic()
                await relay.catch_up()
                seconds = time.monotonic() - started
                cpu = time.process_time() - cpu
                return relay.stats.published, seconds, cpu
    finally:
        store.close()


def _mean_decision_bytes(store_path: str) -> int:
    import sqlite3

    from services.application.relay import DECISION_TOPICS

    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        marks = ",".join("?" * len(DECISION_TOPICS))
        (mean,) = db.execute(
            f"SELECT avg(length(state)) FROM stored_events WHERE topic IN ({marks})",
            DECISION_TOPICS,
        ).fetchone()
    return int(mean or 1000)


def _print(outcomes: Sequence[Outcome]) -> None:
    print(
        f"{'run':<6}{'P':>3}{'replicas':>10}  {'store':<11}{'end to end':>12}"
        f"{'raw JetStream':>15}{'ratio':>7}   CPU µs per event: replica(s) · projection · "
        "nats-server · publisher = total, and the cores that keeps busy"
    )
    for o in outcomes:
        cpu = o.cpu_us()
        replicas = " + ".join(f"{v:,.0f}" for k, v in cpu.items() if k.startswith("replica"))
        total = sum(cpu.values())
        store = "PostgreSQL" if o.run.store == "postgres" else "SQLite"
        print(
            f"{o.run.name:<6}{o.run.partitions:>3}{o.run.replicas:>10}  {store:<11}"
            f"{o.rate:>12,.0f}{o.baseline_rate:>15,.0f}{o.ratio:>7.2f}   "
            f"{replicas} · {cpu['projection']:,.0f} · {cpu['nats-server']:,.0f} · "
            f"{cpu['publisher']:,.0f} = {total:,.0f} µs, {total * o.rate / 1e6:.1f} cores"
        )
    for o in outcomes:
        shares = ", ".join(f"{r}: {n}" for r, n in o.roles.partitions.items())
        bases = [b for b in (o.baseline, o.after) if b is not None]
        print(
            f"  {o.run.name}: {o.events:,} events, {o.decisions:,} decisions, {o.seconds:.1f}s "
            f"(publishing {o.publish_s:.1f}s); partitions {shares}; relay {o.roles.relay[0]}, "
            f"projection {o.roles.projection[0]}"
        )
        for when, b in zip(("before", "after"), bases, strict=False):
            per_msg = (b.nats_cpu_s + b.client_cpu_s) / b.messages * 1e6
            print(
                f"    baseline {when}: {b.rate:,.0f} msgs/s (publish {b.publish_rate:,.0f}/s, "
                f"pull+ack {b.pull_ack_rate:,.0f}/s; nats-server + client {per_msg:,.0f} µs "
                f"CPU per msg, {per_msg * b.rate / 1e6:.1f} cores)"
            )


def main() -> None:
    learners = size().scaling_learners
    messages = load(learners, seed=2)
    print(
        f"end to end and scaling ({learners:,} learners, {len(messages):,} events per run; "
        "first publish → last decision out; each run beside its own raw JetStream baseline)"
    )
    outcomes = []
    for run in RUNS:
        outcomes.append(measure(run, messages))
    _print(outcomes)
    by = {o.run.name: o for o in outcomes}
    b = by["B"]
    report(
        "e2e_events_per_s",
        "end to end, 1 replica, P=8, SQLite",
        b.rate,
        unit="events/s",
        baseline=f"raw JetStream {b.baseline_rate:,.0f} msgs/s",
    )
    report("baseline_msgs_per_s", "raw JetStream, P=8", b.baseline_rate, unit="msgs/s")
    report(
        "ratio",
        "end to end / raw JetStream (run B)",
        b.ratio,
        unit="ratio",
        baseline="same streams, same run",
        target=0.7,
    )
    for name in ("A", "A-pg", "B-pg", "C", "D"):
        o = by[name]
        key = name.lower().replace("-", "_")
        report(f"e2e_{key}_events_per_s", f"end to end, run {name}", o.rate, unit="events/s")
        report(f"ratio_{key}", f"run {name} / raw JetStream", o.ratio, unit="ratio")
    # The per-event costs of deploy/SCALING.md.
    events = b.events
    report("d_decisions_per_event", "d: decisions per inbound event", b.decisions / events)
    report("p_projection_us", "p: projection CPU per event (B)", b.projection_cpu / events * 1e6)
    report("j1_msgs_per_s", "J1: raw JetStream, 1 partition", by["A"].baseline_rate)
    report("j8_msgs_per_s", "J8: raw JetStream, 8 partitions", b.baseline_rate)
    say("the relay alone over run B's store (r), and RECORDS_OUT alone (O)")
    published, seconds, cpu = asyncio.run(_relay_alone(b.store_path))
    r_us = cpu / max(published, 1) * 1e6
    print(
        f"  relay alone: {published:,} decisions in {seconds:.1f}s = "
        f"{published / seconds:,.0f}/s, {r_us:,.0f} µs CPU per decision (relay + nats-py)"
    )
    mean_bytes = _mean_decision_bytes(b.store_path)
    out_rate, out_cpu = raw.measure_out("records-out", published, mean_bytes)
    print(
        f"  RECORDS_OUT alone: {out_rate:,.0f} publishes/s "
        f"(nats-server {out_cpu / max(published, 1) * 1e6:,.0f} µs CPU each)"
    )
    main_us = b.cpu[REPLICAS[0]].main / events * 1e6
    report("r_relay_us", "r: relay CPU per decision", r_us)
    report("relay_per_s", "relay alone, decisions/s", published / seconds)
    report("o_out_per_s", "O: RECORDS_OUT publishes/s", out_rate)
    report(
        "s_replica_us",
        "s: replica main process CPU per event, relay excluded (B)",
        main_us - r_us * b.decisions / events,
    )


if __name__ == "__main__":
    main()
