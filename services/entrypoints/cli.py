"""The ``learner-records`` command: one sub-command per module in services.entrypoints.commands,
and the developer commands (devtools.commands) when run from a source checkout."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)``, which adds its parser and sets
# ``handler`` (args -> exit status). Listed, not discovered, so that a typo in a
# module fails loudly instead of silently dropping a command.
COMMAND_MODULES = (
    "services.entrypoints.commands.catalogue",
    "services.entrypoints.commands.check",
    "services.entrypoints.commands.replay",
    "services.entrypoints.commands.audit",
    "services.entrypoints.commands.export",
    "services.entrypoints.commands.erase",
    "services.entrypoints.commands.backfill",
    "services.entrypoints.commands.redrive",
    "services.entrypoints.commands.serve",
    "services.entrypoints.commands.status",
    "services.entrypoints.commands.rebuild",
    "services.entrypoints.commands.nats_keys",
    "services.entrypoints.commands.web",
)
# Not in the wheel: present in a source checkout, where `make run`, demos and benchmarks run.
DEV_COMMAND_MODULES = ("devtools.commands.demo", "devtools.commands.loadgen")

EXIT_USAGE = 2


def build_parser(
    modules: Sequence[str] = COMMAND_MODULES + DEV_COMMAND_MODULES,
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learner-records",
        description="Event-sourced learner records: who may be certificated, and why.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            # Only a dev command whose package is absent is skipped (an installed wheel has
            # no devtools); a runtime command that cannot be imported fails loudly.
            if name not in DEV_COMMAND_MODULES or error.name not in ("devtools", name):
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
