"""A group commit: the batches of a replica's partitions that wait for the writer at the
same time go into one transaction.

Each partition's owner stores its batch and acknowledges it only after the commit, so a
replica owning eight partitions at a trickle of events commits eight small transactions
where one would do; each commit (an fsync, and a trip through the one writer thread)
then costs more than the events in it, and the batches queue behind each other. Here
the batches that arrive while the writer is busy are stored together as soon as it is
free: nothing waits for a batch to fill, and the busier the writer, the fewer commits
per event.

Only the success path is shared. When a combined transaction fails, for whatever
reason (a message at fault, a full disk, another owner's write), nothing of it was
stored, and each batch is stored again on its own, so that every failure reaches the
partition it belongs to exactly as it would have without the group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from services.application.records import LearnerRecords, Outcome, Part

__all__ = ["GroupCommit"]

log = structlog.get_logger(__name__)

Writer = Callable[..., Awaitable[Any]]


class GroupCommit:
    def __init__(self, records: LearnerRecords, writer: Writer) -> None:
        self._records = records
        self._writer = writer
        self._waiting: list[tuple[Part, asyncio.Future[list[Outcome]]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.commits = 0
        self.batches = 0

    async def store(self, part: Part) -> list[Outcome]:
        """Store ``part`` (in a transaction shared with whatever else is waiting); its
        outcomes, or the error storing it alone raised."""
        future: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        self._waiting.append((part, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        taken: list[tuple[Part, asyncio.Future[list[Outcome]]]] = []
        try:
            while self._waiting:
                taken, self._waiting = self._waiting, []
                await self._store(taken)
        except BaseException as error:
            # Cancelled (the service stopping): no owner is left waiting for ever.
            for _, future in [*taken, *self._waiting]:
                if not future.done():
                    future.set_exception(error)
            self._waiting = []
            raise

    async def _store(self, taken: list[tuple[Part, asyncio.Future[list[Outcome]]]]) -> None:
        if len(taken) > 1:
            try:
                results = await self._writer(
                    self._records.receive_batches, [part for part, _ in taken]
                )
            except Exception as error:
                log.debug("group_commit.split", batches=len(taken), error=repr(error))
            else:
                self.commits += 1
                self.batches += len(taken)
                for (_, future), outcomes in zip(taken, results, strict=True):
                    if not future.done():
                        future.set_result(outcomes)
                return
        for part, future in taken:
            await self._alone(part, future)

    async def _alone(self, part: Part, future: asyncio.Future[list[Outcome]]) -> None:
        try:
            outcomes = await self._writer(
                self._records.receive_batch,
                part.inbound,
                tracking=part.tracking,
                parking=part.parking,
                faults=part.faults,
            )
        except Exception as error:
            if not future.done():
                future.set_exception(error)
            return
        self.commits += 1
        self.batches += 1
        if not future.done():
            future.set_result(outcomes)
