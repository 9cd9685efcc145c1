"""Admission control: the one bound on batches the daemon holds between receive and ack.

A request takes a ticket before its body is read (HTTP) or as soon as its
message arrived (gRPC). The ticket counts one batch and the bytes of its body;
both totals are capped (`[workers] max_inflight_batches`, `max_inflight_bytes`)
and a request that does not fit is refused at once with `Overloaded` (HTTP 429,
gRPC RESOURCE_EXHAUSTED) instead of waiting, so memory stays bounded under a
flood and clients (or the sender's balancer) go elsewhere. Tickets are released
when the answer goes out, which is after the results are durable.
"""

from __future__ import annotations

import asyncio

from receiver.errors import Overloaded, ShuttingDown

__all__ = ["Admission", "Ticket"]


class Ticket:
    """One admitted batch; `grow()` while its body is read, `release()` when answered."""

    __slots__ = ("_adm", "_released", "nbytes")

    def __init__(self, adm: Admission, nbytes: int) -> None:
        self._adm = adm
        self.nbytes = nbytes
        self._released = False

    def grow(self, nbytes: int) -> None:
        """Account `nbytes` more body bytes; Overloaded when the byte budget has no room."""
        adm = self._adm
        if adm.bytes + nbytes > adm.max_bytes:
            raise Overloaded(f"receiver busy: {adm.bytes} bytes in flight (limit {adm.max_bytes})")
        adm.bytes += nbytes
        self.nbytes += nbytes

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._adm._release(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Admission:
    """Counts admitted batches and their bytes; refuses new ones beyond the limits."""

    def __init__(self, max_batches: int, max_bytes: int) -> None:
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self.batches = 0
        self.bytes = 0
        self.accepting = True
        self._idle = asyncio.Event()
        self._idle.set()

    def admit(self, nbytes: int = 0) -> Ticket:
        """A ticket for one batch of (at least) `nbytes`; Overloaded / ShuttingDown otherwise."""
        if not self.accepting:
            raise ShuttingDown("the receiver is shutting down")
        if self.batches >= self.max_batches:
            raise Overloaded(f"receiver busy: {self.batches} batches in flight (limit {self.max_batches})")
        if nbytes and self.bytes + nbytes > self.max_bytes:
            raise Overloaded(f"receiver busy: {self.bytes} bytes in flight (limit {self.max_bytes})")
        self.batches += 1
        self.bytes += nbytes
        self._idle.clear()
        return Ticket(self, nbytes)

    def _release(self, ticket: Ticket) -> None:
        self.batches -= 1
        self.bytes -= ticket.nbytes
        if self.batches == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no batch is in flight; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
