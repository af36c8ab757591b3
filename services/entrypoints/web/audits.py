"""What a page or the JSON asks for, checked, and the audit that answers it.

Pages and JSON share one reading of the query (a ULN, ``as_of``, ``as_known_at``) and
one answer (``Audit.to_json()``), so what a browser shows is what a script reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Protocol

from eventsourcing.persistence import PersistenceError

from contracts.uln import is_valid_uln
from domain.catalogue import Catalogue
from domain.learner import LearnerEvent
from services.adapters.store import StoreUnavailableError
from services.application.audit import Audit, timeline
from services.application.clock import Clock

__all__ = [
    "AuditQuery",
    "Auditor",
    "BadQueryError",
    "LearnerReader",
    "StoreDownError",
    "UnknownLearnerError",
    "audit_of",
    "parse_as_of",
    "parse_known_at",
    "parse_uln",
]


class LearnerReader(Protocol):
    """Where the pages read a learner's stored history (``LearnerRecords`` is one)."""

    def history(self, uln: str) -> Sequence[LearnerEvent]:
        """Every stored event of one learner, oldest first; empty if never heard of."""
        ...


class BadQueryError(ValueError):
    """A ULN, date or moment that cannot be read; the message says what was expected."""


class UnknownLearnerError(LookupError):
    def __init__(self, uln: str) -> None:
        super().__init__(f"no record of learner {uln} in this store")
        self.uln = uln


class StoreDownError(RuntimeError):
    """The store could not be read; the message is safe to show (no password)."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    uln: str
    as_of: date
    known_at: datetime | None


def parse_uln(text: str) -> str:
    # People copy ULNs from letters and spreadsheets with spaces in them.
    uln = "".join(text.split())
    if not is_valid_uln(uln):
        raise BadQueryError(
            f"“{text}” is not a ULN: a ULN is 10 digits, the first not 0, passing the ULN checksum"
        )
    return uln


def parse_as_of(text: str | None, today: date) -> date:
    if not text:
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadQueryError(f"“{text}” is not a date such as 2025-09-01") from None


def parse_known_at(text: str | None, zone: tzinfo) -> datetime | None:
    """An ISO 8601 moment; one without an offset is UK time (the calendar zone), as the
    page's field and the timeline show times, and as an auditor in the UK means it."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadQueryError(
            f"“{text}” is not a moment such as 2025-03-03T12:00 or 2025-03-03T12:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


class Auditor:
    """Answers the pages and the JSON from a reader, the catalogue and the clock."""

    def __init__(self, reader: LearnerReader, catalogue: Catalogue, clock: Clock) -> None:
        self.reader = reader
        self.catalogue = catalogue
        self.clock = clock

    @property
    def zone(self) -> tzinfo:
        zone = self.clock.now().tzinfo
        assert zone is not None, "clocks give aware times in the calendar zone"
        return zone

    def query(self, uln: str, as_of: str | None, as_known_at: str | None) -> AuditQuery:
        """The query as given, checked; BadQueryError names the first thing wrong."""
        today = self.clock.now().date()
        return AuditQuery(
            parse_uln(uln), parse_as_of(as_of, today), parse_known_at(as_known_at, self.zone)
        )

    def audit(self, query: AuditQuery) -> Audit:
        return audit_of(self.reader, self.catalogue, query)


def audit_of(reader: LearnerReader, catalogue: Catalogue, query: AuditQuery) -> Audit:
    """The learner's audit; UnknownLearnerError if the store has nothing of them."""
    try:
        history = reader.history(query.uln)
    except StoreUnavailableError as error:
        raise StoreDownError(str(error)) from None
    except PersistenceError as error:
        # The recorder's own error (a server gone, a lock held): its text may name the
        # database, never the password, which lives only in the connection settings.
        raise StoreDownError(f"the store cannot be read now ({type(error).__name__})") from None
    if not history:
        raise UnknownLearnerError(query.uln)
    return timeline(query.uln, history, catalogue, query.as_of, query.known_at)
