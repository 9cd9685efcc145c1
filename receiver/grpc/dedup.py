"""`DedupWindow`: which batch_ids were already accepted, so resends are answered DUPLICATE.

The window is the last `capacity` accepted batch_ids (200,000 by default,
`[grpc] dedup_window`; about 100 bytes each), in memory: it does not survive a
restart. A sender resends a batch only when it did not get the ack, so the
window covers acks lost in transit and a sender that retries on another
connection while the first attempt is still running (`claim` makes the second
attempt wait for the first instead of redoing the work). After a receiver
restart, a batch whose ack was lost in the crash is accepted again: that, and
the writer's own resend bound, is the at-least-once duplicate bound.
"""

from __future__ import annotations

import asyncio
import collections

__all__ = ["DedupWindow"]


class DedupWindow:
    """A bounded LRU of accepted batch_ids plus the batches currently being processed."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._accepted: collections.OrderedDict[bytes, int] = collections.OrderedDict()
        self._running: dict[bytes, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._accepted)

    def accepted(self, batch_id: bytes) -> int | None:
        """The point count a batch was accepted with, or None."""
        n = self._accepted.get(batch_id)
        if n is not None:
            self._accepted.move_to_end(batch_id)
        return n

    async def claim(self, batch_id: bytes) -> int | None:
        """None: the caller now owns the batch (call `done` later); else its accepted point count."""
        while True:
            n = self.accepted(batch_id)
            if n is not None:
                return n
            running = self._running.get(batch_id)
            if running is None:
                self._running[batch_id] = asyncio.get_running_loop().create_future()
                return None
            # Another attempt of the same batch is running: wait for its outcome (shielded, so this
            # caller's cancellation does not cancel the other attempt's future).
            await asyncio.shield(running)  # resolves to the other attempt's outcome; never raises

    def done(self, batch_id: bytes, points: int | None) -> None:
        """Release a claim; `points` None when the batch was not accepted."""
        running = self._running.pop(batch_id, None)
        if points is not None and self.capacity:
            self._accepted[batch_id] = points
            self._accepted.move_to_end(batch_id)
            while len(self._accepted) > self.capacity:
                self._accepted.popitem(last=False)
        if running is not None and not running.done():
            running.set_result(points)
