"""Running the Node tooling in tools/node from the tests, failing loudly when it is missing.

The contract checks use the ecosystem's own tools (the official AsyncAPI parser, ajv),
which are Node packages. A missing Node is a failure with a clear message, never a
skip: a suite that silently skips its contract checks proves nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NODE_DIR = REPO / "tools" / "node"

__all__ = ["NODE_DIR", "REPO", "run_node"]


def run_node(script: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """``node tools/node/<script> args…`` from the repository root, output captured."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: the contract checks need Node 20+ and npm "
            "(apt-get install nodejs npm), then `make test` installs tools/node",
            pytrace=False,
        )
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail(
            "tools/node/node_modules is missing: `make test` installs it "
            "(or: cd tools/node && npm ci --ignore-scripts)",
            pytrace=False,
        )
    return subprocess.run(
        [node, str(NODE_DIR / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
