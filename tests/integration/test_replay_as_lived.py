"""Replay as lived (issue 13 item 1): a replay decides what a live service would have.

The live side is the wired service (``RecordsService``) on a real nats-server, its clock
a ``FixedClock`` stepped to each event's ``time`` before the event is published, and to
the start of the day after each claim-by date passed between events, where the test
waits for the scheduler's review (``wait_reviewed``). Each step waits for what the
service does with it (the event stored, the status view caught up) before the clock
moves again, so the live run is deterministic. Its decisions are read back from
RECORDS_OUT, as a subscriber reads them, and compared learner by learner, in order,
with ``replay_as_lived`` over the same lines.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from learner_histories import LONDON, bundled_catalogue, loadgen_publications
from nats.js import JetStreamContext

from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.nats.embedded import EmbeddedNatsServer
from services.adapters.nats.jetstream import connect
from services.adapters.nats.streams import Streams
from services.application.clock import FixedClock, start_of_day
from services.application.relay import DECISION_TOPICS
from services.application.replay import replay_as_lived
from services.entrypoints.app import RecordsService
from services.entrypoints.cli import main
from services.entrypoints.config import ServiceSettings
from services.entrypoints.wiring import open_records

pytestmark = pytest.mark.nats

DAY = timedelta(days=1)
PARTITIONS = 2
# After every claim-by date of the catalogue (the last is 2031-08-31).
AS_OF = date(2031, 9, 1)
# (decision id, its CloudEvent as published) per learner, in publishing order.
Decided = dict[str, list[tuple[str, dict[str, Any]]]]


def moments(lines: Iterable[bytes], as_of: date) -> list[datetime]:
    """When a live service receives each line: at its own ``time``, never before the line
    before it, never after ``as_of``; an unreadable line with the line before it."""
    end = start_of_day(as_of + DAY, LONDON) - timedelta(microseconds=1)
    out: list[datetime] = []
    for raw in lines:
        try:
            sent = datetime.fromisoformat(orjson.loads(raw)["time"]).astimezone(LONDON)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            sent = out[-1] if out else end
        out.append(min(max(sent, out[-1]) if out else sent, end))
    return out


def review_days(catalogue: Catalogue, after: date, until: date) -> list[date]:
    """The scheduler's review days in (after, until]: the day after each claim-by date."""
    days = {q.dates.claim_by + DAY for q in catalogue.qualifications.values()}
    return sorted(d for d in days if after < d <= until)


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """For progress nobody notifies us about (a worker's stored position, the view's)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


class LiveRun:
    """The service under a stepped clock, one event at a time."""

    def __init__(self, service: RecordsService, clock: FixedClock, js: JetStreamContext) -> None:
        self.service = service
        self.clock = clock
        self.js = js
        streams = service.settings.streams
        self.partition_of = {streams.inbound_stream(k): k for k in range(streams.partitions)}

    async def settled(self) -> None:
        """Everything stored is in the status view, which the scheduler asks who is due."""
        records, view = self.service.records, self.service.view
        await until(lambda: view.position() >= records.store.last_position())

    async def step_to(self, moment: datetime) -> None:
        """Move the clock to ``moment``, through the review of each claim-by day passed."""
        now = self.clock.now()
        for day in review_days(self.service.catalogue, now.date(), moment.date()):
            await self.settled()
            self.clock.set(start_of_day(day, LONDON))
            await self.service.scheduler.wait_reviewed(day)
        if moment.date() != self.clock.now().date():
            await self.settled()
            self.clock.set(moment)
            # The scheduler reviews on every change of date; let it finish first.
            await self.service.scheduler.wait_reviewed(moment.date())
        self.clock.set(moment)

    async def publish(self, raw: bytes) -> None:
        try:
            subject = orjson.loads(raw)["subject"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            subject = "unknown"
        ack = await self.js.publish(f"records.in.{subject}", raw)
        workers = self.service.workers
        partition = self.partition_of[ack.stream]
        await until(lambda: partition in workers and workers[partition].position >= ack.seq)


async def live(lines: list[bytes], as_of: date, tmp: Path) -> Decided:
    catalogue = bundled_catalogue()
    times = moments(lines, as_of)
    server = EmbeddedNatsServer(
        tmp / "nats",
        port=0,
        auth=False,
        partitions=PARTITIONS,
        sync_always=False,
        ready_timeout=10.0,
    )
    server.start()
    try:
        clock = FixedClock(times[0] if times else start_of_day(as_of, LONDON))
        settings = ServiceSettings(
            nats_url=server.url,
            store=str(tmp / "live.sqlite"),
            streams=Streams(partitions=PARTITIONS, lease_ttl=3.0),
            replica="live",
            projection_process=False,
            scheduler_tick=0.02,
            fetch_timeout=0.2,
        )
        nc = await connect(server.url, name="replay-as-lived")
        try:
            async with RecordsService(settings, catalogue=catalogue, clock=clock) as service:
                # Every partition owned (the scheduler reviews only the learners of
                # partitions it holds), the relay and the projection running.
                await until(
                    lambda: (
                        len(service.workers) == PARTITIONS
                        and service.relay is not None
                        and service.projection is not None
                    )
                )
                run = LiveRun(service, clock, nc.jetstream())
                await service.scheduler.wait_reviewed(clock.now().date())
                for raw, moment in zip(lines, times, strict=True):
                    await run.step_to(moment)
                    await run.publish(raw)
                await run.step_to(start_of_day(as_of, LONDON))
                # Every decision stored has gone out.
                stored = len(service.records.store.raw_log(0, 1_000_000, DECISION_TOPICS))
                js = nc.jetstream()
                async with asyncio.timeout(20):
                    while (await js.stream_info("RECORDS_OUT")).state.messages < stored:
                        await asyncio.sleep(0.02)
            return await published(nc.jetstream())
        finally:
            await nc.close()
    finally:
        server.stop()


async def published(js: JetStreamContext) -> Decided:
    """Every decision on RECORDS_OUT, by learner, in the order published."""
    count = (await js.stream_info("RECORDS_OUT")).state.messages
    out: Decided = {}
    if count == 0:
        return out
    sub = await js.subscribe("records.out.>", ordered_consumer=True)
    try:
        for _ in range(count):
            msg = await sub.next_msg(timeout=5)
            event = json.loads(msg.data)
            out.setdefault(msg.subject.rsplit(".", 1)[-1], []).append((event["id"], event))
    finally:
        await sub.unsubscribe()
    return out


def replayed(lines: list[bytes], as_of: date, tmp: Path) -> Decided:
    records = open_records(str(tmp / "replay.sqlite"), bundled_catalogue(), FixedClock(as_of))
    try:
        result = replay_as_lived(records, lines, as_of)
    finally:
        records.close()
    out: Decided = {}
    for decision in result.decisions:
        event = json.loads(decision.cloudevent)
        out.setdefault(decision.subject.rsplit(".", 1)[-1], []).append((decision.id, event))
    return out


def crossing_claim_by() -> list[tuple[str, bytes]]:
    """A City & Guilds learner whose claim-by date (2017-08-31) passes between two of
    their events, beside a learner who completes: the review must come between them.
    Loadgen's histories rarely cross a claim-by date before their last event."""
    catalogue = bundled_catalogue()
    units = completing_units(catalogue.qualification("CG-4430-L4"))
    late, done = make_uln(4301), make_uln(4302)
    events = EventFactory(prefix="cross")
    lines = [
        events.registered(late, "CG-4430-L4", date(2013, 1, 10)),
        events.registered(done, "CG-4430-L4", date(2013, 1, 11)),
        *(events.achieved(done, urn, date(2013, 2, 1) + k * DAY) for k, urn in enumerate(units)),
        events.achieved(late, units[0], date(2014, 5, 2)),
        events.achieved(late, units[1], date(2018, 1, 10)),
        events.transferred(late, units[2], date(2017, 6, 1), at=sent_on(date(2018, 2, 1))),
    ]
    return [(f"records.in.{orjson.loads(raw)['subject']}", raw) for raw in lines]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(loadgen_publications(max_learners=3))
@example(publications=crossing_claim_by())
async def test_a_replay_decides_what_the_live_service_decided_under_a_stepped_clock(
    publications: list[tuple[str, bytes]],
) -> None:
    lines = [payload for _, payload in publications]
    with tempfile.TemporaryDirectory() as tmp:
        lived = await live(lines, AS_OF, Path(tmp))
        replay = await asyncio.to_thread(replayed, lines, AS_OF, Path(tmp))
    assert lived.keys() == replay.keys()
    for uln in lived:
        assert [i for i, _ in lived[uln]] == [i for i, _ in replay[uln]], uln
        assert lived[uln] == replay[uln], uln
    # A learner's decisions: at least their registration's fate once a window closes.
    assert any(e["type"] != "event.rejected.v1" for found in lived.values() for _, e in found)


# -- the example: certificated well before claim-by -------------------------------

OCR_L3 = "OCR-L3-DIP-CS"


def certificated_before_claim_by(catalogue: Catalogue) -> tuple[str, list[bytes]]:
    """An OCR Level 3 learner complete in 2016 and certificated that summer; claim-by is
    2030-08-31."""
    uln = make_uln(4100)
    events = EventFactory(prefix="cert")
    lines = [events.registered(uln, OCR_L3, date(2016, 1, 4))]
    lines += [
        events.achieved(uln, urn, date(2016, 2, 1) + k * DAY)
        for k, urn in enumerate(completing_units(catalogue.qualification(OCR_L3)))
    ]
    lines.append(events.certificated(uln, OCR_L3, date(2016, 6, 1)))
    return uln, lines


def replay_json(capsys: pytest.CaptureFixture[str], path: Path, as_of: str) -> dict[str, Any]:
    assert main(["replay", str(path), "--as-of", as_of, "--json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_a_learner_certificated_before_claim_by_is_eligible_and_never_expires(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uln, lines = certificated_before_claim_by(bundled_catalogue())
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = replay_json(capsys, path, "2031-01-15")  # months after claim-by

    [learner] = report["learners"]
    assert [r["status"] for r in learner["registrations"]] == ["certificated"]
    [eligible] = report["decisions"]  # no window_expired, no unit_certificate
    assert (eligible["kind"], eligible["uln"]) == ("eligible", uln)
    # Decided when the last unit arrived in 2016, not on the replay's day.
    assert eligible["decided_on"] == eligible["completed_on"] == "2016-02-12"
    assert eligible["claim_by"] == "2030-08-31"


# -- UK days -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "uk_day", "next_day_outcome"),
    [
        # British Summer Time: 23:30 UTC is 00:30 the next day in the UK.
        (datetime(2016, 7, 14, 23, 30, tzinfo=UTC), date(2016, 7, 15), "recorded"),
        # Greenwich Mean Time: 23:30 UTC is 23:30 the same day.
        (datetime(2016, 1, 14, 23, 30, tzinfo=UTC), date(2016, 1, 14), "future_dated"),
    ],
)
def test_an_event_near_midnight_falls_on_its_uk_day(
    tmp_path: Path, sent: datetime, uk_day: date, next_day_outcome: str
) -> None:
    catalogue = bundled_catalogue()
    uln = make_uln(4200)
    events = EventFactory(prefix="uk")
    units = completing_units(catalogue.qualification(OCR_L3))
    registered_on = sent.date() - 60 * DAY
    lines = [events.registered(uln, OCR_L3, registered_on, at=sent - 50 * DAY)]
    lines += [
        events.achieved(uln, urn, registered_on + (1 + k) * DAY, at=sent - 40 * DAY + k * DAY)
        for k, urn in enumerate(units[:-1])
    ]
    # The last unit, sent at 23:30 UTC: dated the day after the UTC date, then that date.
    utc_next_day = sent.date() + DAY
    lines.append(events.achieved(uln, units[-1], utc_next_day, at=sent, id="last-next-day"))
    lines.append(events.achieved(uln, units[-1], sent.date(), at=sent, id="last-same-day"))
    records = open_records(str(tmp_path / "uk.sqlite"), catalogue, FixedClock(date(2020, 1, 1)))
    try:
        result = replay_as_lived(records, lines, date(2020, 1, 1))
    finally:
        records.close()

    by_id = {o.event_id: o for o in result.outcomes}
    next_day = by_id["last-next-day"]
    assert (next_day.reason or next_day.outcome) == next_day_outcome
    [eligible] = [d for d in result.decisions if d.kind.value == "eligible"]
    # Taken when the last unit arrived, on the day it was in the UK.
    assert eligible.decided_on == uk_day
    assert eligible.data["decided_on"] == uk_day.isoformat()
    assert eligible.taken_at == sent
