"""The learner aggregate against SPEC.md §4, one statement per test, in memory.

Pure: events are parsed by the contracts and taken by ``Learner`` exactly as the
application hands them over (tests/learner_histories.py), with no store and no clock
but the moment each test gives. Dates come from the bundled catalogue:

| id | registrations | claim_by |
|---|---|---|
| OCR-L3-DIP-CS | 2015-09-01 .. 2027-08-31 | 2030-08-31 (accreditation end + 3 years) |
| 501/0232/1 (NCFE, minimum age 18) | 2011-01-01 .. 2025-07-31 | 2027-01-31 (certification end) |
| CG-4430-L4 | 2010-09-01 .. 2014-08-31 | 2017-08-31 (both) |
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest
from learner_histories import DAY, LONDON, status_of, take, view_of

from contracts import parse_inbound
from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from domain.catalogue.model import QualificationDates
from domain.learner import (
    AgeRequirement,
    FoundEligible,
    Learner,
    Registered,
    RegistrationStatus,
)
from services.adapters.catalogue_files import load_catalogue

OCR_L3 = "OCR-L3-DIP-CS"
OCR_L4 = "500/9203/0"
NCFE = "501/0232/1"
CG = "CG-4430-L4"
ULN = make_uln(1)

Status = RegistrationStatus


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


@pytest.fixture
def learner() -> Learner:
    return Learner.new(ULN)


def feed(learner: Learner, catalogue: Catalogue, lines: list[bytes]) -> list[str]:
    """Each line taken at its own time; the outcomes, checked to be all recorded."""
    outcomes = [take(learner, catalogue, raw) for raw in lines]
    assert [r.outcome for r in outcomes] == ["recorded"] * len(lines), [r.detail for r in outcomes]
    return [r.outcome for r in outcomes]


def completing(
    events: EventFactory,
    catalogue: Catalogue,
    qualification: str,
    registered_on: date,
    first_unit_on: date,
) -> list[bytes]:
    """A registration and a cheapest completing set of units, one a day from ``first_unit_on``."""
    units = completing_units(catalogue.qualification(qualification))
    return [
        events.registered(ULN, qualification, registered_on),
        *(events.achieved(ULN, urn, first_unit_on + k * DAY) for k, urn in enumerate(units)),
    ]


def last_unit_day(catalogue: Catalogue, qualification: str, first_unit_on: date) -> date:
    return first_unit_on + (len(completing_units(catalogue.qualification(qualification))) - 1) * DAY


# -- §4: a registration is accepted only within the accreditation period ---------------


@pytest.mark.parametrize(
    ("registered_on", "accepted"),
    [
        (date(2015, 8, 31), False),  # the day before operational start
        (date(2015, 9, 1), True),  # operational start
        (date(2027, 8, 31), True),  # accreditation end: the last registration day
        (date(2027, 9, 1), False),  # the day after
    ],
)
def test_a_registration_is_accepted_only_within_the_accreditation_period(
    learner: Learner,
    catalogue: Catalogue,
    events: EventFactory,
    registered_on: date,
    accepted: bool,
) -> None:
    receipt = take(learner, catalogue, events.registered(ULN, OCR_L3, registered_on))
    if accepted:
        assert receipt.outcome == "recorded"
        assert OCR_L3 in learner.record.registrations
    else:
        assert (receipt.outcome, receipt.reason) == (
            "rejected",
            "registration_outside_accreditation_period",
        )
        assert learner.record.registrations == {}


@pytest.mark.parametrize(
    ("born", "registered_on", "accepted"),
    [
        (date(2000, 3, 10), date(2018, 3, 9), False),  # 17 the day before the birthday
        (date(2000, 3, 10), date(2018, 3, 10), True),  # 18 on the birthday
        (date(2000, 2, 29), date(2018, 2, 28), False),  # a leap-day birthday: still 17
        (date(2000, 2, 29), date(2018, 3, 1), True),  # ... and 18 on 1 March
    ],
)
def test_a_learner_under_the_minimum_age_on_registered_on_is_refused(
    learner: Learner,
    catalogue: Catalogue,
    events: EventFactory,
    born: date,
    registered_on: date,
    accepted: bool,
) -> None:
    receipt = take(learner, catalogue, events.registered(ULN, NCFE, registered_on, born))
    if accepted:
        assert receipt.outcome == "recorded"
        # The check is kept with the fact, so it replays once the date of birth is erased.
        assert learner.record.registrations[NCFE].age_requirement == AgeRequirement(18, met=True)
    else:
        assert (receipt.outcome, receipt.reason) == ("rejected", "learner_under_minimum_age")
        assert "17" in (receipt.detail or "")


def test_a_qualification_with_no_minimum_age_takes_a_learner_of_any_age(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    fifteen = date(2001, 6, 1)
    receipt = take(learner, catalogue, events.registered(ULN, OCR_L4, date(2016, 6, 1), fifteen))
    assert receipt.outcome == "recorded"
    assert learner.record.registrations[OCR_L4].age_requirement is None


# -- §4: claim_by ------------------------------------------------------------------------


def test_claim_by_is_the_earlier_of_three_years_after_accreditation_end_and_certification_end(
    catalogue: Catalogue, events: EventFactory
) -> None:
    # OCR L3: accreditation end + 3 years (2030-08-31) comes before certification end
    # (2031-08-31). NCFE: certification end (2027-01-31) before 2028-07-31.
    # A leap day: three years after 29 February 2024 is 28 February 2027.
    leap = catalogue.with_dates(
        OCR_L3,
        QualificationDates(
            operational_start=date(2015, 9, 1),
            accreditation_end=date(2024, 2, 29),
            certification_end=date(2031, 8, 31),
            illustrative=True,
            source="test",
        ),
    )
    for cat, qualification, expected in [
        (catalogue, OCR_L3, date(2030, 8, 31)),
        (catalogue, NCFE, date(2027, 1, 31)),
        (leap, OCR_L3, date(2027, 2, 28)),
    ]:
        learner = Learner.new(ULN)
        receipts = [
            take(learner, cat, raw)
            for raw in completing(events, cat, qualification, date(2019, 1, 7), date(2019, 2, 1))
        ]
        [eligible] = [d for r in receipts for d in r.decisions]
        assert eligible.data["claim_by"] == expected.isoformat(), qualification
        view = view_of(learner, cat, qualification, expected)
        assert view is not None and view.claim_by == expected
        # The claim-by day itself is still in the window; the day after is not.
        assert status_of(learner, cat, qualification, expected) is Status.ELIGIBLE
        assert status_of(learner, cat, qualification, expected + DAY) is Status.WINDOW_EXPIRED


# -- §4: statuses, in order of precedence ----------------------------------------------

CG_REGISTERED = date(2013, 1, 10)
CG_FIRST_UNIT = date(2013, 2, 1)
CG_CLAIM_BY = date(2017, 8, 31)


def cg_learner(
    catalogue: Catalogue,
    events: EventFactory,
    *,
    complete: bool = True,
    certificate: date | None = None,
    withdrawal: date | None = None,
) -> Learner:
    """A CG-4430-L4 learner, complete (or one unit short), perhaps certificated or withdrawn."""
    learner = Learner.new(ULN)
    lines = completing(events, catalogue, CG, CG_REGISTERED, CG_FIRST_UNIT)
    if not complete:
        lines = lines[:-1]
    if certificate is not None:
        lines.append(events.certificated(ULN, CG, certificate))
    if withdrawal is not None:
        lines.append(events.withdrawn(ULN, CG, withdrawal))
    feed(learner, catalogue, lines)
    return learner


@pytest.mark.parametrize(
    ("otherwise", "complete", "certificate", "as_of"),
    [
        (Status.IN_PROGRESS, False, None, date(2014, 1, 1)),
        (Status.ELIGIBLE, True, None, date(2014, 1, 1)),
        (Status.WINDOW_EXPIRED, True, None, CG_CLAIM_BY + DAY),
        (Status.CERTIFICATED, True, date(2013, 6, 1), date(2014, 1, 1)),
        (Status.CERTIFICATED, True, date(2013, 6, 1), CG_CLAIM_BY + DAY),
    ],
)
def test_withdrawn_wins_over_every_other_status(
    catalogue: Catalogue,
    events: EventFactory,
    otherwise: RegistrationStatus,
    complete: bool,
    certificate: date | None,
    as_of: date,
) -> None:
    without = cg_learner(catalogue, events, complete=complete, certificate=certificate)
    assert status_of(without, catalogue, CG, as_of) is otherwise
    withdrawn_on = date(2013, 9, 2)
    withdrawn = cg_learner(
        catalogue,
        EventFactory(),
        complete=complete,
        certificate=certificate,
        withdrawal=withdrawn_on,
    )
    assert status_of(withdrawn, catalogue, CG, as_of) is Status.WITHDRAWN


def test_certificated_wins_over_window_expired_and_eligible(
    catalogue: Catalogue, events: EventFactory
) -> None:
    learner = cg_learner(catalogue, events, certificate=date(2013, 6, 1))
    assert status_of(learner, catalogue, CG, date(2013, 5, 31)) is Status.ELIGIBLE
    assert status_of(learner, catalogue, CG, date(2013, 6, 1)) is Status.CERTIFICATED
    assert status_of(learner, catalogue, CG, CG_CLAIM_BY + DAY) is Status.CERTIFICATED
    assert status_of(learner, catalogue, CG, date(2040, 1, 1)) is Status.CERTIFICATED


def test_window_expired_is_every_day_after_claim_by_without_a_certificate(
    catalogue: Catalogue, events: EventFactory
) -> None:
    for complete, before in [(True, Status.ELIGIBLE), (False, Status.IN_PROGRESS)]:
        learner = cg_learner(catalogue, EventFactory(), complete=complete)
        assert status_of(learner, catalogue, CG, CG_CLAIM_BY) is before
        for later in (CG_CLAIM_BY + DAY, date(2030, 1, 1)):
            assert status_of(learner, catalogue, CG, later) is Status.WINDOW_EXPIRED


def test_eligible_needs_completed_on_no_later_than_claim_by(
    catalogue: Catalogue, events: EventFactory
) -> None:
    # completed_on can never be later than the day asked about (units count from their
    # day, and the registration too), so "completed_on <= claim_by" shows only through
    # its consequence: completing after claim-by is never eligible, on any day.
    # Completing on the claim-by day: eligible that day, and the decision says so.
    units = completing_units(catalogue.qualification(CG))
    first_on_claim_by = CG_CLAIM_BY - (len(units) - 1) * DAY
    on_time = Learner.new(ULN)
    receipts = [
        take(on_time, catalogue, raw)
        for raw in completing(events, catalogue, CG, CG_REGISTERED, first_on_claim_by)
    ]
    [eligible] = [d for r in receipts for d in r.decisions]
    assert eligible.data["completed_on"] == CG_CLAIM_BY.isoformat()
    assert status_of(on_time, catalogue, CG, CG_CLAIM_BY) is Status.ELIGIBLE

    # A day later: never eligible, whatever the day asked about, and nothing says it was.
    late = Learner.new(ULN)
    receipts = [
        take(late, catalogue, raw)
        for raw in completing(EventFactory(), catalogue, CG, CG_REGISTERED, first_on_claim_by + DAY)
    ]
    assert "eligible" not in [d.kind.value for r in receipts for d in r.decisions]
    view = view_of(late, catalogue, CG, CG_CLAIM_BY + DAY)
    assert view is not None and view.completed_on == CG_CLAIM_BY + DAY
    for day in (CG_CLAIM_BY - DAY, CG_CLAIM_BY, CG_CLAIM_BY + DAY, date(2020, 1, 1)):
        assert status_of(late, catalogue, CG, day) is not Status.ELIGIBLE


def test_in_progress_until_some_selection_of_units_meets_every_rule(
    catalogue: Catalogue, events: EventFactory
) -> None:
    learner = cg_learner(catalogue, events, complete=False)
    view = view_of(learner, catalogue, CG, date(2014, 1, 1))
    assert view is not None and view.status is Status.IN_PROGRESS
    assert view.completed_on is None and not view.evaluation.complete


def test_status_as_of_a_day_uses_only_the_facts_effective_by_then(
    catalogue: Catalogue, events: EventFactory
) -> None:
    last = last_unit_day(catalogue, CG, CG_FIRST_UNIT)
    certificated_on = last + 30 * DAY
    learner = cg_learner(catalogue, events, certificate=certificated_on)
    # Everything has been received; each day's answer sees only what was effective.
    assert view_of(learner, catalogue, CG, CG_REGISTERED - DAY) is None
    assert status_of(learner, catalogue, CG, CG_REGISTERED) is Status.IN_PROGRESS
    assert status_of(learner, catalogue, CG, last - DAY) is Status.IN_PROGRESS
    assert status_of(learner, catalogue, CG, last) is Status.ELIGIBLE
    assert status_of(learner, catalogue, CG, certificated_on - DAY) is Status.ELIGIBLE
    assert status_of(learner, catalogue, CG, certificated_on) is Status.CERTIFICATED
    before_last = view_of(learner, catalogue, CG, last - DAY)
    assert before_last is not None
    assert max(a.achieved_on for a in before_last.achievements.values()) == last - DAY


def test_a_fact_received_late_counts_from_its_effective_date_not_its_arrival(
    catalogue: Catalogue, events: EventFactory
) -> None:
    lines = completing(events, catalogue, CG, CG_REGISTERED, CG_FIRST_UNIT)
    learner = Learner.new(ULN)
    feed(learner, catalogue, lines[:-1])
    last = last_unit_day(catalogue, CG, CG_FIRST_UNIT)
    # The last unit, achieved on time, reaches the service a year later.
    late = take(learner, catalogue, lines[-1], now=datetime(2014, 6, 1, 9, tzinfo=LONDON))
    assert late.outcome == "recorded"
    view = view_of(learner, catalogue, CG, last)
    assert view is not None and view.status is Status.ELIGIBLE and view.completed_on == last


def test_completed_on_is_when_the_rules_were_first_met_and_never_before_registration(
    catalogue: Catalogue, events: EventFactory
) -> None:
    units = completing_units(catalogue.qualification(OCR_L3))
    learner = Learner.new(ULN)
    registered_on = date(2019, 9, 2)
    # Every unit transferred from before the registration: complete on registered_on.
    lines = [events.registered(ULN, OCR_L3, registered_on)]
    lines += [
        events.transferred(ULN, urn, date(2018, 1, 1) + k * DAY) for k, urn in enumerate(units)
    ]
    feed(learner, catalogue, lines)
    view = view_of(learner, catalogue, OCR_L3, registered_on)
    assert view is not None and view.completed_on == registered_on

    # One unit achieved later, then a spare unit: completion is the day the rules were met.
    other = Learner.new(ULN)
    spare = next(u.urn for u in catalogue.qualification(OCR_L3).units() if u.urn not in units)
    lines = [events.registered(ULN, OCR_L3, registered_on)]
    lines += [events.transferred(ULN, urn, date(2018, 1, 1)) for urn in units[1:]]
    lines += [
        events.achieved(ULN, units[0], date(2019, 10, 1)),
        events.achieved(ULN, spare, date(2019, 11, 1)),
    ]
    feed(other, catalogue, lines)
    view = view_of(other, catalogue, OCR_L3, date(2020, 1, 1))
    assert view is not None and view.completed_on == date(2019, 10, 1)


# -- §4: a revocation voids the achievement from the start ------------------------------


def test_a_revocation_voids_the_achievement_from_the_start(
    catalogue: Catalogue, events: EventFactory
) -> None:
    learner = Learner.new(ULN)
    lines = completing(events, catalogue, CG, CG_REGISTERED, CG_FIRST_UNIT)
    receipts = [take(learner, catalogue, raw) for raw in lines]
    [eligible] = [d for r in receipts for d in r.decisions]
    last = last_unit_day(catalogue, CG, CG_FIRST_UNIT)
    first_unit_event = parse_inbound(lines[1]).id
    revocation = take(
        learner,
        catalogue,
        events.revoked(ULN, first_unit_event, at=sent_on(date(2014, 3, 1))),
    )

    assert revocation.outcome == "recorded"
    [withdrawn] = revocation.decisions
    assert withdrawn.kind.value == "eligibility_withdrawn"
    assert withdrawn.data["reason"] == "achievement_revoked"
    assert withdrawn.data["previous_decision"] == eligible.id
    # Not merely from the revocation on: on every day, the unit never counted.
    for day in (last, date(2013, 12, 31), date(2014, 3, 1), CG_CLAIM_BY):
        view = view_of(learner, catalogue, CG, day)
        assert view is not None and view.status is Status.IN_PROGRESS, day
        assert first_unit_event not in {a.evidence.id for a in view.achievements.values()}
    # What was known and published before stays in the history for auditors.
    history = learner.collect()
    assert any(isinstance(e, FoundEligible) and e.decision.id == eligible.id for e in history)


def test_a_unit_assessed_again_after_a_revocation_counts_from_its_new_date(
    catalogue: Catalogue, events: EventFactory
) -> None:
    learner = Learner.new(ULN)
    lines = completing(events, catalogue, CG, CG_REGISTERED, CG_FIRST_UNIT)
    first = take(learner, catalogue, lines[0])
    assert first.outcome == "recorded"
    receipts = [take(learner, catalogue, raw) for raw in lines[1:]]
    [eligible] = [d for r in receipts for d in r.decisions]
    first_unit = completing_units(catalogue.qualification(CG))[0]
    revoked = parse_inbound(lines[1]).id
    take(learner, catalogue, events.revoked(ULN, revoked, at=sent_on(date(2014, 3, 1))))
    again = take(learner, catalogue, events.achieved(ULN, first_unit, date(2014, 4, 1)))

    [decision] = again.decisions
    assert decision.kind.value == "eligible"
    assert decision.data["completed_on"] == "2014-04-01"
    assert decision.id != eligible.id  # the second time eligible is a decision of its own
    assert status_of(learner, catalogue, CG, date(2014, 3, 31)) is Status.IN_PROGRESS


def test_a_revocation_must_arrive_after_what_it_revokes(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    lines = completing(events, catalogue, CG, CG_REGISTERED, CG_FIRST_UNIT)
    feed(learner, catalogue, lines[:1])
    early = take(
        learner, catalogue, events.revoked(ULN, "not-yet-sent", at=sent_on(date(2013, 2, 1)))
    )
    assert (early.outcome, early.reason) == ("rejected", "unknown_achievement")
    assert learner.record.revoked == {}


# -- §4: an effective date later than the event's time is future-dated ----------------

SENT = datetime(2016, 3, 1, 17, tzinfo=UTC)


def effective_event(events: EventFactory, kind: str, day: date) -> bytes:
    match kind:
        case "registered_on":
            return events.registered(ULN, OCR_L3, day, at=SENT)
        case "achieved_on":
            return events.achieved(ULN, completing_units_l3()[0], day, at=SENT)
        case "transferred achieved_on":
            return events.transferred(ULN, completing_units_l3()[0], day, at=SENT)
        case "withdrawn_on":
            return events.withdrawn(ULN, OCR_L3, day, at=SENT)
        case "issued_on":
            return events.certificated(ULN, OCR_L3, day, at=SENT)
    raise AssertionError(kind)


def completing_units_l3() -> tuple[str, ...]:
    return completing_units(load_catalogue().qualification(OCR_L3))


@pytest.mark.parametrize(
    "kind", ["registered_on", "achieved_on", "transferred achieved_on", "withdrawn_on", "issued_on"]
)
def test_an_effective_date_later_than_the_event_time_is_future_dated(
    catalogue: Catalogue, kind: str
) -> None:
    for day, outcome in [(SENT.date(), "recorded"), (SENT.date() + DAY, "future_dated")]:
        learner = Learner.new(ULN)
        events = EventFactory()
        if kind != "registered_on":
            feed(learner, catalogue, [events.registered(ULN, OCR_L3, date(2016, 1, 4))])
        # Received long after it was sent: the event's own time is what counts.
        receipt = take(learner, catalogue, effective_event(events, kind, day), now=SENT + 400 * DAY)
        assert (receipt.reason or receipt.outcome) == outcome, (kind, day)


@pytest.mark.parametrize(
    ("sent", "effective", "outcome"),
    [
        # 23:30 UTC in British Summer Time is 00:30 the next day in the UK.
        (datetime(2016, 7, 14, 23, 30, tzinfo=UTC), date(2016, 7, 15), "recorded"),
        # In winter (GMT) 23:30 UTC is still the same day: the next day is in the future.
        (datetime(2016, 1, 14, 23, 30, tzinfo=UTC), date(2016, 1, 15), "future_dated"),
        (datetime(2016, 1, 14, 23, 30, tzinfo=UTC), date(2016, 1, 14), "recorded"),
    ],
)
def test_the_day_of_an_event_is_its_uk_day(
    learner: Learner,
    catalogue: Catalogue,
    events: EventFactory,
    sent: datetime,
    effective: date,
    outcome: str,
) -> None:
    feed(learner, catalogue, [events.registered(ULN, OCR_L3, date(2016, 1, 4))])
    unit = completing_units_l3()[0]
    receipt = take(learner, catalogue, events.achieved(ULN, unit, effective, at=sent))
    assert (receipt.reason or receipt.outcome) == outcome


# -- §5 at the aggregate: one fact per event identity -----------------------------------


def test_the_same_event_again_has_no_effect(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    raw = events.registered(ULN, OCR_L3, date(2016, 1, 4))
    assert take(learner, catalogue, raw).outcome == "recorded"
    version = learner.record.version
    assert take(learner, catalogue, raw).outcome == "duplicate"
    assert learner.record.version == version
    assert [type(e) for e in learner.collect()] == [Registered]


def test_the_same_identity_with_other_content_is_a_conflicting_duplicate(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    take(learner, catalogue, events.registered(ULN, OCR_L3, date(2016, 1, 4), id="reg-1"))
    other = take(learner, catalogue, events.registered(ULN, OCR_L4, date(2016, 1, 4), id="reg-1"))
    assert (other.outcome, other.reason) == ("rejected", "conflicting_duplicate")
    assert list(learner.record.registrations) == [OCR_L3]


def test_a_conflicting_duplicate_sent_again_is_refused_once(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    take(learner, catalogue, events.registered(ULN, OCR_L3, date(2016, 1, 4), id="reg-1"))
    conflicting = events.registered(ULN, OCR_L4, date(2016, 1, 4), id="reg-1")
    # Malformed, but reusing the accepted event's identity: refused for what it is.
    malformed = orjson.loads(conflicting)
    del malformed["data"]["centre"]
    # Malformed with no readable id at all: known by its bytes alone.
    nameless = {**orjson.loads(conflicting), "id": None}
    for raw in (conflicting, orjson.dumps(malformed), orjson.dumps(nameless)):
        assert take(learner, catalogue, raw).outcome == "rejected"
        # The same bytes again (a redelivery): no second refusal, no second rejection.
        again = take(learner, catalogue, raw)
        assert (again.outcome, again.decisions) == ("duplicate", ())
    assert [r.reason for r in learner.record.refusals] == [
        "conflicting_duplicate",
        "malformed",
        "malformed",
    ]


def test_a_refused_event_sent_again_is_a_duplicate_not_a_second_rejection(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    raw = events.withdrawn(ULN, OCR_L3, date(2016, 1, 4))  # not registered
    first = take(learner, catalogue, raw)
    assert (first.outcome, first.reason) == ("rejected", "not_registered")
    assert take(learner, catalogue, raw).outcome == "duplicate"
    assert len(learner.record.refusals) == 1


def test_a_malformed_event_naming_the_learner_is_refused_once_under_that_learner(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    # No centre: the contract refuses it, but the ULN can be read, so it is the learner's.
    message = orjson.loads(events.registered(ULN, OCR_L3, date(2016, 1, 4)))
    del message["data"]["centre"]
    raw = orjson.dumps(message)
    first = take(learner, catalogue, raw)
    assert (first.outcome, first.reason) == ("rejected", "malformed")
    assert "centre" in (first.detail or "")
    assert take(learner, catalogue, raw).outcome == "duplicate"
    [refusal] = learner.record.refusals
    assert refusal.id == message["id"] and refusal.reason == "malformed"
    assert learner.record.registrations == {}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (lambda e: e.registered(ULN, OCR_L3, date(2016, 2, 1)), "already_registered"),
        (lambda e: e.registered(ULN, "NO-SUCH-QUAL", date(2016, 2, 1)), "unknown_qualification"),
        (lambda e: e.achieved(ULN, "Z/999/9999", date(2016, 2, 1)), "unknown_unit"),
        (lambda e: e.withdrawn(ULN, OCR_L4, date(2016, 2, 1)), "not_registered"),
        (lambda e: e.certificated(ULN, OCR_L4, date(2016, 2, 1)), "not_registered"),
        (lambda e: e.withdrawn(ULN, "NO-SUCH-QUAL", date(2016, 2, 1)), "unknown_qualification"),
    ],
)
def test_each_refusal_names_its_reason_and_changes_no_fact(
    learner: Learner, catalogue: Catalogue, events: EventFactory, line: object, reason: str
) -> None:
    feed(learner, catalogue, [events.registered(ULN, OCR_L3, date(2016, 1, 4))])
    before = (dict(learner.record.registrations), list(learner.record.achievements))
    receipt = take(learner, catalogue, line(events))  # type: ignore[operator]
    assert (receipt.outcome, receipt.reason) == ("rejected", reason)
    [rejection] = receipt.decisions
    assert rejection.data["reason"] == reason
    # The rejection echoes the event, but never the date of birth.
    assert "date_of_birth" not in rejection.data["original"]["data"]
    assert (dict(learner.record.registrations), list(learner.record.achievements)) == before


def test_takes_are_collected_once(
    learner: Learner, catalogue: Catalogue, events: EventFactory
) -> None:
    feed(learner, catalogue, [events.registered(ULN, OCR_L3, date(2016, 1, 4))])
    assert len(learner.collect()) == 1
    assert learner.collect() == []
