"""``learner-records web``: the pages alone on a store, as a process, behind the token."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from web_support import LATE_LEARNER, WebProcess, build_store

from services.adapters.catalogue_files import load_catalogue

pytestmark = [pytest.mark.e2e]

TOKEN = "command-token"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("web-command"), load_catalogue())


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_it_serves_the_json_to_the_token_holder_only(store: Path) -> None:
    with WebProcess(store, token=TOKEN) as web:
        assert web.url.startswith("http://127.0.0.1:")
        assert get(f"{web.url}api/learners/{LATE_LEARNER}")[0] == 401
        assert get(f"{web.url}api/learners/{LATE_LEARNER}", "wrong")[0] == 401
        status, body = get(f"{web.url}api/learners/{LATE_LEARNER}", TOKEN)
        assert status == 200
        assert json.loads(body)["uln"] == LATE_LEARNER
        assert get(f"{web.url}", TOKEN)[0] == 200


def test_without_the_environment_it_generates_a_token_file(store: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "var" / "web" / "auditor.token"
    with WebProcess(store, "--token-file", str(token_file)) as web:
        token = token_file.read_text().strip()
        assert get(f"{web.url}api/learners/{LATE_LEARNER}")[0] == 401
        assert get(f"{web.url}api/learners/{LATE_LEARNER}", token)[0] == 200


def test_no_token_is_open_on_loopback(store: Path) -> None:
    with WebProcess(store, "--no-token") as web:
        assert get(f"{web.url}api/learners/{LATE_LEARNER}")[0] == 200


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--http", "0.0.0.0:0", "--no-token"], "loopback address only"),
        (["--http", "nonsense"], "HOST:PORT"),
        (["--store", "/nonexistent/store.sqlite"], "no event store"),
    ],
)
def test_it_refuses_clearly_with_exit_2(store: Path, args: list[str], says: str) -> None:
    command = [sys.executable, "-m", "services.entrypoints.cli", "web", "--store", str(store)]
    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert says in result.stderr
