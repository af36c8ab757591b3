"""Crypto-shredding: `learner-records erase` leaves no readable date of birth in the store,
and every status and decision still replays."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from domain.learner import Registered
from projections.documents import registration_document
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.entrypoints.cli import main
from services.entrypoints.wiring import open_records

ULN = make_uln(2024)
OTHER = make_uln(2025)
BIRTHDAY = date(1987, 6, 5)
OTHER_BIRTHDAY = date(1979, 11, 23)
TODAY = date(2025, 1, 15)
FIXTURE = Path(__file__).parents[1] / "fixtures" / "store-v0.1"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def raw_bytes(path: Path) -> bytes:
    """The database as it lies on disk: the file and whatever SQLite keeps beside it."""
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def learn(path: Path, catalogue: Catalogue) -> None:
    events = EventFactory()
    ocr3 = catalogue.qualification("OCR-L3-DIP-CS")
    lines = [events.registered(ULN, ocr3.id, date(2016, 1, 4), BIRTHDAY)]
    lines += [
        events.achieved(ULN, urn, date(2016, 2, 1 + k))
        for k, urn in enumerate(completing_units(ocr3))
    ]
    # Refused: NCFE needs 18, and the original (with its date of birth) is kept sealed.
    lines.append(events.registered(ULN, "501/0232/1", date(2016, 1, 4), date(2010, 1, 1)))
    # Another learner, whose key and date of birth must survive.
    lines.append(events.registered(OTHER, ocr3.id, date(2016, 1, 4), OTHER_BIRTHDAY))
    records = open_records(str(path), catalogue, FixedClock(TODAY))
    records.receive_batch(lines)
    records.close()


def statuses(path: Path, catalogue: Catalogue, uln: str) -> list[dict[str, Any]]:
    records = open_records(str(path), catalogue, FixedClock(TODAY), create=False)
    views = records.status(uln, TODAY) or []
    documents = [registration_document(v, catalogue) for v in views]
    records.close()
    return documents


def key_of(path: Path, uln: str) -> bytes | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT key FROM learner_keys WHERE uln = ?", (uln,)).fetchone()
    return bytes(row[0]) if row else None


def test_the_date_of_birth_is_never_stored_in_clear(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "records.sqlite"
    learn(path, catalogue)
    raw = raw_bytes(path)
    for day in (BIRTHDAY, date(2010, 1, 1), OTHER_BIRTHDAY):
        assert day.isoformat().encode() not in raw
    # ...yet the service reads it back with the learner's key.
    records = open_records(str(path), catalogue, FixedClock(TODAY), create=False)
    registered = records.history(ULN)[0]
    assert isinstance(registered, Registered) and registered.fact.date_of_birth == BIRTHDAY
    records.close()


def test_erase_destroys_the_key_and_everything_still_replays(
    tmp_path: Path, catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.sqlite"
    learn(path, catalogue)
    key = key_of(path, ULN)
    assert key is not None and key in raw_bytes(path)
    before = statuses(path, catalogue, ULN)
    assert [d["status"] for d in before] == ["eligible"]

    assert main(["erase", ULN, "--reason", "GDPR request 17", "--store", str(path)]) == 0

    raw = raw_bytes(path)
    assert key_of(path, ULN) is None
    assert key not in raw  # not even in a free page or the log
    assert BIRTHDAY.isoformat().encode() not in raw
    assert key_of(path, OTHER) is not None  # nobody else's
    assert statuses(path, catalogue, ULN) == before
    records = open_records(str(path), catalogue, FixedClock(TODAY), create=False)
    history = records.history(ULN)
    assert isinstance(history[0], Registered) and history[0].fact.date_of_birth is None
    assert history[0].arrival.original is None
    other = records.history(OTHER)[0]
    assert isinstance(other, Registered) and other.fact.date_of_birth == OTHER_BIRTHDAY
    records.close()
    capsys.readouterr()
    assert main(["audit", ULN, "--store", str(path), "--as-of", "2025-01-15", "--json"]) == 0
    audit = json.loads(capsys.readouterr().out)
    assert audit["erased_at"] is not None
    assert audit["timeline"][0]["event"]["data"]["date_of_birth"] == "(erased)"
    assert audit["timeline"][-1]["kind"] == "erased"
    assert [r["status"] for r in audit["registrations"]] == ["eligible"]


def test_erasing_an_unknown_learner_says_so(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "records.sqlite"
    learn(path, catalogue)
    with pytest.raises(SystemExit) as exit_:
        main(["erase", make_uln(9), "--reason", "x", "--store", str(path)])
    assert exit_.value.code == 3


def test_erase_redacts_what_0_1_kept_in_clear(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "records.sqlite"
    shutil.copy(FIXTURE / "records.sqlite", path)
    uln = "1000000019"
    before = statuses(path, catalogue, uln)

    assert main(["erase", uln, "--reason", "GDPR", "--store", str(path)]) == 0

    records = open_records(str(path), catalogue, FixedClock(TODAY), create=False)
    from domain.learner import learner_id

    rows = records.store.recorder.select_learner_events([learner_id(uln)])
    records.close()
    assert rows and all(b"date_of_birth" not in row.state for row in rows)
    assert statuses(path, catalogue, uln) == before
