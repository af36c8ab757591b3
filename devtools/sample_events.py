"""Inbound CloudEvents as an e-portfolio would publish them: for tests, demos and load.

Every event is built through the contract models, so what these produce is
exactly what a conforming publisher sends. Ids are sequential per factory, so
a history built twice is byte-for-byte the same.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from contracts import (
    AchievementRevoked,
    AchievementRevokedEvent,
    CertificateIssued,
    CertificateIssuedEvent,
    CreditTransferred,
    CreditTransferredEvent,
    LearnerRegistered,
    LearnerRegisteredEvent,
    RegistrationWithdrawn,
    RegistrationWithdrawnEvent,
    UnitAchieved,
    UnitAchievedEvent,
)

DEFAULT_SOURCE = "urn:eportfolio:sample"


def sent_on(day: date) -> datetime:
    """An event time late on its effective day, so the event is never future-dated."""
    return datetime.combine(day, time(17, 0), tzinfo=UTC)


class EventFactory:
    """Builds inbound events with ids ``<prefix>-<n>`` from one source."""

    def __init__(self, source: str = DEFAULT_SOURCE, prefix: str = "evt") -> None:
        self.source = source
        self.prefix = prefix
        self.count = 0
        self.last_id = ""

    def _next_id(self, given: str | None) -> str:
        self.count += 1
        self.last_id = given or f"{self.prefix}-{self.count}"
        return self.last_id

    def registered(
        self,
        uln: str,
        qualification: str,
        registered_on: date,
        date_of_birth: date = date(1990, 5, 17),
        *,
        centre: str = "C0001",
        at: datetime | None = None,
        id: str | None = None,
    ) -> bytes:
        data = LearnerRegistered(
            uln=uln,
            qualification=qualification,
            registered_on=registered_on,
            date_of_birth=date_of_birth,
            centre=centre,
        )
        return LearnerRegisteredEvent.create(
            id=self._next_id(id), source=self.source, time=at or sent_on(registered_on), data=data
        ).to_json_bytes()

    def achieved(
        self,
        uln: str,
        unit: str,
        achieved_on: date,
        *,
        assessor: str = "A-001",
        at: datetime | None = None,
        id: str | None = None,
    ) -> bytes:
        data = UnitAchieved(uln=uln, unit=unit, achieved_on=achieved_on, assessor=assessor)
        return UnitAchievedEvent.create(
            id=self._next_id(id), source=self.source, time=at or sent_on(achieved_on), data=data
        ).to_json_bytes()

    def transferred(
        self,
        uln: str,
        unit: str,
        achieved_on: date,
        *,
        awarding_organisation: str = "Other AO",
        certificate_ref: str = "CERT-0001",
        at: datetime | None = None,
        id: str | None = None,
    ) -> bytes:
        data = CreditTransferred(
            uln=uln,
            unit=unit,
            achieved_on=achieved_on,
            awarding_organisation=awarding_organisation,
            certificate_ref=certificate_ref,
        )
        return CreditTransferredEvent.create(
            id=self._next_id(id), source=self.source, time=at or sent_on(achieved_on), data=data
        ).to_json_bytes()

    def revoked(
        self,
        uln: str,
        revokes: str,
        *,
        reason: str = "assessment malpractice",
        at: datetime,
        id: str | None = None,
    ) -> bytes:
        data = AchievementRevoked(uln=uln, revokes=revokes, reason=reason)
        return AchievementRevokedEvent.create(
            id=self._next_id(id), source=self.source, time=at, data=data
        ).to_json_bytes()

    def withdrawn(
        self,
        uln: str,
        qualification: str,
        withdrawn_on: date,
        *,
        at: datetime | None = None,
        id: str | None = None,
    ) -> bytes:
        data = RegistrationWithdrawn(
            uln=uln, qualification=qualification, withdrawn_on=withdrawn_on
        )
        return RegistrationWithdrawnEvent.create(
            id=self._next_id(id), source=self.source, time=at or sent_on(withdrawn_on), data=data
        ).to_json_bytes()

    def certificated(
        self,
        uln: str,
        qualification: str,
        issued_on: date,
        *,
        certificate_number: str = "CN-0001",
        at: datetime | None = None,
        id: str | None = None,
    ) -> bytes:
        data = CertificateIssued(
            uln=uln,
            qualification=qualification,
            issued_on=issued_on,
            certificate_number=certificate_number,
        )
        return CertificateIssuedEvent.create(
            id=self._next_id(id), source=self.source, time=at or sent_on(issued_on), data=data
        ).to_json_bytes()


def days(n: int) -> timedelta:
    return timedelta(days=n)
