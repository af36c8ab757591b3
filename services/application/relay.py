"""The outbox relay: every decision in the store, published once, by one replica at a time.

Decisions are stored in the same transaction as the facts behind them, so the store is
the outbox. The relay follows the log from a position kept in the same database
(eventsourcing's tracking) and moves it only after JetStream has acknowledged
everything before it. A crash in between publishes the same decisions again under the
same ``Nats-Msg-Id``: JetStream drops them within its duplicate window, subscribers by
CloudEvent id after it. Each decision is published as the exact bytes stored when it
was taken (validated against its contract then), so no decision is ever published
under two different contents. Only the replica holding the "relay" lease runs it.

A decision the broker refuses for good (too large for the server, a subject it will
not take) is recorded in ``undeliverable_decisions`` with the reason, logged as an
error and counted in health, and the relay goes on: one entry can never hold back every
later decision. ``learner-records redrive --decisions`` tries those again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
import structlog
from eventsourcing.persistence import PersistenceError, Tracking

from contracts.headers import (
    CLOUDEVENTS_JSON_CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    TRACEPARENT_HEADER,
)
from domain.learner import (
    DECISION_EVENTS,
    Decision,
    EventRefused,
    UnattributedRefused,
    topic_of,
)
from projections.follower import Follower
from services.adapters.store import RecordsStore
from services.adapters.store.recorders import SideWrite
from services.adapters.store.upcasting import LEGACY

__all__ = [
    "DECISION_TOPICS",
    "OutboxRelay",
    "Publication",
    "Publisher",
    "RelayStats",
    "UndeliverableError",
]

log = structlog.get_logger(__name__)

# The topics of the events that carry a decision, today's and 0.1's.
DECISION_TOPICS: tuple[str, ...] = (
    *(topic_of(cls) for cls in DECISION_EVENTS),
    topic_of(EventRefused),
    topic_of(UnattributedRefused),
    "domain.learner.aggregate:Learner.DecisionTaken",
    "domain.learner.aggregate:Learner.FactRefused",
    "domain.learner.unattributed:Unattributed.Refused",
)


@dataclass(frozen=True, slots=True)
class Publication:
    subject: str
    payload: bytes
    msg_id: str
    headers: dict[str, str]


class UndeliverableError(Exception):
    """The broker will never take this message (too big, a bad subject)."""


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Publication]) -> list[bool | Exception]:
        """Publish all, pipelined; per message: True if new, False if a duplicate, or the
        exception (UndeliverableError for one that can never succeed)."""
        ...


@dataclass(slots=True)
class RelayStats:
    published: int = 0
    duplicates: int = 0
    undeliverable: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class _Carrier(msgspec.Struct):
    decision: Decision


class _CarrierState(msgspec.Struct):
    e: _Carrier


_decision_of = msgspec.json.Decoder(_CarrierState).decode

# How often the relay looks for decisions someone asked to publish again.
REDRIVE_CHECK_S = 5.0

_UNDELIVERABLE = {
    "sqlite": "INSERT OR REPLACE INTO undeliverable_decisions "
    "(notification_id, decision_id, subject, reason, failed_at) VALUES (?, ?, ?, ?, ?)",
    "postgres": "INSERT INTO undeliverable_decisions "
    "(notification_id, decision_id, subject, reason, failed_at) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (notification_id) DO UPDATE SET reason = excluded.reason, "
    "failed_at = excluded.failed_at, redrive = 0",
}


class OutboxRelay(Follower):
    """Publishes the decisions after its tracked position, then advances the position."""

    def __init__(
        self,
        store: RecordsStore,
        publisher: Publisher,
        *,
        name: str = "outbox-relay",
        batch: int = 500,
        poll: float = 5.0,
    ) -> None:
        super().__init__(name=name, poll=poll)
        self._redrive_checked = 0.0
        self._store = store
        self._publisher = publisher
        self._batch = batch
        self.stats = RelayStats()

    def load_position(self) -> int:
        return self._store.position(self.name)

    async def step(self) -> bool:
        """Publish one page of the log; False when there was nothing after the position."""
        await self._maybe_redrive()
        page = await asyncio.to_thread(self._read, self.position)
        if page is None:
            return False
        last, entries = page
        results = await self._publisher.publish([p for _, p in entries]) if entries else []
        undeliverable: list[tuple[int, Publication, Exception]] = []
        for (position, publication), result in zip(entries, results, strict=True):
            if isinstance(result, UndeliverableError):
                undeliverable.append((position, publication, result))
            elif isinstance(result, Exception):
                raise result  # NATS down or slow: the whole page again, same ids
            elif result:
                self.stats.published += 1
                kind = publication.subject.split(".")[2]
                self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
            else:
                self.stats.duplicates += 1
        await asyncio.to_thread(self._advance, last, undeliverable)
        if entries:
            log.info("relay.published", count=len(entries), position=last)
        await self.advance(last)
        return True

    def _read(self, after: int) -> tuple[int, list[tuple[int, Publication]]] | None:
        notifications = self._store.raw_log(after, self._batch, DECISION_TOPICS)
        if not notifications:
            return None
        entries = []
        for n in notifications:
            decision = _decode(n.topic, n.state)
            if decision is not None:
                entries.append((n.id, publication_of(decision)))
        return notifications[-1].id, entries

    def _advance(
        self, last: int, undeliverable: Sequence[tuple[int, Publication, Exception]]
    ) -> None:
        side = []
        if undeliverable:
            now = datetime.now(UTC).isoformat()
            rows = [
                (position, p.msg_id, p.subject, str(error)[:500], now)
                for position, p, error in undeliverable
            ]
            side.append(SideWrite(_UNDELIVERABLE, rows))
            for position, p, error in undeliverable:
                self.stats.undeliverable += 1
                log.error(
                    "relay.undeliverable",
                    position=position,
                    decision=p.msg_id,
                    subject=p.subject,
                    error=str(error),
                )
        self._store.recorder.insert_events([], tracking=Tracking(self.name, last), side=side)

    async def _maybe_redrive(self) -> None:
        """Publish again the set-aside decisions someone asked for (``redrive --decisions``)."""
        now = time.monotonic()
        if now - self._redrive_checked < REDRIVE_CHECK_S:
            return
        self._redrive_checked = now
        for position in await asyncio.to_thread(_redrive_requested, self._store):
            decision = await asyncio.to_thread(_decision_at, self._store, position)
            if decision is None:
                await asyncio.to_thread(_settle_undeliverable, self._store, position, None)
                continue
            [result] = await self._publisher.publish([publication_of(decision)])
            if isinstance(result, UndeliverableError):
                await asyncio.to_thread(_settle_undeliverable, self._store, position, str(result))
            elif isinstance(result, Exception):
                raise result
            else:
                await asyncio.to_thread(_settle_undeliverable, self._store, position, None)
                log.info("relay.redriven", position=position, decision=decision.id)

    def is_transient(self, error: Exception) -> bool:
        # NATS down or slow, or the store briefly locked: the next attempt may well work.
        return (
            isinstance(error, TimeoutError | PersistenceError) or "nats" in type(error).__module__
        )


def publication_of(decision: Decision) -> Publication:
    headers = {CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON_CONTENT_TYPE}
    if decision.trace is not None:
        headers[TRACEPARENT_HEADER] = decision.trace
    return Publication(decision.subject, decision.cloudevent.encode(), decision.id, headers)


def _decode(topic: str, state: bytes) -> Decision | None:
    legacy = LEGACY.get(topic)
    if legacy is not None:
        event = legacy(state)
        decision = getattr(event, "decision", None)
        return decision if isinstance(decision, Decision) else None
    return _decision_of(state).e.decision


def undeliverable_rows(store: RecordsStore) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = store.recorder.query(
        {
            "sqlite": "SELECT notification_id, decision_id, subject, reason, failed_at "
            "FROM undeliverable_decisions ORDER BY notification_id",
            "postgres": "SELECT notification_id, decision_id, subject, reason, failed_at "
            "FROM undeliverable_decisions ORDER BY notification_id",
        }
    )
    return rows


def request_redrive_of_decisions(store: RecordsStore) -> int:
    """Ask the relay to publish every undeliverable decision again; how many there are."""
    rows = undeliverable_rows(store)
    store.recorder.execute(
        [SideWrite({"sqlite": _REQUEST, "postgres": _REQUEST}, [()])] if rows else []
    )
    return len(rows)


_REQUEST = "UPDATE undeliverable_decisions SET redrive = 1"


def _redrive_requested(store: RecordsStore) -> list[int]:
    rows = store.recorder.query(
        {
            "sqlite": "SELECT notification_id FROM undeliverable_decisions WHERE redrive = 1 "
            "ORDER BY notification_id",
            "postgres": "SELECT notification_id FROM undeliverable_decisions WHERE redrive = 1 "
            "ORDER BY notification_id",
        }
    )
    return [int(row[0]) for row in rows]


def _decision_at(store: RecordsStore, position: int) -> Decision | None:
    [notification, *_] = store.raw_log(position - 1, 1) or [None]
    if notification is None or notification.id != position:
        return None
    return _decode(notification.topic, notification.state)


def _settle_undeliverable(store: RecordsStore, position: int, still_refused: str | None) -> None:
    """Published at last (the row goes), or refused again (the reason is kept, not retried)."""
    if still_refused is None:
        sql = {
            "sqlite": "DELETE FROM undeliverable_decisions WHERE notification_id = ?",
            "postgres": "DELETE FROM undeliverable_decisions WHERE notification_id = %s",
        }
        store.recorder.execute([SideWrite(sql, [(position,)])])
        return
    sql = {
        "sqlite": "UPDATE undeliverable_decisions SET redrive = 0, reason = ? "
        "WHERE notification_id = ?",
        "postgres": "UPDATE undeliverable_decisions SET redrive = 0, reason = %s "
        "WHERE notification_id = %s",
    }
    store.recorder.execute([SideWrite(sql, [(still_refused[:500], position)])])
