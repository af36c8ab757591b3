"""Event stores for tests: a SQLite file always, PostgreSQL when one is given.

The same scenarios run against each backend, chosen by the store's location, as
the service chooses it (STYLE.md: one acceptance scenario, every backend).
PostgreSQL tests are marked ``postgres`` and deselected by default; `make
test-postgres` runs them against ``LEARNER_RECORDS_TEST_POSTGRES`` (a server
URL whose user may create databases), each test in a database of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
        pytest.fail(f"postgres tests need ${POSTGRES_ENV}, e.g. postgresql://postgres@127.0.0.1/")
    import psycopg

    database = f"lr_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path="/" + database))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
