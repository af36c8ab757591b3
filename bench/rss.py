"""Peak RSS of the service at 100,000 learners.

``learner-records serve`` (one replica, 8 partitions) starts on a copy of the rebuild
benchmark's store (1,100,000 events, a little over 100,000 learners) with an empty read
model, so its projection process projects the whole store, and is sent one event again
for each of its first ``rss_learners`` learners: each is a duplicate, which the writer can
only tell by loading the learner's full history, so every learner passes through the
writer's memory. Once every partition is drained and the projection has caught up, the
high-water marks (VmHWM) of the service process and of its projection process are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

from bench import rebuild
from bench._common import (
    WORK,
    Service,
    backlog,
    client,
    nats_server,
    progress,
    report,
    say,
    settled_roles,
    size,
)
from devtools.commands.loadgen import publish_all

PARTITIONS = 8
TARGET_MB = 500.0


def _touches(store: Path, learners: int) -> list[tuple[str, bytes]]:
    """Each learner's first recorded fact again, as its publisher sent it (the original
    bytes are sealed in the store: they are opened with the learner's key)."""
    from eventsourcing.persistence import StoredEvent

    from domain.learner import FACT_EVENTS, FactRecorded, topic_of
    from services.adapters.store import open_store

    topics = [topic_of(cls) for cls in FACT_EVENTS]
    marks = ",".join("?" * len(topics))
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            f"WHERE rowid IN (SELECT MIN(rowid) FROM stored_events WHERE topic IN ({marks}) "
            "GROUP BY originator_id) ORDER BY rowid LIMIT ?",
            (*topics, learners),
        ).fetchall()
    opened = open_store(str(store), create=False)
    messages = []
    try:
        stored = [StoredEvent(UUID(r[0]), r[1], r[2], r[3]) for r in rows]
        decoded = (opened.codec.decode(s, personal=False) for s in stored)
        ulns = [e.uln for e in decoded if isinstance(e, FactRecorded)]
        for start in range(0, len(stored), 1000):
            opened.keys.prefetch(ulns[start : start + 1000])
            for row in stored[start : start + 1000]:
                event = opened.codec.decode(row, personal=True)
                if isinstance(event, FactRecorded) and event.arrival.original is not None:
                    messages.append((f"records.in.{event.uln}", event.arrival.original))
    finally:
        opened.close()
    return messages


async def _run(server: Any, service: Service, messages: list[tuple[str, bytes]]) -> None:
    await settled_roles([service], PARTITIONS, timeout=600.0)
    async with client(server, "publisher") as (_, js):
        with progress() as bar:
            task = bar.add_task("RSS: a duplicate per learner", total=len(messages))
            await publish_all(js, messages, on_published=lambda *_: bar.advance(task))
    async with client(server, "service") as (_, js):
        with progress() as bar:
            task = bar.add_task("RSS: stored", total=len(messages))
            while (waiting := await backlog(js, PARTITIONS)) > 0:
                bar.update(task, completed=len(messages) - waiting)
                await asyncio.sleep(0.2)
    # The projection process catches up with the whole store.
    before = service.cpu().projection
    while True:
        await asyncio.sleep(2.0)
        now = service.cpu().projection
        if now - before < 0.05:
            return
        before = now


def main() -> None:
    store = rebuild.store()
    say(f"reading the first fact of {size().rss_learners:,} learners from the store")
    messages = _touches(store, size().rss_learners)
    directory = WORK / "rss"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    copy = directory / "records.sqlite"
    shutil.copyfile(store, copy)
    with nats_server("rss-nats", PARTITIONS) as server:
        service = Service("rss", server, str(copy), partitions=PARTITIONS)
        try:
            asyncio.run(_run(server, service, messages))
            main_mb, projection_mb = service.peak_rss_mb()
        finally:
            service.stop()
    print(
        f"peak RSS at {len(messages):,} learners (their full histories loaded; the whole store "
        f"projected): serve {main_mb:,.0f} MB, its projection process {projection_mb:,.0f} MB"
    )
    report(
        "rss_mb",
        f"peak RSS of serve, {len(messages):,} learners",
        main_mb,
        unit="MB",
        baseline=f"projection process {projection_mb:,.0f} MB",
        target=TARGET_MB,
        higher_is_better=False,
    )
    report("rss_projection_mb", "peak RSS of the projection process", projection_mb, unit="MB")
