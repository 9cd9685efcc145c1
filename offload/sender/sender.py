"""The offload sender: a bounded queue, N sender tasks, one shared balancer, retries, acks.

    inputs --put/offer--> BatchQueue --get--> task 1..N --acquire--> RoundRobinBalancer
                                                    |                       |
                                                    +--send--> transport ---+--> receiver
                                                    <--ack---------------------
                                                    batch.finish(True) -> input advances its position

Delivery is at-least-once. A batch is finished (released) only after a receiver
acked it. A `RetryableError` (transport error, timeout, 5xx, busy) ejects or
cools that receiver and the same batch, with the same id and the same bytes, is
retried by tenacity on the next receiver; it is never dropped while any receiver
is healthy, and with every receiver down the tasks wait in `acquire()` while the
queue fills up and pushes back on the inputs. Only a `PermanentError` (the
receiver refused the batch itself: 4xx, INVALID_ARGUMENT, UNAUTHENTICATED) or,
for the one-shot `send`, `give_up_after` seconds with no receiver at all, drops
a batch; both are counted.

Duplicates, and the dedup window. Every attempt of a batch carries the same
`batch_id`. A receiver remembers the ids it accepted (gRPC: the last
`[grpc] dedup_window` ids, 200,000 by default, in memory, per receiver) and
answers a resend DUPLICATE without doing the work again; HTTP receivers get the id
in `X-Offload-Batch-Id` (a real DataKit ignores it). A batch can therefore reach
Dataway twice only when its outcome on one receiver is unknown — that receiver
died, or timed out, after making the batch durable — and the batch was then sent
to another receiver, or to the same one after its restart (the window is not
persistent), or after the id left the window. The bound: at most the batches in
flight to that receiver at that moment, i.e. `concurrency x batch_size` lines per
failed receiver, plus what the dead receiver's own Dataway writer resends from its
WAL after its restart (at most 4 x its `[dataway] workers` bodies per endpoint). After an agent restart a tailed file resends its unacknowledged
lines with the same ids (derived from the file and the byte range); the receiver
drops them if it is the one that saw them (round-robin may pick another).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Sequence

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from offload.errors import PermanentError, RetryableError
from offload.sender.balancer import Endpoint, NoReceiverError, RoundRobinBalancer
from offload.sender.batch import Batch
from offload.sender.config import OffloadConfig, SenderConfig
from offload.sender.metrics import SenderMetrics
from offload.sender.queue import BatchQueue, QueueClosed
from offload.sender.spill import SpillStore
from offload.sender.transport import BusyError, Transport, make_transport

__all__ = ["Sender"]

log = logging.getLogger("offload.sender")


class Sender:
    """Owns the queue, the sender tasks and the balancer; inputs call `submit`/`offer`."""

    def __init__(
        self,
        offload: OffloadConfig,
        cfg: SenderConfig | None = None,
        *,
        metrics: SenderMetrics | None = None,
        transports: Sequence[Transport] | None = None,
        give_up_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        cfg = cfg or SenderConfig()
        self.cfg = cfg
        self.offload = offload
        self.metrics = metrics or SenderMetrics()
        self.clock = clock
        if transports is None:
            if not offload.enabled:
                raise ValueError("offload is not configured ([pipeline.offload] receiver and addresses)")
            transports = [make_transport(a, cfg.timeout, cfg.token, cfg.compression, cfg.tls_ca) for a in offload.addresses]
        m = self.metrics
        self.balancer = RoundRobinBalancer(
            transports, eject_base=cfg.eject_base, eject_max=cfg.eject_max, clock=clock,
            on_eject=lambda ep: m.ejections.labels(ep.name).inc(),
            on_state=lambda ep: m.receiver_up.labels(ep.name).set(1 if ep.healthy else 0),
        )
        for ep in self.balancer.endpoints:
            m.receiver_up.labels(ep.name).set(1)
        self.batch_size = cfg.resolved_batch_size(offload)
        self.concurrency = cfg.resolved_concurrency(offload) if offload.addresses else (cfg.concurrency or 8)
        self.give_up_after = give_up_after or None
        spill = SpillStore(cfg.spill_dir, cfg.spill_max_bytes) if cfg.spill_dir else None
        self.queue = BatchQueue(cfg.queue_batches, spill, on_depth=self._on_depth)
        self._inflight = 0
        self._inflight_batches: set[Batch] = set()
        self._tasks: set[asyncio.Task] = set()
        self._progress = asyncio.Event()
        self._started = False
        self._refused = 0

    def _on_depth(self, memory: int, spilled: int) -> None:
        self.metrics.queue.labels("memory").set(memory)
        self.metrics.queue.labels("spill").set(spilled)

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.balancer.start()
        loop = asyncio.get_running_loop()
        for i in range(self.concurrency):
            task = loop.create_task(self._worker(), name=f"offload-sender-{i}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Batches accepted and not yet acked or dropped (queued, spilled or in flight)."""
        return len(self.queue) + self._inflight

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every accepted batch is acked or dropped; False on timeout."""
        deadline = None if timeout is None else self.clock() + timeout
        while self.pending:
            self._progress.clear()
            left = None if deadline is None else deadline - self.clock()
            if left is not None and left <= 0:
                return False
            try:
                await asyncio.wait_for(self._progress.wait(), 0.5 if left is None else min(left, 0.5))
            except asyncio.TimeoutError:
                pass
        return True

    async def close(self, timeout: float = 10.0) -> int:
        """Drain for up to `timeout` s, stop the tasks, spill what can be spilled; return batches left unsent."""
        drained = await self.drain(timeout) if self._started else not self.pending
        await self.queue.close()
        interrupted = [b for b in self._inflight_batches if not b.done]
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        left = [b for b in interrupted if not b.done and not b.from_spill] + self.queue.drain_memory()
        unsent = 0
        spill = self.queue.spill
        for batch in left:
            if spill is not None and batch.spillable and spill.has_room(len(batch.grpc_body())):
                await asyncio.to_thread(spill.write, batch)
            else:
                unsent += 1
        if not drained:
            log.warning("sender closed with %d batches not acknowledged (%d in memory were not spilled)",
                        self.pending + len(left), unsent)
        await self.balancer.aclose()
        return unsent

    # -- intake -------------------------------------------------------------------------
    async def submit(self, batch: Batch) -> None:
        """Queue `batch`, waiting while the queue is full (back-pressure). QueueClosed after close()."""
        await self.queue.put(batch)

    async def offer(self, batch: Batch) -> bool:
        """Queue `batch` if there is room now (memory or spill); False means "push back" (HTTP 429)."""
        try:
            return await self.queue.offer(batch)
        except QueueClosed:
            return False

    def has_room(self, batches: int = 1) -> bool:
        """Whether `batches` more fit in memory right now (callers that must take all-or-nothing)."""
        spill = self.queue.spill
        return self.queue.memory_depth + batches <= self.queue.max_batches or (
            spill is not None and spill.has_room(0))

    # -- delivery -----------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            try:
                batch = await self.queue.get()
            except QueueClosed:
                return
            self._inflight += 1
            self._inflight_batches.add(batch)
            self.metrics.inflight.inc()
            try:
                await self.deliver(batch)
            finally:
                self._inflight_batches.discard(batch)
                self._inflight -= 1
                self.metrics.inflight.dec()
                self._progress.set()

    def _stop(self, retry_state) -> bool:
        return self.give_up_after is not None and self.balancer.outage() >= self.give_up_after

    def _wait(self, retry_state) -> float:
        # Another receiver is healthy: go there now. Otherwise acquire() waits for one anyway;
        # the short exponential wait only keeps a flapping receiver from being hammered.
        if len(self.balancer.healthy()) > 1:
            return 0.0
        return self._backoff(retry_state)

    _backoff = wait_exponential(multiplier=0.02, max=1.0)

    async def deliver(self, batch: Batch) -> None:
        """Send one batch until a receiver acks it (or it must be dropped); then finish it."""
        last: list[Endpoint | None] = [None]
        m = self.metrics
        try:
            async for attempt in AsyncRetrying(retry=retry_if_exception_type(RetryableError), stop=self._stop,
                                               wait=self._wait, reraise=True):
                with attempt:
                    await self._attempt(batch, last)
        except PermanentError as exc:
            self._refused += 1
            if self._refused <= 5 or self._refused % 100 == 0:  # a refusal is usually systematic: do not flood
                log.error("batch %s (%d points) refused (%d so far): %s", batch.batch_id.hex(), batch.count,
                          self._refused, exc)
            m.points_dropped.labels("permanent").inc(batch.count)
            batch.finish(False)
            return
        except RetryableError as exc:
            log.error("batch %s (%d points) given up after %.0fs without a receiver: %s",
                      batch.batch_id.hex(), batch.count, self.balancer.outage(), exc)
            m.points_dropped.labels("gave_up").inc(batch.count)
            batch.finish(False)
            return
        except Exception as exc:  # a bug or an unencodable batch: never let it kill a sender task
            log.exception("batch %s (%d points) cannot be sent: %s", batch.batch_id.hex(), batch.count, exc)
            m.points_dropped.labels("error").inc(batch.count)
            batch.finish(False)
            return
        batch.finish(True)

    async def _attempt(self, batch: Batch, last: list[Endpoint | None]) -> None:
        m = self.metrics
        timeout = None
        if self.give_up_after is not None:
            timeout = max(0.0, self.give_up_after - self.balancer.outage())
        try:
            ep = await self.balancer.acquire(exclude=[last[0]] if last[0] else (), timeout=timeout)
        except NoReceiverError:
            raise
        last[0] = ep
        started = self.clock()
        try:
            ack = await ep.transport.send(batch)
        except BusyError:
            self.balancer.report_failure(ep, busy=True)
            m.retries.labels(ep.name, "busy").inc()
            raise
        except RetryableError as exc:
            log.debug("batch %s failed on %s: %s", batch.batch_id.hex(), ep.name, exc)
            self.balancer.report_failure(ep, reason=str(exc))
            m.points_failed.labels(ep.name).inc(batch.count)
            m.retries.labels(ep.name, "error").inc()
            raise
        except PermanentError:
            m.points_failed.labels(ep.name).inc(batch.count)
            m.batches.labels(ep.name, "failed").inc()
            raise
        self.balancer.report_success(ep)
        m.ack_latency.labels(ep.name).observe(self.clock() - started)
        m.points_offloaded.labels(ep.name).inc(batch.count)
        m.batches.labels(ep.name, "duplicate" if ack.duplicate else "accepted").inc()
