"""The ``learner-records`` command: one sub-command per module in services.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)``, which adds its parser and sets
# ``handler`` (args -> exit status). Listed, not discovered, so that a typo in a
# module fails loudly instead of silently dropping a command.
COMMAND_MODULES = (
    "services.commands.catalogue",
    "services.commands.check",
    "services.commands.replay",
    "services.commands.audit",
    "services.commands.serve",
    "services.commands.demo",
    "services.commands.status",
    "services.commands.rebuild",
    "services.commands.loadgen",
)

EXIT_USAGE = 2


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learner-records",
        description="Event-sourced learner records: who may be certificated, and why.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # the module exists but something it needs does not
                raise
            continue  # not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
