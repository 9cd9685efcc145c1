"""`DatawayWriter`: points in, durable queue, delivered to every configured Dataway (wire.md e).

    write(category, points, token, headers)
      -> build bodies (encode, split < max_raw_body_size, gzip; in a worker thread)
         [write_built(category, built, token): bodies already built elsewhere]
      -> file:// URLs: JSON lines appended and flushed
      -> http(s) URLs: one record per (body, endpoint) appended to that endpoint's queue;
         returns after the group fsync that covers it (WriterFull if the WAL is full)
    per endpoint, `workers` tasks: take the oldest record, POST it until 2xx / 4xx / too old,
      acknowledge it; fully acknowledged segments are deleted. A body that keeps failing
      while later ones succeed is requeued (a copy at the tail) once it holds up the
      window of 4 x workers records, so it cannot stall the endpoint.

The writer owns its lifecycle like a small server: start() opens and replays the
WAL, close() stops the senders and leaves whatever was not delivered on disk for
the next start. Delivery is at least once (see wal.py for the resend bound).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping, Sequence

from offload.dataway import metrics
from offload.dataway.body import BuildResult, build_bodies
from offload.dataway.config import DatawayConfig
from offload.dataway.endpoint import WRITE_CATEGORIES, Endpoint, check_token
from offload.dataway.errors import InvalidWrite, WalError, WriterClosed, WriterFull
from offload.dataway.filesink import FileSink
from offload.dataway.record import Record, pack
from offload.dataway.sender import HttpSender, Outcome
from offload.dataway.commit import GroupCommit
from offload.dataway.memqueue import MemoryQueue
from offload.dataway.wal import Budget, DiskQueue, WalLock, segment_bytes_for
from offload.point import Point

__all__ = ["DatawayWriter"]

log = logging.getLogger("offload.dataway")

# Bodies up to this many bytes (in total) are framed for the WAL on the event loop (~0.1 ms per MiB).
_INLINE_FRAMING_BYTES = 1 << 20

_STAT_KEYS = (
    "writes", "points_written", "bodies_queued",
    "bodies_sent", "points_sent", "retries", "bodies_requeued",
    "bodies_dropped_4xx", "points_dropped_4xx",
    "bodies_dropped_expired", "points_dropped_expired",
    "writes_full", "points_dropped_full",
    "points_dropped_oversize", "points_dropped_unencodable",
    "points_written_file",
)


class DatawayWriter:
    """Writes points to Dataway (and/or file sinks) through a durable, bounded queue."""

    def __init__(self, config: DatawayConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        endpoints: dict[str, Endpoint] = {}
        files: dict[str, FileSink] = {}
        for url in config.urls:
            ep = Endpoint.parse(url)
            if ep.is_file:
                files.setdefault(ep.path, FileSink(ep))
            else:
                endpoints.setdefault(ep.key, ep)  # the same URL twice would only duplicate data
        self._endpoints = endpoints
        self._files = list(files.values())
        self._budget = Budget(config.wal_max_bytes)
        self._commit = GroupCommit()
        self._queues: dict[str, DiskQueue | MemoryQueue] = {}
        self._sender: HttpSender | None = None
        self._wal_lock: WalLock | None = None
        self._tasks: set[asyncio.Task] = set()
        self._start_task: asyncio.Future | None = None
        self._closed = False
        self._window = 4 * config.workers  # records per endpoint between ack and read position
        self._counts: Counter[str] = Counter()
        metrics.track_writer(self)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: start() (or the first write) opens the WAL
        self._start_task = asyncio.ensure_future(self._start())
        self._start_task.add_done_callback(_log_start_failure)

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the WAL and start the senders; anything left from a previous run is sent first."""
        if self._closed:
            raise WriterClosed("the Dataway writer is closed")
        if self._start_task is None:
            self._start_task = asyncio.ensure_future(self._start())
        await asyncio.shield(self._start_task)

    async def _start(self) -> None:
        if not self._endpoints:
            return
        if self.config.wal_dir is None:
            for key in self._endpoints:
                self._queues[key] = MemoryQueue(self._budget, self._window)
        else:
            await asyncio.to_thread(self._open_wal, Path(self.config.wal_dir))
        self._sender = HttpSender(self.config, self._clock, self._count_retry)
        for key, queue in self._queues.items():
            for i in range(self.config.workers):
                task = asyncio.create_task(self._worker(queue), name=f"dataway-send-{key}-{i}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _open_wal(self, wal_dir: Path) -> None:
        self._wal_lock = WalLock(wal_dir)
        seg = segment_bytes_for(self.config.wal_max_bytes)
        try:
            for key in self._endpoints:
                queue = DiskQueue(wal_dir / key, self._budget, seg, self._window)
                queue.open()
                self._queues[key] = queue
            # Queues of endpoints no longer configured still hold bodies for their own URLs
            # (each record names it): deliver them too rather than lose them silently.
            for d in sorted(wal_dir.iterdir()):
                if d.is_dir() and d.name not in self._queues:
                    queue = DiskQueue(d, self._budget, seg, self._window)
                    queue.open()
                    if not queue.remove_if_empty():
                        log.warning("dataway WAL: %s belongs to an endpoint no longer configured; "
                                    "delivering its %d bytes to the URLs recorded in it", d, queue.backlog_bytes)
                        self._queues[d.name] = queue
            if self._budget.used:
                log.info("dataway WAL: %d undelivered bytes to replay from %s", self._budget.used, wal_dir)
        except BaseException:
            for queue in self._queues.values():
                if isinstance(queue, DiskQueue):
                    queue.close()
            self._queues.clear()
            self._wal_lock.release()
            raise

    async def close(self) -> None:
        """Stop sending; undelivered bodies stay in the WAL (memory queues: lost) for the next start."""
        if self._closed:
            return
        self._closed = True
        if self._start_task is not None:
            await asyncio.wait([self._start_task])
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._commit.drain()  # after the senders: a requeue may have asked for one more round
        for queue in self._queues.values():
            await queue.aclose()
        if self._wal_lock is not None:
            self._wal_lock.release()
        if self._sender is not None:
            await self._sender.aclose()
        for sink in self._files:
            sink.close()

    async def __aenter__(self) -> "DatawayWriter":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- writing -----------------------------------------------------------------------------------------
    async def write(
        self,
        category: str,
        points: Sequence[Point],
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Queue `points` for every configured URL; returns once they are fsynced in the WAL
        (file sinks: appended). `token` replaces each URL's token. Raises WriterFull when the
        WAL has no room (counted), InvalidWrite for an unknown category or a malformed token."""
        self._check_write(category, token)
        if not isinstance(points, (list, tuple)):
            points = list(points)
        if not points:
            return
        await self.start()
        now = self._clock()
        items = []
        if self._queues:
            items, built = await asyncio.to_thread(self._build, category, points, token, headers, now)
            self._count_skipped(category, built)
        if self._closed:
            raise WriterClosed("the Dataway writer was closed during the write")
        commit = self._enqueue(category, len(points), items)
        if self._files:
            await asyncio.gather(*(sink.write(category, token, points) for sink in self._files))
            self._counts["points_written_file"] += len(points) * len(self._files)
            for _ in self._files:
                metrics.SEND.labels(category, "file").inc()
        if commit is not None:
            await asyncio.shield(commit)
        self._counts["writes"] += 1
        self._counts["points_written"] += len(points)

    async def write_built(self, category: str, built: BuildResult, token: str | None = None) -> None:
        """Like write(), for bodies already built with `build_bodies(points, **writer.body_options())`
        (for example in a worker process, to spread the encoding CPU). Not with file:// URLs,
        which need the points: InvalidWrite then."""
        self._check_write(category, token)
        if self._files:
            raise InvalidWrite("file:// URLs need points, not bodies: use write()")
        await self.start()
        self._count_skipped(category, built)
        if not built.bodies or not self._queues:
            return
        npoints = sum(body.points for body in built.bodies)
        if sum(len(body.payload) for body in built.bodies) <= _INLINE_FRAMING_BYTES:
            # Framing is a CRC and a copy: for a batch's bodies that is cheaper than a thread hop.
            items = self._records(category, built, token, self._clock())
        else:
            items = await asyncio.to_thread(self._records, category, built, token, self._clock())
        if self._closed:
            raise WriterClosed("the Dataway writer was closed during the write")
        commit = self._enqueue(category, npoints, items)
        if commit is not None:
            await asyncio.shield(commit)
        self._counts["writes"] += 1
        self._counts["points_written"] += npoints

    def body_options(self) -> dict:
        """Keyword arguments of `offload.dataway.body.build_bodies` that match this writer."""
        cfg = self.config
        return {"encoding": cfg.content_encoding, "max_raw_body_size": cfg.max_raw_body_size, "gzip": cfg.gzip,
                "gzip_level": cfg.gzip_level}

    def _check_write(self, category: str, token: str | None) -> None:
        if self._closed:
            raise WriterClosed("the Dataway writer is closed")
        if category not in WRITE_CATEGORIES:
            raise InvalidWrite(f"unknown category {category!r} (expected one of {', '.join(sorted(WRITE_CATEGORIES))})")
        if token is not None and (problem := check_token(token)):
            raise InvalidWrite(problem)

    def _count_skipped(self, category: str, built: BuildResult) -> None:
        if built.oversize:
            self._drop(category, "oversize", built.oversize)
        if built.unencodable:
            self._drop(category, "unencodable", built.unencodable)

    def _build(self, category, points, token, headers, now) -> tuple[list, BuildResult]:
        """Worker thread: bodies, then one record (framed, for disk queues) per endpoint."""
        built = build_bodies(points, extra_headers=dict(headers) if headers else None, **self.body_options())
        return self._records(category, built, token, now), built

    def _records(self, category: str, built: BuildResult, token: str | None, now: float) -> list:
        items = []
        for key, ep in self._endpoints.items():
            queue = self._queues[key]
            url = ep.request_url(category, token)
            for body in built.bodies:
                rec = Record(url, category, token if token is not None else ep.token, body.headers,
                             body.points, body.raw_len, now, body.payload)
                items.append((queue, rec, pack(rec) if queue.durable else None))
        return items

    def _enqueue(self, category: str, npoints: int, items: list) -> asyncio.Future | None:
        """Append every record or none (WriterFull); the commit future to await, if any."""
        if not items:
            return None
        need = sum(len(frame) if frame is not None else rec.size for _, rec, frame in items)
        if not self._budget.fits(need):
            self._counts["writes_full"] += 1
            self._drop(category, "full", npoints)
            raise WriterFull(f"Dataway WAL full: {self._budget.used} of {self._budget.limit} bytes undelivered, "
                             f"this write needs {need}")
        dirty = set()
        try:
            for queue, rec, frame in items:
                if frame is None:
                    queue.append_record(rec)
                else:
                    queue.append(frame)
                    dirty.add(queue)
                self._counts["bodies_queued"] += 1
        except OSError as exc:
            # Bodies appended before the failure stay queued (a retried write may duplicate them).
            if dirty:
                self._commit.request(dirty)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self._counts["writes_full"] += 1
                self._drop(category, "full", npoints)
                raise WriterFull(f"Dataway WAL disk full: {exc}") from exc
            raise WalError(f"appending to the Dataway WAL failed: {exc}") from exc
        return self._commit.request(dirty) if dirty else None

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything written so far is delivered or dropped; False on timeout or close()."""
        if self._closed:
            raise WriterClosed("the Dataway writer is closed")
        await self.start()
        try:
            await asyncio.wait_for(asyncio.gather(*map(_drained, self._queues.values())), timeout)
        except (TimeoutError, WriterClosed):
            return False
        return True

    # -- sending -------------------------------------------------------------------------------------------
    async def _worker(self, queue: DiskQueue | MemoryQueue) -> None:
        assert self._sender is not None
        while True:
            rec, ticket = await queue.get()
            try:
                outcome = await self._sender.deliver(rec, lambda: queue.blocking(ticket))
                if outcome == Outcome.REQUEUE:
                    outcome = await self._requeue(queue, rec)
            except asyncio.CancelledError:
                raise  # not acknowledged: the body is sent again after the next start
            except Exception:
                log.exception("dataway: cannot send a %s body to %s; dropped", rec.category, rec.url.split("?")[0])
                outcome = Outcome.REJECTED
            if outcome == Outcome.SENT:
                self._counts["bodies_sent"] += 1
                self._counts["points_sent"] += rec.points
            elif outcome == Outcome.REQUEUE:
                pass  # a copy waits at the tail of the queue
            elif outcome == Outcome.EXPIRED:
                self._counts["bodies_dropped_expired"] += 1
                self._drop(rec.category, "expired", rec.points)
            else:
                self._counts["bodies_dropped_4xx"] += 1
                self._drop(rec.category, "4xx", rec.points)
            queue.ack(ticket)

    async def _requeue(self, queue: DiskQueue | MemoryQueue, rec: Record) -> str:
        """Append a fresh copy of a body that keeps failing (same build time, same X-Pkg-Id),
        so the ack position can move past it; if that is impossible, retry it in place."""
        try:
            if queue.durable:
                queue.append(await asyncio.to_thread(pack, rec))
                await asyncio.shield(self._commit.request({queue}))
            else:
                queue.append_record(rec)
            queue.requeued += 1
        except (OSError, WalError) as exc:
            log.warning("dataway: cannot requeue a %s body (%s); retrying it in place", rec.category, exc)
            return await self._sender.deliver(rec)
        self._counts["bodies_requeued"] += 1
        return Outcome.REQUEUE

    def _count_retry(self, rec: Record) -> None:
        self._counts["retries"] += 1

    def _drop(self, category: str, reason: str, points: int) -> None:
        self._counts[f"points_dropped_{reason}"] += points
        metrics.DROPPED.labels(category, reason).inc(points)

    # -- introspection -----------------------------------------------------------------------------------
    @property
    def wal_bytes(self) -> int:
        """Bytes the queues occupy: segment files on disk, or queued bodies in memory."""
        return sum(q.disk_bytes if q.durable else q.backlog_bytes for q in self._queues.values())

    @property
    def stats(self) -> dict[str, int]:
        """Counters since creation (points per endpoint for sends and 4xx/expired drops) and WAL sizes."""
        out = {key: self._counts[key] for key in _STAT_KEYS}
        out["wal_bytes"] = self.wal_bytes
        out["wal_pending_bytes"] = self._budget.used
        out["wal_corrupt_bytes"] = sum(q.corrupt_bytes for q in self._queues.values())
        out["wal_fsync_rounds"] = self._commit.rounds
        return out


async def _drained(queue: DiskQueue | MemoryQueue) -> None:
    # A body requeued meanwhile moved past the position waited for: wait for its copy too.
    while True:
        requeued = queue.requeued
        await queue.wait_acked(queue.position())
        if queue.requeued == requeued:
            return


def _log_start_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dataway writer failed to start: %s", task.exception())
