"""NATS header names on the wire, and the headers every published event carries.

One place for the names, so the relay, the ingest consumer, the dead-letter path and
the AsyncAPI document (``devtools/asyncapi.py``) cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "CE_HEADER_PREFIX",
    "CLOUDEVENTS_JSON_CONTENT_TYPE",
    "CONTENT_TYPE_HEADER",
    "DEAD_LETTER_HEADERS",
    "MSG_ID_HEADER",
    "OUTBOUND_HEADERS",
    "TRACEPARENT_HEADER",
    "TRACESTATE_HEADER",
    "outbound_headers",
]

CONTENT_TYPE_HEADER: Final = "Content-Type"
# The JSON event format's media type: what marks structured mode (binding 1.0.3 §3).
CLOUDEVENTS_JSON_CONTENT_TYPE: Final = "application/cloudevents+json"
# Binary mode: each CloudEvents attribute as ce-<name> (binding 1.0.3 §3.1.3.1).
CE_HEADER_PREFIX: Final = "ce-"
# JetStream drops a message whose id it has seen within the stream's duplicate window.
MSG_ID_HEADER: Final = "Nats-Msg-Id"
# W3C Trace Context, carried from an inbound event to the decisions it causes.
TRACEPARENT_HEADER: Final = "traceparent"
TRACESTATE_HEADER: Final = "tracestate"
# What every outbound message carries besides its Nats-Msg-Id.
OUTBOUND_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON_CONTENT_TYPE}
)
# On a dead letter (records.dead.<ULN>): why it died and where it came from.
DEAD_LETTER_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Learner-Records-Dead-Reason": "why the service could not store the message",
        "Learner-Records-Dead-Subject": "the subject the message came on",
        "Learner-Records-Dead-Stream": "the stream it was read from",
        "Learner-Records-Dead-Sequence": "its sequence number in that stream",
        "Learner-Records-Dead-Deliveries": "how many deliveries failed",
    }
)


def outbound_headers(
    event_id: str, *, traceparent: str | None = None, tracestate: str | None = None
) -> dict[str, str]:
    """The headers of one published event: structured mode, its id, its trace context.

    ``tracestate`` without ``traceparent`` means nothing (W3C Trace Context) and is dropped.
    """
    headers = {**OUTBOUND_HEADERS, MSG_ID_HEADER: event_id}
    if traceparent is not None:
        headers[TRACEPARENT_HEADER] = traceparent
        if tracestate is not None:
            headers[TRACESTATE_HEADER] = tracestate
    return headers
