"""NATS subjects: one inbound subject per learner, one outbound subject per kind and learner.

A learner's events share one subject so JetStream keeps them in order; the
ULN is a safe subject token (ten digits: non-empty, no dots, no wildcards).
Publishers publish to ``records.in.<ULN>``; the account's subject mapping may add a
partition token, so the service receives ``records.in.<k>.<ULN>``. Either way the
learner is the last token, and it must be the event's own subject.
"""

from __future__ import annotations

from typing import Final

from contracts.jsonio import shown
from contracts.outbound import UNKNOWN_LEARNER, DecisionKind
from contracts.uln import is_valid_uln

__all__ = [
    "DEAD_LETTER_PREFIX",
    "INBOUND_PREFIX",
    "INBOUND_SUBJECTS",
    "OUTBOUND_SUBJECTS",
    "STATUS_QUERY_SUBJECT",
    "inbound_subject",
    "learner_token",
    "nats_subject_problem",
    "outbound_subject",
]

INBOUND_SUBJECTS: Final = "records.in.>"
INBOUND_PREFIX: Final = "records.in."
OUTBOUND_SUBJECTS: Final = "records.out.>"
STATUS_QUERY_SUBJECT: Final = "records.query.status"
# Where an inbound message the service failed to store goes, as records.dead.<ULN>.
DEAD_LETTER_PREFIX: Final = "records.dead"


def inbound_subject(uln: str) -> str:
    if not is_valid_uln(uln):
        raise ValueError(f"not a valid ULN: {uln!r}")
    return f"records.in.{uln}"


def outbound_subject(kind: DecisionKind, uln: str) -> str:
    """``records.out.<kind>.<uln>``; only a rejection may use ``unknown`` for the ULN."""
    if not (is_valid_uln(uln) or (kind is DecisionKind.REJECTED and uln == UNKNOWN_LEARNER)):
        raise ValueError(f"not a valid ULN for a {kind} subject: {uln!r}")
    return f"records.out.{DecisionKind(kind).value}.{uln}"


def learner_token(nats_subject: str) -> str:
    """The last token of a NATS subject: where an inbound subject names its learner."""
    return nats_subject.rsplit(".", 1)[-1]


def nats_subject_problem(nats_subject: str, event_subject: str) -> str | None:
    """Why an event may not arrive on ``nats_subject``, in words; None when it may.

    The subject must be ``records.in.<subject>`` or, once mapped to a partition,
    ``records.in.<k>.<subject>``, where ``<subject>`` is the event's own ``subject``.
    """
    tokens = nats_subject.split(".")
    where = shown(nats_subject)
    if not nats_subject.startswith(INBOUND_PREFIX) or len(tokens) not in (3, 4) or "" in tokens:
        return f"NATS subject {where} is not records.in.<subject> (nor records.in.<k>.<subject>)"
    if tokens[-1] != event_subject:
        return (
            f"NATS subject {where} names learner {shown(tokens[-1])}"
            f" but the event's subject is {shown(event_subject)}"
        )
    return None
