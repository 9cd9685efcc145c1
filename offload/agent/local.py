"""Local processing: scripts that stay on the host run here and their results go to Dataway.

`receiver.pipeline` (the same engine the receivers run) executes the script over
a batch on the event loop's thread, in slices of `SLICE` points with a yield to
the loop between slices. Not in a worker thread: the engine's regex guard
(receiver/pipeline/grok/guard.py) needs SIGALRM, which only the main thread gets;
elsewhere every grok falls back to RE2, about 7x slower (measured: 27 vs 185 us a
nginx line). The results go to the agent's own `DatawayWriter`, whose `write()`
returns once they are in its WAL — that is when a tailed file's position may
advance past them. The engine and the writer are created on first use, so an
agent that offloads everything never loads scripts nor opens a WAL.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Sequence

from offload.agent.config import AgentConfig
from offload.errors import RetryableError
from offload.point import Point

__all__ = ["LocalProcessor", "SLICE"]

SLICE = 256  # points per engine call: ~7 ms of a nginx script, the longest the loop stalls

log = logging.getLogger("offload.agent.local")


class LocalProcessor:
    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self._store = None
        self._writer = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.observe: Callable[[str, list[Point]], None] | None = None  # sees every result batch
        self._buckets = None  # agg_create buckets of the local scripts (receiver/pipeline/aggbuckets.py)

    async def _ensure(self):
        async with self._lock:
            if self._writer is None:
                from offload.dataway import DatawayWriter

                writer = DatawayWriter(self.cfg.dataway_config())
                await writer.start()
                self._writer = writer
            if self._store is None:
                from receiver.pipeline import ScriptStore

                self._store = ScriptStore(self.cfg.scripts_dir)
        return self._store, self._writer

    async def start(self) -> None:
        """Open the writer now (the daemon does, so Dataway problems show at startup)."""
        await self._ensure()

    async def process(self, category: str, points: Sequence[Point], script: str | None = None) -> int:
        """Run `script` (None: each point's own script) over `points` and write the results; returns points written.

        Waits (retrying) while the writer is full; raises PermanentError when the write can never succeed.
        """
        store, writer = await self._ensure()
        from receiver.pipeline import run_batch

        out: list[Point] = []
        side: dict[str, list[Point]] = {}  # create_point points of other categories
        errors, samples = 0, []
        points = list(points)
        for i in range(0, len(points), SLICE):
            if i:
                await asyncio.sleep(0)  # let the sender tasks and the HTTP API run
            result = run_batch(store, category, points[i:i + SLICE], script)
            out.extend(_points_of(result))
            for cat, pts in getattr(result, "side", {}).items():
                side.setdefault(cat, []).extend(pts)
            if getattr(result, "agg", None):
                if self._buckets is None:
                    from receiver.pipeline.aggbuckets import AggBuckets

                    self._buckets = AggBuckets()
                for bucket, pts in self._buckets.apply(result.agg, None):
                    side.setdefault(bucket.category, []).extend(pts)
        if self._buckets is not None:  # no timer here: buckets whose interval ended emit with the next batch
            for bucket, pts in self._buckets.due():
                side.setdefault(bucket.category, []).extend(pts)
            errors += getattr(result, "errors", 0)
            samples.extend(getattr(result, "error_samples", [])[:3 - len(samples)])
        if errors:
            log.warning("%d of %d %s points failed their script: %s", errors, len(points), script or category,
                        "; ".join(samples))
        if self.observe is not None and out:
            self.observe(category, out)
        delay = 0.05
        while True:
            try:
                for cat, pts in side.items():  # first, so a retry after a full WAL resends them too
                    await writer.write(cat, pts)
                side = {}
                await writer.write(category, out)
                return len(out)
            except RetryableError as exc:  # WAL full or failing: push back on the input, do not drop
                if self._closed:
                    raise
                log.warning("local results wait for the Dataway writer: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            try:
                if self._buckets is not None:  # what the buckets hold, as DataKit does when it stops
                    for bucket, pts in self._buckets.flush_all():
                        await self._writer.write(bucket.category, pts)
                await self._writer.flush()
            finally:
                await self._writer.close()
            self._writer = None


def _points_of(results) -> list[Point]:
    """Accept what run_batch returns: points, or an object carrying `.points`."""
    if isinstance(results, list):
        return [p for p in results if isinstance(p, Point)]
    points = getattr(results, "points", None)
    if points is not None:
        return list(points)
    return list(results)
