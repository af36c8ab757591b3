"""Every log line names the process that wrote it: replica, host and version."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from services import __version__

# Run in a process of its own: logging is configured once per process.
SCRIPT = """
import logging, threading
import structlog
from services.entrypoints.logging import configure_logging, set_identity

configure_logging(json=True)
set_identity(replica="replica-7")
structlog.get_logger("ours").info("ours.said", replica_count=3)
logging.getLogger("nats.aio.client").warning("a library said")
worker = threading.Thread(target=lambda: structlog.get_logger("t").info("thread.said"))
worker.start(); worker.join()
structlog.get_logger("ours").info("explicit", replica="another")
"""


def test_every_line_carries_replica_host_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == [
        "ours.said",
        "a library said",
        "thread.said",
        "explicit",
    ]
    for line in lines[:3]:
        assert line["replica"] == "replica-7"
        assert line["host"] == socket.gethostname()
        assert line["version"] == __version__
    # A line that names a replica itself keeps what it says.
    assert lines[3]["replica"] == "another"
