"""A registration's status as the document the read model stores and a status query returns.

The fields are those of ``contracts.status.RegistrationStatus``, plus the dates the read
model needs to move the status on with the calendar (``withdrawn_on``,
``certificated_on``) and the day the status was worked out (``as_of``).
"""

from __future__ import annotations

from typing import Any

from domain.catalogue import Catalogue
from domain.learner import RegistrationView, counted_unit

__all__ = ["CONTRACT_FIELDS", "registration_document"]

CONTRACT_FIELDS = (
    "qualification",
    "status",
    "registered_on",
    "completed_on",
    "claim_by",
    "counted_units",
    "credits",
)


def registration_document(view: RegistrationView, catalogue: Catalogue) -> dict[str, Any]:
    units = [counted_unit(achievement, catalogue) for achievement in view.counted()]
    return {
        "qualification": view.qualification,
        "status": view.status.value,
        "registered_on": view.registered_on.isoformat(),
        "completed_on": _iso(view.completed_on),
        "claim_by": view.claim_by.isoformat(),
        "counted_units": units,
        "credits": sum(u["credits"] or 0 for u in units),
        "withdrawn_on": _iso(view.withdrawn_on),
        "certificated_on": _iso(view.certificated_on),
        "as_of": view.as_of.isoformat(),
    }


def _iso(day: Any) -> str | None:
    return None if day is None else str(day.isoformat())
