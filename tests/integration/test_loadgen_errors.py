"""loadgen with credentials the server will not take, or may not publish with: one line,
exit 2, in seconds (it used to wait out the acknowledgement timeout and give no reason)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.adapters.nats.credentials import Role
from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = pytest.mark.nats


def loadgen(url: str, key: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "loadgen", "--learners", "3",
         "--nats-url", url, "--nats-nkey", str(key), "--json"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("learner-records: error: ")
    return line


def test_loadgen_with_another_roles_key_says_it_may_not_publish(
    secured_nats: EmbeddedNatsServer,
) -> None:
    done, seconds = loadgen(secured_nats.url, secured_nats.keys[Role.AUDITOR].seed_file)
    line = one_line(done)
    assert "may not publish to records.in" in line and "permissions violation" in line.lower()
    assert seconds < 10


def test_loadgen_with_a_key_the_server_does_not_know_is_refused(
    secured_nats: EmbeddedNatsServer, tmp_path: Path
) -> None:
    stranger = EmbeddedNatsServer(tmp_path / "elsewhere", port=0).options(Role.PUBLISHER)
    assert stranger.nkey_file is not None
    done, seconds = loadgen(secured_nats.url, stranger.nkey_file)
    assert "authorization violation" in one_line(done)
    assert seconds < 10
