"""The learner record in process: facts in, statuses and decisions out, on a real SQLite file.

Every date boundary of SPEC.md §4, every reason code of §5, idempotency,
revocation, credit transfer and determinism of decision ids.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from stores import BACKENDS, store_for

from contracts.echo import echo_of
from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue, Qualification
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.records import LearnerRecords, Outcome
from services.entrypoints.wiring import open_records

OCR_L4 = "500/9203/0"
NCFE = "501/0232/1"
CG = "CG-4430-L4"
OCR_L3 = "OCR-L3-DIP-CS"
PEARSON = "PEARSON-L4-NVQ-DIP-CS"
ULN = make_uln(1)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(date(2026, 11, 23))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def records(
    backend: str, tmp_path: Path, catalogue: Catalogue, clock: FixedClock
) -> Iterator[LearnerRecords]:
    with store_for(backend, tmp_path) as location:
        app = open_records(location, catalogue, clock)
        yield app
        app.close()


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


def status_of(records: LearnerRecords, qualification: str, as_of: date | None = None) -> str:
    views = records.status(ULN, as_of) or []
    matching = [v for v in views if v.qualification == qualification]
    assert len(matching) == 1, f"no registration on {qualification} as of {as_of}"
    return matching[0].status.value


def kinds(outcomes: list[Outcome]) -> list[str]:
    return [d.kind.value for o in outcomes for d in o.decisions]


def complete_history(
    events: EventFactory, qualification: Qualification, registered_on: date, start: date
) -> list[bytes]:
    history = [events.registered(ULN, qualification.id, registered_on)]
    for n, urn in enumerate(completing_units(qualification)):
        history.append(events.achieved(ULN, urn, start + n * DAY))
    return history


# -- registration and the accreditation period -------------------------------------------


def test_registration_on_the_accreditation_end_date_is_accepted(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    last_day = catalogue.qualification(OCR_L4).dates.accreditation_end
    [outcome] = records.receive_batch([events.registered(ULN, OCR_L4, last_day)])
    assert outcome.outcome == "recorded"
    assert status_of(records, OCR_L4, last_day) == "in_progress"


def test_registration_the_day_after_accreditation_end_is_refused(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    day_after = catalogue.qualification(OCR_L4).dates.accreditation_end + DAY
    [outcome] = records.receive_batch([events.registered(ULN, OCR_L4, day_after)])
    assert outcome.outcome == "rejected"
    assert outcome.reason == "registration_outside_accreditation_period"
    assert records.status(ULN) == []


def test_registration_before_operational_start_is_refused(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    day_before = catalogue.qualification(OCR_L3).dates.operational_start - DAY
    [outcome] = records.receive_batch([events.registered(ULN, OCR_L3, day_before)])
    assert outcome.reason == "registration_outside_accreditation_period"


# -- minimum age ---------------------------------------------------------------------------


def test_registration_on_the_18th_birthday_is_accepted(
    records: LearnerRecords, events: EventFactory
) -> None:
    born = date(2006, 3, 15)
    [outcome] = records.receive_batch([events.registered(ULN, NCFE, date(2024, 3, 15), born)])
    assert outcome.outcome == "recorded"


def test_registration_the_day_before_the_18th_birthday_is_refused(
    records: LearnerRecords, events: EventFactory
) -> None:
    born = date(2006, 3, 15)
    [outcome] = records.receive_batch([events.registered(ULN, NCFE, date(2024, 3, 14), born)])
    assert outcome.reason == "learner_under_minimum_age"
    assert "18" in (outcome.detail or "")


def test_a_leap_day_birthday_comes_of_age_on_1_march(
    records: LearnerRecords, events: EventFactory
) -> None:
    born = date(2004, 2, 29)
    early = events.registered(ULN, NCFE, date(2022, 2, 28), born)
    on_time = events.registered(ULN, NCFE, date(2022, 3, 1), born)
    first, second = records.receive_batch([early, on_time])
    assert first.reason == "learner_under_minimum_age"
    assert second.outcome == "recorded"


# -- completion, eligibility and the claim-by date ---------------------------------------


def test_a_complete_learner_is_eligible_once_with_completed_on_and_claim_by(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    qualification = catalogue.qualification(OCR_L4)
    history = complete_history(events, qualification, date(2024, 1, 10), date(2024, 2, 1))
    outcomes = records.receive_batch(history)
    assert all(o.outcome == "recorded" for o in outcomes)
    eligible = [d for o in outcomes for d in o.decisions]
    assert [d.kind.value for d in eligible] == ["eligible"]
    data = eligible[0].data
    last = date(2024, 2, 1) + (len(history) - 2) * DAY
    assert data["completed_on"] == last.isoformat()
    assert data["claim_by"] == qualification.dates.claim_by.isoformat()
    assert sum(u["credits"] for u in data["counted_units"]) == data["credits"]
    assert data["caused_by"]["id"] == events.last_id
    # The same history again changes nothing.
    again = records.receive_batch(history)
    assert {o.outcome for o in again} == {"duplicate"}
    assert kinds(again) == []


def test_achievements_before_registration_complete_on_the_registration_day(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    qualification = catalogue.qualification(PEARSON)
    units = completing_units(qualification)
    history = [events.achieved(ULN, urn, date(2023, 1, 1)) for urn in units]
    history.append(events.registered(ULN, PEARSON, date(2024, 6, 1)))
    outcomes = records.receive_batch(history)
    assert kinds(outcomes) == ["eligible"]
    assert outcomes[-1].decisions[0].data["completed_on"] == "2024-06-01"


def test_arrival_order_changes_neither_status_nor_decision_ids(
    tmp_path: Path, catalogue: Catalogue, clock: FixedClock
) -> None:
    qualification = catalogue.qualification(OCR_L3)
    history = complete_history(EventFactory(), qualification, date(2024, 1, 10), date(2024, 2, 1))
    reordered = [history[0], *reversed(history[1:])]
    results = []
    for name, stream in (("in-order", history), ("reversed", reordered)):
        app = open_records(str(tmp_path / f"{name}.sqlite"), catalogue, clock)
        outcomes = app.receive_batch(stream)
        views = app.status(ULN) or []
        results.append(
            (
                [(d.id, d.data["completed_on"]) for o in outcomes for d in o.decisions],
                [(v.status, v.completed_on, v.evaluation.counted_units) for v in views],
            )
        )
        app.close()
    assert results[0] == results[1]
    assert len(results[0][0]) == 1


def test_eligible_on_the_claim_by_day_and_window_expired_the_day_after(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue, clock: FixedClock
) -> None:
    qualification = catalogue.qualification(OCR_L4)
    claim_by = qualification.dates.claim_by
    history = complete_history(events, qualification, date(2024, 1, 10), date(2024, 2, 1))
    clock.set(date(2024, 12, 1))
    records.receive_batch(history)
    assert status_of(records, OCR_L4, claim_by) == "eligible"
    assert status_of(records, OCR_L4, claim_by + DAY) == "window_expired"


def test_completing_after_claim_by_is_not_eligible(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue, clock: FixedClock
) -> None:
    qualification = catalogue.qualification(CG)  # claim-by 2017-08-31, long past
    claim_by = qualification.dates.claim_by
    units = completing_units(qualification)
    history = [events.registered(ULN, CG, date(2013, 9, 1))]
    history += [events.achieved(ULN, urn, date(2014, 1, 1)) for urn in units[:-1]]
    history.append(events.achieved(ULN, units[-1], claim_by + DAY))
    clock.set(claim_by + 10 * DAY)
    outcomes = records.receive_batch(history)
    assert "eligible" not in kinds(outcomes)
    assert kinds(outcomes).count("window_expired") == 1
    assert kinds(outcomes).count("unit_certificate") == 1
    assert status_of(records, CG, claim_by) == "in_progress"


def test_completing_on_the_claim_by_day_is_eligible(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue, clock: FixedClock
) -> None:
    qualification = catalogue.qualification(CG)
    claim_by = qualification.dates.claim_by
    units = completing_units(qualification)
    history = [events.registered(ULN, CG, date(2013, 9, 1))]
    history += [events.achieved(ULN, urn, date(2014, 1, 1)) for urn in units[:-1]]
    history.append(events.achieved(ULN, units[-1], claim_by))
    clock.set(claim_by)
    outcomes = records.receive_batch(history)
    assert kinds(outcomes) == ["eligible"]
    assert outcomes[-1].decisions[0].data["completed_on"] == claim_by.isoformat()


def test_time_alone_expires_the_window_once(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue, clock: FixedClock
) -> None:
    qualification = catalogue.qualification(OCR_L3)
    unit = qualification.groups[0].units[0].urn
    clock.set(date(2025, 1, 1))
    records.receive_batch(
        [
            events.registered(ULN, OCR_L3, date(2024, 1, 1)),
            events.achieved(ULN, unit, date(2024, 2, 1)),
        ]
    )
    clock.set(qualification.dates.claim_by)
    assert records.review([ULN]) == []
    clock.set(qualification.dates.claim_by + DAY)
    decisions = records.review([ULN])
    assert sorted(d.kind.value for d in decisions) == ["unit_certificate", "window_expired"]
    unit_certificate = next(d for d in decisions if d.kind.value == "unit_certificate")
    assert [u["unit"] for u in unit_certificate.data["units"]] == [unit]
    assert unit_certificate.data["because"] == "window_expired"
    assert decisions[0].data["caused_by"] is None
    assert records.review([ULN]) == []


# -- revocation, withdrawal, certificates --------------------------------------------------


def test_revocation_turns_eligible_back_and_voids_the_unit_from_the_start(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    qualification = catalogue.qualification(OCR_L4)
    history = complete_history(events, qualification, date(2024, 1, 10), date(2024, 2, 1))
    eligible = [d for o in records.receive_batch(history) for d in o.decisions]
    revoked_id = "evt-2"  # the first achievement
    [outcome] = records.receive_batch(
        [events.revoked(ULN, revoked_id, at=sent_on(date(2025, 3, 1)))]
    )
    [withdrawn] = outcome.decisions
    assert withdrawn.kind.value == "eligibility_withdrawn"
    assert withdrawn.data["reason"] == "achievement_revoked"
    assert withdrawn.data["previous_decision"] == eligible[0].id
    assert status_of(records, OCR_L4) == "in_progress"
    # From the start: even as of a day before the revocation, the unit never counted.
    assert status_of(records, OCR_L4, date(2024, 12, 1)) == "in_progress"
    # Achieving the unit again makes the learner eligible again, under a new decision id.
    first_unit = completing_units(qualification)[0]
    [again] = records.receive_batch([events.achieved(ULN, first_unit, date(2025, 4, 1))])
    [eligible_again] = again.decisions
    assert eligible_again.kind.value == "eligible"
    assert eligible_again.id != eligible[0].id
    assert eligible_again.data["completed_on"] == "2025-04-01"


def test_withdrawal_withdraws_eligibility_and_lists_a_unit_certificate(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    qualification = catalogue.qualification(PEARSON)
    records.receive_batch(
        complete_history(events, qualification, date(2024, 1, 10), date(2024, 2, 1))
    )
    [outcome] = records.receive_batch([events.withdrawn(ULN, PEARSON, date(2025, 1, 5))])
    assert sorted(d.kind.value for d in outcome.decisions) == [
        "eligibility_withdrawn",
        "unit_certificate",
    ]
    assert status_of(records, PEARSON) == "withdrawn"
    assert status_of(records, PEARSON, date(2025, 1, 4)) == "eligible"


def test_a_certificate_makes_the_registration_certificated(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    qualification = catalogue.qualification(OCR_L4)
    records.receive_batch(
        complete_history(events, qualification, date(2024, 1, 10), date(2024, 2, 1))
    )
    [outcome] = records.receive_batch([events.certificated(ULN, OCR_L4, date(2024, 9, 1))])
    assert outcome.outcome == "recorded" and outcome.decisions == ()
    assert status_of(records, OCR_L4) == "certificated"
    assert status_of(records, OCR_L4, date(2024, 8, 31)) == "eligible"


# -- credit transfer across qualifications -------------------------------------------------


def test_transferred_credit_counts_toward_two_qualifications_sharing_the_unit(
    records: LearnerRecords, events: EventFactory, catalogue: Catalogue
) -> None:
    shared = sorted(
        {u.urn for u in catalogue.qualification(OCR_L4).units()}
        & {u.urn for u in catalogue.qualification(NCFE).units()}
    )
    assert shared, "the L4 NVQs share units"
    unit = shared[0]
    records.receive_batch(
        [
            events.registered(ULN, OCR_L4, date(2024, 1, 1)),
            events.registered(ULN, NCFE, date(2024, 1, 1)),
            events.transferred(ULN, unit, date(2023, 6, 1)),
        ]
    )
    views = {v.qualification: v for v in records.status(ULN) or []}
    assert unit in views[OCR_L4].evaluation.counted_units
    assert unit in views[NCFE].evaluation.counted_units


# -- idempotency and every reason code -----------------------------------------------------


def test_the_same_event_again_is_a_duplicate_and_stores_nothing(
    records: LearnerRecords, events: EventFactory
) -> None:
    registration = events.registered(ULN, OCR_L4, date(2024, 1, 1))
    records.receive_batch([registration])
    stored = len(list(records.history(ULN)))
    [outcome] = records.receive_batch([registration])
    assert outcome.outcome == "duplicate"
    assert len(list(records.history(ULN))) == stored


def test_the_same_identity_with_other_content_is_a_conflicting_duplicate(
    records: LearnerRecords, events: EventFactory
) -> None:
    records.receive_batch([events.registered(ULN, OCR_L4, date(2024, 1, 1), id="r-1")])
    [outcome] = records.receive_batch([events.registered(ULN, OCR_L4, date(2024, 1, 2), id="r-1")])
    assert outcome.reason == "conflicting_duplicate"
    assert status_of(records, OCR_L4) == "in_progress"
    assert (records.status(ULN) or [])[0].registered_on == date(2024, 1, 1)


def test_a_refused_event_sent_again_is_a_duplicate_not_a_second_rejection(
    records: LearnerRecords, events: EventFactory
) -> None:
    refused = events.achieved(ULN, "J/601/1630", date(2024, 1, 1), at=sent_on(date(2023, 1, 1)))
    first, second = records.receive_batch([refused, refused])
    assert (first.outcome, first.reason) == ("rejected", "future_dated")
    assert second.outcome == "duplicate"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda e: b"{not json", "malformed"),
        (lambda e: b'{"specversion": "1.0"}', "malformed"),
        (
            lambda e: e.registered(ULN, OCR_L4, date(2024, 1, 1)).replace(
                ULN.encode(), b"1000000001"
            ),
            "invalid_uln",
        ),
        (lambda e: e.registered(ULN, "999/9999/9", date(2024, 1, 1)), "unknown_qualification"),
        (lambda e: e.achieved(ULN, "Z/999/9999", date(2024, 1, 1)), "unknown_unit"),
        (
            lambda e: e.achieved(ULN, "J/601/1630", date(2024, 1, 2), at=sent_on(date(2024, 1, 1))),
            "future_dated",
        ),
        (
            lambda e: e.registered(ULN, CG, date(2015, 1, 1)),
            "registration_outside_accreditation_period",
        ),
        (
            lambda e: e.registered(ULN, NCFE, date(2024, 1, 1), date(2010, 1, 1)),
            "learner_under_minimum_age",
        ),
        (lambda e: e.withdrawn(ULN, OCR_L3, date(2024, 1, 1)), "not_registered"),
        (lambda e: e.certificated(ULN, OCR_L3, date(2024, 1, 1)), "not_registered"),
        (
            lambda e: e.revoked(ULN, "no-such-event", at=sent_on(date(2024, 1, 1))),
            "unknown_achievement",
        ),
    ],
)
def test_every_refusal_carries_its_reason_and_the_original_event(
    records: LearnerRecords, events: EventFactory, make: object, reason: str
) -> None:
    raw = make(events)  # type: ignore[operator]
    [outcome] = records.receive_batch([raw])
    assert (outcome.outcome, outcome.reason) == ("rejected", reason)
    [rejection] = outcome.decisions
    assert rejection.kind.value == "rejected"
    assert rejection.data["reason"] == reason
    assert rejection.data["detail"]
    original = rejection.data["original"]
    # The original as contracts.echo_of makes it: never a date of birth, at most 8 KiB.
    try:
        whole: object = json.loads(raw)
    except ValueError:
        whole = raw.decode()
    assert original == echo_of(whole)


def test_already_registered(records: LearnerRecords, events: EventFactory) -> None:
    first, second = records.receive_batch(
        [
            events.registered(ULN, OCR_L4, date(2024, 1, 1)),
            events.registered(ULN, OCR_L4, date(2024, 2, 1)),
        ]
    )
    assert first.outcome == "recorded"
    assert second.reason == "already_registered"


def test_a_batch_is_one_transaction(
    backend: str, tmp_path: Path, catalogue: Catalogue, clock: FixedClock, events: EventFactory
) -> None:
    with store_for(backend, tmp_path) as location:
        _batch_is_stored_together(location, catalogue, clock, events)


def _batch_is_stored_together(
    path: str, catalogue: Catalogue, clock: FixedClock, events: EventFactory
) -> None:
    app = open_records(path, catalogue, clock)
    learners = [make_uln(n) for n in range(10, 20)]
    batch = [events.registered(uln, OCR_L4, date(2024, 1, 1)) for uln in learners]
    before = app.store.recorder.max_notification_id() or 0
    app.receive_batch(batch)
    app.close()
    reopened = open_records(path, catalogue, clock)
    assert all(reopened.status(uln) for uln in learners)
    # One Registered per learner, all committed together.
    assert (reopened.store.recorder.max_notification_id() or 0) - before == len(learners)
    reopened.close()


def test_a_batch_that_cannot_be_stored_leaves_nothing_behind(
    tmp_path: Path, catalogue: Catalogue, clock: FixedClock, events: EventFactory
) -> None:
    path = tmp_path / "records.sqlite"
    app = open_records(str(path), catalogue, clock)
    app.receive_batch([events.registered(make_uln(30), OCR_L4, date(2024, 1, 1))])
    with sqlite3.connect(path) as db:
        # The store refuses the last event of the batch, as a full disk would.
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON stored_events "
            "WHEN CAST(NEW.state AS TEXT) LIKE '%last-of-batch%' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    before = app.store.recorder.max_notification_id()
    batch = [events.registered(make_uln(n), OCR_L4, date(2024, 1, 1)) for n in range(31, 35)]
    batch.append(events.achieved(make_uln(30), "J/601/1630", date(2024, 2, 1), id="last-of-batch"))
    with pytest.raises(Exception, match="refused"):
        app.receive_batch(batch)
    assert app.store.recorder.max_notification_id() == before
    # Nor does the writer's memory of its learners keep what the store refused.
    assert [v.evaluation.counted_units for v in app.status(make_uln(30)) or []] == [()]
    assert app.status(make_uln(31)) is None
    app.close()
    reopened = open_records(str(path), catalogue, clock)
    assert all(reopened.status(make_uln(n)) is None for n in range(31, 35))
    views = reopened.status(make_uln(30)) or []
    assert [v.evaluation.counted_units for v in views] == [()]
    reopened.close()
