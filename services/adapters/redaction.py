"""Secrets out of text that may be logged or shown: passwords in URLs and DSNs, nkey seeds."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

__all__ = ["MASK", "redact", "redact_event"]

MASK = "***"

# scheme://user:password@host — the password is whatever lies between the first ':' after
# the user and the '@'. A URL whose path holds an '@' may lose a little more than the
# password to the mask; showing too little is the safe way to be wrong.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s]+(?=@)")
# password=… in a URL's query or a libpq keyword string (also quoted: password='a b').
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&;,]+)", re.IGNORECASE
)
# An nkey seed: 'S', the kind of key (User, Account, Operator, server N, Cluster), then
# base32 — 58 characters in all. Nothing of ours logs one; this catches an accident.
_NKEY_SEED = re.compile(r"\bS[UAONC][A-Z2-7]{56}\b")


def redact(text: str) -> str:
    """``text`` with every password and nkey seed replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _KEYWORD_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _NKEY_SEED.sub(MASK, text)


def redact_event(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: redact every string value of a log line, the event included.

    It runs last before rendering, after exceptions have been formatted to text, so a
    traceback quoting a connection URL is redacted too.
    """
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event
