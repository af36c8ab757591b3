"""Passwords and nkey seeds never reach a log line or an error message."""

from __future__ import annotations

import json
import subprocess
import sys

import nkeys
import pytest

from services.adapters.redaction import redact, redact_event


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nats://svc:s3cret@127.0.0.1:4222", "nats://svc:***@127.0.0.1:4222"),
        ("tls://a:b@h1:4222,nats://c:d@h2:4222", "tls://a:***@h1:4222,nats://c:***@h2:4222"),
        (
            "postgresql://records:p%40ss:word@db.internal:5432/records?sslmode=require",
            "postgresql://records:***@db.internal:5432/records?sslmode=require",
        ),
        (
            "postgresql://db/records?user=r&password=hunter2&sslmode=verify-full",
            "postgresql://db/records?user=r&password=***&sslmode=verify-full",
        ),
        ("host=db user=r password='a b c' dbname=x", "host=db user=r password=*** dbname=x"),
        ("host=db PASSWORD=plain dbname=x", "host=db PASSWORD=*** dbname=x"),
        # Nothing secret: unchanged.
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("postgresql://records@db/records", "postgresql://records@db/records"),
        ("var/records.sqlite", "var/records.sqlite"),
    ],
)
def test_redact_masks_passwords(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_masks_an_nkey_seed_but_not_a_public_key() -> None:
    seed = nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER).decode()
    public = nkeys.from_seed(bytearray(seed.encode())).public_key.decode()
    assert redact(f"seed {seed} key {public}") == f"seed *** key {public}"


def test_the_log_processor_redacts_every_string_value() -> None:
    event = {"event": "connect nats://u:pw@h", "store": "postgresql://u:pw@db/x", "n": 3}
    assert redact_event(None, "info", event) == {
        "event": "connect nats://u:***@h",
        "store": "postgresql://u:***@db/x",
        "n": 3,
    }


def test_configured_logging_redacts_lines_and_tracebacks() -> None:
    # In a child process: logging is configured once per process, and this test must not
    # leave its configuration behind for the others.
    script = """
import logging, structlog
from services.entrypoints.logging import configure_logging
configure_logging(level="INFO", json=True)
log = structlog.get_logger("test")
log.info("service.started", store="postgresql://records:hunter2@db/records")
try:
    raise ConnectionError("cannot reach nats://svc:hunter2@10.0.0.1:4222")
except ConnectionError:
    log.exception("nats.failed")
logging.getLogger("stdlib").warning("dsn password=hunter2 host=db")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "hunter2" not in done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert lines[0]["store"] == "postgresql://records:***@db/records"
    assert "nats://svc:***@10.0.0.1:4222" in lines[1]["exception"]
    assert lines[2]["event"] == "dsn password=*** host=db"
