"""Commands facing a store they cannot use: one clear line on stderr, exit 2, in seconds,
never a traceback and never the password. PostgreSQL refusing the credentials is said
as the server said it, at once, not as a pool's timeout after 30 s."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ULN = "1000000019"
# Every command that reads a store, as a person would run it against one.
READERS = [
    ["status", ULN],
    ["audit", ULN],
    ["export", ULN],
    ["rebuild"],
    ["erase", ULN, "--reason", "asked by the learner"],
]
# A command's own start-up (imports) takes about a second on the CI machine.
WITHIN_S = 8.0


def cli(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LEARNER_RECORDS_STORE": ""},
    )
    return done, time.monotonic() - started


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no traceback
    assert lines[0].startswith("learner-records: error: ")
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_wrong_postgres_password_is_named_at_once_and_never_shown(
    postgres_database: str, command: list[str]
) -> None:
    secret = "not-the-password-4711"
    done, seconds = cli(*command, "--store", with_password(postgres_database, secret))
    line = assert_one_clear_line(done, "password authentication failed", ":***@")
    assert secret not in done.stderr + done.stdout
    assert "couldn't get a connection" not in line
    assert seconds < WITHIN_S


@pytest.mark.postgres
def test_a_missing_postgres_database_is_named(postgres_database: str) -> None:
    url = urlunsplit(urlsplit(postgres_database)._replace(path="/no_such_database"))
    done, seconds = cli("audit", ULN, "--store", url)
    assert_one_clear_line(done, 'database "no_such_database" does not exist')
    assert seconds < WITHIN_S


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_postgres_with_nothing_listening_is_refused_in_seconds(command: list[str]) -> None:
    url = f"postgresql://learner:secret-pw@127.0.0.1:{free_port()}/records"
    done, seconds = cli(*command, "--store", url)
    assert_one_clear_line(done, "Connection refused", "learner:***@")
    assert "secret-pw" not in done.stderr
    assert seconds < WITHIN_S


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_missing_sqlite_store_is_named_and_not_created(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "missing.sqlite"
    done, _ = cli(*command, "--store", str(missing))
    assert_one_clear_line(done, "no event store", str(missing))
    assert not missing.exists()


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_file_that_is_not_a_store_is_named(tmp_path: Path, command: list[str]) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("not a database\n" * 100)
    done, _ = cli(*command, "--store", str(bogus))
    assert_one_clear_line(done, "cannot open the store", "file is not a database")


def test_replay_into_a_store_it_cannot_create_says_so(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    done, _ = cli("replay", str(events), "--store", str(blocked / "records.sqlite"))
    assert_one_clear_line(done, "cannot create the store", str(blocked / "records.sqlite"))
