"""A learner fed in memory, as the application feeds it, and loadgen histories for hypothesis.

``take`` does for one message what ``LearnerRecords`` does for each message of a batch
(parse once, digest, an ``Arrival`` at the moment given, the learner receives or refuses),
without a store: the domain tests exercise the aggregate itself, and the property tests
draw whole histories from the load generator rather than hand-made ones.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from contracts import ContractError, parse_inbound
from devtools.loadgen import LoadProfile, learner_history, publications
from domain.catalogue import Catalogue
from domain.learner import (
    Arrival,
    Decision,
    Learner,
    Receipt,
    RegistrationStatus,
    RegistrationView,
    registration_views,
)
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import start_of_day

# The service's default calendar, named outright: a test must not follow the machine's
# LEARNER_RECORDS_TIMEZONE.
LONDON = ZoneInfo("Europe/London")
DAY = timedelta(days=1)


@cache
def bundled_catalogue() -> Catalogue:
    return load_catalogue()


def take(
    learner: Learner, catalogue: Catalogue, raw: bytes, now: datetime | None = None
) -> Receipt:
    """One message to ``learner`` at ``now`` (default: the event's own time, in UK time)."""
    try:
        event = parse_inbound(raw)
    except ContractError as error:
        if error.uln != learner.uln:
            # Names no learner it can be filed under: the application keeps it apart.
            return Receipt("rejected", (), error.reason.value, error.detail)
        moment = (now or datetime(2030, 1, 1, tzinfo=LONDON)).astimezone(LONDON)
        arrival = Arrival(moment, error.digest, raw)
        return learner.refuse(
            error.reason.value,
            error.detail,
            error.original,
            error.source,
            error.event_id,
            arrival,
            moment,
        )
    moment = (now or event.time).astimezone(LONDON)
    _, digest = event.wire_and_digest()
    return learner.receive(event, Arrival(moment, digest, raw), catalogue, moment)


def review(learner: Learner, catalogue: Catalogue, day: date) -> list[Decision]:
    """The scheduler's review of ``learner`` on ``day``: at the start of that UK day."""
    return learner.review(catalogue, start_of_day(day, LONDON))


def view_of(
    learner: Learner, catalogue: Catalogue, qualification: str, as_of: date
) -> RegistrationView | None:
    views = [
        v
        for v in registration_views(learner.record, catalogue, as_of)
        if v.qualification == qualification
    ]
    return views[0] if views else None


def status_of(
    learner: Learner, catalogue: Catalogue, qualification: str, as_of: date
) -> RegistrationStatus | None:
    view = view_of(learner, catalogue, qualification, as_of)
    return None if view is None else view.status


# A profile that makes the rare things common, so small samples meet every kind of
# event: revocations, withdrawals, certificates, second registrations, retries and
# publishers' mistakes.
def busy_profile(seed: int, learners: int = 1, first: int = 1, invalid: float = 0.1) -> LoadProfile:
    return LoadProfile(
        learners=learners,
        seed=seed,
        first_learner=first,
        second_registration=0.3,
        transfer=0.2,
        revocation=0.4,
        withdrawal=0.4,
        certificate=0.6,
        duplicate=0.1,
        invalid=invalid,
        block=max(learners, 1),
    )


@st.composite
def loadgen_histories(draw: st.DrawFn, invalid: float = 0.1) -> tuple[str, list[bytes]]:
    """One learner's loadgen history, in publishing order, and the learner's ULN."""
    seed = draw(st.integers(min_value=1, max_value=10_000))
    n = draw(st.integers(min_value=1, max_value=50_000))
    lines = learner_history(bundled_catalogue(), busy_profile(seed, 1, n, invalid), n)
    uln = parse_inbound(lines[0]).subject
    return uln, lines


@st.composite
def loadgen_publications(draw: st.DrawFn, max_learners: int = 4) -> list[tuple[str, bytes]]:
    """A few learners' histories interleaved by time, as loadgen publishes them."""
    seed = draw(st.integers(min_value=1, max_value=10_000))
    learners = draw(st.integers(min_value=1, max_value=max_learners))
    first = draw(st.integers(min_value=1, max_value=50_000))
    return list(publications(bundled_catalogue(), busy_profile(seed, learners, first)))
