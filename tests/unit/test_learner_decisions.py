"""The decisions a learner's record calls for (SPEC.md §5's outbound kinds), in memory.

Each is taken once, shaped as its outbound contract when taken, with an id that depends
on what it is about, never on when or in which order the facts arrived.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from learner_histories import DAY, LONDON, review, status_of, take

from contracts import parse_inbound, parse_outbound
from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from domain.learner import Decision, Learner, RegistrationStatus
from services.adapters.catalogue_files import load_catalogue

CG = "CG-4430-L4"
OCR_L4 = "500/9203/0"
NCFE = "501/0232/1"
ULN = make_uln(7)
REGISTERED = date(2013, 1, 10)
FIRST_UNIT = date(2013, 2, 1)
CLAIM_BY = date(2017, 8, 31)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def history(events: EventFactory, catalogue: Catalogue, units: int | None = None) -> list[bytes]:
    """Registered on CG-4430-L4, then its cheapest completing units (or the first few)."""
    urns = completing_units(catalogue.qualification(CG))[:units]
    return [
        events.registered(ULN, CG, REGISTERED),
        *(events.achieved(ULN, urn, FIRST_UNIT + k * DAY) for k, urn in enumerate(urns)),
    ]


def decisions(
    learner: Learner, catalogue: Catalogue, lines: list[bytes], now: datetime | None = None
) -> list[Decision]:
    """What ``lines`` lead to, each taken at its own time (or all at ``now``)."""
    return [d for raw in lines for d in take(learner, catalogue, raw, now).decisions]


def test_a_complete_registration_is_found_eligible_once_and_the_decision_says_why(
    catalogue: Catalogue,
) -> None:
    learner = Learner.new(ULN)
    lines = history(EventFactory(), catalogue)
    extra = next(
        u.urn
        for u in catalogue.qualification(CG).units()
        if u.urn not in completing_units(catalogue.qualification(CG))
    )
    lines.append(EventFactory(prefix="more").achieved(ULN, extra, date(2013, 6, 3)))
    taken = decisions(learner, catalogue, lines)

    [eligible] = taken  # the spare unit afterwards decides nothing new
    last_day = FIRST_UNIT + (len(lines) - 3) * DAY
    assert eligible.kind.value == "eligible"
    assert eligible.subject == f"records.out.eligible.{ULN}"
    event = parse_outbound(eligible.cloudevent.encode())  # it is its published contract
    assert event.id == eligible.id and event.subject == ULN
    data = eligible.data
    assert data["completed_on"] == last_day.isoformat()
    assert data["claim_by"] == CLAIM_BY.isoformat()
    assert data["registered_on"] == REGISTERED.isoformat()
    assert data["catalogue_version"] == catalogue.version
    # Taken when the last unit arrived, and it names that unit's event as its cause.
    assert data["decided_on"] == last_day.isoformat()
    assert data["caused_by"]["id"] == parse_inbound(lines[-2]).id
    counted = {u["unit"]: u for u in data["counted_units"]}
    assert set(counted) == set(completing_units(catalogue.qualification(CG)))
    assert data["credits"] == sum(u["credits"] for u in counted.values())
    # Every counted unit names the inbound event behind it.
    sent = {parse_inbound(raw).data.unit: parse_inbound(raw).id for raw in lines[1:-1]}  # type: ignore[union-attr]
    assert {urn: u["evidence"]["id"] for urn, u in counted.items()} == sent


def test_the_eligible_decision_has_the_same_id_whatever_order_the_units_arrived_in(
    catalogue: Catalogue,
) -> None:
    lines = history(EventFactory(), catalogue)
    # Received in one sitting, after they were all sent (a backlog).
    later = datetime(2013, 6, 3, 9, tzinfo=LONDON)
    forward = decisions(Learner.new(ULN), catalogue, lines, later)
    backward = decisions(Learner.new(ULN), catalogue, [lines[0], *reversed(lines[1:])], later)
    assert [d.kind.value for d in forward] == [d.kind.value for d in backward] == ["eligible"]
    assert forward[0].id == backward[0].id
    # ... though another event tipped it: the cause differs, not the identity.
    assert forward[0].data["caused_by"] != backward[0].data["caused_by"]


def test_a_withdrawal_withdraws_eligibility_and_owes_a_unit_certificate(
    catalogue: Catalogue,
) -> None:
    events = EventFactory()
    learner = Learner.new(ULN)
    [eligible] = decisions(learner, catalogue, history(events, catalogue))
    taken = decisions(learner, catalogue, [events.withdrawn(ULN, CG, date(2013, 9, 2))])

    assert [d.kind.value for d in taken] == ["eligibility_withdrawn", "unit_certificate"]
    withdrawn, certificate = taken
    assert withdrawn.data["previous_decision"] == eligible.id
    assert withdrawn.data["reason"] == "registration_withdrawn"
    assert certificate.data["because"] == "withdrawn"
    assert {u["unit"] for u in certificate.data["units"]} == {
        u["unit"] for u in eligible.data["counted_units"]
    }
    # Withdrawn is final: the claim-by date passing owes nothing more.
    assert review(learner, catalogue, CLAIM_BY + DAY) == []


def test_a_withdrawal_before_any_unit_owes_no_unit_certificate(catalogue: Catalogue) -> None:
    events = EventFactory()
    learner = Learner.new(ULN)
    taken = decisions(
        learner,
        catalogue,
        [*history(events, catalogue, units=0), events.withdrawn(ULN, CG, date(2013, 9, 2))],
    )
    assert taken == []
    assert status_of(learner, catalogue, CG, date(2013, 9, 2)) is RegistrationStatus.WITHDRAWN


def test_time_alone_expires_the_window_once_at_the_start_of_the_day_after_claim_by(
    catalogue: Catalogue,
) -> None:
    learner = Learner.new(ULN)
    assert decisions(learner, catalogue, history(EventFactory(), catalogue, units=3)) == []
    assert review(learner, catalogue, CLAIM_BY) == []  # the claim-by day is still in time

    taken = review(learner, catalogue, CLAIM_BY + DAY)

    assert [d.kind.value for d in taken] == ["window_expired", "unit_certificate"]
    expired, certificate = taken
    assert expired.data["claim_by"] == CLAIM_BY.isoformat()
    assert expired.data["caused_by"] is None  # no event: the calendar
    assert expired.taken_at == datetime.combine(CLAIM_BY + DAY, time(), tzinfo=LONDON)
    assert expired.decided_on == CLAIM_BY + DAY
    assert certificate.data["because"] == "window_expired"
    assert len(certificate.data["units"]) == 3
    # Once: the next day, or the same day again, decides nothing.
    assert review(learner, catalogue, CLAIM_BY + DAY) == []
    assert review(learner, catalogue, CLAIM_BY + 2 * DAY) == []


def test_an_eligible_learner_whose_window_expires_is_told_so_without_a_withdrawal(
    catalogue: Catalogue,
) -> None:
    learner = Learner.new(ULN)
    [eligible] = decisions(learner, catalogue, history(EventFactory(), catalogue))
    taken = review(learner, catalogue, CLAIM_BY + DAY)
    # Expiry is not a withdrawal of eligibility: the registration was eligible, then
    # ran out of time; the subscriber hears window_expired and the units to certificate.
    assert [d.kind.value for d in taken] == ["window_expired", "unit_certificate"]
    assert eligible.id not in {d.id for d in taken}


def test_a_certificated_registration_owes_nothing_when_claim_by_passes(
    catalogue: Catalogue,
) -> None:
    events = EventFactory()
    learner = Learner.new(ULN)
    lines = [*history(events, catalogue), events.certificated(ULN, CG, date(2013, 6, 1))]
    assert [d.kind.value for d in decisions(learner, catalogue, lines)] == ["eligible"]
    assert review(learner, catalogue, CLAIM_BY + DAY) == []
    assert review(learner, catalogue, date(2030, 1, 1)) == []


def test_an_event_received_after_claim_by_brings_the_expiry_with_it(catalogue: Catalogue) -> None:
    events = EventFactory()
    learner = Learner.new(ULN)
    decisions(learner, catalogue, history(events, catalogue, units=2))
    # No review ran; the next event, sent after claim-by, is the first to see the day.
    late = take(
        learner,
        catalogue,
        events.achieved(ULN, completing_units(catalogue.qualification(CG))[2], date(2017, 9, 5)),
    )
    assert [d.kind.value for d in late.decisions] == ["window_expired", "unit_certificate"]
    assert late.decisions[0].data["caused_by"]["id"] == events.last_id
    assert late.decisions[0].decided_on == date(2017, 9, 5)


def test_revoking_a_unit_both_qualifications_counted_withdraws_both_eligibilities(
    catalogue: Catalogue,
) -> None:
    # OCR's and NCFE's level 4 NVQs share their units: one transfer counts toward both.
    events = EventFactory()
    learner = Learner.new(ULN)
    units = completing_units(catalogue.qualification(OCR_L4))
    lines = [
        events.registered(ULN, OCR_L4, date(2024, 1, 8)),
        events.registered(ULN, NCFE, date(2024, 1, 8)),
        events.transferred(ULN, units[0], date(2023, 5, 1)),
    ]
    transfer_id = events.last_id
    lines += [
        events.achieved(ULN, urn, date(2024, 2, 1) + k * DAY) for k, urn in enumerate(units[1:])
    ]
    assert sorted(d.data["qualification"] for d in decisions(learner, catalogue, lines)) == [
        OCR_L4,
        NCFE,
    ]
    revoked = take(
        learner, catalogue, events.revoked(ULN, transfer_id, at=sent_on(date(2024, 9, 2)))
    )
    assert [(d.kind.value, d.data["qualification"]) for d in revoked.decisions] == [
        ("eligibility_withdrawn", OCR_L4),
        ("eligibility_withdrawn", NCFE),
    ]
    assert {d.data["reason"] for d in revoked.decisions} == {"achievement_revoked"}
    assert all(transfer_id in d.data["detail"] for d in revoked.decisions)


def test_a_refusal_is_a_rejection_filed_under_the_learner(catalogue: Catalogue) -> None:
    events = EventFactory()
    learner = Learner.new(ULN)
    receipt = take(learner, catalogue, events.withdrawn(ULN, CG, date(2013, 9, 2)))
    [rejection] = receipt.decisions
    assert rejection.kind.value == "rejected"
    assert rejection.subject == f"records.out.rejected.{ULN}"
    assert rejection.data["original_id"] == events.last_id
    parse_outbound(rejection.cloudevent.encode())
    # Refused again elsewhere, later (a replay, another replica after a crash): the
    # same decision id, so subscribers and JetStream drop it as a repeat.
    again = Learner.new(ULN)
    later = datetime(2019, 5, 1, 8, tzinfo=LONDON)
    [same] = take(
        again, catalogue, events.withdrawn(ULN, CG, date(2013, 9, 2), id=events.last_id), later
    ).decisions
    assert same.id == rejection.id
    assert same.taken_at == later != rejection.taken_at
