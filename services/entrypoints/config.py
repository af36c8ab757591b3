"""What a running service needs to know, from the command line or the environment."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from services.adapters.nats.connection import NatsOptions
from services.adapters.nats.streams import Streams
from services.adapters.store import is_postgres, store_location

__all__ = [
    "DEFAULT_NATS_DIR",
    "NATS_URL_ENV",
    "VIEWS_ENV",
    "ServiceSettings",
    "default_replica",
    "views_location",
]

NATS_URL_ENV = "LEARNER_RECORDS_NATS_URL"
VIEWS_ENV = "LEARNER_RECORDS_VIEWS"
DEFAULT_NATS_DIR = Path("var") / "nats"


def views_location(store: str, given: str | Path | None = None) -> Path:
    """Where the read models live: a SQLite file beside a SQLite store by default.

    A separate file keeps the rebuildable views out of the event store's write lock, and
    can be deleted at any time (``learner-records rebuild`` recreates it).
    """
    if given is not None:
        return Path(given)
    if env := os.environ.get(VIEWS_ENV):
        return Path(env)
    if is_postgres(store):
        return Path("var") / "views.sqlite"
    path = Path(store)
    return path.with_name(f"{path.stem}.views{path.suffix or '.sqlite'}")


def default_replica() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Everything the wiring (services.entrypoints.app) reads; defaults: the embedded service."""

    nats_url: str
    store: str = field(default_factory=store_location)
    # Credentials and TLS for nats_url; None: connect to nats_url as it is.
    nats: NatsOptions | None = None
    views: Path | None = None
    streams: Streams = field(default_factory=Streams)
    # This replica's name among the replicas (leases, logs); default: host and process.
    replica: str = field(default_factory=default_replica)
    # The relay is woken after each stored batch; its slow poll is only a safety net (a
    # wake-up lost, a decision stored by another replica).
    relay_poll: float = 1.0
    relay_batch: int = 500
    # The projection runs in a process of its own (never pausing the writer), or in the
    # service's event loop (tests, small tools).
    projection_process: bool = True
    projection_batch: int = 500
    # How often the scheduler looks at the clock; it reviews when the date has changed.
    scheduler_tick: float = 60.0
    fetch_timeout: float = 1.0

    @property
    def nats_options(self) -> NatsOptions:
        return self.nats if self.nats is not None else NatsOptions.from_url(self.nats_url)

    @property
    def views_path(self) -> Path:
        return views_location(self.store, self.views)
