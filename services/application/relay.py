"""The outbox relay: every decision in the event store, published to JetStream once.

Decisions are stored in the same transaction as the facts behind them, so the event
store is the outbox. The relay follows its notification log from a position kept in the
same database (eventsourcing's tracking table) and moves that position only after
JetStream has acknowledged everything before it. A crash in between means the same
decisions are published again under the same ``Nats-Msg-Id``: JetStream drops them
within the duplicate window, and subscribers can drop them by CloudEvent id after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import nats.errors
import structlog
from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    PersistenceError,
    Tracking,
    TrackingRecorder,
)
from nats.js import JetStreamContext

from projections.follower import Follower
from services.adapters.nats.jetstream import publish_all_once

if TYPE_CHECKING:
    from services.application.records import LearnerRecords

__all__ = ["MessagesOf", "OutboxRelay", "Publishable", "RelayStats", "decision_messages"]

log = structlog.get_logger(__name__)


class Publishable(Protocol):
    """What the relay needs of a message (services.adapters.outbound.OutboundMessage is one)."""

    @property
    def subject(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def msg_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...


# What a notification is to the relay: the messages it calls for (usually none).
MessagesOf = Callable[[Notification], Sequence[Publishable]]


@dataclass(slots=True)
class RelayStats:
    published: int = 0
    duplicates: int = 0


class OutboxRelay(Follower):
    """Publishes the decisions after its tracked position, then advances the position."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        tracking: TrackingRecorder,
        messages_of: MessagesOf,
        js: JetStreamContext,
        *,
        stream: str = "RECORDS_OUT",
        name: str = "outbox-relay",
        batch: int = 500,
        poll: float = 5.0,
        publish_timeout: float = 10.0,
    ) -> None:
        super().__init__(name=name, poll=poll)
        self._recorder = recorder
        self._tracking = tracking
        self._messages_of = messages_of
        self._js = js
        self._stream = stream
        self._batch = batch
        self._publish_timeout = publish_timeout
        self.stats = RelayStats()

    def load_position(self) -> int:
        return self._tracking.max_tracking_id(self.name) or 0

    async def step(self) -> bool:
        """Publish one page of the log; False when there was nothing after the position."""
        start = self.position
        page = await asyncio.to_thread(self._read, start)
        if page is None:
            return False
        last, messages = page
        if messages:
            acks = await publish_all_once(
                self._js,
                [(m.subject, m.payload, m.msg_id) for m in messages],
                stream=self._stream,
                timeout=self._publish_timeout,
            )
            duplicates = sum(1 for ack in acks if ack.duplicate)
            self.stats.published += len(acks) - duplicates
            self.stats.duplicates += duplicates
            log.info(
                "relay.published",
                count=len(acks),
                duplicates=duplicates,
                types=_count(m.event_type for m in messages),
                position=last,
            )
        await asyncio.to_thread(self._tracking.insert_tracking, Tracking(self.name, last))
        await self.advance(last)
        return True

    def _read(self, after: int) -> tuple[int, list[Publishable]] | None:
        notifications = self._recorder.select_notifications(
            start=after, limit=self._batch, inclusive_of_start=False
        )
        if not notifications:
            return None
        messages = [m for n in notifications for m in self._messages_of(n)]
        return notifications[-1].id, messages

    def is_transient(self, error: Exception) -> bool:
        # NATS down or slow, or the store briefly locked: the next attempt may well work.
        return isinstance(error, TimeoutError | nats.errors.Error | PersistenceError)


def decision_messages(records: LearnerRecords) -> MessagesOf:
    """The relay's view of LearnerRecords' log: events carrying a ``decision`` attribute."""
    # Imported here so the relay itself can be used (and tested) with any application.
    from domain.learner import Decision
    from services.adapters.outbound import outbound_message

    def messages_of(notification: Notification) -> Sequence[Publishable]:
        # Most notifications are facts: only refusals and decisions carry a decision, so
        # the rest are not even decoded (the mapper's event objects are costly).
        if not notification.topic.endswith(_CARRY_DECISIONS):
            return ()
        event = records.mapper.to_domain_event(notification)
        decision = getattr(event, "decision", None)
        if decision is None:
            return ()
        return (outbound_message(Decision.from_json(decision)),)

    return messages_of


# The topics (class names) of the events that carry a ``decision``: Learner.FactRefused,
# Learner.DecisionTaken, Unattributed.Refused. A test checks every decision is published.
_CARRY_DECISIONS = (".DecisionTaken", "Refused")


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
