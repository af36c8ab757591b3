"""Outbound events: the decisions the service publishes to ``records.out.<kind>.<ULN>``.

Every decision is a CloudEvent whose ``source`` is SERVICE_SOURCE and whose
``id`` is the decision id the domain chose, stable across replays so that a
subscriber (and JetStream's ``Nats-Msg-Id`` de-duplication) can drop repeats.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Generic, Literal, Self, TypeVar, get_args

from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic_core import PydanticCustomError

from contracts.cloudevents import JSON_CONTENT_TYPE, CloudEvent
from contracts.echo import ECHO_DESCRIPTION, echo_of, echo_size, is_echo
from contracts.errors import ContractError, RejectionReason
from contracts.fields import EventId, IsoDate, NonEmptyStr, UriReference, Urn
from contracts.limits import (
    ECHO_MAX_BYTES,
    MAX_DETAIL_CHARS,
    MAX_ID_CHARS,
    MAX_SOURCE_CHARS,
    MAX_STRING_CHARS,
)
from contracts.model import ContractModel
from contracts.schema_ids import data_schema_id
from contracts.uln import Uln, check_subject_is_the_learner, is_valid_uln

__all__ = [
    "DECISION_EVENT_CLASSES",
    "OUTBOUND_EVENT_CLASSES",
    "OUTBOUND_EVENT_TYPES",
    "SERVICE_SOURCE",
    "UNKNOWN_LEARNER",
    "CausedBy",
    "CertificationEligible",
    "CertificationEligibleEvent",
    "CountedUnit",
    "CountedUnits",
    "DecisionKind",
    "EligibilityWithdrawn",
    "EligibilityWithdrawnEvent",
    "EventRejected",
    "EventRejectedEvent",
    "Evidence",
    "LearnerDecision",
    "LearnerDecisionEnvelope",
    "OutboundEnvelope",
    "OutboundEvent",
    "UnitCertificate",
    "UnitCertificateEvent",
    "WindowExpired",
    "WindowExpiredEvent",
    "check_credit_total",
    "rejection_subject",
]

SERVICE_SOURCE: Final = "urn:learner-records"
# The subject of a rejection whose message names no valid ULN. NATS subject
# tokens must be non-empty and free of dots and wildcards, so whatever the
# message carried cannot be used as is; one fixed token keeps
# `records.out.rejected.unknown` a subject a subscriber can watch.
UNKNOWN_LEARNER: Final = "unknown"

Credits = Annotated[int, Field(ge=0)]
Level = Annotated[int, Field(ge=1, le=8)]
QualificationId = Annotated[str, Field(min_length=1, max_length=MAX_STRING_CHARS)]
ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_STRING_CHARS)]


class DecisionKind(StrEnum):
    """The ``<kind>`` token of an outbound subject."""

    ELIGIBLE = "eligible"
    ELIGIBILITY_WITHDRAWN = "eligibility_withdrawn"
    WINDOW_EXPIRED = "window_expired"
    UNIT_CERTIFICATE = "unit_certificate"
    REJECTED = "rejected"

    @property
    def event_type(self) -> str:
        return DECISION_EVENT_CLASSES[self].event_type()

    @classmethod
    def of(cls, event_type: str) -> DecisionKind:
        """The kind whose events have type ``event_type``; KeyError for any other."""
        return _KIND_BY_TYPE[event_type]


class Evidence(ContractModel):
    """The inbound event behind a counted unit."""

    source: UriReference
    id: EventId
    type: Literal["unit.achieved.v1", "credit.transferred.v1"]


class CausedBy(ContractModel):
    """The inbound event whose arrival led to a decision."""

    source: UriReference
    id: EventId


class CountedUnit(ContractModel):
    unit: Urn
    title: NonEmptyStr
    credits: Annotated[int, Field(gt=0)]
    level: Level
    achieved_on: IsoDate
    evidence: Evidence


# Lax about the container only: a JSON-shaped dict (the domain's decision data)
# holds a list; each unit is still validated strictly.
CountedUnits = Annotated[tuple[CountedUnit, ...], Field(strict=False)]


def check_credit_total(credits: int, units: tuple[CountedUnit, ...]) -> None:
    """Raise a validation error unless ``credits`` is the total of ``units``."""
    total = sum(unit.credits for unit in units)
    if credits != total:
        raise PydanticCustomError(
            "credit_total",
            "credits {credits} must equal the units' total {total}",
            {"credits": credits, "total": total},
        )


class LearnerDecision(ContractModel):
    """A decision about one learner's registration; ``caused_by`` is null when time drove it."""

    uln: Uln
    qualification: QualificationId
    decided_on: IsoDate
    caused_by: CausedBy | None


class CertificationEligible(LearnerDecision):
    qualification_title: NonEmptyStr
    registered_on: IsoDate
    completed_on: IsoDate
    claim_by: IsoDate
    credits: Credits = Field(description="the counted total")
    counted_units: CountedUnits
    catalogue_version: NonEmptyStr

    @model_validator(mode="after")
    def _credits_add_up(self) -> Self:
        check_credit_total(self.credits, self.counted_units)
        return self


class EligibilityWithdrawn(LearnerDecision):
    previous_decision: NonEmptyStr = Field(description="id of the eligible decision withdrawn")
    reason: ReasonCode = Field(description="e.g. achievement_revoked, registration_withdrawn")
    detail: NonEmptyStr


class WindowExpired(LearnerDecision):
    registered_on: IsoDate
    claim_by: IsoDate


class UnitCertificate(LearnerDecision):
    because: Literal["withdrawn", "window_expired"]
    units: CountedUnits
    credits: Credits

    @model_validator(mode="after")
    def _credits_add_up(self) -> Self:
        check_credit_total(self.credits, self.units)
        return self


class EventRejected(ContractModel):
    """Why an inbound message was refused, with a bounded echo of it, personal fields removed.

    Every field is bounded, so a rejection always fits in one NATS message whatever
    was refused: original_id and original_source are null when the message's own
    were over their limits.
    """

    # Not strict: an enum field in strict mode refuses the plain string a
    # caller or a JSON reader holds; lax enum validation still takes only codes.
    reason: RejectionReason = Field(strict=False)
    detail: Annotated[str, Field(min_length=1, max_length=MAX_DETAIL_CHARS)]
    original_id: Annotated[str, Field(max_length=MAX_ID_CHARS)] | None
    original_source: Annotated[str, Field(max_length=MAX_SOURCE_CHARS)] | None
    original: dict[str, JsonValue] | Annotated[str, Field(max_length=ECHO_MAX_BYTES)] = Field(
        description=ECHO_DESCRIPTION
    )
    decided_on: IsoDate

    @field_validator("original", mode="before")
    @classmethod
    def _as_echo(cls, value: object) -> object:
        # Whoever builds a rejection (the parser, the domain for its own refusals),
        # what it carries is an echo: bounded, no personal member. Made here when it is
        # not one yet (the domain hands over the whole event), a rejection of a large
        # or personal event cannot break its contract, so it can never fail a batch or
        # stall the relay; an echo already made, or read back, is kept as it is.
        return value if is_echo(value) else echo_of(value)

    @field_validator("detail", mode="before")
    @classmethod
    def _bounded_detail(cls, value: object) -> object:
        if isinstance(value, str) and len(value) > MAX_DETAIL_CHARS:
            return value[: MAX_DETAIL_CHARS - 3] + "..."
        return value

    @model_validator(mode="after")
    def _echo_within_bound(self) -> Self:
        # The echo keeps to the bound; this states it as part of the contract.
        size = echo_size(self.original)
        if size > ECHO_MAX_BYTES:
            raise PydanticCustomError(
                "echo_too_large",
                "original: {size} bytes, over the limit ECHO_MAX_BYTES = {limit}",
                {"size": size, "limit": ECHO_MAX_BYTES},
            )
        return self

    @classmethod
    def from_contract_error(cls, error: ContractError, *, decided_on: date) -> EventRejected:
        return cls(
            reason=error.reason,
            detail=error.detail,
            original_id=error.event_id,
            original_source=error.source,
            original=error.original,
            decided_on=decided_on,
        )


def rejection_subject(uln: str | None) -> str:
    """The ULN a rejection is filed under: the message's own when valid, else UNKNOWN_LEARNER."""
    return uln if uln is not None and is_valid_uln(uln) else UNKNOWN_LEARNER


DataT = TypeVar("DataT", bound=ContractModel)
DecisionT = TypeVar("DecisionT", bound=LearnerDecision)


class OutboundEnvelope(CloudEvent[DataT], Generic[DataT]):
    """An event the service publishes: fixed source, JSON data, no extensions.

    ``dataschema`` names the schema its data follows (``contracts.schema_ids``); each
    event class pins it with a Literal, checked against its type when the class is made.
    """

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    source: Literal["urn:learner-records"] = SERVICE_SOURCE
    specversion: Literal["1.0"] = "1.0"
    datacontenttype: Literal["application/json"] = JSON_CONTENT_TYPE
    dataschema: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        pinned = get_args(cls.model_fields["dataschema"].annotation)
        typed = get_args(cls.model_fields["type"].annotation)
        if len(typed) == 1 and pinned != (data_schema_id(typed[0]),):
            raise TypeError(
                f"{cls.__name__}.dataschema must be Literal[{data_schema_id(typed[0])!r}]"
            )


class LearnerDecisionEnvelope(OutboundEnvelope[DecisionT], Generic[DecisionT]):
    subject: Uln

    def _check_more(self) -> None:
        check_subject_is_the_learner(self.subject, self.data.uln)

    @classmethod
    def create(cls, *, id: str, time: datetime, data: DecisionT) -> Self:
        """The decision ``data`` as an event with id ``id``, about the learner it names."""
        return cls(
            id=id,
            type=cls.event_type(),
            dataschema=data_schema_id(cls.event_type()),
            time=time,
            subject=data.uln,
            data=data,
        )


class CertificationEligibleEvent(LearnerDecisionEnvelope[CertificationEligible]):
    type: Literal["certification.eligible.v1"] = "certification.eligible.v1"
    dataschema: Literal["urn:learner-records:schema:certification.eligible.v1#/properties/data"] = (
        "urn:learner-records:schema:certification.eligible.v1#/properties/data"
    )


class EligibilityWithdrawnEvent(LearnerDecisionEnvelope[EligibilityWithdrawn]):
    type: Literal["certification.eligibility_withdrawn.v1"] = (
        "certification.eligibility_withdrawn.v1"
    )
    dataschema: Literal[
        "urn:learner-records:schema:certification.eligibility_withdrawn.v1#/properties/data"
    ] = "urn:learner-records:schema:certification.eligibility_withdrawn.v1#/properties/data"


class WindowExpiredEvent(LearnerDecisionEnvelope[WindowExpired]):
    type: Literal["certification.window_expired.v1"] = "certification.window_expired.v1"
    dataschema: Literal[
        "urn:learner-records:schema:certification.window_expired.v1#/properties/data"
    ] = "urn:learner-records:schema:certification.window_expired.v1#/properties/data"


class UnitCertificateEvent(LearnerDecisionEnvelope[UnitCertificate]):
    type: Literal["certification.unit_certificate.v1"] = "certification.unit_certificate.v1"
    dataschema: Literal[
        "urn:learner-records:schema:certification.unit_certificate.v1#/properties/data"
    ] = "urn:learner-records:schema:certification.unit_certificate.v1#/properties/data"


class EventRejectedEvent(OutboundEnvelope[EventRejected]):
    type: Literal["event.rejected.v1"] = "event.rejected.v1"
    dataschema: Literal["urn:learner-records:schema:event.rejected.v1#/properties/data"] = (
        "urn:learner-records:schema:event.rejected.v1#/properties/data"
    )
    subject: Uln | Literal["unknown"] = Field(
        description='the ULN the original named, or "unknown" when it named no valid one'
    )

    @classmethod
    def create(cls, *, id: str, time: datetime, data: EventRejected, uln: str | None) -> Self:
        """The rejection as an event filed under ``uln`` if it is valid, else under "unknown"."""
        return cls(id=id, time=time, subject=rejection_subject(uln), data=data)


OutboundEvent = (
    CertificationEligibleEvent
    | EligibilityWithdrawnEvent
    | WindowExpiredEvent
    | UnitCertificateEvent
    | EventRejectedEvent
)

DECISION_EVENT_CLASSES: dict[DecisionKind, type[OutboundEvent]] = {
    DecisionKind.ELIGIBLE: CertificationEligibleEvent,
    DecisionKind.ELIGIBILITY_WITHDRAWN: EligibilityWithdrawnEvent,
    DecisionKind.WINDOW_EXPIRED: WindowExpiredEvent,
    DecisionKind.UNIT_CERTIFICATE: UnitCertificateEvent,
    DecisionKind.REJECTED: EventRejectedEvent,
}
OUTBOUND_EVENT_CLASSES: tuple[type[OutboundEvent], ...] = tuple(DECISION_EVENT_CLASSES.values())
OUTBOUND_EVENT_TYPES: dict[str, type[OutboundEvent]] = {
    cls.event_type(): cls for cls in OUTBOUND_EVENT_CLASSES
}
_KIND_BY_TYPE: dict[str, DecisionKind] = {
    model.event_type(): kind for kind, model in DECISION_EVENT_CLASSES.items()
}
