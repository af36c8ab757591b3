"""Sample learner histories across the five qualifications: for demo, docs and tests.

Each history tells one story an awarding organisation meets every day: a
learner who completes, one whose unit is revoked, one who withdraws, one who
brings credit from elsewhere, and publishers' mistakes that must be refused.
"""

from __future__ import annotations

from datetime import date, timedelta

from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from domain.catalogue import Catalogue, Qualification
from domain.rules import shortfall

DAY = timedelta(days=1)


def completing_units(qualification: Qualification) -> tuple[str, ...]:
    """A cheapest set of units (by guided learning hours) that completes ``qualification``."""
    found = shortfall(qualification, {})
    if found is None:
        raise ValueError(f"{qualification.id} cannot be completed from its own units")
    return found.cheapest_units


def sample_histories(catalogue: Catalogue, first_learner: int = 1) -> list[bytes]:
    """CloudEvents in arrival order, deterministic for a given catalogue."""
    events = EventFactory(source="urn:eportfolio:sample", prefix="sample")
    out: list[bytes] = []
    n = first_learner
    for qualification in catalogue.qualifications.values():
        start = max(qualification.dates.operational_start, date(2013, 9, 2))
        registered_on = min(start, qualification.dates.accreditation_end)
        # A learner who completes: eligible once.
        uln = make_uln(n)
        n += 1
        out.append(events.registered(uln, qualification.id, registered_on, date(1990, 4, 2)))
        for k, urn in enumerate(completing_units(qualification)):
            out.append(events.achieved(uln, urn, registered_on + (10 + 7 * k) * DAY))
        # A learner part-way through, who then withdraws: a unit certificate.
        uln = make_uln(n)
        n += 1
        units = completing_units(qualification)
        out.append(events.registered(uln, qualification.id, registered_on, date(1988, 1, 20)))
        out.append(events.achieved(uln, units[0], registered_on + 30 * DAY))
        out.append(events.withdrawn(uln, qualification.id, registered_on + 60 * DAY))
    # A learner on two level 4 NVQs, one complete by transferred credit, then revoked.
    # OCR's and NCFE's level 4 NVQs share their units.
    ocr, ncfe = "500/9203/0", "501/0232/1"
    if ocr in catalogue.qualifications and ncfe in catalogue.qualifications:
        uln = make_uln(n)
        n += 1
        out.append(events.registered(uln, ocr, date(2024, 1, 8), date(1985, 7, 1)))
        out.append(events.registered(uln, ncfe, date(2024, 1, 8), date(1985, 7, 1)))
        units = completing_units(catalogue.qualification(ocr))
        out.append(events.transferred(uln, units[0], date(2023, 5, 1)))
        transfer_id = events.last_id
        for k, urn in enumerate(units[1:]):
            out.append(events.achieved(uln, urn, date(2024, 2, 1) + 5 * k * DAY))
        out.append(out[-1])  # a publisher's retry: a duplicate, no effect
        out.append(events.revoked(uln, transfer_id, at=sent_on(date(2024, 9, 2))))
    # Publishers' mistakes: each is refused with its reason code.
    uln = make_uln(n)
    out.append(b'{"specversion": "1.0", "id": "broken-1", "type": "unit.achieved.v1"')
    out.append(events.achieved(uln, "Z/999/9999", date(2024, 3, 1)))
    out.append(events.registered(uln, ocr, date(2024, 3, 2), at=sent_on(date(2024, 3, 1))))
    return out
