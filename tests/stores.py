"""Event stores for tests: a SQLite file, and a PostgreSQL database.

The same scenarios run against each backend, chosen by the store's location, as
the service chooses it (STYLE.md: one acceptance scenario, every backend).
PostgreSQL tests are marked ``postgres``; the marker gives them the session's
server (``postgres_server`` in conftest.py: ``LEARNER_RECORDS_TEST_POSTGRES`` if
set, else a throwaway one it starts), and each test gets a database of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_ENV = "LEARNER_RECORDS_TEST_POSTGRES"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@contextmanager
def store_for(backend: str, tmp_path: Path, name: str = "records") -> Iterator[str]:
    if backend == "sqlite":
        yield str(tmp_path / f"{name}.sqlite")
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.fail(f"a postgres store needs the postgres marker on the test, or ${POSTGRES_ENV}")
    from devtools.postgres import fresh_database

    with fresh_database(server) as location:
        yield location
