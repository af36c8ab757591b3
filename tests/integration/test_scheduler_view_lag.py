"""The expiry scheduler finds who is due in the status view, even when the view lags.

The projection works each status out as of its own today. A learner whose last event
is projected only after their claim-by day has passed (the projection's process
lagging at midnight, or the view rebuilt after a downtime across claim-by) has a row
that already reads window_expired although nothing was decided; the scheduler must
still review them, once. Through the real parts (LearnerRecords, the status
projection, the scheduler, SQLite) and no timing: the projection is simply run late.
Before main's expiry_due column (7f21813) the late cases took no decision at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from projections.status_projection import StatusProjection
from projections.status_view import open_status_view
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.scheduler import ExpiryScheduler
from services.entrypoints.wiring import open_records

CG = "CG-4430-L4"
CLAIM_BY = date(2017, 8, 31)
DAY = timedelta(days=1)


async def write(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The service's one writer, in line (the test has no other writer)."""
    return fn(*args, **kwargs)


@pytest.mark.parametrize("projected", ["on claim-by day", "the day after", "rebuilt after"])
async def test_a_learner_in_progress_at_claim_by_is_reviewed_once_however_late_projected(
    tmp_path: Path, projected: str
) -> None:
    catalogue = load_catalogue()
    clock = FixedClock(CLAIM_BY)  # midday on the claim-by day
    store = str(tmp_path / "records.sqlite")
    records = open_records(store, catalogue, clock)
    view = open_status_view(store, tmp_path / "views.sqlite")
    projection = StatusProjection(records.store, view, catalogue, lambda: clock.now().date())
    scheduler = ExpiryScheduler(records, view, write)
    try:
        uln = make_uln(6001)
        events = EventFactory(prefix="lag")
        units = completing_units(catalogue.qualification(CG))[:2]
        lines = [events.registered(uln, CG, date(2013, 1, 10))]
        lines += [
            events.achieved(uln, urn, date(2013, 3, 1) + k * DAY) for k, urn in enumerate(units)
        ]
        assert [o.outcome for o in records.receive_batch(lines)] == ["recorded"] * 3
        if projected == "on claim-by day":
            projection.catch_up()
        clock.set(CLAIM_BY + DAY)
        if projected == "rebuilt after":
            projection.rebuild()
        else:
            projection.catch_up()

        await scheduler.review_due()

        decided = [e.decision.kind.value for e in records.history(uln) if hasattr(e, "decision")]
        assert decided == ["window_expired", "unit_certificate"]
        # Once: projected with its decisions, the learner is no longer due.
        projection.catch_up()
        assert view.due_for_review(CLAIM_BY + 2 * DAY) == []
        clock.set(CLAIM_BY + 2 * DAY)
        assert await scheduler.review_due() == 0
    finally:
        records.close()
        view.close()
