"""`WorkerPool`: script-running worker processes, fed from the daemon's event loop.

One process per core by default, started with forkserver (or spawn: never a
plain fork of a process that runs gRPC threads). Each worker has its own
socketpair; a job is one frame in and its result one frame out (jobs.py), so a
batch crosses the boundary in one piece.

Scheduling: jobs wait in one FIFO; a worker holds at most `depth` jobs (2 by
default) so it always has the next batch at hand while the daemon reads the
previous result. The FIFO's length is bounded by the daemon's admission control
(`receiver.pool.admission`), not here.

Failure handling: a worker that dies (crash, kill -9, OOM) is seen as end of
stream on its socket. Its in-flight jobs go back to the front of the FIFO, in
order, and a new worker takes its place. Nothing a dead worker did is visible:
results are written to the Dataway writer by the daemon only after a whole
result frame arrived, so no batch is lost or half-written. The job that was
running when the worker died is the suspect: after `max_attempts - 1` deaths it
runs once more in passthrough mode (decoded and checked, no script) so a poison
line cannot loop forever, and if even that dies the batch fails (BatchFailed).
A watchdog kills a worker whose current job has run longer than
`batch_timeout` seconds (a script stuck on a pathological line), with the same
consequences.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import multiprocessing
import socket
import time
from dataclasses import dataclass, field

from receiver import metrics
from receiver.errors import BatchFailed, PoolError, ShuttingDown
from receiver.pool.jobs import FRAME_HEADER, Job, JobResult, dumps, loads
from receiver.pool.worker import worker_main

__all__ = ["WorkerPool"]

log = logging.getLogger("receiver.pool")

_PRELOAD = ["receiver.pool.worker", "receiver.pool.batch", "receiver.pipeline", "offload.codec",
            "offload.dataway.body"]
_STREAM_LIMIT = 16 << 20


@dataclass(eq=False)
class _Entry:
    job_id: int
    job: Job
    future: asyncio.Future
    attempts: int = 1  # the attempt this entry is on (1-based)


@dataclass(eq=False)
class _Slot:
    index: int
    proc: multiprocessing.process.BaseProcess | None = None
    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task | None = None
    inflight: collections.OrderedDict = field(default_factory=collections.OrderedDict)
    ready: bool = False
    head_since: float = 0.0
    kill_reason: str = ""
    pid: int = 0


class WorkerPool:
    """Run `Job`s on worker processes; `await run(job)` returns the worker's `JobResult`."""

    def __init__(self, count: int, scripts_dir: str, budget_ms: int = 100, *, depth: int = 2,
                 batch_timeout: float = 60.0, max_attempts: int = 3, start_method: str = "forkserver",
                 start_timeout: float = 120.0) -> None:
        if count < 1:
            raise ValueError("a pool needs at least one worker")
        self.count = count
        self.scripts_dir = str(scripts_dir)
        self.budget_ms = budget_ms
        self.depth = depth
        self.batch_timeout = batch_timeout
        self.max_attempts = max_attempts
        self.start_timeout = start_timeout
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._slots = [_Slot(i) for i in range(count)]
        self._pending: collections.deque[_Entry] = collections.deque()
        self._ids = itertools.count(1)
        self._closing = False  # no new jobs; queued and in-flight ones still finish (workers restart)
        self._stopped = False  # workers are being stopped: no more restarts
        self._tasks: set[asyncio.Task] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    # -- observation -----------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._pending)

    @property
    def busy(self) -> int:
        """Jobs handed to a worker and not answered yet."""
        return sum(len(s.inflight) for s in self._slots)

    @property
    def alive(self) -> int:
        return sum(1 for s in self._slots if s.ready)

    def worker_pids(self) -> list[int]:
        return [s.pid for s in self._slots if s.ready]

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start every worker and wait until each has built its script store."""
        try:
            await asyncio.gather(*(self._spawn(slot) for slot in self._slots))
        except BaseException:
            await self.close(timeout=1.0)
            raise
        self._keep(asyncio.create_task(self._watchdog(), name="pool-watchdog"))

    async def close(self, timeout: float = 10.0) -> None:
        """Finish queued and in-flight jobs (up to `timeout`), then stop the workers."""
        self._closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("pool: %d jobs still running after %.1fs; stopping workers", self.queued + self.busy, timeout)
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        for slot in self._slots:
            # Forget the writer first: the reader then takes the end of stream as a stop, not a death.
            slot.ready = False
            writer, slot.writer = slot.writer, None
            if writer is not None:
                writer.close()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, self._reap, slot.proc, 3.0)
                               for slot in self._slots if slot.proc is not None))
        for slot in self._slots:
            if slot.reader_task is not None:
                slot.reader_task.cancel()
        leftovers = list(self._pending) + [e for s in self._slots for e in s.inflight.values()]
        self._pending.clear()
        for slot in self._slots:
            slot.inflight.clear()
        for entry in leftovers:
            if not entry.future.done():
                entry.future.set_exception(ShuttingDown("the worker pool is closed"))

    def reload(self) -> None:
        """Ask every worker to reload its scripts (SIGHUP)."""
        frame = dumps(("reload",))
        for slot in self._slots:
            if slot.ready and slot.writer is not None:
                slot.writer.write(FRAME_HEADER.pack(len(frame)) + frame)

    # -- work ------------------------------------------------------------------------------------------
    async def run(self, job: Job) -> JobResult:
        """Process one job on some worker; BatchFailed if it keeps killing workers."""
        if self._closing:
            raise ShuttingDown("the worker pool is closing")
        entry = _Entry(next(self._ids), job, asyncio.get_running_loop().create_future())
        self._pending.append(entry)
        self._idle.clear()
        self._dispatch()
        try:
            return await entry.future
        finally:
            if not entry.future.done():
                # The caller went away: forget the job if no worker has it yet.
                try:
                    self._pending.remove(entry)
                except ValueError:
                    pass
                entry.future.cancel()
            self._check_idle()

    def _dispatch(self) -> None:
        while self._pending:
            ready = [s for s in self._slots if s.ready and len(s.inflight) < self.depth]
            if not ready:
                return
            slot = min(ready, key=lambda s: len(s.inflight))
            entry = self._pending.popleft()
            if entry.future.done():
                continue
            if not slot.inflight:
                slot.head_since = time.monotonic()
            slot.inflight[entry.job_id] = entry
            frame = dumps(("job", entry.job_id, entry.job.to_tuple()))
            assert slot.writer is not None
            slot.writer.writelines((FRAME_HEADER.pack(len(frame)), frame))  # one send, not two

    def _check_idle(self) -> None:
        if not self._pending and not any(s.inflight for s in self._slots):
            self._idle.set()

    def _complete(self, slot: _Slot, job_id: int, result_tuple: tuple) -> None:
        entry = slot.inflight.pop(job_id, None)
        slot.head_since = time.monotonic()
        if entry is not None and not entry.future.done():
            result = JobResult.from_tuple(result_tuple)
            result.attempts = entry.attempts
            entry.future.set_result(result)
        self._dispatch()
        self._check_idle()

    # -- worker processes --------------------------------------------------------------------------------
    async def _spawn(self, slot: _Slot) -> None:
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair()
        proc = self._ctx.Process(target=worker_main, args=(child, self.scripts_dir, self.budget_ms),
                                 name=f"offload-worker-{slot.index}", daemon=True)
        try:
            await loop.run_in_executor(None, proc.start)
        finally:
            child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=_STREAM_LIMIT)
        try:
            hello = loads(await asyncio.wait_for(_read_frame(reader), self.start_timeout))
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            await loop.run_in_executor(None, self._reap, proc, 1.0)
            raise PoolError(f"worker {slot.index} did not start (exit code {proc.exitcode}): {exc!r}") from None
        slot.proc, slot.writer, slot.pid = proc, writer, hello[1]
        slot.kill_reason = ""
        slot.ready = True
        slot.reader_task = asyncio.create_task(self._read_loop(slot, reader, writer), name=f"worker-{slot.index}")
        log.info("worker %d started (pid %d)", slot.index, slot.pid)
        self._dispatch()

    async def _read_loop(self, slot: _Slot, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                msg = loads(await _read_frame(reader))
                if msg[0] == "result":
                    self._complete(slot, msg[1], msg[2])
        except (asyncio.IncompleteReadError, ConnectionError, EOFError, OSError):
            pass
        except asyncio.CancelledError:
            return
        if slot.writer is writer:
            self._on_death(slot)

    def _on_death(self, slot: _Slot) -> None:
        reason = slot.kill_reason or "crash"
        slot.ready = False
        proc, pid = slot.proc, slot.pid
        if slot.writer is not None:
            slot.writer.close()
        slot.writer = None
        entries = list(slot.inflight.values())
        slot.inflight.clear()
        if self._stopped or (self._closing and not entries and not self._pending):
            for entry in entries:
                if not entry.future.done():
                    entry.future.set_exception(ShuttingDown("the worker pool is closed"))
            self._check_idle()
            return
        log.warning("worker %d (pid %d) died (%s) with %d batches in flight; restarting",
                    slot.index, pid, reason, len(entries))
        metrics.WORKER_RESTARTS.labels(reason).inc()
        requeue = []
        for i, entry in enumerate(entries):
            if entry.future.done():
                continue
            if i == 0:  # the job the worker was running is the suspect
                entry.attempts += 1
                if entry.attempts > self.max_attempts:
                    entry.future.set_exception(BatchFailed(
                        f"batch killed its worker {self.max_attempts} times (last: {reason})"))
                    continue
                if entry.attempts == self.max_attempts:
                    entry.job.passthrough = True
            metrics.BATCH_RETRIES.inc()
            requeue.append(entry)
        self._pending.extendleft(reversed(requeue))
        self._keep(asyncio.create_task(self._restart(slot, proc), name=f"restart-{slot.index}"))
        self._check_idle()

    async def _restart(self, slot: _Slot, old) -> None:
        loop = asyncio.get_running_loop()
        if old is not None:
            await loop.run_in_executor(None, self._reap, old, 2.0)
        delay = 0.1
        while not self._stopped:
            try:
                await self._spawn(slot)
                return
            except (PoolError, OSError) as exc:
                log.error("restarting worker %d failed: %s; retrying in %.1fs", slot.index, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(0.25, self.batch_timeout / 4))
            now = time.monotonic()
            for slot in self._slots:
                if slot.ready and slot.inflight and now - slot.head_since > self.batch_timeout and slot.proc:
                    log.error("worker %d (pid %d) ran one batch for over %.1fs: killing it",
                              slot.index, slot.pid, self.batch_timeout)
                    slot.kill_reason = "timeout"
                    slot.proc.kill()
                    slot.head_since = now  # kill once

    @staticmethod
    def _reap(proc, timeout: float) -> None:
        proc.join(timeout)
        if proc.exitcode is None:
            proc.kill()
            proc.join(timeout)

    def _keep(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = FRAME_HEADER.unpack(await reader.readexactly(FRAME_HEADER.size))
    return await reader.readexactly(size) if size else b""
