"""The embedded default: `serve` with no NATS URL runs its own nats-server, and stops it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import ServiceProcess, completing_history, publish_events, published, until

from contracts.uln import make_uln
from domain.catalogue import Catalogue
from services.adapters.nats.connection import NatsOptions, connect

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_on_the_embedded_default_then_query_status_and_stop_cleanly(
    service_factory: Callable[..., ServiceProcess],
    catalogue: Catalogue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEARNER_RECORDS_NATS_URL", raising=False)
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    service = service_factory(
        None, ["--nats-dir", str(tmp_path / "nats"), "--nats-port", str(port)]
    )
    service.start()
    events = [e["event"] for e in service.entries()]
    # First start: the keys are made before the server that needs them starts.
    assert events[:5] == [*["nats_credentials.created"] * 4, "nats_server.starting"]

    # Access control is on: each client uses the key the server generated for its role.
    credentials = tmp_path / "nats" / "credentials"
    assert {p.name for p in credentials.iterdir()} == {
        f"{role}.nk" for role in ("service", "publisher", "subscriber", "auditor")
    }
    publisher = await connect(
        NatsOptions.from_url(url, nkey_file=credentials / "publisher.nk", name="e2e-publisher")
    )
    # The test reads RECORDS_OUT message by message, which only the service may do.
    inspector = await connect(
        NatsOptions.from_url(url, nkey_file=credentials / "service.nk", name="e2e-inspector")
    )
    try:
        uln = make_uln(5001)
        await publish_events(
            publisher.jetstream(), completing_history(catalogue, uln, "500/9203/0", "embedded")
        )

        async def eligible() -> bool:
            return any(
                e["type"] == "certification.eligible.v1"
                for _, e in await published(inspector.jetstream())
            )

        await until(eligible)
    finally:
        await publisher.close()
        await inspector.close()

    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.entrypoints.cli",
            "status",
            uln,
            "--nats-url",
            url,
            "--nats-nkey",
            str(credentials / "auditor.nk"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    reply = json.loads(status.stdout)
    assert reply["error"] is None
    assert [(r["qualification"], r["status"]) for r in reply["registrations"]] == [
        ("500/9203/0", "eligible")
    ]

    assert service.stop() == 0
    events = [e["event"] for e in service.entries()]
    assert events.index("service.stopped") < events.index("nats_server.stopped")
    with pytest.raises(OSError):  # the server it started is gone with it
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert (tmp_path / "nats" / "jetstream").is_dir()  # its data stays for the next start
