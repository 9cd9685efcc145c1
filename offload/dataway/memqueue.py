"""The in-memory queue used when `wal_dir` is None: the DiskQueue interface without a disk.

Bounded by the same budget (WriterFull when full) and windowed the same way, but
nothing survives the process: for tests and for deployments that accept losing
queued bodies on a restart.
"""

from __future__ import annotations

import asyncio
import collections

from offload.dataway.record import Record
from offload.dataway.wal import Budget, fail_waiters, Window

__all__ = ["MemoryQueue"]


class MemoryQueue:
    """The same interface without a disk: bounded by the budget, lost when the process exits."""

    durable = False
    requeued = 0
    corrupt_bytes = 0
    disk_bytes = 0

    def __init__(self, budget: Budget, window: int) -> None:
        self._budget = budget
        self._items: collections.deque[tuple[int, Record]] = collections.deque()
        self._next = 0
        self._sizes: dict[int, int] = {}  # seq -> size of records handed out, not yet acked
        self._window = Window(window)
        self._acked = 0
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._data = asyncio.Event()

    @property
    def backlog_bytes(self) -> int:
        return sum(r.size for _, r in self._items) + sum(self._sizes.values())

    def position(self) -> int:
        return self._next

    def append_record(self, rec: Record) -> None:
        self._items.append((self._next, rec))
        self._next += 1
        self._budget.used += rec.size
        self._data.set()

    async def get(self) -> tuple[Record, int]:
        while not self._items or self._window.full:
            if self._window.full:
                await self._window.wait_for_room()
            else:
                self._data.clear()
                await self._data.wait()
        seq, rec = self._items.popleft()
        self._sizes[seq] = rec.size
        self._window.add(seq)
        return rec, seq

    def ack(self, ticket: int) -> None:
        self._budget.used -= self._sizes.pop(ticket)
        self._window.done(ticket)
        oldest = self._window.oldest()
        if oldest is not None:
            self._acked = oldest
        else:
            self._acked = self._items[0][0] if self._items else self._next
        still = []
        for pos, fut in self._waiters:
            if pos <= self._acked:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((pos, fut))
        self._waiters = still

    def blocking(self, ticket: int) -> bool:
        return self._window.blocking(ticket)

    async def wait_acked(self, pos: int) -> None:
        if self._acked >= pos:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((pos, fut))
        await fut

    async def aclose(self) -> None:
        fail_waiters(self._waiters)
        self._items.clear()
