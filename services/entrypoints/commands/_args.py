"""Argument types shared by the commands, with errors argparse reports as usage errors."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime

from contracts.uln import is_valid_uln


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def uln(text: str) -> str:
    if not is_valid_uln(text):
        raise argparse.ArgumentTypeError(
            f"not a valid ULN: {text!r} (10 digits, first not 0, passing the ULN checksum)"
        )
    return text


def timestamp(text: str) -> datetime:
    """An RFC 3339 moment; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a timestamp such as 2026-03-03T12:00:00Z: {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# A docstring's opening ``learner-records CMD ARGS``: prefix: the usage line says it already.
_COMMAND_PREFIX = re.compile(r"^``[^`]*``:\s*")
_LITERAL = re.compile(r"``([^`]*)``")


def description(doc: str | None) -> str | None:
    """A command's ``--help`` description from its module docstring: the first paragraph,
    without the reStructuredText markup that argparse would print as it is."""
    if not doc:
        return None
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    text = _LITERAL.sub(r"\1", _COMMAND_PREFIX.sub("", paragraph))
    return text[:1].upper() + text[1:]
