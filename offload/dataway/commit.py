"""Group commit: one round of fsyncs shared by every WAL append made while the previous round ran.

A write appends its records (page cache, microseconds) and then waits for the next
round; the round seals each dirty queue's position, fsyncs in a worker thread, and
only then lets readers see the data and writers return. Concurrent writers thus
share one fsync (tests/benchmarks/bench_dataway.py reports writes per round).
"""

from __future__ import annotations

import asyncio
import os

from offload.dataway.errors import WalError
from offload.dataway.wal import DiskQueue, SyncJob

__all__ = ["GroupCommit"]


class GroupCommit:
    """Shares one round of fsyncs among every append made while the previous round ran."""

    def __init__(self) -> None:
        self._dirty: set[DiskQueue] = set()
        self._future: asyncio.Future | None = None
        self._task: asyncio.Task | None = None
        self.rounds = 0  # fsync rounds done (the benchmark reports appends per round)

    def request(self, queues) -> asyncio.Future:
        """A future resolved once everything appended to `queues` so far is on disk."""
        loop = asyncio.get_running_loop()
        self._dirty.update(queues)
        if self._future is None:
            self._future = loop.create_future()
        fut = self._future
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="dataway-wal-commit")
        return fut

    async def _run(self) -> None:
        while self._future is not None:
            fut, dirty = self._future, self._dirty
            self._future, self._dirty = None, set()
            jobs = [q.seal() for q in dirty]
            try:
                await asyncio.to_thread(_sync, jobs)
            except OSError as exc:
                fut.set_exception(WalError(f"fsync of the Dataway WAL failed: {exc}"))
                fut.exception()  # mark retrieved: a writer cancelled meanwhile must not warn
                continue
            self.rounds += 1
            for job in jobs:
                job.queue.committed(job.pos)
            fut.set_result(None)

    async def drain(self) -> None:
        """Wait for the round in progress (and any queued one) to finish."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)


def _sync(jobs: list[SyncJob]) -> None:
    sync = getattr(os, "fdatasync", os.fsync)
    for job in jobs:
        for fd in job.fds:
            sync(fd)
        if job.dir_dirty:
            dfd = os.open(job.queue.path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        for fd in job.closing:
            os.close(fd)
