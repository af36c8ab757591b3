"""Without Node, the contract checks fail with a message saying what to install; never skip."""

from __future__ import annotations

from pathlib import Path

import node_tools
import pytest


def test_a_missing_node_fails_the_test_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(node_tools.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"node is not on PATH.*Node 20\+ and npm"):
        node_tools.run_node("check-schemas.mjs", "contracts/schemas")


def test_missing_node_packages_fail_the_test_saying_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(node_tools, "NODE_DIR", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"node_modules is missing.*npm ci"):
        node_tools.run_node("check-schemas.mjs", "contracts/schemas")
