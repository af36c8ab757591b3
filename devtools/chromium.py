"""Debian's headless Chromium for the pages' browser tests: found, or installed as root.

Playwright drives it (``playwright`` from PyPI brings its driver, never a browser: we
never run ``playwright install``). ``python -m devtools.chromium ensure`` finds the
browser, runs ``apt-get install chromium`` when it is missing and we are root on
Debian, and otherwise fails with one line saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "CHROMIUM_ENV",
    "LAUNCH_ARGS",
    "ChromiumNotFoundError",
    "ensure_chromium",
    "find_chromium",
]

CHROMIUM_ENV = "LEARNER_RECORDS_CHROMIUM"
_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Headless in a container: no sandbox (we run as root), no GPU, /tmp rather than a small
# /dev/shm, and nothing that reaches out to the network on its own.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
INSTALL_HINT = (
    "the browser tests need Debian's chromium: apt-get install chromium "
    f"(or set {CHROMIUM_ENV} to a Chromium binary)"
)


class ChromiumNotFoundError(RuntimeError):
    pass


def find_chromium() -> Path:
    given = os.environ.get(CHROMIUM_ENV)
    for candidate in (given,) if given else _CANDIDATES:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ChromiumNotFoundError(INSTALL_HINT)


def ensure_chromium() -> Path:
    try:
        return find_chromium()
    except ChromiumNotFoundError:
        if os.geteuid() != 0 or shutil.which("apt-get") is None or os.environ.get(CHROMIUM_ENV):
            raise
    print("chromium not found: apt-get install chromium", file=sys.stderr)
    apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=apt)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
        check=True,
        env=apt,
    )
    return find_chromium()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["ensure"]):
        print("usage: python -m devtools.chromium [ensure]", file=sys.stderr)
        return 2
    try:
        print(f"chromium: {ensure_chromium()}")
    except ChromiumNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"{' '.join(error.cmd)} failed (exit {error.returncode}); {INSTALL_HINT}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
