"""The learner status read model: one row per registration, behind one interface.

Each row holds the registration's status document (what a status query returns) plus
the two columns the scheduler searches on. The position in the event store's
notification log is stored in the same transaction as the rows it produced, so after a
crash the view resumes exactly where its data ends. Beside a SQLite store the view is a
SQLite file of its own (projections.sqlite_view); beside PostgreSQL it is two tables in
the same database (projections.postgres_view).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import orjson

__all__ = [
    "OPEN_STATUSES",
    "PositionConflictError",
    "Row",
    "StatusView",
    "open_status_view",
    "rows_of",
    "status_on",
]

# The key under which the projection hands rows_of a registration's expiry_due flag
# (a column of its own, not part of the status document).
EXPIRY_DUE = "expiry_due"

# Statuses that time alone can still change (claim_by passing); the others are final.
OPEN_STATUSES = ("eligible", "in_progress")

# A row: uln, qualification, status, claim_by, expiry_due (1: the registration is still
# open as far as decisions go: no window_expired taken, not withdrawn nor certificated),
# document (JSON).
Row = tuple[str, str, str, str, int, str]


class PositionConflictError(RuntimeError):
    """Someone else (a rebuild, another replica) moved the view's position since it was read."""


class StatusView(Protocol):
    def position(self) -> int: ...

    def apply(
        self,
        expected: int,
        position: int,
        learners: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        durable: bool = True,
    ) -> None:
        """Replace the rows of each learner given and move the position from ``expected``,
        atomically; PositionConflictError (and nothing written) if it was not there."""
        ...

    def replace(self, position: int, rows: Iterable[Row]) -> None:
        """Replace every row and set the position, atomically (a rebuild)."""
        ...

    def registrations(self, uln: str) -> list[dict[str, Any]] | None: ...

    def due_for_review(self, today: date, *, after: str = "", limit: int = 1000) -> list[str]:
        """Learners with a registration whose claim-by date has passed and whose window
        has not been decided expired (nor withdrawn, nor certificated), by ULN.

        Not the status column: the projection works a status out as of its own today,
        and a registration it saw only after claim-by reads window_expired there before
        anyone has decided so."""
        ...

    def count(self) -> int: ...

    def rows(self) -> list[Row]:
        """Every row, by learner and qualification (rebuild checks, exports)."""
        ...

    def close(self) -> None: ...


def open_status_view(store: str, path: Path) -> StatusView:
    """The view for the store at ``store``: PostgreSQL beside PostgreSQL, else ``path``."""
    if store.startswith(("postgres://", "postgresql://")):
        from projections.postgres_view import PostgresStatusView

        return PostgresStatusView(store)
    from projections.sqlite_view import SqliteStatusView

    return SqliteStatusView(path)


def status_on(document: Mapping[str, Any], day: date) -> str:
    """The document's status on ``day``: an open registration expires once claim_by passes."""
    status = str(document["status"])
    if status in OPEN_STATUSES and day > date.fromisoformat(document["claim_by"]):
        return "window_expired"
    return status


def rows_of(uln: str, documents: Iterable[Mapping[str, Any]]) -> list[Row]:
    """The rows of a learner's registration documents (the same for every writer)."""
    return [
        (
            uln,
            doc["qualification"],
            doc["status"],
            doc["claim_by"],
            1 if doc.get(EXPIRY_DUE) else 0,
            _dump({k: v for k, v in doc.items() if k != EXPIRY_DUE}),
        )
        for doc in documents
    ]


def _dump(document: Mapping[str, Any]) -> str:
    # Compact, in the document's own (fixed) key order, UTF-8 as is.
    return orjson.dumps(document).decode()
