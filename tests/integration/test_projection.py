"""The learner status view: fed from the real event store, rebuilt from zero, queried."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units, sample_histories
from domain.catalogue import Catalogue
from projections import status_projection
from projections.documents import CONTRACT_FIELDS, registration_document
from projections.status_projection import StatusProjection
from projections.status_query import StatusQuery, replay_from
from projections.status_view import PositionConflictError, StatusView
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.application.records import LearnerRecords, sqlite_env

TODAY = date(2025, 1, 15)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def records(tmp_path: Path, catalogue: Catalogue) -> Iterator[LearnerRecords]:
    app = LearnerRecords(catalogue, FixedClock(TODAY), env=sqlite_env(tmp_path / "store.sqlite"))
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def view(tmp_path: Path) -> StatusView:
    return StatusView(tmp_path / "views.sqlite")


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


async def test_the_view_matches_the_store_after_catching_up(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    histories = sample_histories(catalogue)
    # In several transactions, as ingest would store them.
    for start in range(0, len(histories), 17):
        records.receive_batch(histories[start : start + 17])
    projection = StatusProjection(records, view, batch=25)

    reached = await projection.catch_up()

    assert reached == records.recorder.max_notification_id() == view.position()
    for uln in learners_in(histories):
        assert view.registrations(uln) == expected(records, uln), uln


def test_a_rebuild_from_zero_gives_the_same_rows(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    histories = sample_histories(catalogue)
    records.receive_batch(histories)
    projection = StatusProjection(records, view, batch=10)
    projection.rebuild()
    before = {uln: view.registrations(uln) for uln in learners_in(histories)}
    seen: list[tuple[int, int]] = []

    reached = projection.rebuild(lambda done, total: seen.append((done, total)))

    assert {uln: view.registrations(uln) for uln in learners_in(histories)} == before
    assert reached == records.recorder.max_notification_id()
    assert seen[-1] == (reached, reached) and len(seen) == -(-reached // 10)


def all_rows(view: StatusView) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(view.path)) as db:
        return db.execute(
            "SELECT * FROM registration_status ORDER BY uln, qualification"
        ).fetchall()


@pytest.mark.parametrize("cache", [0, 3, 10_000])
async def test_an_incremental_projection_and_a_rebuild_give_identical_rows(
    records: LearnerRecords, tmp_path: Path, catalogue: Catalogue, cache: int
) -> None:
    # Small pages and a small (or no) cache: learners split across pages, some reloaded
    # from the store mid-history, others carried from page to page.
    histories = sample_histories(catalogue)
    incremental = StatusView(tmp_path / "incremental.sqlite")
    following = StatusProjection(records, incremental, batch=7, cache=cache)
    for start in range(0, len(histories), 5):
        records.receive_batch(histories[start : start + 5])
        await following.catch_up()
    rebuilt = StatusView(tmp_path / "rebuilt.sqlite")
    StatusProjection(records, rebuilt, batch=20_000).rebuild()

    assert all_rows(incremental) == all_rows(rebuilt) != []
    assert incremental.position() == rebuilt.position() == records.recorder.max_notification_id()
    for uln in learners_in(histories):
        assert incremental.registrations(uln) == expected(records, uln), uln


@pytest.mark.parametrize(("workers", "direct"), [(1, True), (2, True), (3, True), (2, False)])
async def test_a_rebuild_split_between_processes_gives_the_incremental_rows(
    records: LearnerRecords,
    tmp_path: Path,
    catalogue: Catalogue,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    direct: bool,
) -> None:
    if not direct:  # as on PostgreSQL: through the recorder's notifications, one process
        monkeypatch.setattr(status_projection, "_sqlite_path", lambda records: None)
    histories = sample_histories(catalogue)
    incremental = StatusView(tmp_path / "incremental.sqlite")
    following = StatusProjection(records, incremental, batch=11, cache=5)
    for start in range(0, len(histories), 9):
        records.receive_batch(histories[start : start + 9])
        await following.catch_up()
    rebuilt = StatusView(tmp_path / "rebuilt.sqlite")

    reached = StatusProjection(records, rebuilt, batch=13).rebuild(workers=workers)

    assert reached == rebuilt.position() == records.recorder.max_notification_id()
    assert all_rows(incremental) == all_rows(rebuilt) != []


async def test_a_running_projection_carries_on_from_a_rebuild(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    histories = sample_histories(catalogue)
    half = len(histories) // 2
    records.receive_batch(histories[:half])
    running = StatusProjection(records, view, batch=7)
    await running.catch_up()
    records.receive_batch(histories[half:])
    # The rebuild replaces the rows while the running projection is behind it...
    rebuilt_at = StatusProjection(records, view).rebuild()
    assert view.position() == rebuilt_at == records.recorder.max_notification_id()
    rows = all_rows(view)
    # ...which notices its position moved, and carries on from the rebuild's.
    with pytest.raises(PositionConflictError):
        await running.catch_up()
    newcomer = make_uln(987_654)
    later = EventFactory(prefix="later").registered(newcomer, "500/9203/0", TODAY)
    records.receive(later)
    assert await running.catch_up() == records.recorder.max_notification_id()
    assert [r for r in all_rows(view) if r[0] != newcomer] == rows
    assert view.registrations(newcomer) == expected(records, newcomer)


async def test_a_projection_whose_view_was_reset_starts_again(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    records.receive_batch(sample_histories(catalogue))
    running = StatusProjection(records, view)
    await running.catch_up()
    view.reset()  # a rebuild started by someone else
    records.receive(EventFactory(prefix="later").registered(make_uln(7), "500/9203/0", TODAY))

    with pytest.raises(PositionConflictError):
        await running.catch_up()
    assert await running.catch_up() == records.recorder.max_notification_id()
    assert view.count() > 0


def test_the_status_query_answers_from_the_view(
    records: LearnerRecords, view: StatusView, catalogue: Catalogue
) -> None:
    events = EventFactory()
    uln = make_uln(4242)
    ocr3 = catalogue.qualification("OCR-L3-DIP-CS")
    records.receive(events.registered(uln, ocr3.id, date(2016, 1, 4)))
    for k, urn in enumerate(completing_units(ocr3)):
        records.receive(events.achieved(uln, urn, date(2016, 2, 1 + k)))
    projection = StatusProjection(records, view)
    projection.project_page(0)
    query = StatusQuery(view, replay_from(records), lambda: TODAY)

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
    later = StatusQuery(view, replay_from(records), lambda: date(2030, 9, 1))
    assert later.answer(json.dumps({"uln": uln})).registrations[0].status == "window_expired"


@pytest.mark.parametrize(
    ("request_body", "code"),
    [(b"{", "malformed"), (b'{"uln": "1234567890"}', "invalid_uln"), (b"[]", "malformed")],
)
def test_a_bad_status_request_is_answered_with_an_error(
    records: LearnerRecords, view: StatusView, request_body: bytes, code: str
) -> None:
    reply = StatusQuery(view, replay_from(records), lambda: TODAY).answer(request_body)
    assert reply.error is not None and reply.error.code == code
    assert reply.registrations == ()


def test_an_unknown_learner_has_no_registrations(records: LearnerRecords, view: StatusView) -> None:
    reply = StatusQuery(view, replay_from(records), lambda: TODAY).answer(
        json.dumps({"uln": make_uln(99)})
    )
    assert reply.error is None and reply.registrations == ()
