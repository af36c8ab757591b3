"""What the fault tests share: a steady publisher, waiting for the service to drain, and
the comparison of everything it stored and published with an offline replay.

The oracle is the application itself with no broker and no fault: the very lines the
publisher had acknowledged, in the order it sent them, through ``receive_batch`` on a
fresh SQLite store with the same fixed clock as the service (``serve --today``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import nats.errors
import nats.js.errors
import orjson
from nats.js import JetStreamContext

from contracts.uln import is_valid_uln
from devtools.loadgen import DEFAULT_AS_OF, LoadProfile, publications
from domain.catalogue import Catalogue
from domain.learner import DecisionTaken, EventRefused, FactRecorded, LearnerEvent
from services.adapters.nats.connection import NatsOptions, connect
from services.adapters.nats.jetstream import MSG_ID_HEADER
from services.adapters.store import RecordsStore, open_store
from services.adapters.store.parked import ParkedTable
from services.application.clock import FixedClock
from services.application.records import Inbound
from services.application.relay import DECISION_TOPICS, _decode
from services.entrypoints.wiring import open_records

__all__ = [
    "TODAY",
    "Figures",
    "SteadyPublisher",
    "assert_equal_to_replay",
    "children_of",
    "held_roles",
    "loadgen_lines",
    "wait_drained",
    "wait_gone",
]

# Loadgen's histories end by this day: the service runs on it (``--today``) and so does
# the oracle, so the same events take the same decisions with the same ids.
TODAY: date = DEFAULT_AS_OF
RELAY = "outbox-relay"

Line = tuple[str, bytes]  # (subject, payload), as loadgen publishes it


def loadgen_lines(catalogue: Catalogue, learners: int, first: int = 1) -> list[Line]:
    """Loadgen's histories, duplicates and publishers' mistakes included."""
    return list(publications(catalogue, LoadProfile(learners=learners, first_learner=first)))


@dataclass(slots=True)
class Figures:
    """What a fault test measured, printed at its end (``pytest -s`` shows it)."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = round(value, 2) if isinstance(value, float) else value

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self[key] = value

    def report(self) -> None:
        print(f"\nFIGURES {self.name} {json.dumps(self.values, sort_keys=True)}")


class SteadyPublisher:
    """An e-portfolio publishing ``lines`` at ``rate`` a second, one at a time, each retried
    until JetStream acknowledges it: through a server restart, a leader election, a node
    stopped. One at a time keeps each learner's order whatever fails.

    Each publish carries a ``Nats-Msg-Id`` of the line's index and digest, so a retry of a
    publish whose acknowledgement was lost is dropped by JetStream, while loadgen's own
    duplicates (the same bytes sent again on purpose) still reach the service.
    """

    def __init__(self, options: NatsOptions, lines: Sequence[Line], rate: float) -> None:
        self.options = options
        self.lines = list(lines)
        self.rate = rate
        self.sent = 0
        self.retries = 0
        self.started = 0.0
        self.finished = 0.0
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()

    @property
    def published(self) -> list[Line]:
        """The lines acknowledged so far, subject and payload, in the order sent: what the
        oracle replays (the subject too: a refusal is filed under the learner whose
        subject the message came on)."""
        return self.lines[: self.sent]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="steady-publisher")

    async def reached(self, fraction: float, timeout: float = 120.0) -> None:
        """Once ``fraction`` of the lines are acknowledged."""
        target = int(len(self.lines) * fraction)
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: self.sent >= target or self._failed())

    async def done(self, timeout: float = 180.0) -> None:
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    def _failed(self) -> bool:
        return self._task is not None and self._task.done()

    async def _run(self) -> None:
        nc = await connect(self.options, reconnect_time_wait=0.1)
        try:
            js = nc.jetstream()
            self.started = time.monotonic()
            for index, (subject, payload) in enumerate(self.lines):
                due = self.started + index / self.rate
                if (ahead := due - time.monotonic()) > 0:
                    await asyncio.sleep(ahead)
                msg_id = f"{index}:{hashlib.sha256(payload).hexdigest()}"
                await self._publish(js, subject, payload, msg_id)
                async with self._progress:
                    self.sent = index + 1
                    self._progress.notify_all()
            self.finished = time.monotonic()
        finally:
            await nc.close()

    async def _publish(
        self, js: JetStreamContext, subject: str, payload: bytes, msg_id: str
    ) -> None:
        while True:
            try:
                await js.publish(subject, payload, timeout=2.0, headers={MSG_ID_HEADER: msg_id})
                return
            except (TimeoutError, nats.errors.Error, nats.js.errors.Error):
                # The server is down, restarting or electing a leader: the same message
                # again, same id, before anything later of any learner.
                self.retries += 1
                await asyncio.sleep(0.1)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The command name may hold spaces and parentheses: the fields follow the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def wait_gone(pids: Sequence[int], timeout: float = 10.0) -> None:
    """Until none of ``pids`` runs: a killed service leaves no process behind."""
    async with asyncio.timeout(timeout):
        while any(is_alive(pid) for pid in pids):
            await asyncio.sleep(0.1)


_LET_GO = {
    "ownership.handing_back",
    "ownership.lost",
    "ownership.role_ended",
    "ownership.stopping_unrenewed",
}


def held_roles(entries: Sequence[dict[str, Any]]) -> set[str]:
    """The roles a replica holds by its log (for a killed one: held when it died)."""
    held: set[str] = set()
    for entry in entries:
        event = entry.get("event")
        if event == "ownership.took":
            held.add(entry["role"])
        elif event in _LET_GO:
            held.discard(entry["role"])
        elif event == "service.started":
            held.clear()
    return held


def read_store(location: str | Path) -> RecordsStore:
    return open_store(str(location), create=False)


def relay_behind(store: RecordsStore) -> bool:
    """Whether the store holds a decision after the relay's tracked position."""
    after = store.position(RELAY)
    return bool(store.raw_log(after, 1, DECISION_TOPICS))


async def inbound_empty(js: JetStreamContext, partitions: int) -> bool:
    try:
        for k in range(partitions):
            if (await js.stream_info(f"RECORDS_IN_{k}")).state.messages:
                return False
    except (TimeoutError, nats.errors.Error, nats.js.errors.Error):
        return False  # a node down or a leader being elected: ask again
    return True


async def wait_drained(
    js: JetStreamContext, store_location: str | Path, partitions: int, timeout: float = 120.0
) -> float:
    """Until every inbound message is stored and acknowledged (the work queues are empty)
    and the relay has published every stored decision; the seconds it took."""
    started = time.monotonic()
    store: RecordsStore | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                if await inbound_empty(js, partitions):
                    if store is None:
                        store = await asyncio.to_thread(read_store, store_location)
                    if not await asyncio.to_thread(relay_behind, store):
                        return time.monotonic() - started
                await asyncio.sleep(0.2)
    finally:
        if store is not None:
            store.close()


# The comparison.


def history_keys(events: Sequence[LearnerEvent]) -> list[tuple[str, ...]]:
    """A learner's stored history as comparable keys: each fact by its evidence id, each
    refusal by the refused event's id and reason, each decision by its id."""
    keys: list[tuple[str, ...]] = []
    for event in events:
        kind = type(event).__name__
        if isinstance(event, FactRecorded):
            keys.append((kind, event.fact.evidence.id))  # type: ignore[attr-defined]
        elif isinstance(event, EventRefused):
            keys.append((kind, event.id or "", event.reason))
        elif isinstance(event, DecisionTaken):
            keys.append((kind, event.decision.id))
        else:
            keys.append((kind,))
    return keys


def stored_decisions(store: RecordsStore) -> dict[str, list[tuple[str, Any]]]:
    """Every stored decision's id and CloudEvent, per learner in the order taken."""
    out: dict[str, list[tuple[str, Any]]] = {}
    after = 0
    while page := store.raw_log(after, 5_000, DECISION_TOPICS):
        for n in page:
            decision = _decode(n.topic, n.state)
            assert decision is not None
            learner = decision.subject.rsplit(".", 1)[-1]
            out.setdefault(learner, []).append((decision.id, orjson.loads(decision.cloudevent)))
        after = page[-1].id
    return out


@dataclass(slots=True)
class Outbound:
    """RECORDS_OUT as a subscriber finds it: every message, counted."""

    messages: int
    by_learner: dict[str, list[tuple[str, Any]]]
    ids: Counter[str]
    contents: dict[str, set[bytes]]


async def read_outbound(js: JetStreamContext) -> Outbound:
    info = await js.stream_info("RECORDS_OUT")
    by_learner: dict[str, list[tuple[str, Any]]] = {}
    ids: Counter[str] = Counter()
    contents: dict[str, set[bytes]] = {}
    count = 0
    if info.state.messages:
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("RECORDS_OUT", seq)
            assert msg.headers is not None and msg.data is not None
            count += 1
            event = orjson.loads(msg.data)
            msg_id = msg.headers[MSG_ID_HEADER]
            assert event["id"] == msg_id, f"message {seq}: Nats-Msg-Id {msg_id} ≠ {event['id']}"
            ids[msg_id] += 1
            contents.setdefault(msg_id, set()).add(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
            learner = (msg.subject or "").rsplit(".", 1)[-1]
            by_learner.setdefault(learner, []).append((msg_id, event))
    assert count == info.state.messages, "RECORDS_OUT has gaps: messages were deleted"
    return Outbound(count, by_learner, ids, contents)


def assert_same_decisions(
    what: str, got: dict[str, list[tuple[str, Any]]], expected: dict[str, list[tuple[str, Any]]]
) -> None:
    """Per learner, the same decisions in the same order, ids and CloudEvents alike; the
    message names the first learner that differs and how."""
    for learner in sorted(set(got) | set(expected)):
        mine, theirs = got.get(learner, []), expected.get(learner, [])
        if not is_valid_uln(learner):
            # Refusals of events naming no learner: from every partition, so in no order.
            mine, theirs = sorted(mine, key=_first), sorted(theirs, key=_first)
        if mine == theirs:
            continue
        ids, expected_ids = [i for i, _ in mine], [i for i, _ in theirs]
        if ids != expected_ids:
            raise AssertionError(f"{what} decisions of {learner}: ids {ids} ≠ {expected_ids}")
        for (i, event), (_, wanted) in zip(mine, theirs, strict=True):
            if event != wanted:
                fields = sorted(
                    k for k in set(event) | set(wanted) if event.get(k) != wanted.get(k)
                )
                mine_fields = {k: event.get(k) for k in fields}
                wanted_fields = {k: wanted.get(k) for k in fields}
                raise AssertionError(
                    f"{what} decision {i} of {learner}: {mine_fields} ≠ {wanted_fields}"
                )


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def learners_of(lines: Sequence[Line]) -> set[str]:
    """Every learner the lines name: by their subject token, and by the event's subject."""
    out = set()
    for nats_subject, payload in lines:
        out.add(nats_subject.rsplit(".", 1)[-1])
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
            subject = orjson.loads(payload).get("subject")
            if isinstance(subject, str):
                out.add(subject)
    return out


async def assert_equal_to_replay(
    js: JetStreamContext,
    store_location: str | Path,
    lines: Sequence[Line],
    catalogue: Catalogue,
    workdir: Path,
) -> dict[str, int]:
    """The service's store and RECORDS_OUT equal an offline replay of ``lines``: every
    learner's history (facts, refusals, decisions) in order, and every published
    decision, id and content, once. Returns a few counts for the figures."""
    oracle = open_records(str(workdir / "oracle.sqlite"), catalogue, FixedClock(TODAY))
    live = read_store(store_location)
    try:
        outcomes = oracle.receive_batch([Inbound(payload, subject) for subject, payload in lines])
        ulns = sorted(learners_of(lines))
        evidence: Counter[str] = Counter()
        for uln in ulns:
            stored = live.history(uln, personal=False)
            expected = history_keys(oracle.store.history(uln, personal=False))
            assert history_keys(stored) == expected, f"learner {uln}: history differs"
            evidence.update(
                e.fact.evidence.id  # type: ignore[attr-defined]
                for e in stored
                if isinstance(e, FactRecorded)
            )
        stored_twice = {e: n for e, n in evidence.items() if n > 1}
        assert not stored_twice, f"events stored more than once: {stored_twice}"
        expected_decisions = stored_decisions(oracle.store)
        assert_same_decisions("stored", stored_decisions(live), expected_decisions)
        assert ParkedTable(live.recorder, live.codec.sealer).summary() == [], "events parked"

        outbound = await read_outbound(js)
        repeated = {i: n for i, n in outbound.ids.items() if n > 1}
        assert not repeated, f"decisions published more than once: {repeated}"
        assert all(len(c) == 1 for c in outbound.contents.values())
        assert_same_decisions("published", outbound.by_learner, expected_decisions)
        decisions = sum(len(d) for d in expected_decisions.values())
        assert outbound.messages == decisions
        refused = [o for o in outcomes if o.outcome == "rejected"]
        return {
            "events": len(lines),
            "learners": len(ulns),
            "decisions": decisions,
            "refusals_expected": len(refused),
        }
    finally:
        oracle.close()
        live.close()
