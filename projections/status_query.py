"""Answering ``records.query.status``: today's status from the read model.

A request for today is answered from the status view, with the calendar applied (an
open registration whose claim-by date has passed reads as ``window_expired`` even
before the scheduler has recorded it). A request ``as_of`` another day needs the facts
as they stood then, so it replays the learner from the event store instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import structlog

from contracts import ContractError, parse_status_request
from contracts.status import StatusReply
from projections.documents import CONTRACT_FIELDS
from projections.status_view import StatusView, status_on

__all__ = ["Replay", "StatusQuery"]

log = structlog.get_logger(__name__)

# Registration documents of a learner as of a day, from the event store (None: unknown).
Replay = Callable[[str, date], list[dict[str, Any]] | None]


class StatusQuery:
    def __init__(self, view: StatusView | None, replay: Replay, today: Callable[[], date]) -> None:
        self.view = view
        self.replay = replay
        self.today = today

    def answer(self, raw: bytes | str) -> StatusReply:
        """Never raises: a bad request or an internal failure is an answer with ``error``."""
        try:
            request = parse_status_request(raw)
        except ContractError as error:
            return _error(error.reason.value, error.detail, uln=error.uln)
        uln, as_of = str(request.uln), request.as_of
        try:
            documents = self._documents(uln, as_of)
        except Exception as error:
            log.exception("status_query.failed", uln=uln)
            return _error("internal_error", f"{type(error).__name__}: {error}", uln=uln)
        return _reply(uln, as_of, documents or [])

    def _documents(self, uln: str, as_of: date | None) -> list[dict[str, Any]] | None:
        today = self.today()
        if as_of is None and self.view is not None:
            documents = self.view.registrations(uln) or []
            return [{**d, "status": status_on(d, today)} for d in documents]
        return self.replay(uln, as_of or today)


def _reply(uln: str, as_of: date | None, documents: Sequence[Mapping[str, Any]]) -> StatusReply:
    registrations = [{k: d[k] for k in CONTRACT_FIELDS} for d in documents]
    body = {
        "uln": uln,
        "as_of": None if as_of is None else as_of.isoformat(),
        "registrations": registrations,
        "error": None,
    }
    # JSON mode: strict validation takes ISO strings for dates there.
    return StatusReply.model_validate_json(json.dumps(body))


def _error(code: str, detail: str, *, uln: str | None) -> StatusReply:
    body: dict[str, Any] = {
        "uln": uln,
        "as_of": None,
        "registrations": [],
        "error": {"code": code, "detail": detail},
    }
    return StatusReply.model_validate_json(json.dumps(body))
