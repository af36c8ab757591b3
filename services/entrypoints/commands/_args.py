"""Argument types shared by the commands, with errors argparse reports as usage errors."""

from __future__ import annotations

import argparse
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
