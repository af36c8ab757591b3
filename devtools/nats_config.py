"""Write deploy/'s NATS files from the generator (``make nats-config``); ``--check`` reports.

The files are what services.adapters.nats.server_config renders with its defaults: one
server (deploy/nats.conf), the accounts every server includes (deploy/accounts.conf),
and a 3-node loopback cluster (deploy/nats-cluster/node-N.conf). The embedded default
renders the same templates at every start, so nothing here can drift from what runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from services.adapters.nats.server_config import deploy_files

__all__ = ["DEPLOY_DIR", "main", "stale_files", "write_files"]

DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy"


def stale_files(directory: Path = DEPLOY_DIR) -> list[str]:
    """The files under ``directory`` that are missing or differ from what is rendered."""
    stale = []
    for name, text in deploy_files().items():
        path = directory / name
        if not path.is_file() or path.read_text() != text:
            stale.append(name)
    return stale


def write_files(directory: Path = DEPLOY_DIR) -> list[str]:
    written = []
    for name in stale_files(directory):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(deploy_files()[name])
        written.append(name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: deploy/{name}", file=sys.stderr)
        return 1 if stale else 0
    for name in write_files():
        print(f"wrote deploy/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
