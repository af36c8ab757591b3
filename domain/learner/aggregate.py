"""The learner aggregate: one per ULN, the only writer of a learner's history.

Every inbound event that names a learner ends here as exactly one recorded
fact or one recorded refusal, followed by the decisions it calls for, all in
the same pending batch so that one ``save()`` stores facts and decisions in
one transaction (the decisions are the outbox a relay publishes from).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.catalogue import Catalogue
from domain.learner.acceptance import check_fact
from domain.learner.decisions import Decision, decisions_for, rejection
from domain.learner.facts import Evidence, decode_fact
from domain.learner.record import LearnerRecord
from domain.learner.refusals import ConflictingDuplicateError, FactRefusedError
from domain.learner.settled import Settled
from domain.learner.status import registration_views

LEARNERS = UUID("0b5f3a2e-8c41-5d67-a2f9-4e6b1c8d7a30")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one inbound event."""

    outcome: str  # "recorded" | "duplicate" | "rejected"
    decisions: tuple[Decision, ...] = ()
    reason: str | None = None
    detail: str | None = None


class Learner(Aggregate):
    @staticmethod
    @lru_cache(maxsize=65_536)
    def create_id(uln: str) -> UUID:
        return uuid5(LEARNERS, uln)

    @event("Opened")
    def __init__(self, uln: str) -> None:
        self.uln = uln
        self.record = LearnerRecord(uln)
        self.settled = Settled()

    def receive(
        self, inbound: Mapping[str, Any], digest: str, catalogue: Catalogue, now: datetime
    ) -> Receipt:
        """Accept or refuse one validated inbound CloudEvent, then decide what follows."""
        key = (inbound["source"], inbound["id"])
        seen = self.record.seen.get(key)
        if seen == digest:
            return Receipt("duplicate")
        fact = decode_fact(inbound)
        try:
            if seen is not None:
                raise ConflictingDuplicateError(
                    f"event {key[1]} from {key[0]} was received before with other content"
                )
            check_fact(self.record, fact, catalogue)
        except FactRefusedError as refused:
            decision = rejection(
                self.uln,
                refused.reason.value,
                refused.detail,
                dict(inbound),
                key[0],
                key[1],
                digest,
                now,
            )
            self._refused(
                source=key[0],
                event_id=key[1],
                digest=digest,
                decision=decision.to_json(),
                received_at=now.isoformat(),
            )
            return Receipt("rejected", (decision,), refused.reason.value, refused.detail)
        self._recorded(inbound=dict(inbound), digest=digest, received_at=now.isoformat())
        # Only the registrations this fact may have moved are reviewed (domain.learner.settled).
        unchanged = self.settled.unchanged(self.record, fact, catalogue, now.date())
        decisions = self.review(catalogue, now, fact.evidence, unchanged)
        return Receipt("recorded", tuple(decisions))

    def review(
        self,
        catalogue: Catalogue,
        now: datetime,
        cause: Evidence | None = None,
        unchanged: Container[str] = (),
    ) -> list[Decision]:
        """Take the decisions the record calls for as of ``now`` and not yet taken
        (by the registrations not known to be ``unchanged``)."""
        day = now.date()
        views = registration_views(self.record, catalogue, day, unchanged)
        decisions = decisions_for(self.record, views, catalogue, cause, now)
        for decision in decisions:
            self._decided(decision=decision.to_json())
        self.settled.note(views, day)
        return decisions

    # ``received_at`` is the service clock's time, which tests and replays
    # inject; the stored event's own timestamp is the machine's wall clock.
    @event("FactRecorded")
    def _recorded(self, inbound: dict[str, Any], digest: str, received_at: str) -> None:
        self.record.seen[(inbound["source"], inbound["id"])] = digest
        self.record.add(decode_fact(inbound))

    @event("FactRefused")
    def _refused(
        self, source: str, event_id: str, digest: str, decision: dict[str, Any], received_at: str
    ) -> None:
        # A refused event is remembered so that the same one again is a
        # duplicate, and another with its identity is a conflict.
        self.record.seen.setdefault((source, event_id), digest)

    @event("DecisionTaken")
    def _decided(self, decision: dict[str, Any]) -> None:
        self.record.note(decision["kind"], decision["qualification"], decision["id"])
