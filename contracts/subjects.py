"""NATS subjects: one inbound subject per learner, one outbound subject per kind and learner.

A learner's events share one subject so JetStream keeps them in order; the
ULN is a safe subject token (ten digits: non-empty, no dots, no wildcards).
"""

from __future__ import annotations

from typing import Final

from contracts.outbound import UNKNOWN_LEARNER, DecisionKind
from contracts.uln import is_valid_uln

__all__ = [
    "INBOUND_SUBJECTS",
    "OUTBOUND_SUBJECTS",
    "STATUS_QUERY_SUBJECT",
    "inbound_subject",
    "outbound_subject",
]

INBOUND_SUBJECTS: Final = "records.in.>"
OUTBOUND_SUBJECTS: Final = "records.out.>"
STATUS_QUERY_SUBJECT: Final = "records.query.status"


def inbound_subject(uln: str) -> str:
    if not is_valid_uln(uln):
        raise ValueError(f"not a valid ULN: {uln!r}")
    return f"records.in.{uln}"


def outbound_subject(kind: DecisionKind, uln: str) -> str:
    """``records.out.<kind>.<uln>``; only a rejection may use ``unknown`` for the ULN."""
    if not (is_valid_uln(uln) or (kind is DecisionKind.REJECTED and uln == UNKNOWN_LEARNER)):
        raise ValueError(f"not a valid ULN for a {kind} subject: {uln!r}")
    return f"records.out.{DecisionKind(kind).value}.{uln}"
