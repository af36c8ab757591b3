"""A learner's stored history as an auditor's timeline.

The learner record is rebuilt event by event from the store, exactly as the
aggregate rebuilt it, and after each fact every registration is evaluated as
of the day that fact was received: what the service knew then, and so why it
decided what it decided next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.catalogue import Catalogue
from domain.learner import Decision, LearnerRecord, decode_fact, registration_views
from services.application.summaries import decision_summary, registration_summary


@dataclass(slots=True)
class Step:
    """One stored fact or refusal, the decisions that followed it, and the status after it."""

    kind: str  # "fact" | "refused" | "decision" (one taken by time alone)
    received_at: datetime | None
    event: dict[str, Any] | None
    refusal: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "event": self.event,
            "refusal": self.refusal,
            "decisions": self.decisions,
            "registrations": self.registrations,
        }


def timeline(
    uln: str, stored: Iterable[Any], catalogue: Catalogue, as_of: date
) -> tuple[list[Step], list[dict[str, Any]]]:
    """The steps received by ``as_of`` and, last, every registration as of ``as_of``."""
    record = LearnerRecord(uln)
    steps: list[Step] = []
    # The aggregate's event classes are made by @event; their names are the contract.
    for event in stored:
        kind = type(event).__name__
        if kind == "FactRecorded":
            received = datetime.fromisoformat(event.received_at)
            if received.date() > as_of:
                break
            record.seen[(event.inbound["source"], event.inbound["id"])] = event.digest
            record.add(decode_fact(event.inbound))
            steps.append(Step("fact", received, event.inbound))
            _evaluate(steps[-1], record, catalogue, received.date())
        elif kind == "FactRefused":
            received = datetime.fromisoformat(event.received_at)
            if received.date() > as_of:
                break
            record.seen.setdefault((event.source, event.event_id), event.digest)
            data = event.decision["data"]
            refusal = {
                "reason": data["reason"],
                "detail": data["detail"],
                "decision": event.decision["id"],
            }
            steps.append(Step("refused", received, _as_object(data["original"]), refusal))
        elif kind == "DecisionTaken":
            decision = Decision.from_json(event.decision)
            if decision.decided_on > as_of:
                break
            record.note(decision.kind.value, decision.qualification, decision.id)
            if not steps or steps[-1].kind != "fact" or _caused_by(decision) is None:
                # Time alone moved the registration on: a step of its own.
                steps.append(Step("decision", decision.taken_at, None))
                _evaluate(steps[-1], record, catalogue, decision.decided_on)
            steps[-1].decisions.append(_explained(decision))
    final = [
        registration_summary(v, catalogue) for v in registration_views(record, catalogue, as_of)
    ]
    return steps, final


def _evaluate(step: Step, record: LearnerRecord, catalogue: Catalogue, day: date) -> None:
    step.registrations = [
        registration_summary(view, catalogue) for view in registration_views(record, catalogue, day)
    ]


def _explained(decision: Decision) -> dict[str, Any]:
    summary = decision_summary(decision)
    summary["caused_by"] = _caused_by(decision)
    if "detail" in decision.data:
        summary["detail"] = decision.data["detail"]
    units = decision.data.get("counted_units") or decision.data.get("units")
    if units:
        summary["units"] = [
            {"unit": u["unit"], "achieved_on": u["achieved_on"], "evidence": u["evidence"]["id"]}
            for u in units
        ]
    return summary


def _caused_by(decision: Decision) -> dict[str, str] | None:
    cause = decision.data.get("caused_by")
    return dict(cause) if isinstance(cause, dict) else None


def _as_object(original: Any) -> dict[str, Any]:
    return original if isinstance(original, dict) else {"raw": original}
