"""Commands facing an unreachable or refusing NATS: one clear line, exit 2, in seconds;
serve keeps retrying with a clear log line and starts once NATS is there."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.adapters.nats.connection import NatsOptions
from services.adapters.nats.credentials import Role
from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = pytest.mark.nats

ULN = "1000000019"
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    return done, time.monotonic() - started


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no traceback
    assert lines[0].startswith("learner-records: error: ")
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture
def password_server(tmp_path: Path) -> EmbeddedNatsServer:
    """A server whose one user has a password: the path an external cluster may take."""
    conf = tmp_path / "password.conf"
    conf.write_text(
        "jetstream { store_dir: $LEARNER_RECORDS_NATS_STORE }\n"
        f'authorization {{ users: [{{user: "auditor", password: "{PASSWORD}"}}] }}\n'
    )
    # auth=False: the config is ours, with its own user, who checks readiness.
    server = EmbeddedNatsServer(
        tmp_path / "nats",
        port=0,
        auth=False,
        config_file=conf,
        ready_as=NatsOptions(user="auditor", password=PASSWORD),
    )
    return server


def test_status_with_nats_down_fails_in_seconds_with_one_line() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    done, seconds = cli("status", ULN, "--nats-url", url)
    assert_one_clear_line(done, url, "connection refused")
    assert seconds < 5


def test_status_with_a_key_the_server_does_not_know_is_an_authorization_violation(
    secured_nats: EmbeddedNatsServer, tmp_path: Path
) -> None:
    # Another installation's key: a valid seed, not one this server accepts.
    elsewhere = EmbeddedNatsServer(tmp_path / "elsewhere", port=0)
    stranger = elsewhere.options(Role.AUDITOR).nkey_file
    assert stranger is not None
    done, seconds = cli("status", ULN, "--nats-url", secured_nats.url, "--nats-nkey", str(stranger))
    assert_one_clear_line(done, secured_nats.url, "authorization violation")
    assert seconds < 5


def test_status_with_another_roles_key_says_it_may_not_ask(
    secured_nats: EmbeddedNatsServer,
) -> None:
    publisher = secured_nats.keys[Role.PUBLISHER].seed_file
    done, _ = cli(
        "status",
        ULN,
        "--nats-url",
        secured_nats.url,
        "--nats-nkey",
        str(publisher),
        "--timeout",
        "1",
    )
    assert_one_clear_line(done, "may not ask for status", "permissions violation")


def test_status_beside_make_run_uses_the_embedded_auditor_key(
    secured_nats: EmbeddedNatsServer, tmp_path: Path
) -> None:
    # Run from a directory whose var/nats is the server's: as after `make run`.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "nats").symlink_to(secured_nats.store_dir)
    done, _ = cli("status", ULN, "--nats-url", secured_nats.url, "--timeout", "1", cwd=tmp_path)
    # Connected and allowed to ask; nobody answers, as no service runs here.
    assert_one_clear_line(done, "no service is answering status queries")


def test_a_wrong_password_from_the_environment_is_refused_and_never_shown(
    password_server: EmbeddedNatsServer,
) -> None:
    with password_server:
        url = password_server.url
        done, _ = cli(
            "status",
            ULN,
            "--nats-url",
            url,
            "--nats-user",
            "auditor",
            env={"LEARNER_RECORDS_NATS_PASSWORD": "wrong-" + PASSWORD},
        )
        assert_one_clear_line(done, "authorization violation")
        assert "wrong-" not in done.stderr + done.stdout


def test_the_password_file_is_read_and_the_password_never_shown(
    password_server: EmbeddedNatsServer, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    with password_server:
        done, _ = cli(
            "status",
            ULN,
            "--timeout",
            "1",
            "--nats-url",
            f"nats://auditor:{PASSWORD}@127.0.0.1:{password_server.port}",
        )
        # A password in the URL works too, and is masked when the URL is shown.
        assert_one_clear_line(done, "no service is answering status queries", "auditor:***@")
        assert PASSWORD not in done.stderr
        done, _ = cli(
            "status",
            ULN,
            "--timeout",
            "1",
            "--nats-url",
            password_server.url,
            "--nats-user",
            "auditor",
            "--nats-password-file",
            str(secret),
        )
        assert_one_clear_line(done, "no service is answering status queries")


def test_there_is_no_password_flag_and_a_missing_key_file_is_named() -> None:
    done, _ = cli("status", ULN, "--nats-password", "hunter2")
    assert done.returncode == 2
    assert "never given on the command line" in done.stderr
    assert "hunter2" not in done.stderr
    done, _ = cli("status", ULN, "--nats-nkey", "/no/such/seed.nk")
    assert_one_clear_line(done, "--nats-nkey", "/no/such/seed.nk")


def test_loadgen_with_nats_down_fails_in_seconds_with_one_line() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    done, seconds = cli("loadgen", "--learners", "2", "--nats-url", url, "--json")
    assert_one_clear_line(done, url, "connection refused")
    assert seconds < 10


@pytest.mark.e2e
@pytest.mark.slow
def test_serve_waits_for_an_unreachable_nats_with_a_clear_log_line_then_starts(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.entrypoints.cli",
                "serve",
                "--nats-url",
                f"nats://127.0.0.1:{port}",
                "--store",
                str(tmp_path / "records.sqlite"),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    server = EmbeddedNatsServer(tmp_path / "nats", port=port, auth=False)
    try:
        problems = _wait_for(log, "nats.connection_problem")
        assert problems[0]["error"].startswith("connection refused")
        assert problems[0]["retrying"] is True
        time.sleep(1.5)  # it keeps retrying without a line per attempt
        assert len(_entries(log, "nats.connection_problem")) == 1
        assert serve.poll() is None
        server.start()
        _wait_for(log, "service.started")
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        server.stop()


def _entries(log: Path, event: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found


def _wait_for(log: Path, event: str, timeout: float = 30.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := _entries(log, event):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {event} in:\n{log.read_text(errors='replace')[-3000:]}")
