"""`ScriptAggregates`: the receiver's one set of `agg_create` buckets (receiver/pipeline/aggbuckets.py).

Workers run the scripts and return their agg_create/agg_metric operations with each batch;
the ingest path applies them here, in the daemon, once the batch's own results are durable.
So the buckets see every point the node processes, whichever worker ran it, and emit whole
aggregates: what a bucket emits is written through the Dataway writer under its category and
the workspace token of the batches that fed it. A 1 s tick emits the buckets whose interval
ended; shutdown emits what every bucket holds. An emission the writer refuses (WAL full) is
kept and tried again on the next ticks (at most `MAX_PENDING` of them; past that the oldest is
dropped, counted in `receiver_script_agg_dropped_points_total` and logged).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import Counter

from receiver.pipeline.aggbuckets import AggBuckets

__all__ = ["ScriptAggregates"]

log = logging.getLogger("receiver.scriptagg")

EMITTED = Counter("receiver_script_agg_points", "Points emitted by script aggregation buckets (agg_create)",
                  ["category"])
DROPPED = Counter("receiver_script_agg_dropped_points", "Script aggregation points given up (writer refused them)",
                  ["category"])
MAX_PENDING = 64


class ScriptAggregates:
    def __init__(self, writer: Any, tick_s: float = 1.0) -> None:
        self.writer = writer
        self.buckets = AggBuckets()
        self.tick_s = tick_s
        self._pending: list[tuple[str, str | None, list]] = []
        self._task: asyncio.Task | None = None

    async def apply(self, ops: list[tuple], token: str | None) -> None:
        """Apply one batch's operations; write what `on_count` made a bucket emit."""
        self._queue(self.buckets.apply(ops, token))
        await self._write()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._ticks(), name="script-agg-tick")

    async def stop(self) -> None:
        """Stop ticking and write what every bucket holds."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._queue(self.buckets.flush_all())
        await self._write()

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self._queue(self.buckets.due())
                await self._write()
            except Exception:  # noqa: BLE001 - the tick must survive anything
                log.exception("script aggregation tick failed")

    def _queue(self, emitted: list) -> None:
        for bucket, points in emitted:
            if points:
                self._pending.append((bucket.category, bucket.token, points))
        while len(self._pending) > MAX_PENDING:
            category, _, points = self._pending.pop(0)
            DROPPED.labels(category).inc(len(points))
            log.error("script aggregation: %d %s points given up (the Dataway writer kept refusing them)",
                      len(points), category)

    async def _write(self) -> None:
        while self._pending:
            category, token, points = self._pending[0]
            try:
                await self.writer.write(category, points, token=token)
            except Exception as exc:  # noqa: BLE001 - WAL full or failing: keep them for the next tick
                log.warning("script aggregation: %d %s points wait for the Dataway writer: %s",
                            len(points), category, exc)
                return
            self._pending.pop(0)
            EMITTED.labels(category).inc(len(points))
