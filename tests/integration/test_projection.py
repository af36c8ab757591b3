"""The learner status view: fed from the real event store, rebuilt from zero, queried.

Every scenario runs on both backends: a SQLite store with its view in a file of its own,
and a PostgreSQL store with the view's tables and position in the same database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from stores import BACKENDS, store_for

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units, sample_histories
from domain.catalogue import Catalogue
from projections.documents import CONTRACT_FIELDS, registration_document
from projections.status_projection import StatusProjection, rows_until
from projections.status_query import StatusQuery
from projections.status_view import PositionConflictError, StatusView, open_status_view
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.records import LearnerRecords
from services.entrypoints.wiring import open_records

TODAY = date(2025, 1, 15)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_for(str(request.param), tmp_path) as where:
        yield where


@pytest.fixture
def records(location: str, catalogue: Catalogue) -> Iterator[LearnerRecords]:
    app = open_records(location, catalogue, FixedClock(TODAY))
    try:
        yield app
    finally:
        app.close()


def make_view(location: str, path: Path) -> StatusView:
    return open_status_view(location, path)


@pytest.fixture
def view(location: str, tmp_path: Path) -> Iterator[StatusView]:
    opened = make_view(location, tmp_path / "views.sqlite")
    yield opened
    opened.close()


def projection_of(
    records: LearnerRecords, view: StatusView, *, batch: int = 500, cache: int = 20_000
) -> StatusProjection:
    return StatusProjection(
        records.store, view, records.catalogue, lambda: TODAY, batch=batch, cache=cache
    )


def learners_in(histories: list[bytes]) -> set[str]:
    ulns = set()
    for raw in histories:
        try:
            ulns.add(json.loads(raw)["subject"])
        except (ValueError, KeyError):
            continue
    return ulns


def expected(records: LearnerRecords, uln: str) -> list[dict[str, object]] | None:
    views = records.status(uln)
    if not views:
        return None
    return [registration_document(v, records.catalogue) for v in views]


def replay_of(records: LearnerRecords):  # type: ignore[no-untyped-def]
    def replay(uln: str, day: date) -> list[dict[str, object]] | None:
        views = records.status(uln, day)
        if views is None:
            return None
        return [registration_document(v, records.catalogue) for v in views]

    return replay


def last_position(records: LearnerRecords) -> int:
    return records.store.last_position()


def test_the_view_matches_the_store_after_catching_up(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    histories = sample_histories(catalogue)
    # In several transactions, as ingest would store them.
    for start in range(0, len(histories), 17):
        records.receive_batch(histories[start : start + 17])

    reached = projection_of(records, view, batch=25).catch_up()

    assert reached == last_position(records) == view.position()
    for uln in learners_in(histories):
        assert view.registrations(uln) == expected(records, uln), uln


def test_a_rebuild_from_zero_gives_the_same_rows(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    histories = sample_histories(catalogue)
    records.receive_batch(histories)
    projection = projection_of(records, view, batch=10)
    projection.rebuild()
    before = {uln: view.registrations(uln) for uln in learners_in(histories)}
    seen: list[tuple[int, int]] = []

    reached = projection.rebuild(lambda done, total: seen.append((done, total)))

    assert {uln: view.registrations(uln) for uln in learners_in(histories)} == before
    assert reached == last_position(records) == view.position()
    assert seen[-1][1] == reached


@pytest.mark.parametrize("cache", [0, 3, 10_000])
def test_an_incremental_projection_and_a_rebuild_give_identical_rows(
    records: LearnerRecords, location: str, tmp_path: Path, catalogue: Catalogue, cache: int
) -> None:
    # Small pages and a small (or no) cache: learners split across pages, some reloaded
    # from the store mid-history, others carried from page to page.
    histories = sample_histories(catalogue)
    incremental = make_view(location, tmp_path / "incremental.sqlite")
    following = projection_of(records, incremental, batch=7, cache=cache)
    for start in range(0, len(histories), 5):
        records.receive_batch(histories[start : start + 5])
        following.catch_up()
    rows = incremental.rows()
    for uln in learners_in(histories):
        assert incremental.registrations(uln) == expected(records, uln), uln
    assert incremental.position() == last_position(records)
    # A rebuild into the same (or a fresh) view gives exactly the same rows.
    rebuilt = make_view(location, tmp_path / "rebuilt.sqlite")
    projection_of(records, rebuilt).rebuild()
    assert rebuilt.rows() == rows != []
    assert rebuilt.position() == last_position(records)


def test_a_rebuild_in_several_processes_gives_the_same_rows(
    records: LearnerRecords, location: str, tmp_path: Path, catalogue: Catalogue
) -> None:
    # Each process folds the learners of its shard; together they must give every row
    # the one-process projection gives, none twice.
    histories = sample_histories(catalogue)
    for start in range(0, len(histories), 9):
        records.receive_batch(histories[start : start + 9])
    views = tmp_path / "views.sqlite"
    view = make_view(location, views)
    # The command decides as of today, so this projection does too.
    today = date.today()
    StatusProjection(records.store, view, catalogue, lambda: today).catch_up()
    rows = view.rows()
    shards = [
        rows_until(records.store, catalogue, last_position(records), today, (k, 3))
        for k in range(3)
    ]
    assert all(shards) and sorted(r for shard in shards for r in shard) == sorted(rows)
    view.close()

    command = [str(Path(sys.executable).with_name("learner-records")), "rebuild"]
    command += ["--store", location, "--views", str(views), "--workers", "3", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["position"] == last_position(records)

    rebuilt = make_view(location, views)
    try:
        assert rebuilt.rows() == rows != []
        assert rebuilt.position() == last_position(records)
    finally:
        rebuilt.close()


def test_a_running_projection_carries_on_from_a_rebuild(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    histories = sample_histories(catalogue)
    half = len(histories) // 2
    records.receive_batch(histories[:half])
    running = projection_of(records, view, batch=7)
    position = running.catch_up()
    records.receive_batch(histories[half:])
    # The rebuild replaces the rows while the running projection is behind it...
    rebuilt_at = projection_of(records, view).rebuild()
    assert view.position() == rebuilt_at == last_position(records)
    rows = view.rows()
    # ...which notices its position moved, and carries on from the rebuild's.
    with pytest.raises(PositionConflictError):
        running.project_page(position)
    newcomer = make_uln(987_654)
    later = EventFactory(prefix="later").registered(newcomer, "500/9203/0", TODAY)
    records.receive(later)
    assert running.catch_up() == last_position(records)
    assert [r for r in view.rows() if r[0] != newcomer] == rows
    assert view.registrations(newcomer) == expected(records, newcomer)


def test_the_status_query_answers_from_the_view(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    events = EventFactory()
    uln = make_uln(4242)
    ocr3 = catalogue.qualification("OCR-L3-DIP-CS")
    records.receive(events.registered(uln, ocr3.id, date(2016, 1, 4)))
    for k, urn in enumerate(completing_units(ocr3)):
        records.receive(events.achieved(uln, urn, date(2016, 2, 1 + k)))
    projection_of(records, view).catch_up()
    query = StatusQuery(view, replay_of(records), lambda: TODAY)

    reply = query.answer(json.dumps({"uln": uln}))

    assert reply.error is None and reply.uln == uln and reply.as_of is None
    [registration] = reply.registrations
    assert registration.status == "eligible"
    assert registration.claim_by == date(2030, 8, 31)
    assert registration.credits == sum(u.credits for u in registration.counted_units)
    assert set(registration.model_dump()) == set(CONTRACT_FIELDS)
    # As of a day before the last unit: replayed from the store, not the view.
    earlier = query.answer(json.dumps({"uln": uln, "as_of": "2016-01-20"}))
    assert earlier.as_of == date(2016, 1, 20)
    assert earlier.registrations[0].status == "in_progress"
    # The calendar moves the view's answer on by itself once claim_by passes.
    later = StatusQuery(view, replay_of(records), lambda: date(2030, 9, 1))
    assert later.answer(json.dumps({"uln": uln})).registrations[0].status == "window_expired"


@pytest.mark.parametrize(
    ("request_body", "code"),
    [(b"{", "malformed"), (b'{"uln": "1234567890"}', "invalid_uln"), (b"[]", "malformed")],
)
def test_a_bad_status_request_is_answered_with_an_error(
    records: LearnerRecords, view: StatusView, request_body: bytes, code: str
) -> None:
    reply = StatusQuery(view, replay_of(records), lambda: TODAY).answer(request_body)
    assert reply.error is not None and reply.error.code == code
    assert reply.registrations == ()


def test_an_unknown_learner_has_no_registrations(records: LearnerRecords, view: StatusView) -> None:
    reply = StatusQuery(view, replay_of(records), lambda: TODAY).answer(
        json.dumps({"uln": make_uln(99)})
    )
    assert reply.error is None and reply.registrations == ()


def test_a_learner_first_seen_after_claim_by_is_still_due_for_review(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    """The projection may work a status out only after claim-by has passed (it was
    behind, or the service was down that day): the view then says window_expired, yet
    nothing was decided, and the scheduler must still find the learner."""
    events = EventFactory()
    uln = make_uln(5150)
    cg = catalogue.qualification("CG-4430-L4")
    records.clock = FixedClock(date(2013, 2, 1))  # received long before claim-by
    records.receive(events.registered(uln, cg.id, date(2013, 1, 10)))
    after_claim_by = date(2017, 9, 1)
    assert after_claim_by > cg.dates.claim_by
    late = StatusProjection(records.store, view, catalogue, lambda: after_claim_by)
    late.catch_up()

    assert [d["status"] for d in view.registrations(uln) or []] == ["window_expired"]
    assert view.due_for_review(after_claim_by) == [uln]
    records.review([uln], after_claim_by)  # the scheduler decides it
    late.catch_up()
    assert view.due_for_review(after_claim_by) == []
