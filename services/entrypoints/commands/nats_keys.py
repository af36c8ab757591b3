"""``learner-records nats-keys DIR``: an nkey per role for an external NATS deployment.

Writes ``DIR/<role>.nk`` (the seeds, 0600; existing ones are kept) and prints each
role's public key as the environment line that deploy/accounts.conf reads, e.g. for a
compose ``env_file`` or a Kubernetes secret: the seeds go to the clients, the public
keys to the servers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from services.adapters.nats.credentials import CredentialsError, ensure_credentials
from services.adapters.nats.server_config import NKEY_ENV
from services.entrypoints.commands._args import description
from services.entrypoints.commands._output import fail
from services.entrypoints.logging import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "nats-keys",
        help="make (or reuse) an nkey per role in DIR; print the public keys for nats-server",
        description=description(__doc__),
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="where the seed files go")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # stdout is for the key lines (an env file); notes on created files go to stderr.
    configure_logging(level="WARNING")
    try:
        keys = ensure_credentials(args.dir)
    except (CredentialsError, OSError) as error:
        fail(str(error))
    for role, key in keys.items():
        print(f"{NKEY_ENV[role]}={key.public_key}")
    return 0
