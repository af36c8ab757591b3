"""Histories and a store for the auditors' pages' tests (unit, integration and browser).

The sample histories, plus two learners the pages must handle: one whose last
achievement arrives months after it was achieved (valid time against transaction time),
and one whose publisher sent markup as an event id (escaping).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from contracts.uln import make_uln
from devtools.sample_events import EventFactory
from devtools.sample_histories import completing_units, sample_histories
from domain.catalogue import Catalogue
from services.entrypoints.cli import main

AS_OF = date(2026, 11, 23)
QUALIFICATION = "OCR-L3-DIP-CS"
# The learner who completes OCR's level 3 diploma, the first in the sample histories.
COMPLETER = make_uln(7)
# Registered 8 January 2024; the last unit achieved 20 February 2024 but sent (and so
# received) on 3 June 2024 at 17:30 BST.
LATE_LEARNER = make_uln(20)
LATE_UNIT_ACHIEVED = date(2024, 2, 20)
LATE_ARRIVAL = datetime(2024, 6, 3, 16, 30, tzinfo=UTC)
LATE_EVENT_ID = "late-achievement"
# Markup where a publisher may put any text: an id, a source's path, a centre.
HOSTILE_LEARNER = make_uln(21)
HOSTILE_ID = '<img src=x onerror="document.body.dataset.pwned=1">'


def extra_histories(catalogue: Catalogue) -> list[bytes]:
    events = EventFactory(source="urn:eportfolio:web-tests", prefix="web")
    units = completing_units(catalogue.qualification(QUALIFICATION))
    out = [events.registered(LATE_LEARNER, QUALIFICATION, date(2024, 1, 8))]
    for k, urn in enumerate(units[:-1]):
        out.append(events.achieved(LATE_LEARNER, urn, date(2024, 1, 15) + timedelta(weeks=k)))
    out.append(
        events.achieved(
            LATE_LEARNER, units[-1], LATE_UNIT_ACHIEVED, at=LATE_ARRIVAL, id=LATE_EVENT_ID
        )
    )
    out.append(
        events.registered(HOSTILE_LEARNER, QUALIFICATION, date(2024, 2, 5), centre="<b>C</b>")
    )
    out.append(events.achieved(HOSTILE_LEARNER, "Z/999/9999", date(2024, 2, 6), id=HOSTILE_ID))
    return out


def web_history(catalogue: Catalogue) -> list[bytes]:
    """Every line in order of its ``time``, so each is received when it was sent (a replay's
    clock only moves forward). A line without a readable time goes last: a replay takes it
    as received when the one before it was, and first it would move the clock to the end."""
    lines = sample_histories(catalogue) + extra_histories(catalogue)
    return sorted(lines, key=_sent)


def build_store(directory: Path, catalogue: Catalogue) -> Path:
    """A SQLite store of ``web_history``, built as an auditor would: ``replay --store``."""
    history = directory / "history.jsonl"
    history.write_bytes(b"\n".join(web_history(catalogue)) + b"\n")
    store = directory / "store.sqlite"
    status = main(
        ["replay", str(history), "--as-of", AS_OF.isoformat(), "--json", "--store", str(store)]
    )
    assert status == 0 and store.exists()
    return store


def _sent(line: bytes) -> str:
    try:
        time = json.loads(line).get("time")
    except ValueError:
        return _LAST
    return datetime.fromisoformat(time).astimezone(UTC).isoformat() if time else _LAST


_LAST = "~"  # after every ISO timestamp
