"""Where the event store lives: a SQLite file by default, PostgreSQL by URL.

The choice is made by eventsourcing's environment settings, never by branches
in the application, so every test and command runs the same code on both.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = [
    "DEFAULT_STORE",
    "STORE_ENV",
    "StoreUnavailableError",
    "is_postgres",
    "redact",
    "store_env",
    "store_location",
]

STORE_ENV = "LEARNER_RECORDS_STORE"
DEFAULT_STORE = Path("var") / "records.sqlite"
# Seconds to wait for PostgreSQL to accept a connection: a command facing a down or
# misconfigured server says so within seconds instead of hanging.
CONNECT_TIMEOUT = "5"


class StoreUnavailableError(RuntimeError):
    """The store cannot be opened or reached; the message names it, password redacted."""


def store_location(given: str | Path | None = None) -> str:
    """The store named on the command line, else in the environment, else the default."""
    if given is not None:
        return str(given)
    return os.environ.get(STORE_ENV) or str(DEFAULT_STORE)


def is_postgres(location: str) -> bool:
    return location.startswith(("postgres://", "postgresql://"))


_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _PASSWORD_IN_URL.sub(r"\g<scheme>\g<user>:***@", text)


def store_env(location: str) -> dict[str, str]:
    """eventsourcing settings for a SQLite path or a postgresql:// URL."""
    if not is_postgres(location):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": location}
    url = urlsplit(location)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "learner_records",
        "POSTGRES_HOST": url.hostname or "localhost",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
    }
