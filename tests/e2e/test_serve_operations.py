"""``serve --http`` as a process, started before its store and before NATS: it waits for
each with a clear log line, says on /readyz what it waits for, and is ready once both
are there; a signal ends it while it waits."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Serve:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.log = tmp_path / "serve.log"
        self.http = f"http://127.0.0.1:{free_port()}"
        command = [sys.executable, "-m", "services.entrypoints.cli", "serve", *args]
        command += ["--http", self.http.removeprefix("http://"), "--log-format", "json"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path
            )

    def entries(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == event:
                found.append(entry)
        return found

    def readiness(self) -> tuple[int, dict[str, Any]] | None:
        try:
            response = httpx.get(f"{self.http}/readyz", timeout=5)
        except httpx.TransportError:
            return None  # not listening yet
        return response.status_code, response.json()

    def until(self, check: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (found := check()) is not None and found is not False:
                return found
            assert self.process.poll() is None, self.tail()
            time.sleep(0.1)
        raise AssertionError(f"{what}, never; the service's log:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def started() -> Iterator[list[Serve]]:
    services: list[Serve] = []
    yield services
    for service in services:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)


def not_ready_because(serve: Serve, check: str, words: str) -> Callable[[], Any]:
    def probe() -> Any:
        answer = serve.readiness()
        if answer is None:
            return None
        status, body = answer
        found = body["checks"].get(check)
        return status == 503 and found and not found["ok"] and words in found["detail"] and body

    return probe


@pytest.mark.postgres
def test_serve_waits_for_its_store_then_for_nats_saying_so_then_is_ready(
    postgres_server: str, tmp_path: Path, started: list[Serve]
) -> None:
    from devtools.postgres import create_database, drop_database

    name = f"late_{int(time.time() * 1000)}"
    store = urlunsplit(urlsplit(postgres_server)._replace(path=f"/{name}"))
    password = urlsplit(postgres_server).password
    assert password
    port = free_port()
    serve = Serve(tmp_path, "--store", store, "--nats-url", f"nats://127.0.0.1:{port}")
    started.append(serve)
    nats = EmbeddedNatsServer(tmp_path / "nats", port=port, auth=False, sync_always=False)
    try:
        # The store is not there: said in the log (password masked) and on /readyz.
        body = serve.until(
            not_ready_because(serve, "started", f'database "{name}" does not exist'),
            "not ready, waiting for the store",
        )
        [line] = serve.until(lambda: serve.entries("service.store_unavailable"), "a log line")
        assert line["store"] == store.replace(password, "***")
        assert f'database "{name}" does not exist' in line["reason"]
        assert password not in serve.log.read_text()
        time.sleep(2.5)  # a retry or more later, the same reason is not logged again
        assert len(serve.entries("service.store_unavailable")) == 1

        create_database(postgres_server, name)
        # The store is there, NATS is not.
        body = serve.until(
            not_ready_because(serve, "nats", "not connected yet"), "not ready, waiting for NATS"
        )
        assert body["checks"]["store"]["ok"] is False  # nothing checked before NATS
        assert serve.entries("service.store_reachable")

        nats.start()
        serve.until(lambda: (serve.readiness() or (0,))[0] == 200, "ready")
        assert serve.entries("service.started")
        # The auditors' pages share the port, behind their token; health stays open.
        api = f"{serve.http}/api/learners/1000000019"
        assert httpx.get(api, timeout=5).status_code == 401
        token = (tmp_path / "var" / "web" / "auditor.token").read_text().strip()
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(api, headers=bearer, timeout=5).status_code == 404  # never seen
        assert httpx.get(f"{serve.http}/", headers=bearer, timeout=5).status_code == 200
        assert serve.stop() == 0
    finally:
        serve.stop()
        nats.stop()
        drop_database(postgres_server, name)


def test_serve_stops_on_a_signal_while_it_waits_for_nats(
    tmp_path: Path, started: list[Serve]
) -> None:
    serve = Serve(
        tmp_path,
        "--store",
        str(tmp_path / "records.sqlite"),
        "--nats-url",
        f"nats://127.0.0.1:{free_port()}",
    )
    started.append(serve)
    serve.until(not_ready_because(serve, "nats", "not connected yet"), "waiting for NATS")
    assert serve.stop() == 0
    assert serve.entries("service.stopped")


def test_serve_says_in_one_line_when_its_http_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "services.entrypoints.cli", "serve", "--http", address,
             "--nats-url", "nats://127.0.0.1:1", "--log-format", "json"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    [line] = [json.loads(x) for x in done.stderr.splitlines() if "operations." in x]
    assert line["event"] == "operations.cannot_listen" and line["address"] == address
