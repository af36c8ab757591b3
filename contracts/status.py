"""The status query: request and reply on ``records.query.status`` (NATS request/reply).

Plain JSON rather than CloudEvents: a query is not an event and is not stored.
A learner the service has never heard of has no registrations, which is an
answer, not an error.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from contracts.fields import IsoDate
from contracts.model import ContractModel
from contracts.outbound import CountedUnits, check_credit_total
from contracts.uln import Uln

__all__ = [
    "RegistrationState",
    "RegistrationStatus",
    "StatusError",
    "StatusErrorCode",
    "StatusReply",
    "StatusRequest",
]

# SPEC.md §4, in the order they are decided.
RegistrationState = Literal[
    "withdrawn", "certificated", "window_expired", "eligible", "in_progress"
]
StatusErrorCode = Literal["malformed", "invalid_uln", "internal_error"]


class StatusRequest(ContractModel):
    uln: Uln
    as_of: IsoDate | None = Field(default=None, description="null or absent: today")


class RegistrationStatus(ContractModel):
    qualification: Annotated[str, Field(min_length=1)]
    status: RegistrationState
    registered_on: IsoDate
    completed_on: IsoDate | None
    claim_by: IsoDate
    counted_units: CountedUnits
    credits: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _credits_add_up(self) -> Self:
        check_credit_total(self.credits, self.counted_units)
        return self


class StatusError(ContractModel):
    code: StatusErrorCode
    detail: Annotated[str, Field(min_length=1)]


class StatusReply(ContractModel):
    """``uln`` and ``as_of`` echo the request as understood; null when it could not be read."""

    uln: str | None
    as_of: IsoDate | None
    registrations: tuple[RegistrationStatus, ...]
    error: StatusError | None
