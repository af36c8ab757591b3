"""deploy/'s NATS files are what the generator renders, and nats-server accepts them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.nats_config import DEPLOY_DIR, stale_files, write_files
from services.adapters.nats.credentials import Role, ensure_credentials
from services.adapters.nats.embedded import find_nats_server
from services.adapters.nats.server_config import (
    NKEY_ENV,
    STORE_DIR_ENV,
    AccessSettings,
    deploy_files,
    partition_mapping,
    render_accounts,
)


def test_the_committed_deploy_files_are_current() -> None:
    stale = stale_files()
    assert not stale, f"stale deploy files {stale}: run `make nats-config` and commit the result"


def test_a_stale_or_missing_file_is_reported_and_rewritten(tmp_path: Path) -> None:
    write_files(tmp_path)
    assert stale_files(tmp_path) == []
    (tmp_path / "accounts.conf").write_text("# edited by hand\n")
    (tmp_path / "nats-cluster" / "node-2.conf").unlink()
    assert sorted(stale_files(tmp_path)) == ["accounts.conf", "nats-cluster/node-2.conf"]
    write_files(tmp_path)
    assert stale_files(tmp_path) == []


# accounts.conf is not a config of its own: every other file includes it.
@pytest.mark.parametrize("name", sorted(set(deploy_files()) - {"accounts.conf"}))
def test_nats_server_accepts_each_committed_config(name: str, tmp_path: Path) -> None:
    keys = ensure_credentials(tmp_path / "credentials")
    env = {
        **os.environ,
        STORE_DIR_ENV: str(tmp_path / "store"),
        **{NKEY_ENV[role]: key.public_key for role, key in keys.items()},
    }
    checked = subprocess.run(
        [str(find_nats_server()), "-t", "-c", str(DEPLOY_DIR / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_config_without_the_keys_in_its_environment_is_refused(tmp_path: Path) -> None:
    # Fail closed: a missing key must stop the server, not leave a user without one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNER_RECORDS_")}
    env[STORE_DIR_ENV] = str(tmp_path)
    checked = subprocess.run(
        [str(find_nats_server()), "-t", "-c", str(DEPLOY_DIR / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode != 0
    assert NKEY_ENV[Role.SERVICE] in checked.stdout + checked.stderr


def test_the_partition_mapping_names_p() -> None:
    assert partition_mapping(8) == {"records.in.*": "records.in.{{partition(8,1)}}.{{wildcard(1)}}"}
    assert "partition(3,1)" in render_accounts(AccessSettings(partitions=3))
    with pytest.raises(ValueError, match="at least 1"):
        partition_mapping(0)


def test_nats_keys_makes_the_seeds_once_and_prints_the_environment(tmp_path: Path) -> None:
    def nats_keys() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "services.entrypoints.cli", "nats-keys", str(tmp_path / "k")],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.splitlines()

    first = nats_keys()
    assert [line.split("=")[0] for line in first] == [NKEY_ENV[role] for role in Role]
    assert all(line.split("=")[1].startswith("U") for line in first)
    assert nats_keys() == first  # kept, not replaced
