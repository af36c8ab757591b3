"""The embedded nats-server: start, readiness, credentials, restart on the same address."""

from __future__ import annotations

import json
import stat
import urllib.request
from pathlib import Path

import pytest

from services.adapters.nats.connection import NatsUnavailableError, connect, connect_once
from services.adapters.nats.credentials import Role
from services.adapters.nats.embedded import EmbeddedNatsServer, NatsServerError
from services.adapters.nats.streams import Streams, check_partition_mapping, declare

pytestmark = pytest.mark.nats


def _ports(server: EmbeddedNatsServer) -> dict[str, list[str]]:
    """What the server itself reports it listens on (its ports file)."""
    ports: dict[str, list[str]] = json.loads(
        (server.store_dir / f"nats-server_{server.pid}.ports").read_text()
    )
    return ports


def test_port_zero_picks_a_free_port_and_restart_keeps_it(tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", port=0) as server:
        port, first_pid = server.port, server.pid
        assert port != 0
        assert server.url == f"nats://127.0.0.1:{port}"

        server.restart()

        assert server.port == port
        assert server.pid != first_pid and server.is_running
    assert not server.is_running
    server.stop()  # a second stop is harmless


def test_first_start_generates_private_credentials_and_later_starts_reuse_them(
    tmp_path: Path,
) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", port=0) as server:
        first = {role: key.public_key for role, key in server.keys.items()}
    credentials = tmp_path / "nats" / "credentials"
    assert sorted(p.name for p in credentials.iterdir()) == [
        "auditor.nk",
        "publisher.nk",
        "service.nk",
        "subscriber.nk",
    ]
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o700
    for seed in credentials.iterdir():
        assert stat.S_IMODE(seed.stat().st_mode) == 0o600
        assert seed.read_text().startswith("SU")  # an nkey user seed
    # The rendered accounts name every user: private too.
    assert stat.S_IMODE((tmp_path / "nats" / "accounts.conf").stat().st_mode) == 0o600
    assert len(set(first.values())) == len(Role)

    with EmbeddedNatsServer(tmp_path / "nats", port=0) as again:
        assert {role: key.public_key for role, key in again.keys.items()} == first
    with EmbeddedNatsServer(tmp_path / "elsewhere", port=0) as other:
        assert not set(first.values()) & {key.public_key for key in other.keys.values()}


def test_a_seed_file_left_readable_by_others_is_made_private_again(tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", port=0):
        pass
    seed = tmp_path / "nats" / "credentials" / "publisher.nk"
    seed.chmod(0o644)
    with EmbeddedNatsServer(tmp_path / "nats", port=0):
        pass
    assert stat.S_IMODE(seed.stat().st_mode) == 0o600


async def test_async_context_manager_serves_jetstream_to_the_service(tmp_path: Path) -> None:
    async with EmbeddedNatsServer(tmp_path / "nats", port=0) as server:
        client = await connect(server.options(Role.SERVICE))
        try:
            info = await client.jetstream().account_info()
            assert info.streams == 0
        finally:
            await client.close()
    assert not server.is_running


async def test_the_generated_config_holds_the_default_streams_and_fsyncs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    # Monitoring asked for, to read /varz: the only way to see the server's own settings.
    async with EmbeddedNatsServer(store, port=0, monitor_port=0) as server:
        assert server.monitoring_url is not None
        with urllib.request.urlopen(server.monitoring_url + "/varz", timeout=2) as resp:
            varz = json.load(resp)
        assert Path(varz["jetstream"]["config"]["store_dir"]).is_relative_to(store)
        assert varz["jetstream"]["config"]["sync_always"] is True
        # Asked for, it still listens on loopback only.
        assert varz["http_host"] == "127.0.0.1"
        client = await connect(server.options(Role.SERVICE))
        try:
            # The default limits must fit in the file store the config allows, and the
            # server maps records.in.<ULN> onto the partition streams.
            await declare(client.jetstream(), Streams())
        finally:
            await client.close()
        publisher = await connect(server.options(Role.PUBLISHER))
        try:
            await check_partition_mapping(publisher.jetstream(), Streams(), "1000000019")
        finally:
            await publisher.close()


def test_there_is_no_monitoring_port_by_default(tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", port=0) as server:
        assert server.monitoring_url is None
        assert set(_ports(server)) == {"nats"}
        assert "http" not in (tmp_path / "nats" / "nats.conf").read_text().replace("# ", "")


async def test_an_open_server_for_jetstream_internals_needs_no_credentials(
    tmp_path: Path,
) -> None:
    async with EmbeddedNatsServer(tmp_path / "nats", port=0, auth=False) as server:
        client = await connect_once(server.options())
        await client.close()
    assert not (tmp_path / "nats" / "credentials").exists()


async def test_readiness_refuses_a_server_that_does_not_know_our_keys(tmp_path: Path) -> None:
    # A stale accounts file naming someone else's keys: the server starts, but the
    # service could never connect. Start must say so, not wait out its timeout.
    bad = tmp_path / "bad.conf"
    bad.write_text(
        "jetstream { store_dir: $LEARNER_RECORDS_NATS_STORE }\n"
        'authorization { users: [{user: "someone", password: "else"}] }\n'
    )
    server = EmbeddedNatsServer(tmp_path / "nats", port=0, config_file=bad, ready_timeout=5)
    with pytest.raises(NatsServerError, match="authorization violation"):
        server.start()
    assert not server.is_running
    with pytest.raises(NatsUnavailableError):
        await connect_once(server.options(), timeout=1)


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
