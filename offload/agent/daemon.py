"""`offload-agent run`: the host agent daemon and its lifecycle.

`Agent` owns every part: position store, local processor (engine + Dataway
writer), sender (when `[pipeline.offload]` is set), router, inputs (file
tailers, stdin) and the HTTP listener.

    startup:  positions -> local writer -> sender (prober, tasks) -> HTTP listener -> inputs
    running:  positions saved (atomically) at most every 0.2 s while acks move them
    shutdown (SIGTERM/SIGINT; a second signal exits at once):
              stop the HTTP listener -> stop the inputs -> drain the sender (bounded)
              -> save positions -> flush and close the Dataway writer

A batch still unacknowledged at shutdown is not lost: a tailed file's position
stays before it (re-read at the next start, same batch id), a spillable one is
written to the spill directory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from prometheus_client import CollectorRegistry

from offload.agent.config import AgentConfig, load_config
from offload.agent.httpapi import HttpServer, build_app
from offload.agent.local import LocalProcessor
from offload.agent.logs import setup_logging
from offload.agent.metrics import AgentMetrics
from offload.agent.positions import PositionStore
from offload.agent.router import Router
from offload.agent.stdin import StdinReader
from offload.agent.tailer import FileTailer
from offload.errors import ConfigError
from offload.sender import Sender, SenderMetrics

__all__ = ["Agent", "run_command"]

log = logging.getLogger("offload.agent")

SAVE_INTERVAL = 0.2
DRAIN_TIMEOUT = 10.0


class Agent:
    def __init__(self, cfg: AgentConfig, *, stdin_fd: int | None = None) -> None:
        self.cfg = cfg
        self.registry = CollectorRegistry()
        self.metrics = AgentMetrics(self.registry)
        self.sender = (Sender(cfg.offload, cfg.sender, metrics=SenderMetrics(self.registry))
                       if cfg.offload.enabled else None)
        self.local = LocalProcessor(cfg)
        self.router = Router(cfg, self.sender, self.local, self.metrics)
        self.positions = PositionStore(cfg.positions_path)
        self.tailers = [
            FileTailer(list(inp.paths), self.router.emitter(inp.source, inp.pipeline, f"file:{inp.source}"),
                       self.positions, self.router.batch_size, from_beginning=inp.from_beginning,
                       name=f"file:{inp.source}", raw=self.router.offloads(inp.script))
            for inp in cfg.files
        ]
        self.stdin = None
        if cfg.stdin is not None:
            self.stdin = StdinReader(self.router.emitter(cfg.stdin.source, cfg.stdin.pipeline, "stdin",
                                                         spillable=True),
                                     self.router.batch_size, fd=0 if stdin_fd is None else stdin_fd,
                                     raw=self.router.offloads(cfg.stdin.script))
        self.http: HttpServer | None = None
        self._input_stop = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._aggregate_stop = asyncio.Event()
        self._aggregate_task: asyncio.Task | None = None

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_crash)
        return task

    async def _start_aggregator(self) -> None:
        """Build the aggregate rules engine and client from [aggregator] and start their pump."""
        from offload.aggregate.agent_hook import build_from_config, intervals, pump

        table = self.cfg.aggregator
        engine, client = build_from_config(table, base_dir=self.cfg.base_dir)
        self.router.observe = self.local.observe = engine.feed
        self._aggregate_task = self._spawn(pump(engine, client, self._aggregate_stop, *intervals(table)), "aggregate")

    async def startup(self) -> None:
        if self.cfg.aggregator is not None:
            await self._start_aggregator()
        local_needed = not self.cfg.offload.enabled or not self.cfg.offload_all
        if local_needed:
            await self.local.start()
        if self.sender is not None:
            await self.sender.start()
        if self.cfg.http_listen:
            self.http = HttpServer(build_app(self.router, self.registry), self.cfg.http_listen)
            await self.http.start()
        for tailer in self.tailers:
            self._spawn(tailer.run(self._input_stop), tailer.name)
        if self.stdin is not None:
            self._spawn(self.stdin.run(), "stdin")
        self._saver = self._spawn(self._save_positions(), "positions")
        where = f"http {self.http.address[0]}:{self.http.address[1]}" if self.http else "no http listener"
        if self.cfg.offload.enabled:
            off = f"offloading to {', '.join(a.url for a in self.cfg.offload.addresses)}"
        else:
            off = "offload disabled"
        log.info("offload-agent ready: %s; %s; %d file input(s)", where, off, len(self.tailers))

    async def _save_positions(self) -> None:
        while True:
            try:
                self.positions.save()
            except OSError as exc:
                log.error("cannot save positions to %s: %s", self.positions.path, exc)
            await asyncio.sleep(SAVE_INTERVAL)

    async def shutdown(self, drain_timeout: float = DRAIN_TIMEOUT) -> None:
        log.info("shutting down")
        if self.http is not None:
            await self.http.stop()
        self._input_stop.set()
        inputs = [t for t in self._tasks if t is not self._saver and t is not self._aggregate_task]
        if inputs:
            _, pending = await asyncio.wait(inputs, timeout=1.0)
            for task in pending:  # blocked on a full queue: their unsent lines stay behind the saved position
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.sender is not None:
            started = time.monotonic()
            unsent = await self.sender.close(drain_timeout)
            log.info("sender closed in %.1fs (%d batches left unsent)", time.monotonic() - started, unsent)
        self._saver.cancel()
        await asyncio.gather(self._saver, return_exceptions=True)
        if self._aggregate_task is not None:  # sends what is pending once more, then closes its client
            self._aggregate_stop.set()
            await asyncio.gather(self._aggregate_task, return_exceptions=True)
        self.positions.save()
        for tailer in self.tailers:
            tailer.close()
        await self.local.close()

    async def run(self, stop: asyncio.Event) -> None:
        await self.startup()
        try:
            await stop.wait()
        finally:
            await self.shutdown()


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s crashed", task.get_name(), exc_info=task.exception())


async def _main(cfg: AgentConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = [0]

    def on_signal(sig: int) -> None:
        signals[0] += 1
        if signals[0] > 1:
            log.warning("second signal: exiting now")
            os._exit(1)
        log.info("signal %s received", signal.Signals(sig).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    agent = Agent(cfg)
    await agent.run(stop)
    return 0


def run_command(args: argparse.Namespace) -> int:
    """`offload-agent run --config FILE`."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.log_level or "info")
    try:
        return asyncio.run(_main(cfg))
    except OSError as exc:  # e.g. the listen address is taken
        print(f"error: {exc}", file=sys.stderr)
        return 1
