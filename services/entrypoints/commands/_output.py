"""What every command shares: errors on stderr with exit status 2, JSON on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import orjson
from rich.console import Console

from services.adapters.redaction import redact

EXIT_USAGE = 2
# A learner the store or the service has never heard of: the same for every command.
EXIT_NOT_FOUND = 3


def fail(message: str, status: int = EXIT_USAGE) -> NoReturn:
    """A clear error on stderr, and the exit status scripts can test; never a password."""
    print(f"learner-records: error: {redact(message)}", file=sys.stderr)
    raise SystemExit(status)


_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def print_json(value: Any) -> None:
    # orjson: a replay's report of thousands of learners is written in a tenth of the
    # time json.dump takes. Datetimes pass through to str, as json.dump's default did;
    # what orjson refuses (an integer beyond 64 bits in a refused original) json writes.
    try:
        text = orjson.dumps(value, default=str, option=_JSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(text + "\n")


def console() -> Console:
    # Wide enough for unit titles when piped; rich picks the terminal width otherwise.
    return Console(width=None if sys.stdout.isatty() else 120, highlight=False)
