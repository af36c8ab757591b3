"""The embedded nats-server: start, readiness, restart on the same address, failures."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from services.adapters.nats.embedded import EmbeddedNatsServer, NatsServerError
from services.adapters.nats.jetstream import connect
from services.adapters.nats.streams import Streams, check_partition_mapping, declare

pytestmark = pytest.mark.nats

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats.conf"


def _varz(server: EmbeddedNatsServer) -> dict[str, object]:
    with urllib.request.urlopen(server.monitoring_url + "/varz", timeout=2) as resp:
        varz: dict[str, object] = json.load(resp)
    return varz


def test_port_zero_picks_a_free_port_and_restart_keeps_it(tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", port=0) as server:
        port, http_port, first_pid = server.port, server.http_port, server.pid
        assert port != 0 and http_port != 0
        assert server.url == f"nats://127.0.0.1:{port}"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

        server.restart()

        assert (server.port, server.http_port) == (port, http_port)
        assert server.pid != first_pid and server.is_running
    assert not server.is_running
    server.stop()  # a second stop is harmless


async def test_async_context_manager_serves_jetstream(tmp_path: Path) -> None:
    async with EmbeddedNatsServer(tmp_path / "nats", port=0) as server:
        client = await connect(server.url)
        try:
            info = await client.jetstream().account_info()
            assert info.streams == 0
        finally:
            await client.close()
    assert not server.is_running


async def test_deploy_config_starts_and_holds_the_default_streams(tmp_path: Path) -> None:
    store = tmp_path / "store"
    async with EmbeddedNatsServer(store, port=0, config_file=DEPLOY_CONF) as server:
        jetstream = _varz(server)["jetstream"]
        assert isinstance(jetstream, dict)
        assert Path(jetstream["config"]["store_dir"]).is_relative_to(store)
        assert jetstream["config"]["sync_always"] is True
        client = await connect(server.url)
        try:
            # The default limits must fit in the file store the config allows, and the
            # server maps records.in.<ULN> onto the partition streams.
            await declare(client.jetstream(), Streams())
            await check_partition_mapping(client.jetstream(), Streams(), "1000000019")
        finally:
            await client.close()


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    bad_conf = tmp_path / "bad.conf"
    bad_conf.write_text("this is { not a config\n")
    server = EmbeddedNatsServer(tmp_path / "nats", port=0, config_file=bad_conf)
    with pytest.raises(NatsServerError, match="exited with code") as caught:
        server.start()
    assert caught.value.log_tail.strip() != ""
    assert not server.is_running


def test_a_taken_port_is_a_clear_error(nats_server: EmbeddedNatsServer, tmp_path: Path) -> None:
    second = EmbeddedNatsServer(tmp_path / "other", port=nats_server.port, ready_timeout=5)
    with pytest.raises(NatsServerError) as caught:
        second.start()
    assert "address already in use" in str(caught.value)


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats", binary=tmp_path / "no-such-nats-server")
    with pytest.raises(NatsServerError, match="cannot run"):
        server.start()
