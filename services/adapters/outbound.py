"""A stored decision as the CloudEvent the relay publishes, and where it goes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from contracts.outbound import DECISION_EVENT_CLASSES, SERVICE_SOURCE, DecisionKind
from contracts.outbound import rejection_subject as filed_under
from contracts.subjects import outbound_subject
from domain.learner import Decision

__all__ = ["OutboundMessage", "outbound_message"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    subject: str
    msg_id: str  # Nats-Msg-Id: the decision id, so JetStream drops a re-publish
    payload: bytes
    event_type: str


def outbound_message(decision: Decision) -> OutboundMessage:
    """The decision validated against its outbound contract and serialised canonically.

    Validation here is the last line of defence: a decision that does not fit
    its published schema fails loudly in the relay instead of reaching a
    certification service.
    """
    kind = DecisionKind(decision.kind.value)
    model = DECISION_EVENT_CLASSES[kind]
    uln = filed_under(decision.uln) if kind is DecisionKind.REJECTED else decision.uln
    envelope = {
        "specversion": "1.0",
        "id": decision.id,
        "source": SERVICE_SOURCE,
        "type": kind.event_type,
        "time": decision.taken_at.isoformat(),
        "subject": uln,
        "datacontenttype": "application/json",
        "data": dict(decision.data),
    }
    # JSON mode: strict validation takes ISO strings for dates there.
    event = model.model_validate_json(json.dumps(envelope))
    return OutboundMessage(
        subject=outbound_subject(kind, uln),
        msg_id=decision.id,
        payload=event.to_json_bytes(),
        event_type=kind.event_type,
    )
