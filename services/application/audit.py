"""A learner's stored history as an auditor's timeline, in two kinds of time.

The record is rebuilt event by event through the one fold (``LearnerRecord.apply``),
exactly as the writer and the read model build it, and after each fact every
registration is evaluated as of the day the fact was received: what the service knew
then, and so why it decided what it decided next.

Two times, combinable (bitemporal):

- ``known_at`` (transaction time): only what had been stored by that moment, to answer
  "what did you know when you published that?";
- ``as_of`` (valid time): statuses as of that day, from the facts effective by then.

A late-arriving achievement, effective before ``as_of`` but received after
``known_at``, therefore moves the ``as_of`` answer only once it is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from domain.catalogue import Catalogue
from domain.learner import (
    Decision,
    DecisionTaken,
    EventRefused,
    FactRecorded,
    LearnerErased,
    LearnerEvent,
    LearnerRecord,
    Registered,
    effective_on,
    registration_views,
)
from services.application.summaries import decision_data, decision_summary, registration_summary

__all__ = ["ERASED", "Audit", "Step", "decision_time", "timeline"]

# How a personal field reads once its learner's key is destroyed.
ERASED = "(erased)"


@dataclass(slots=True)
class Step:
    """One stored fact or refusal, the decisions that followed it, and the status after it."""

    kind: str  # "fact" | "refused" | "decision" (time alone) | "erased"
    received_at: datetime | None
    effective_on: date | None
    event: dict[str, Any] | None
    refusal: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "effective_on": self.effective_on.isoformat() if self.effective_on else None,
            "event": self.event,
            "refusal": self.refusal,
            "decisions": self.decisions,
            "registrations": self.registrations,
        }


@dataclass(slots=True)
class Audit:
    uln: str
    as_of: date
    known_at: datetime | None
    steps: list[Step]
    registrations: list[dict[str, Any]]
    refusals: list[dict[str, Any]]
    erased_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "uln": self.uln,
            "as_of": self.as_of.isoformat(),
            "as_known_at": self.known_at.isoformat() if self.known_at else None,
            "erased_at": self.erased_at.isoformat() if self.erased_at else None,
            "timeline": [step.to_json() for step in self.steps],
            "registrations": self.registrations,
            "refusals": self.refusals,
        }


def timeline(
    uln: str,
    history: Sequence[LearnerEvent],
    catalogue: Catalogue,
    as_of: date,
    known_at: datetime | None = None,
) -> Audit:
    record = LearnerRecord(uln)
    steps: list[Step] = []
    for event in _known(history, known_at):
        record.apply(event)
        match event:
            case FactRecorded(arrival=arrival):
                received = arrival.received_at
                step = Step("fact", received, effective_on(event.fact), _original(event))  # type: ignore[attr-defined]
                _evaluate(step, record, catalogue, min(received.date(), as_of))
                steps.append(step)
            case EventRefused(arrival=arrival):
                refusal = {
                    "reason": event.reason,
                    "detail": event.detail,
                    "decision": event.decision.id,
                }
                step = Step("refused", arrival.received_at, None, _original(event), refusal)
                steps.append(step)
            case DecisionTaken(decision=decision):
                cause = decision_data(decision).get("caused_by")
                if not steps or steps[-1].kind != "fact" or cause is None:
                    # Time alone moved the registration on: a step of its own.
                    step = Step("decision", decision_time(decision), None, None)
                    _evaluate(step, record, catalogue, min(decision.decided_on, as_of))
                    steps.append(step)
                steps[-1].decisions.append(_explained(decision))
            case LearnerErased():
                steps.append(Step("erased", event.erased_at, None, {"reason": event.reason}))
    final = [
        registration_summary(view, catalogue)
        for view in registration_views(record, catalogue, as_of)
    ]
    refusals = [
        {
            "received_at": r.arrival.received_at.isoformat(),
            "event_id": r.id,
            "source": r.source,
            "reason": r.reason,
            "detail": r.detail,
            "decision": r.decision.id,
        }
        for r in record.refusals
    ]
    return Audit(uln, as_of, known_at, steps, final, refusals, record.erased_at)


def decision_time(decision: Decision) -> datetime:
    """When a decision was taken: its CloudEvent's ``time``."""
    return datetime.fromisoformat(orjson.loads(decision.cloudevent)["time"])


def _known(history: Iterable[LearnerEvent], known_at: datetime | None) -> Iterable[LearnerEvent]:
    """The events stored by ``known_at`` (all when None)."""
    for event in history:
        if known_at is None or _stored_at(event) <= known_at:
            yield event


def _stored_at(event: LearnerEvent) -> datetime:
    match event:
        case FactRecorded(arrival=arrival) | EventRefused(arrival=arrival):
            return arrival.received_at
        case DecisionTaken(decision=decision):
            return decision_time(decision)
        case LearnerErased():
            return event.erased_at
    raise TypeError(type(event).__name__)  # pragma: no cover


def _original(event: FactRecorded | EventRefused) -> dict[str, Any]:
    """The event as received; once erased, what the typed event still says."""
    original = event.arrival.original
    if original is not None:
        try:
            value = orjson.loads(original)
        except orjson.JSONDecodeError:
            return {"raw": original.decode("utf-8", errors="replace")}
        return value if isinstance(value, dict) else {"raw": value}
    if isinstance(event, EventRefused):
        return {"id": event.id, "source": event.source, "original": ERASED}
    evidence = event.fact.evidence  # type: ignore[attr-defined]
    data: dict[str, Any] = {"uln": event.uln}
    for name in ("qualification", "unit", "revokes", "reason", "centre", "certificate_number"):
        value = getattr(event.fact, name, None)  # type: ignore[attr-defined]
        if value is not None:
            data[name] = value
    day = effective_on(event.fact)  # type: ignore[attr-defined]
    if day is not None:
        data[_EFFECTIVE_FIELD.get(evidence.type, "effective_on")] = day.isoformat()
    if isinstance(event, Registered):
        data["date_of_birth"] = ERASED
    return {
        "id": evidence.id,
        "source": evidence.source,
        "type": evidence.type,
        "time": evidence.time.isoformat(),
        "subject": event.uln,
        "data": data,
        "original": ERASED,
    }


_EFFECTIVE_FIELD = {
    "learner.registered.v1": "registered_on",
    "unit.achieved.v1": "achieved_on",
    "credit.transferred.v1": "achieved_on",
    "registration.withdrawn.v1": "withdrawn_on",
    "certificate.issued.v1": "issued_on",
}


def _evaluate(step: Step, record: LearnerRecord, catalogue: Catalogue, day: date) -> None:
    step.registrations = [
        registration_summary(view, catalogue, explain=False)
        for view in registration_views(record, catalogue, day)
    ]


def _explained(decision: Decision) -> dict[str, Any]:
    summary = decision_summary(decision)
    data = decision_data(decision)
    summary["caused_by"] = data.get("caused_by")
    summary["time"] = decision_time(decision).isoformat()
    if "detail" in data:
        summary["detail"] = data["detail"]
    units = data.get("counted_units") or data.get("units")
    if units:
        summary["units"] = [
            {"unit": u["unit"], "achieved_on": u["achieved_on"], "evidence": u["evidence"]["id"]}
            for u in units
        ]
    return summary
