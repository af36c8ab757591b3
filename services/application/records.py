"""The learner-records application: inbound messages in, one transaction per batch.

``receive_batch`` parses each message once, loads every learner the batch touches in
one query (those not already in memory), lets each learner take its facts, refusals
and decisions in arrival order, and stores the lot in one transaction, together with
the position reached in the stream the batch came from and anything parked. Callers
acknowledge the messages only after it returns.

A message at fault (one that makes the learner code raise, not the store) fails the
batch with ``MessageFault`` naming it; the caller retries the batch with that message
in ``faults``, and it is then parked with every later message of its learner
(``services.application.parking``) while the other learners go on.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from eventsourcing.persistence import PersistenceError, Tracking

from contracts import ContractError, InboundEvent, RejectionReason, parse_inbound
from contracts.binding import ContentMode, content_mode
from contracts.jsonio import canonical_json_bytes, raw_digest
from domain.catalogue import Catalogue
from domain.learner import (
    Arrival,
    Decision,
    Learner,
    LearnerEvent,
    LearnerRecord,
    RegistrationView,
    Settled,
    UnattributedRefused,
    identity_of,
    registration_views,
    rejection,
)
from services.adapters.store.records_store import Append, RecordsStore, UnattributedLog
from services.application.clock import Clock, SystemClock, start_of_day
from services.application.parking import Parking

__all__ = ["Inbound", "LearnerRecords", "MessageFault", "NotCombinableError", "Outcome", "Part"]

# How many learners the writer keeps in memory between batches (0: none), so a learner
# touched again is not read from the store. About 2-3 KB each.
DEFAULT_CACHE_SIZE = 20_000
# W3C trace context, as a NATS header or a CloudEvents extension attribute.
TRACEPARENT = "traceparent"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound message as it arrived."""

    data: bytes | str
    # The NATS subject (records.in.<partition>.<ULN>); None for a line of a file.
    subject: str | None = None
    headers: Mapping[str, str] | None = None
    # Its sequence in the partition's stream (parking keeps a learner's messages in order).
    seq: int | None = None
    # The moment to process it at, when not the clock's now (a replay as lived).
    at: datetime | None = None
    # Found in a partition its learner does not hash to (published to another
    # partition's subject directly): refused, never applied to the learner.
    misplaced: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one inbound message, and the decisions it led to."""

    outcome: str  # "recorded" | "duplicate" | "rejected" | "parked"
    uln: str | None
    event_id: str | None
    source: str | None
    reason: str | None = None
    detail: str | None = None
    decisions: tuple[Decision, ...] = field(default=())


class MessageFault(Exception):
    """Applying one message raised: the batch stored nothing; retry it with the message
    in ``faults`` to park it (and its learner's later messages)."""

    def __init__(self, index: int, uln: str | None, cause: BaseException) -> None:
        super().__init__(f"message {index} ({uln or 'no learner'}): {cause!r}")
        self.index = index
        self.uln = uln
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Part:
    """One partition's batch in a group commit (``receive_batches``)."""

    inbound: Sequence[Inbound]
    tracking: Tracking | None = None
    parking: Parking | None = None
    faults: Mapping[int, str] | None = None


class NotCombinableError(RuntimeError):
    """These batches cannot share a transaction; store them one by one."""


@dataclass(slots=True)
class _Cached:
    record: LearnerRecord
    settled: Settled


class LearnerRecords:
    """Keeps every learner's facts and decides what each registration has earned."""

    def __init__(
        self,
        store: RecordsStore,
        catalogue: Catalogue,
        clock: Clock | None = None,
        *,
        cache: int = DEFAULT_CACHE_SIZE,
        freeze_heap: bool = True,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.clock: Clock = clock or SystemClock()
        # The writer's own memory of learners as last committed. Writes go through one
        # lock; a batch that fails forgets every learner it touched (they may hold
        # events never stored). Another writer of the same learner makes our insert
        # fail on its version (optimistic concurrency), which forgets it too.
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = cache
        self._writing = threading.Lock()
        # After each batch the heap is frozen: what survived a batch (cached learners)
        # is long-lived, and full collections over it paused the writer 100-450 ms.
        self._freeze = freeze_heap

    @property
    def zone(self) -> tzinfo:
        zone = self.clock.now().tzinfo
        assert zone is not None
        return zone

    # Use cases.

    def receive(self, raw: bytes | str) -> Outcome:
        return self.receive_batch([raw])[0]

    def receive_batch(
        self,
        messages: Sequence[Inbound | bytes | str],
        *,
        tracking: Tracking | None = None,
        parking: Parking | None = None,
        faults: Mapping[int, str] | None = None,
    ) -> list[Outcome]:
        """Apply a batch of inbound messages and store the lot in one transaction."""
        inbound = [m if isinstance(m, Inbound) else Inbound(m) for m in messages]
        return self.receive_batches([Part(inbound, tracking, parking, faults)])[0]

    def receive_batches(self, parts: Sequence[Part]) -> list[list[Outcome]]:
        """Several partitions' batches applied as ``receive_batch`` would apply each,
        stored in one transaction (a group commit): one commit, and one trip through
        the writer, instead of one per partition. Each part keeps its own position,
        parking and outcomes.

        Raises NotCombinableError, storing nothing, when two parts touch one learner or
        one unattributed log (a message published to another partition's subject); and
        whatever one part raises, storing nothing. The caller then stores the parts one
        by one, which attributes any failure to its own part.
        """
        with self._writing:
            now = self.clock.now()
            batches: list[_Batch] = []
            outcomes: list[list[Outcome]] = []
            touched: set[str] = set()
            try:
                for part in parts:
                    batch = _Batch(self, now, part.parking, part.faults or {})
                    batches.append(batch)
                    outcomes.append(batch.run(part.inbound))
                    mine = batch.ulns | {f"unattributed:{i}" for i in batch.unattributed}
                    if touched & mine:
                        raise NotCombinableError("two batches touch one learner or log")
                    touched |= mine
                appends = [b.append(p.tracking) for b, p in zip(batches, parts, strict=True)]
                combined = appends[0]
                for append in appends[1:]:
                    if append.tracking is not None:
                        combined.also_tracking.append(append.tracking)
                    combined.learners += append.learners
                    combined.unattributed += append.unattributed
                    combined.side += append.side
                self.store.append(combined)
            except BaseException:
                self._forget(touched | {u for b in batches for u in b.ulns})
                for part in parts:
                    if part.parking is not None:
                        part.parking.abandon()
                raise
            for batch in batches:
                if batch.parking is not None:
                    batch.parking.commit()
                self._keep(batch.learners)
            if self._freeze:
                gc.freeze()
            return outcomes

    def review(self, ulns: Collection[str], day: date | None = None) -> list[Decision]:
        """Take the decisions that time alone calls for (a claim-by date passing), as of
        the start of ``day`` (default: today)."""
        with self._writing:
            today = day or self.clock.now().date()
            now = start_of_day(today, self.zone)
            learners = self._learners(ulns)
            decisions: list[Decision] = []
            append = Append()
            try:
                for uln, learner in learners.items():
                    version = learner.record.version
                    decisions += learner.review(self.catalogue, now)
                    if learner.pending:
                        append.learners.append((uln, version, learner.collect()))
                if append.learners:
                    self.store.append(append)
            except BaseException:
                self._forget(learners)
                raise
            self._keep(learners)
            return decisions

    def erase(self, uln: str, reason: str) -> bool:
        """Destroy the learner's key (their personal data becomes unreadable for good)
        and record the erasure in their history; False for an unknown learner."""
        with self._writing:
            learners = self._learners([uln])
            learner = learners.get(uln)
            if learner is None or learner.record.version == 0:
                return False
            version = learner.record.version
            learner.erase(reason, self.clock.now())
            try:
                self.store.append(
                    Append(learners=[(uln, version, learner.collect())], erased=[uln])
                )
            except BaseException:
                self._forget([uln])
                raise
            self._forget([uln])
            self.store.finish_erasure(uln)
            return True

    def forget_where(self, belongs: Callable[[str], bool]) -> None:
        """Drop the cached learners for whom ``belongs`` (a partition handed to another
        replica: what this one remembers of them may soon be stale)."""
        with self._writing:
            for uln in [u for u in self._cache if belongs(u)]:
                del self._cache[uln]

    def record(self, uln: str) -> LearnerRecord | None:
        """The learner's record as stored (personal data opened), or None."""
        return self.store.records([uln], personal=True).get(uln)

    def status(self, uln: str, as_of: date | None = None) -> list[RegistrationView] | None:
        record = self.store.records([uln]).get(uln)
        if record is None:
            return None
        day = as_of or self.clock.now().date()
        return registration_views(record, self.catalogue, day)

    def history(self, uln: str) -> list[LearnerEvent]:
        """Every stored event of one learner, oldest first (personal data opened)."""
        return self.store.history(uln)

    def close(self) -> None:
        self.store.close()

    # The writer's memory of learners.

    def _learners(self, ulns: Collection[str]) -> dict[str, Learner]:
        """These learners as last committed, in the order given: from memory, else from
        the store in one query, else new."""
        missing = [uln for uln in ulns if uln not in self._cache]
        if missing:
            for uln, record in self.store.records(missing).items():
                self._cache[uln] = _Cached(record, Settled())
        found: dict[str, Learner] = {}
        for uln in ulns:
            cached = self._cache.get(uln)
            found[uln] = Learner(cached.record) if cached is not None else Learner.new(uln)
        return found

    def _settled(self, uln: str) -> Settled | None:
        cached = self._cache.get(uln)
        return cached.settled if cached is not None else None

    def _keep(self, learners: Mapping[str, Learner]) -> None:
        if self._cache_size <= 0:
            self._cache.clear()
            return
        cache = self._cache
        for uln, learner in learners.items():
            held = cache.get(uln)
            if held is None or held.record is not learner.record:
                cache[uln] = _Cached(learner.record, Settled())
            cache.move_to_end(uln)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _forget(self, ulns: Collection[str]) -> None:
        for uln in ulns:
            self._cache.pop(uln, None)
        self.store.keys.forget()


class _Batch:
    """One call of ``receive_batch``: the learners it touches and what they took."""

    def __init__(
        self,
        app: LearnerRecords,
        now: datetime,
        parking: Parking | None,
        faults: Mapping[int, str],
    ) -> None:
        self.app = app
        self.now = now
        self.parking = parking
        self.faults = faults
        self.learners: dict[str, Learner] = {}
        self.versions: dict[str, int] = {}
        self.unattributed: dict[str, UnattributedLog] = {}
        self.refused: dict[str, list[UnattributedRefused]] = {}
        self.ulns: set[str] = set()

    def run(self, messages: Sequence[Inbound]) -> list[Outcome]:
        parsed = [_parse(m) for m in messages]
        ulns = {uln for _, uln in parsed if uln is not None}
        self.ulns = ulns
        self.learners = self.app._learners(ulns)
        self.versions = {uln: learner.record.version for uln, learner in self.learners.items()}
        self.app.store.keys.prefetch(ulns)
        identities = [
            self._identity(m, result)
            for m, (result, uln) in zip(messages, parsed, strict=True)
            if uln is None
        ]
        if identities:
            self.unattributed = self.app.store.unattributed(identities)
        outcomes = []
        for index, (message, (result, uln)) in enumerate(zip(messages, parsed, strict=True)):
            try:
                outcomes.append(self._one(message, result, uln))
            except PersistenceError:
                raise
            except Exception as error:
                raise MessageFault(index, uln, error) from error
        return outcomes

    def append(self, tracking: Tracking | None) -> Append:
        append = Append(tracking=tracking)
        for uln, learner in self.learners.items():
            if learner.pending:
                append.learners.append((uln, self.versions[uln], learner.collect()))
        for identity, refusals in self.refused.items():
            held = self.unattributed.get(identity)
            append.unattributed.append((identity, held.version if held else 0, refusals))
        if self.parking is not None:
            append.side.extend(self.parking.writes())
        return append

    def _one(
        self, message: Inbound, result: InboundEvent | ContractError, uln: str | None
    ) -> Outcome:
        now = (message.at or self.now).astimezone(self.now.tzinfo)
        if self.parking is not None and uln is not None and message.seq is not None:
            reason = self.faults.get(message.seq)
            if reason is not None or self.parking.is_parked(uln):
                self.parking.park(uln, message, reason or "parked behind an earlier message")
                return _outcome(result, uln, "parked", reason=reason)
        if isinstance(result, ContractError):
            return self._refuse(message, result, uln, now)
        assert uln is not None
        wire, digest = result.wire_and_digest()
        arrival = Arrival(now, digest, _original(message, wire), _trace(message, wire))
        settled = self.app._settled(uln)
        receipt = self.learners[uln].receive(result, arrival, self.app.catalogue, now, settled)
        return _outcome(
            result, uln, receipt.outcome, receipt.reason, receipt.detail, receipt.decisions
        )

    def _refuse(
        self, message: Inbound, error: ContractError, uln: str | None, now: datetime
    ) -> Outcome:
        digest = error.digest
        trace = _trace(message, {})
        if uln is not None:
            # A message that broke its contract but names its learner is filed under
            # them: an auditor of that learner sees every refusal that names them.
            arrival = Arrival(now, digest, _original(message, None), trace)
            receipt = self.learners[uln].refuse(
                error.reason.value,
                error.detail,
                error.original,
                error.source,
                error.event_id,
                arrival,
                now,
            )
            return _outcome(
                error, uln, receipt.outcome, receipt.reason, receipt.detail, receipt.decisions
            )
        identity = self._identity(message, error)
        log = self.unattributed.setdefault(identity, UnattributedLog())
        if digest in log.digests:
            return _outcome(error, None, "duplicate")
        decision = rejection(
            None,
            error.reason.value,
            error.detail,
            error.original,
            error.source,
            error.event_id,
            digest,
            now,
            trace,
        )
        log.digests.add(digest)
        self.refused.setdefault(identity, []).append(
            UnattributedRefused(
                identity,
                error.source,
                error.event_id,
                error.reason.value,
                error.detail,
                now,
                digest,
                decision,
            )
        )
        return _outcome(error, None, "rejected", error.reason.value, error.detail, (decision,))

    @staticmethod
    def _identity(message: Inbound, result: InboundEvent | ContractError) -> str:
        where = (message.subject or "").rsplit(".", 1)[-1] or "-"
        if isinstance(result, ContractError):
            return identity_of(where, result.source, result.event_id, result.digest)
        return identity_of(where, result.source, result.id, raw_digest(message.data))


def _parse(message: Inbound) -> tuple[InboundEvent | ContractError, str | None]:
    """The message's event (or why it is refused) and the learner it can be filed under."""
    if message.misplaced:
        subject = message.subject or ""
        return ContractError(
            RejectionReason.MALFORMED,
            f"{subject} is not the learner's partition: publish to records.in.<ULN>",
            message.data,
        ), None
    try:
        event = parse_inbound(message.data, subject=message.subject, headers=message.headers)
    except ContractError as error:
        return error, error.uln
    return event, event.subject


def _original(message: Inbound, wire: Mapping[str, Any] | None) -> bytes:
    """What an auditor is shown as the event received: the bytes themselves, or, for a
    binary-mode event (whose body is only its data), the event in structured form."""
    if wire is not None and content_mode(message.headers) is ContentMode.BINARY:
        return canonical_json_bytes(wire)
    data = message.data
    return data if isinstance(data, bytes) else data.encode("utf-8", errors="surrogatepass")


def _trace(message: Inbound, wire: Mapping[str, Any]) -> str | None:
    if message.headers is not None and (header := message.headers.get(TRACEPARENT)):
        return header
    value = wire.get(TRACEPARENT)
    return value if isinstance(value, str) else None


def _outcome(
    result: InboundEvent | ContractError,
    uln: str | None,
    outcome: str,
    reason: str | None = None,
    detail: str | None = None,
    decisions: tuple[Decision, ...] = (),
) -> Outcome:
    if isinstance(result, ContractError):
        return Outcome(outcome, uln, result.event_id, result.source, reason, detail, decisions)
    return Outcome(outcome, uln, result.id, result.source, reason, detail, decisions)
