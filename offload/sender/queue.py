"""The sender's bounded queue: `max_batches` in memory, overflow of spillable batches on disk.

    put(batch)    waits for room (this is how the inputs are pushed back on: the
                  tailer stops reading while it waits)
    offer(batch)  never waits for room: False when full (the HTTP write API answers 429)
    get()         memory first, then the spill, oldest first

While anything sits in the spill, new spillable batches go to the spill too, so
batches leave roughly in the order they came. Batches are independent: with
several sender tasks and retries, delivery order is not guaranteed anyway.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

from offload.sender.batch import Batch
from offload.sender.spill import SpillStore

__all__ = ["BatchQueue", "QueueClosed"]


class QueueClosed(Exception):
    """The queue no longer accepts or hands out batches."""


class BatchQueue:
    def __init__(self, max_batches: int, spill: SpillStore | None = None,
                 on_depth: Callable[[int, int], None] | None = None) -> None:
        self.max_batches = max_batches
        self.spill = spill
        self._mem: deque[Batch] = deque()
        self._cond = asyncio.Condition()
        self._closed = False
        self._on_depth = on_depth
        self._spill_lock = asyncio.Lock()  # one disk writer/reader at a time
        self._loading = 0  # batches between the spill and a consumer

    def __len__(self) -> int:
        return len(self._mem) + (len(self.spill) if self.spill else 0) + self._loading

    @property
    def memory_depth(self) -> int:
        return len(self._mem)

    def _report(self) -> None:
        if self._on_depth:
            self._on_depth(len(self._mem), len(self.spill) if self.spill else 0)

    def _mem_room(self) -> bool:
        return len(self._mem) < self.max_batches

    async def _try_spill(self, batch: Batch) -> bool:
        if self.spill is None or not batch.spillable:
            return False
        size = len(batch.grpc_body())
        if not self.spill.has_room(size):
            return False
        async with self._spill_lock:
            await asyncio.to_thread(self.spill.write, batch)
        # The batch now lives on disk; the copy taken back out carries the file's remover.
        # The original callback (metrics of the input that produced it) still runs now: the
        # batch is durable and will be delivered at least once.
        batch.finish(True)
        async with self._cond:
            self._cond.notify_all()
        self._report()
        return True

    async def offer(self, batch: Batch) -> bool:
        """Enqueue without waiting for room; False when memory and spill are full."""
        if self._closed:
            raise QueueClosed()
        spilling = self.spill is not None and len(self.spill) > 0
        if not spilling and self._mem_room():
            await self._append(batch)
            return True
        if await self._try_spill(batch):
            return True
        if self._mem_room():  # the spill is full (or not for this batch) but memory has room
            await self._append(batch)
            return True
        return False

    async def put(self, batch: Batch) -> None:
        """Enqueue, waiting while memory (and the spill, for spillable batches) is full."""
        while True:
            if self._closed:
                raise QueueClosed()
            if await self.offer(batch):
                return
            async with self._cond:
                while not self._closed and not self._mem_room():
                    await self._cond.wait()

    async def _append(self, batch: Batch) -> None:
        async with self._cond:
            self._mem.append(batch)
            self._cond.notify_all()
        self._report()

    async def get(self) -> Batch:
        """The next batch; waits while empty; QueueClosed once closed."""
        while True:
            async with self._cond:
                while not self._mem and not (self.spill and len(self.spill)) and not self._closed:
                    await self._cond.wait()
                if self._closed:
                    raise QueueClosed()
                if self._mem:
                    batch = self._mem.popleft()
                    self._cond.notify_all()
                else:
                    batch = None
            if batch is None:
                self._loading += 1
                try:
                    async with self._spill_lock:
                        batch = await asyncio.to_thread(self.spill.take) if self.spill else None
                finally:
                    self._loading -= 1
                if batch is None:
                    continue  # another task took the last one
            self._report()
            return batch

    def drain_memory(self) -> list[Batch]:
        """Remove and return every batch still in memory (shutdown)."""
        out = list(self._mem)
        self._mem.clear()
        self._report()
        return out

    async def close(self) -> None:
        self._closed = True
        async with self._cond:
            self._cond.notify_all()
