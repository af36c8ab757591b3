"""A throwaway PostgreSQL server for tests, benchmarks and local clusters.

``ThrowawayPostgres`` runs the machine's own PostgreSQL programs (``initdb``,
``postgres``) in a fresh temporary directory, on a free port of 127.0.0.1, and
removes everything when stopped::

    with ThrowawayPostgres() as server:
        url = server.create_database()  # postgresql://postgres:…@127.0.0.1:PORT/lr_…
        ...                             # e.g. learner-records serve --store URL

It is a test server by default: ``fsync``, ``synchronous_commit`` and
``full_page_writes`` are off, so a crash of the machine loses its data (it is
deleted on stop anyway). Pass ``durable=True`` where the cost of commits is what
is measured (benchmarks). The superuser is ``postgres`` with a random password
over TCP, so a concurrent run cannot reach this server by mistake.

As root, ``initdb`` and ``postgres`` refuse to run: the server then runs as the
``postgres`` system user (or ``nobody``), owning its temporary directory.

``python -m devtools.postgres`` starts one and prints its URL until interrupted;
``python -m devtools.postgres ensure-binaries`` finds the programs, installing
them with apt-get when run as root on Debian and they are missing.
"""

from __future__ import annotations

import argparse
import atexit
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

__all__ = [
    "PG_BIN_ENV",
    "PostgresNotFoundError",
    "PostgresStartError",
    "ThrowawayPostgres",
    "create_database",
    "drop_database",
    "find_bin_dir",
    "fresh_database",
]

PG_BIN_ENV = "LEARNER_RECORDS_PG_BIN"
SUPERUSER = "postgres"
_BIND_FAILED = ("could not bind", "could not create any TCP/IP sockets")
_PORT_ATTEMPTS = 5
_TEST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
_INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, postgres) were not found. Install them "
    "(Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; "
    f"macOS: brew install postgresql) or set {PG_BIN_ENV} to the directory holding initdb."
)


class PostgresNotFoundError(RuntimeError):
    """The PostgreSQL server programs are not installed where we look."""


class PostgresStartError(RuntimeError):
    """initdb or the server failed; the message carries their output."""


def find_bin_dir() -> Path:
    """The directory of initdb and postgres: $LEARNER_RECORDS_PG_BIN, PATH, Debian's layout."""
    if configured := os.environ.get(PG_BIN_ENV):
        candidates = [Path(configured)]
    else:
        on_path = shutil.which("initdb")
        debian = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda path: [int(n) for n in re.findall(r"\d+", path.parent.name)],
            reverse=True,
        )
        candidates = [Path(on_path).resolve().parent] if on_path else []
        candidates += [*debian, Path("/usr/local/pgsql/bin")]
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise PostgresNotFoundError(_INSTALL_HINT)


def database_url(server_url: str, database: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path="/" + database))


def create_database(server_url: str, name: str | None = None) -> str:
    """Create a database on the server (its user may create them); return its URL."""
    name = name or f"lr_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop the database, closing whatever connections are still open to it."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database's URL, dropped on exit."""
    url = create_database(server_url)
    try:
        yield url
    finally:
        drop_database(server_url, urlsplit(url).path.lstrip("/"))


class ThrowawayPostgres:
    """A PostgreSQL server in a temporary directory, deleted on stop. Not thread-safe."""

    def __init__(
        self,
        *,
        durable: bool = False,
        bin_dir: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.durable = durable
        self.bin_dir = bin_dir
        self.ready_timeout = ready_timeout
        self.port = 0
        self.directory: Path | None = None
        self._password = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: pwd.struct_passwd | None = None  # as root: whom the server runs as

    @property
    def log_path(self) -> Path:
        assert self.directory is not None, "not started"
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """A superuser URL for one database of the running server."""
        assert self._process is not None, "not started"
        return f"postgresql://{SUPERUSER}:{self._password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        return create_database(self.url(), name)

    def drop_database(self, name: str) -> None:
        drop_database(self.url(), name)

    def start(self) -> Self:
        if self._process is not None:
            return self
        bin_dir = self.bin_dir or find_bin_dir()
        self._run_as = _unprivileged_user() if os.geteuid() == 0 else None
        self.directory = Path(tempfile.mkdtemp(prefix="learner-records-pg-"))
        atexit.register(self.stop)
        try:
            self._chown(self.directory)
            self._initdb(bin_dir / "initdb")
            for retries_left in reversed(range(_PORT_ATTEMPTS)):
                if self._serve(bin_dir / "postgres", may_retry=retries_left > 0):
                    break
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then the directory goes. Safe to call twice."""
        atexit.unregister(self.stop)
        if self._process is not None:
            _terminate(self._process)
            self._process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _initdb(self, initdb: Path) -> None:
        assert self.directory is not None
        password_file = self.directory / "password"
        password_file.write_text(self._password, encoding="utf-8")
        password_file.chmod(0o600)
        self._chown(password_file)
        command = [
            str(initdb),
            f"--pgdata={self.directory / 'data'}",
            f"--username={SUPERUSER}",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # a throwaway cluster: nothing to lose if the machine fails now
            "--no-instructions",
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=self.directory,
            user=self._uid,
            group=self._gid,
            extra_groups=self._extra_groups,
        )
        password_file.unlink()
        if done.returncode != 0:
            raise PostgresStartError(
                f"initdb failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
            )

    def _serve(self, postgres: Path, *, may_retry: bool) -> bool:
        """Start the server on a free port; False if another process took the port first."""
        assert self.directory is not None
        self.port = _free_port()
        settings = [
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.directory}",
            *(() if self.durable else _TEST_SETTINGS),
        ]
        command = [str(postgres), "-D", str(self.directory / "data"), "-p", str(self.port)]
        command += [arg for setting in settings for arg in ("-c", setting)]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # ^C reaches the caller, who stops us in order
                cwd=self.directory,
                user=self._uid,
                group=self._gid,
                extra_groups=self._extra_groups,
            )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                log_text = self.log_path.read_text(errors="replace")
                if may_retry and any(marker in log_text for marker in _BIND_FAILED):
                    return False
                raise PostgresStartError(f"PostgreSQL exited at start:\n{_tail(log_text)}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise PostgresStartError(
            f"PostgreSQL not ready in {self.ready_timeout:.0f}s on port {self.port}:\n"
            + _tail(self.log_path.read_text(errors="replace"))
        )

    # Popen's user, group and extra_groups: root's children drop to the server's user.
    @property
    def _uid(self) -> int | None:
        return None if self._run_as is None else self._run_as.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self._run_as is None else self._run_as.pw_gid

    @property
    def _extra_groups(self) -> list[int] | None:
        return None if self._run_as is None else []

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresStartError("running as root, and neither user postgres nor nobody exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _terminate(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(log: str, lines: int = 30) -> str:
    return "\n".join(log.splitlines()[-lines:])


def ensure_binaries() -> Path:
    """Find the server programs; as root on Debian, install them with apt-get if missing."""
    try:
        return find_bin_dir()
    except PostgresNotFoundError:
        if os.geteuid() != 0 or shutil.which("apt-get") is None or os.environ.get(PG_BIN_ENV):
            raise
    print("PostgreSQL server programs not found: apt-get install postgresql", file=sys.stderr)
    apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=apt)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True,
        env=apt,
    )
    return find_bin_dir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.postgres", description=__doc__)
    parser.add_argument("action", nargs="?", choices=["serve", "ensure-binaries"], default="serve")
    parser.add_argument("--durable", action="store_true", help="keep fsync on (benchmarks)")
    args = parser.parse_args(argv)
    try:
        if args.action == "ensure-binaries":
            print(f"PostgreSQL server programs: {ensure_binaries()}")
            return 0
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the server on kill too
        with ThrowawayPostgres(durable=args.durable) as server:
            print(server.url(), flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        return 0
    except (PostgresNotFoundError, PostgresStartError) as error:
        print(error, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"{shlex.join(error.cmd)} failed (exit {error.returncode}). {_INSTALL_HINT}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
