"""How an e-portfolio publishes to the service: subject and Nats-Msg-Id for some bytes."""

from __future__ import annotations

import hashlib

import orjson

from contracts.uln import is_valid_uln

__all__ = ["inbound_route"]


def inbound_route(raw: bytes) -> tuple[str, str]:
    """Where a publisher sends ``raw`` and the ``Nats-Msg-Id`` it gives it.

    ``records.in.<ULN>`` keeps one learner's events in order (unreadable bytes go to
    ``records.in.unknown``; the service refuses them). The id is a digest of the bytes, so
    a publisher's retry within the duplicate window is dropped by JetStream, while the
    same CloudEvent id with other content still reaches the service, which refuses it as
    ``conflicting_duplicate`` instead of it vanishing silently.
    """
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        event = None
    subject = event.get("subject") if isinstance(event, dict) else None
    uln = subject if isinstance(subject, str) and is_valid_uln(subject) else "unknown"
    return f"records.in.{uln}", "sha256:" + hashlib.sha256(raw).hexdigest()
