"""Inbound events: what e-portfolio systems publish to ``records.in.<ULN>`` (SPEC.md §5)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self, TypeVar

from pydantic import Field
from pydantic_core import PydanticCustomError

from contracts.cloudevents import SPECVERSION, CloudEvent
from contracts.fields import AbsoluteUri, EventId, IsoDate, JsonMediaType, NonEmptyStr, Urn
from contracts.limits import MAX_STRING_CHARS
from contracts.model import ContractModel
from contracts.uln import Uln, check_subject_is_the_learner

__all__ = [
    "INBOUND_EVENT_CLASSES",
    "INBOUND_EVENT_TYPES",
    "AchievementRevoked",
    "AchievementRevokedEvent",
    "CertificateIssued",
    "CertificateIssuedEvent",
    "CreditTransferred",
    "CreditTransferredEvent",
    "InboundData",
    "InboundEnvelope",
    "InboundEvent",
    "LearnerRegistered",
    "LearnerRegisteredEvent",
    "RegistrationWithdrawn",
    "RegistrationWithdrawnEvent",
    "UnitAchieved",
    "UnitAchievedEvent",
]

QualificationId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_STRING_CHARS, description="catalogue id, e.g. 500/9203/0"),
]


class InboundData(ContractModel):
    """Every inbound payload names its learner; the envelope's subject must agree."""

    uln: Uln

    @property
    def effective_on(self) -> date | None:
        """The day the fact took effect; the domain refuses one after the event's time."""
        return None


class LearnerRegistered(InboundData):
    qualification: QualificationId
    registered_on: IsoDate
    date_of_birth: IsoDate
    centre: NonEmptyStr = Field(description="the registering centre's number")

    @property
    def effective_on(self) -> date:
        return self.registered_on


class UnitAchieved(InboundData):
    unit: Urn
    achieved_on: IsoDate
    assessor: NonEmptyStr

    @property
    def effective_on(self) -> date:
        return self.achieved_on


class CreditTransferred(InboundData):
    """Credit for a unit achieved with another awarding organisation."""

    unit: Urn
    achieved_on: IsoDate
    awarding_organisation: NonEmptyStr
    certificate_ref: NonEmptyStr

    @property
    def effective_on(self) -> date:
        return self.achieved_on


class AchievementRevoked(InboundData):
    """Voids an earlier achievement or transfer from the start; it has no date of its own."""

    revokes: EventId = Field(description="the id of the unit.achieved or credit.transferred event")
    reason: NonEmptyStr


class RegistrationWithdrawn(InboundData):
    qualification: QualificationId
    withdrawn_on: IsoDate

    @property
    def effective_on(self) -> date:
        return self.withdrawn_on


class CertificateIssued(InboundData):
    qualification: QualificationId
    issued_on: IsoDate
    certificate_number: NonEmptyStr

    @property
    def effective_on(self) -> date:
        return self.issued_on


InboundDataT = TypeVar("InboundDataT", bound=InboundData)


class InboundEnvelope(CloudEvent[InboundDataT]):
    """An inbound CloudEvent: ``subject`` is the learner's ULN and equals ``data.uln``."""

    subject: Uln
    datacontenttype: JsonMediaType | None = None
    dataschema: AbsoluteUri | None = None

    def _check_more(self) -> None:
        check_subject_is_the_learner(self.subject, self.data.uln)

    @classmethod
    def create(cls, *, id: str, source: str, time: datetime, data: InboundDataT) -> Self:
        """An event of this type about ``data.uln`` (for publishers, tests and demos)."""
        return cls(
            id=id,
            source=source,
            specversion=SPECVERSION,
            type=cls.event_type(),
            time=time,
            subject=data.uln,
            data=data,
        )

    @property
    def uln(self) -> str:
        return self.subject

    @property
    def effective_on(self) -> date | None:
        return self.data.effective_on


class LearnerRegisteredEvent(InboundEnvelope[LearnerRegistered]):
    type: Literal["learner.registered.v1"]

    def _check_more(self) -> None:
        super()._check_more()
        # A learner cannot be registered by an event sent before they were born; such
        # a date is a publisher's error, not a fact to decide on (an age of -7976).
        # The day is the event's own, in its own offset. The value is never quoted:
        # a refusal must not spread a date of birth.
        if self.data.date_of_birth > self.time.date():
            raise PydanticCustomError(
                "date_of_birth_after_time",
                "data.date_of_birth must not be after the day of the event's time",
            )


class UnitAchievedEvent(InboundEnvelope[UnitAchieved]):
    type: Literal["unit.achieved.v1"]


class CreditTransferredEvent(InboundEnvelope[CreditTransferred]):
    type: Literal["credit.transferred.v1"]


class AchievementRevokedEvent(InboundEnvelope[AchievementRevoked]):
    type: Literal["achievement.revoked.v1"]


class RegistrationWithdrawnEvent(InboundEnvelope[RegistrationWithdrawn]):
    type: Literal["registration.withdrawn.v1"]


class CertificateIssuedEvent(InboundEnvelope[CertificateIssued]):
    type: Literal["certificate.issued.v1"]


InboundEvent = (
    LearnerRegisteredEvent
    | UnitAchievedEvent
    | CreditTransferredEvent
    | AchievementRevokedEvent
    | RegistrationWithdrawnEvent
    | CertificateIssuedEvent
)

INBOUND_EVENT_CLASSES: tuple[type[InboundEvent], ...] = (
    LearnerRegisteredEvent,
    UnitAchievedEvent,
    CreditTransferredEvent,
    AchievementRevokedEvent,
    RegistrationWithdrawnEvent,
    CertificateIssuedEvent,
)
INBOUND_EVENT_TYPES: dict[str, type[InboundEvent]] = {
    cls.event_type(): cls for cls in INBOUND_EVENT_CLASSES
}
