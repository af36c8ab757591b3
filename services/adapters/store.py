"""Where the event store lives: a SQLite file by default, PostgreSQL by URL.

The choice is made by eventsourcing's environment settings, never by branches
in the application, so every test and command runs the same code on both.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from domain.catalogue import Catalogue
from services.application.clock import Clock
from services.application.records import LearnerRecords

STORE_ENV = "LEARNER_RECORDS_STORE"
DEFAULT_STORE = Path("var") / "records.sqlite"


def store_location(given: str | Path | None = None) -> str:
    """The store named on the command line, else in the environment, else the default."""
    if given is not None:
        return str(given)
    return os.environ.get(STORE_ENV) or str(DEFAULT_STORE)


def is_postgres(location: str) -> bool:
    return location.startswith(("postgres://", "postgresql://"))


def store_env(location: str) -> dict[str, str]:
    """eventsourcing settings for a SQLite path or a postgresql:// URL."""
    if not is_postgres(location):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": location}
    url = urlsplit(location)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "learner_records",
        "POSTGRES_HOST": url.hostname or "localhost",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
    }
    return env


def open_records(
    location: str, catalogue: Catalogue, clock: Clock | None = None, *, create: bool = True
) -> LearnerRecords:
    """The application on the store at ``location``; a missing SQLite file is an error
    unless ``create`` (readers such as ``audit`` must not conjure an empty store)."""
    if not is_postgres(location):
        path = Path(location)
        if not create and not path.exists():
            raise FileNotFoundError(f"no event store at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
    return LearnerRecords(catalogue, clock=clock, env=store_env(location))
