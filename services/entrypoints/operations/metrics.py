"""The replica's Prometheus metrics, through the official client (prometheus-client).

Each figure is taken where it is cheapest:

- what ingest stores is counted as each batch commits (``batch_stored``, the workers'
  ``on_batch``): events by outcome and refusal reason, decisions taken, batch sizes and
  latencies;
- what the running parts hold (roles, failures, the relay's publications) is read when
  Prometheus scrapes, on the event loop, so one scrape sees one moment;
- what needs the NATS server or a store query (consumer and relay lag, dead letters) is
  polled every few seconds by ``StateProbe`` and only read here, never fetched per scrape.

Counters of parts that come and go with their lease (a relay, a partition's worker)
add what ended parts had counted, so they only ever grow within a process.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from services.application.ingest import PartitionWorker
from services.application.records import Outcome
from services.application.relay import OutboxRelay

if TYPE_CHECKING:
    from services.entrypoints.app import RecordsService

__all__ = ["PREFIX", "ServiceMetrics"]

PREFIX = "learner_records"
# Fetches bring up to 500 messages (Streams.fetch_batch); a trickle brings one.
BATCH_SIZES = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
# One store transaction: ~1 ms for a small SQLite batch, seconds for a store in trouble.
BATCH_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """One registry per service (never the global one: tests run several services)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.service: RecordsService | None = None
        self.received = Counter(
            f"{PREFIX}_events_received",
            "Inbound messages stored by this replica's ingest, whatever became of them",
            registry=self.registry,
        )
        self.events = Counter(
            f"{PREFIX}_events",
            "Inbound messages by outcome: recorded, duplicate, rejected (refused), parked",
            ["outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            f"{PREFIX}_events_rejected",
            "Inbound messages refused, by reason code",
            ["reason"],
            registry=self.registry,
        )
        self.decided = Counter(
            f"{PREFIX}_decisions_taken",
            "Decisions taken by this replica's ingest, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            f"{PREFIX}_batch_size",
            "Messages per stored batch",
            buckets=BATCH_SIZES,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            f"{PREFIX}_batch_seconds",
            "Seconds to store one batch (one transaction, retries included)",
            buckets=BATCH_SECONDS,
            registry=self.registry,
        )
        for outcome in ("recorded", "duplicate", "rejected", "parked"):
            self.events.labels(outcome)  # present at 0 from the start: rates need a baseline
        self._ended_relays = _RelayTotals()
        self._ended_store_failures = 0
        self.registry.register(_StateCollector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def watch(self, service: RecordsService) -> None:
        self.service = service

    def batch_stored(self, partition: int, outcomes: Sequence[Outcome], seconds: float) -> None:
        """A batch was committed (PartitionWorker's ``on_batch``)."""
        self.received.inc(len(outcomes))
        self.batch_size.observe(len(outcomes))
        self.batch_seconds.observe(seconds)
        for name, count in Tally(o.outcome for o in outcomes).items():
            self.events.labels(name).inc(count)
        for outcome in outcomes:
            if outcome.outcome == "rejected" and outcome.reason is not None:
                self.refused.labels(outcome.reason).inc()
            for decision in outcome.decisions:
                self.decided.labels(decision.kind.value).inc()

    def worker_ended(self, worker: PartitionWorker) -> None:
        self._ended_store_failures += worker.stats.store_failures

    def relay_ended(self, relay: OutboxRelay) -> None:
        self._ended_relays.add(relay)

    def relay_totals(self) -> _RelayTotals:
        totals = _RelayTotals()
        totals.merge(self._ended_relays)
        if self.service is not None and self.service.relay is not None:
            totals.add(self.service.relay)
        return totals

    def store_failures(self) -> int:
        live = self.service.workers.values() if self.service is not None else ()
        return self._ended_store_failures + sum(w.stats.store_failures for w in live)


class _RelayTotals:
    def __init__(self) -> None:
        self.by_kind: Tally[str] = Tally()
        self.duplicates = 0
        self.undeliverable = 0

    def add(self, relay: OutboxRelay) -> None:
        self.by_kind.update(relay.stats.by_kind)
        self.duplicates += relay.stats.duplicates
        self.undeliverable += relay.stats.undeliverable

    def merge(self, other: _RelayTotals) -> None:
        self.by_kind.update(other.by_kind)
        self.duplicates += other.duplicates
        self.undeliverable += other.undeliverable


class _StateCollector(Collector):
    """What the service holds at the moment of the scrape."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []  # names vary with the service's state; nothing to check at registration

    def collect(self) -> Iterator[Any]:
        from services import __version__

        service = self.metrics.service
        info = InfoMetricFamily(PREFIX, "This replica: its name and the service's version")
        replica = service.settings.replica if service is not None else ""
        info.add_metric([], {"version": __version__, "replica": replica})
        yield info
        yield from self._relay()
        yield _counter(
            "store_failures", "Failed attempts to store a batch", self.metrics.store_failures()
        )
        if service is None:
            yield _gauge("up", "1 once the service has opened its store", 0)
            return
        yield _gauge("up", "1 once the service has opened its store", 1)
        group = service.group_commit
        yield _counter(
            "store_commits",
            "Transactions that stored ingest batches (one per group of partitions' batches)",
            group.commits,
        )
        yield _counter(
            "store_commit_batches", "Ingest batches those transactions held", group.batches
        )
        yield from _ownership(service)
        yield from _health(service)
        if service.probe is not None and service.probe.latest is not None:
            yield from _probed(service.probe.latest)

    def _relay(self) -> Iterator[Any]:
        totals = self.metrics.relay_totals()
        published = CounterMetricFamily(
            f"{PREFIX}_decisions_published",
            "Decisions the relay published to JetStream (new there), by kind",
            labels=["kind"],
        )
        for kind, count in sorted(totals.by_kind.items()):
            published.add_metric([kind], count)
        yield published
        yield _counter(
            "decisions_duplicate",
            "Decisions JetStream already had (published again after a crash or hand-over)",
            totals.duplicates,
        )
        yield _counter(
            "decisions_undeliverable",
            "Decisions the broker refused for good, dead-lettered by this replica's relay",
            totals.undeliverable,
        )


def _ownership(service: RecordsService) -> Iterator[Any]:
    ownership = service.ownership
    partitions = service.settings.streams.partitions
    held = GaugeMetricFamily(
        f"{PREFIX}_role_held", "1 for each role this replica holds the lease of", labels=["role"]
    )
    names = [f"partition-{k}" for k in range(partitions)] + ["relay", "projection"]
    for name in names:
        held.add_metric([name], 1 if ownership is not None and ownership.holds(name) else 0)
    yield held
    owned = sum(1 for k in range(partitions) if ownership and ownership.holds(f"partition-{k}"))
    yield _gauge("partitions_owned", "Partitions this replica ingests", owned)
    members = len(ownership.members) if ownership is not None else 0
    yield _gauge("replicas", "Replicas this one sees alive (itself included)", members)


def _health(service: RecordsService) -> Iterator[Any]:
    failing = any(w.store_failing is not None for w in service.workers.values())
    probe = service.probe
    if probe is not None and probe.latest is not None and probe.latest.store_error is not None:
        failing = True
    yield _gauge("store_failing", "1 while the store refuses writes or reads", int(failing))
    nc = service.nc
    yield _gauge(
        "nats_connected", "1 while connected to NATS", int(nc is not None and nc.is_connected)
    )
    failures = GaugeMetricFamily(
        f"{PREFIX}_follower_failures",
        "Consecutive failures of a follower held here (relay, projection inline)",
        labels=["follower"],
    )
    failing_now = GaugeMetricFamily(
        f"{PREFIX}_follower_failing",
        "1 while a follower held here keeps failing (its health turns not ready)",
        labels=["follower"],
    )
    for name, follower in (("relay", service.relay), ("projection", service.projection)):
        if follower is not None:
            failures.add_metric([name], follower.failures)
            failing_now.add_metric([name], int(follower.failing))
    yield failures
    yield failing_now


def _probed(latest: Any) -> Iterator[Any]:
    lag = GaugeMetricFamily(
        f"{PREFIX}_consumer_lag",
        "Messages in a partition's stream not yet stored: last sequence - stored position",
        labels=["partition"],
    )
    for partition, behind in sorted(latest.consumer_lag.items()):
        lag.add_metric([str(partition)], behind)
    yield lag
    figures = (
        ("relay_lag", "Decisions stored and not yet published by the relay", latest.relay_lag),
        ("store_position", "The store's last notification", latest.store_position),
        ("relay_position", "The last notification the relay has dealt with", latest.relay_position),
        ("parked_messages", "Inbound messages parked (dead letters)", latest.parked_messages),
        ("parked_learners", "Learners with parked messages", latest.parked_learners),
        (
            "undeliverable_decisions",
            "Decisions recorded as undeliverable (dead letters of the relay)",
            latest.undeliverable,
        ),
        ("probe_age_seconds", "Seconds since these figures were taken", latest.age()),
    )
    for name, text, value in figures:
        if value is not None:
            yield _gauge(name, text, value)


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", text, value=value)


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", text, value=value)
