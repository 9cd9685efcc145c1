"""The router: each batch of logging points goes to the sender or to local processing.

    lines from an input (file, stdin) ----+                      +--> Sender (offloaded scripts, hop 1)
                                          +--> script offloaded? |
    points from the HTTP write API -------+                      +--> LocalProcessor -> Dataway

A point's script is its input's `pipeline`, else its `source`; for pushed points,
the measurement name. `AgentConfig.offloads(script)` decides. A batch that has
already been offloaded (hop >= 1: our HTTP transports send `X-Offload-Hop`, and
anything posted to `/v1/write/ploffload/...` is offloaded by definition) is
always processed here and never offloaded again, so two agents pointing at each
other cannot bounce a batch. Non-logging categories are never offloaded.

`lines()` waits for room (inputs that can stop reading); `points()` does not: it
answers False when the sender's queue is full, and the HTTP API turns that into 429.
"""

from __future__ import annotations

import logging
from typing import Callable

from offload.agent.config import AgentConfig
from offload.agent.local import LocalProcessor
from offload.agent.metrics import AgentMetrics
from offload.agent.tailer import text_lines
from offload.errors import PermanentError
from offload.point import Point
from offload.sender import Batch, Sender

__all__ = ["Router"]

log = logging.getLogger("offload.agent.router")


class Router:
    def __init__(self, cfg: AgentConfig, sender: Sender | None, local: LocalProcessor,
                 metrics: AgentMetrics | None = None,
                 observe: Callable[[str, list[Point]], None] | None = None) -> None:
        self.cfg = cfg
        self.sender = sender
        self.local = local
        # The aggregate rules engine's feed. It sees each point once: pushed points that are
        # offloaded as they were pushed, everything processed here as its script left it.
        # Tailed lines that are offloaded are never points on this host, so it never sees them.
        self.observe = observe
        if observe is not None:
            local.observe = observe
        self.metrics = metrics or AgentMetrics()
        self.batch_size = sender.batch_size if sender else cfg.sender.resolved_batch_size(cfg.offload)

    def offloads(self, script: str, hop: int = 0) -> bool:
        return self.sender is not None and hop == 0 and self.cfg.offloads(script)

    def emitter(self, source: str, pipeline: str = "", input_name: str = "", spillable: bool = False):
        """An `emit(lines, read_time, batch_id, on_done)` callable bound to one input.

        `spillable`: the input cannot re-read its lines (stdin), so its batches may spill to disk.
        """
        counter = self.metrics.lines_read.labels(input_name or f"file:{source}")

        async def emit(lines: list, read_time: int, batch_id: bytes, on_done: Callable[[bool], None]) -> None:
            counter.inc(len(lines))
            await self.lines(source, pipeline, lines, read_time, batch_id, on_done, spillable)

        return emit

    async def lines(self, source: str, pipeline: str, lines: list, read_time: int, batch_id: bytes,
                    on_done: Callable[[bool], None], spillable: bool = False) -> None:
        """Route raw lines of one input; `on_done(ok)` fires once they are acked or written."""
        script = pipeline or source
        if self.offloads(script):
            batch = Batch(source=source, pipeline=pipeline if pipeline != source else "", lines=lines,
                          times=[read_time] * len(lines), batch_id=batch_id, hop=1, token=self.cfg.sender.token,
                          on_done=lambda b, ok: on_done(ok), spillable=spillable)
            self.metrics.routed.labels("offload").inc(len(lines))
            await self.sender.submit(batch)
            return
        points = [Point(source, {}, {"message": line}, read_time) for line in text_lines(lines)]
        ok = await self._local("logging", points, script)
        on_done(ok)

    async def points(self, category: str, points: list[Point], hop: int = 0) -> bool:
        """Route pushed points; False means "no room now" (HTTP 429). Local work is done before returning."""
        if category != "logging" or self.sender is None or hop > 0:
            await self._local_or_raise(category, points, None)
            return True
        groups: dict[str, list[Point]] = {}
        for p in points:
            groups.setdefault(p.name, []).append(p)
        remote = {name: pts for name, pts in groups.items() if self.offloads(name)}
        batches = [Batch(source=name, points=pts[i:i + self.batch_size], hop=1, token=self.cfg.sender.token,
                         spillable=True)
                   for name, pts in remote.items() for i in range(0, len(pts), self.batch_size)]
        if batches and not self.sender.has_room(len(batches)):
            return False
        for batch in batches:
            if not await self.sender.offer(batch):
                return False
            self.metrics.routed.labels("offload").inc(batch.count)
            if self.observe is not None:
                self.observe(category, batch.points)
        local = [p for name, pts in groups.items() if name not in remote for p in pts]
        if local:
            await self._local_or_raise(category, local, None)
        return True

    async def _local_or_raise(self, category: str, points: list[Point], script: str | None) -> None:
        self.metrics.routed.labels("local").inc(len(points))
        await self.local.process(category, points, script)

    async def _local(self, category: str, points: list[Point], script: str | None) -> bool:
        self.metrics.routed.labels("local").inc(len(points))
        try:
            await self.local.process(category, points, script)
            return True
        except Exception as exc:  # a stuck input is worse: count the lines, log, and move on
            self.metrics.local_failed.inc(len(points))
            log.error("local processing of %d %s points failed: %s", len(points), script or category, exc,
                      exc_info=not isinstance(exc, PermanentError))
            return False
