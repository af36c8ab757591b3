"""Registrations, rule progress and decisions as plain JSON-ready dicts, for people.

What ``replay`` and ``audit`` print and the auditors' pages show: a registration with
the reason its status holds and its progress rule by rule, a decision in brief. (The
status query and the read model answer with the contract's shape instead:
projections.documents.)
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.catalogue import Catalogue
from domain.learner import Decision, RegistrationView
from domain.rules import Evaluation


def registration_summary(
    view: RegistrationView, catalogue: Catalogue, *, explain: bool = True
) -> dict[str, Any]:
    """``explain``: work out what is missing (a search over every unit not achieved,
    costly: the audit's steps leave it to the final statuses)."""
    qualification = catalogue.qualification(view.qualification)
    evaluation = view.evaluation
    return {
        "qualification": view.qualification,
        "title": qualification.title,
        "status": view.status.value,
        "reason": view.reason(),
        "registered_on": view.registered_on.isoformat(),
        "completed_on": _iso(view.completed_on),
        "claim_by": view.claim_by.isoformat(),
        "withdrawn_on": _iso(view.withdrawn_on),
        "certificated_on": _iso(view.certificated_on),
        "credits": evaluation.counted_credits,
        "counted_units": list(evaluation.counted_units),
        "not_counted": list(evaluation.not_counted),
        "rules": rule_progress(evaluation),
        "missing": missing(evaluation) if explain else None,
        "rests_on": [evidence.cite() for evidence in view.grounds()],
    }


def rule_progress(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "rule": rule.rule_index,
            "kind": rule.kind,
            "description": rule.description,
            "measure": rule.measure,
            "minimum": rule.minimum,
            "maximum": rule.maximum,
            "had": rule.had,
            "satisfied": rule.satisfied,
        }
        for rule in evaluation.rules
    ]


def missing(evaluation: Evaluation) -> dict[str, Any] | None:
    shortfall = evaluation.shortfall
    if evaluation.complete or shortfall is None:
        return None
    return {
        "fewest_credits": shortfall.fewest_credits,
        "cheapest_units": list(shortfall.cheapest_units),
        "cheapest_glh": shortfall.cheapest_glh,
        "cheapest_credits": shortfall.cheapest_credits,
    }


def decision_summary(decision: Decision) -> dict[str, Any]:
    data = decision_data(decision)
    summary: dict[str, Any] = {
        "id": decision.id,
        "kind": decision.kind.value,
        "type": decision.kind.event_type,
        "uln": data.get("uln") or _learner_of(decision),
        "qualification": decision.qualification,
        "decided_on": decision.decided_on.isoformat(),
    }
    for key in ("completed_on", "claim_by", "reason", "because", "credits"):
        if key in data:
            summary[key] = data[key]
    return summary


def decision_data(decision: Decision) -> dict[str, Any]:
    """The ``data`` of the CloudEvent a decision publishes."""
    data: dict[str, Any] = orjson.loads(decision.cloudevent)["data"]
    return data


def _learner_of(decision: Decision) -> str:
    return decision.subject.rsplit(".", 1)[-1]


def _iso(day: Any) -> str | None:
    return None if day is None else str(day.isoformat())
