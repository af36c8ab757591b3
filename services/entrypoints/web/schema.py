"""The JSON's shape for the OpenAPI document: ``Audit.to_json()``, field by field.

The API returns ``Audit.to_json()`` itself (the same object as ``audit --json``), not
these models re-serialised, so timestamps and dates read exactly as the CLI prints
them. These models only describe it; a test validates real audits against them, so the
document cannot drift from what is served. Fields may be added (SPEC §7), hence
``extra="allow"``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditDocument", "Problem"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RuleProgress(_Open):
    rule: int = Field(description="the rule's position in the qualification's rules")
    kind: str
    description: str
    measure: Literal["credits", "units"]
    minimum: int | None
    maximum: int | None
    had: int = Field(description="what the counted selection has, in the rule's measure")
    satisfied: bool


class Missing(_Open):
    fewest_credits: int = Field(description="the fewest further credits that could complete it")
    cheapest_units: list[str] = Field(description="a cheapest completing set of units, by GLH")
    cheapest_glh: int
    cheapest_credits: int


class Citation(_Open):
    source: str
    id: str
    type: str


class Registration(_Open):
    qualification: str
    title: str
    status: Literal["withdrawn", "certificated", "window_expired", "eligible", "in_progress"]
    reason: str = Field(description="why the status holds, in a sentence")
    registered_on: date
    completed_on: date | None
    claim_by: date
    withdrawn_on: date | None
    certificated_on: date | None
    credits: int = Field(description="credits of the counted units")
    counted_units: list[str]
    not_counted: list[str]
    rules: list[RuleProgress]
    missing: Missing | None = Field(description="null once complete")
    rests_on: list[Citation] = Field(description="the inbound events the status rests on")


class Decision(_Open):
    id: str
    kind: str
    type: str
    uln: str
    qualification: str | None
    decided_on: date
    time: datetime
    caused_by: Any = Field(description="the inbound event behind it; null when time alone")


class StepRefusal(_Open):
    reason: str
    detail: str
    decision: str = Field(description="the id of the event.rejected.v1 decision")


class Step(_Open):
    kind: Literal["fact", "refused", "decision", "erased"]
    received_at: datetime | None = Field(description="when the service stored it")
    effective_on: date | None = Field(description="a fact's effective date")
    event: dict[str, Any] | None = Field(
        description="the CloudEvent as received; personal fields read (erased) once erased"
    )
    refusal: StepRefusal | None
    decisions: list[Decision] = Field(description="the decisions this step caused")
    registrations: list[Registration] = Field(description="every registration after the step")


class Refusal(_Open):
    received_at: datetime
    event_id: str | None
    source: str | None
    reason: str
    detail: str
    decision: str


class AuditDocument(_Open):
    """A learner's stored history as a timeline, and every registration as of a day."""

    uln: str
    as_of: date = Field(description="valid time: statuses from the facts effective by then")
    as_known_at: datetime | None = Field(
        description="transaction time: only what was stored by then; null for everything"
    )
    erased_at: datetime | None
    timeline: list[Step]
    registrations: list[Registration]
    refusals: list[Refusal] = Field(description="every refused event naming the learner")


class Problem(BaseModel):
    detail: str
