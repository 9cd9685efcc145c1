"""The writer's durable queue: an fsynced, append-only disk queue per endpoint (the WAL).

(memqueue.py is the in-memory variant for wal_dir = None; commit.py the shared fsync.)

Disk layout (`wal_dir/<endpoint key>/`):

    0000000000000001.seg ...   append-only segment files of framed records (record.py)
    ack                        the acknowledged position (segment, offset) + crc32, rewritten in place

Appends go to the newest segment, opened fresh by every start (so a torn tail left
by a crash stays in an old segment, where the reader detects it by magic/CRC and
skips the rest of that segment). A segment is rotated once it passes
`segment_bytes` and deleted once every record in it was acknowledged.

Readers see only fsynced data (`GroupCommit` moves each queue's committed position
after the fsync), take records in order and acknowledge them out of order (several
requests in flight per endpoint); the acknowledged position is the start of the
oldest unfinished record, persisted (pwrite, no fsync) on every advance. Delivery
is at least once. The resend bound: after a process crash, at most `window`
bodies per endpoint are sent again (the unfinished ones and those finished after
the oldest unfinished one; `window` = 4 x workers, see `Window`); after a power
loss also those whose ack update had not reached the disk (the ack file is
fsynced on close), at worst every body still in a segment file.

The budget (wal_max_bytes) counts undelivered bytes across all queues of a writer;
disk usage can exceed it by about one segment per endpoint (delivered records in
segments not yet deleted).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from offload.dataway.errors import WalError, WriterClosed
from offload.dataway.record import Corrupt, Record, read_frame

__all__ = ["Budget", "DiskQueue", "SyncJob", "WalLock", "Window", "fail_waiters", "segment_bytes_for"]

log = logging.getLogger("offload.dataway")

_ACK = struct.Struct("<QQI")
_SEG = ".seg"
Position = tuple[int, int]


def segment_bytes_for(wal_max_bytes: int) -> int:
    """Segments of 1/8 of the budget, between 64 KiB and 64 MiB."""
    return min(64 << 20, max(64 << 10, wal_max_bytes // 8))


class Budget:
    """Undelivered bytes across a writer's queues, against `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def fits(self, n: int) -> bool:
        return self.used + n <= self.limit


class WalLock:
    """An exclusive flock on `wal_dir/LOCK`: two writers on one WAL would corrupt it."""

    def __init__(self, wal_dir: Path) -> None:
        wal_dir.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(wal_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            raise WalError(f"{wal_dir} is in use by another Dataway writer") from exc

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


@dataclass(slots=True)
class SyncJob:
    queue: "DiskQueue"
    fds: list[int]  # to fdatasync
    closing: list[int]  # rotated segment fds: close after the sync
    dir_dirty: bool
    pos: Position


class Window:
    """Records handed to senders whose slots are not yet behind the ack position, in read order.

    The ack position cannot pass the oldest unfinished record, so everything read after
    it is sent again after a crash. The window bounds that (and the bytes held in the
    budget) to `limit` records: the reader waits when it is full, and the record at its
    front is `blocking` - its sender then requeues it (a fresh copy at the tail) instead
    of retrying in place, so one body that keeps failing cannot stall the endpoint.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict = {}  # ticket -> finished?
        self._room = asyncio.Event()

    @property
    def full(self) -> bool:
        return len(self._items) >= self.limit

    async def wait_for_room(self) -> None:
        self._room.clear()
        await self._room.wait()

    def add(self, ticket) -> None:
        self._items[ticket] = False

    def done(self, ticket) -> None:
        self._items[ticket] = True
        while self._items and next(iter(self._items.values())):  # drop the finished front
            del self._items[next(iter(self._items))]
        if not self.full:
            self._room.set()

    def oldest(self):
        """The oldest unfinished ticket, or None."""
        return next(iter(self._items), None)

    def blocking(self, ticket) -> bool:
        return self.full and next(iter(self._items), None) == ticket


class DiskQueue:
    """One endpoint's durable queue in its own directory (see the module docstring)."""

    durable = True
    requeued = 0  # copies appended by the writer for bodies that kept failing (flush waits for them)

    def __init__(self, path: Path, budget: Budget, segment_bytes: int, window: int) -> None:
        self.path = path
        self._budget = budget
        self._segment_bytes = segment_bytes
        self._sizes: dict[int, int] = {}  # live segment id -> bytes, ascending ids
        self._write_seg = 0
        self._first_own_seg = 1 << 62  # segments from here on were appended by this process
        self._write_fd = -1
        self._unsynced: list[int] = []
        self._dir_dirty = False
        self._committed: Position = (0, 0)
        self._cursor: Position = (0, 0)
        self._read_seg = -1
        self._read_fd = -1
        self._window = Window(window)
        self._acked: Position = (0, 0)
        self._ack_fd = -1
        self._waiters: list[tuple[Position, asyncio.Future]] = []
        self._data = asyncio.Event()
        self._read_lock = asyncio.Lock()
        self._read_task: asyncio.Future | None = None
        self.corrupt_bytes = 0

    # -- opening (blocking; run in a thread) --------------------------------------------------
    def open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        ids = sorted(int(p.name[: -len(_SEG)]) for p in self.path.iterdir()
                     if p.name.endswith(_SEG) and p.name[: -len(_SEG)].isdigit())
        ack = self._read_ack()
        if ack is not None:
            for sid in [i for i in ids if i < ack[0]]:
                os.unlink(self._seg_path(sid))
            ids = [i for i in ids if i >= ack[0]]
        for sid in ids:
            self._sizes[sid] = os.path.getsize(self._seg_path(sid))
        if ack is not None and ids and ids[0] == ack[0]:
            self._cursor = (ack[0], min(ack[1], self._sizes[ack[0]]))
        elif ids:
            self._cursor = (ids[0], 0)
        self._write_seg = max(ids + [ack[0] if ack else 0]) + 1
        self._first_own_seg = self._write_seg
        self._write_fd = self._create_segment(self._write_seg)
        if not ids:
            self._cursor = (self._write_seg, 0)
        self._committed = (self._write_seg, 0)  # every older segment is complete as far as it goes
        self._acked = self._cursor
        self._ack_fd = os.open(self.path / "ack", os.O_RDWR | os.O_CREAT, 0o644)
        self._persist_ack()
        self._budget.used += self.backlog_bytes

    def _seg_path(self, sid: int) -> Path:
        return self.path / f"{sid:016d}{_SEG}"

    def _create_segment(self, sid: int) -> int:
        fd = os.open(self._seg_path(sid), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._sizes[sid] = 0
        self._dir_dirty = True
        return fd

    def _read_ack(self) -> Position | None:
        try:
            raw = (self.path / "ack").read_bytes()[: _ACK.size]
        except FileNotFoundError:
            return None
        if len(raw) == _ACK.size:
            seg, off, crc = _ACK.unpack(raw)
            if zlib.crc32(raw[:16]) == crc:
                return seg, off
        log.warning("dataway WAL %s: unreadable ack file; replaying every segment still on disk", self.path)
        return None

    def _persist_ack(self) -> None:
        head = struct.pack("<QQ", *self._acked)
        os.pwrite(self._ack_fd, head + struct.pack("<I", zlib.crc32(head)), 0)

    # -- sizes ----------------------------------------------------------------------------------
    @property
    def disk_bytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def backlog_bytes(self) -> int:
        """Bytes from the acknowledged position to the end of the log."""
        return self._distance(self._acked, (self._write_seg, self._sizes.get(self._write_seg, 0)))

    def _distance(self, a: Position, b: Position) -> int:
        if a[0] == b[0]:
            return max(0, b[1] - a[1])
        total = b[1]
        for sid, size in self._sizes.items():
            if sid == a[0]:
                total += max(0, size - a[1])
            elif a[0] < sid < b[0]:
                total += size
        return total

    def position(self) -> Position:
        """The end of everything appended so far (flush waits until the ack reaches it)."""
        return (self._write_seg, self._sizes[self._write_seg])

    # -- appending (loop thread) ------------------------------------------------------------------
    def append(self, frame: bytes) -> None:
        """Append one framed record; durable only after the next GroupCommit."""
        end = self._sizes[self._write_seg]
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._write_fd, view):]
        except OSError:
            try:  # keep the segment free of a half record so later appends stay readable
                os.ftruncate(self._write_fd, end)
            except OSError:
                self._rotate()
            raise
        self._sizes[self._write_seg] = end + len(frame)
        self._budget.used += len(frame)
        if end + len(frame) >= self._segment_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._unsynced.append(self._write_fd)
        self._write_seg += 1
        self._write_fd = self._create_segment(self._write_seg)

    def seal(self) -> SyncJob:
        """What the next fsync must cover for this queue."""
        closing, self._unsynced = self._unsynced, []
        job = SyncJob(self, closing + [self._write_fd], closing, self._dir_dirty, self.position())
        self._dir_dirty = False
        return job

    def committed(self, pos: Position) -> None:
        if pos > self._committed:
            self._committed = pos
            self._data.set()

    # -- reading and acknowledging (loop thread) -----------------------------------------------------
    def _readable_end(self, sid: int) -> int:
        if sid < self._committed[0]:
            return self._sizes.get(sid, 0)
        return self._committed[1] if sid == self._committed[0] else 0

    async def get(self) -> tuple[Record, Position]:
        """The next record in order (waits for committed data) and the ticket to ack it with."""
        async with self._read_lock:
            while True:
                if self._window.full:
                    await self._window.wait_for_room()
                    continue
                sid, off = self._cursor
                end = self._readable_end(sid)
                if off >= end:
                    if sid < self._committed[0]:  # a complete segment: move on to the next one
                        self._cursor = (min(s for s in self._sizes if s > sid), 0)
                        self._advance_ack()
                        continue
                    self._data.clear()
                    await self._data.wait()
                    continue
                if self._read_seg != sid:
                    self._close_reader()
                    self._read_fd = os.open(self._seg_path(sid), os.O_RDONLY)
                    self._read_seg = sid
                try:
                    if sid >= self._first_own_seg:
                        # Appended by this process moments ago: in the page cache, a read is a copy,
                        # cheaper on the loop than a thread hop.
                        rec, nxt = read_frame(self._read_fd, off, end)
                    else:
                        # Replay of an older run's segment may touch the disk. Shielded: if the reader
                        # is cancelled (close), the read still finishes before aclose() closes the
                        # descriptor the thread is reading from.
                        self._read_task = asyncio.ensure_future(
                            asyncio.to_thread(read_frame, self._read_fd, off, end))
                        rec, nxt = await asyncio.shield(self._read_task)
                except Corrupt as exc:
                    log.warning("dataway WAL %s: segment %d offset %d: %s; skipping %d bytes",
                                self.path, sid, off, exc, end - off)
                    self.corrupt_bytes += end - off
                    self._cursor = (sid, end)
                    self._advance_ack()
                    continue
                self._cursor = (sid, nxt)
                self._window.add((sid, off))
                return rec, (sid, off)

    def ack(self, ticket: Position) -> None:
        """The record read at `ticket` is done with (delivered, dropped or requeued)."""
        self._window.done(ticket)
        self._advance_ack()

    def blocking(self, ticket: Position) -> bool:
        """True when the record at `ticket` holds up the window (see `Window`)."""
        return self._window.blocking(ticket)

    def _advance_ack(self) -> None:
        oldest = self._window.oldest()
        new = oldest if oldest is not None else self._cursor
        if new <= self._acked:
            return
        self._budget.used -= self._distance(self._acked, new)
        self._acked = new
        self._persist_ack()
        for sid in [s for s in self._sizes if s < new[0]]:
            if sid == self._read_seg:
                self._close_reader()
            os.unlink(self._seg_path(sid))
            del self._sizes[sid]
        still = []
        for pos, fut in self._waiters:
            if pos <= new:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((pos, fut))
        self._waiters = still

    async def wait_acked(self, pos: Position) -> None:
        if self._acked >= pos:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((pos, fut))
        await fut

    def _close_reader(self) -> None:
        if self._read_fd >= 0:
            os.close(self._read_fd)
        self._read_fd, self._read_seg = -1, -1

    async def aclose(self) -> None:
        """Wait for a read in progress, then close (fsyncs run in a thread)."""
        fail_waiters(self._waiters)
        if self._read_task is not None:
            await asyncio.wait([self._read_task])
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Release files; the ack file is fsynced so a restart resumes where delivery stopped."""
        self._close_reader()
        for fd in self._unsynced + [self._write_fd]:
            if fd >= 0:
                os.fsync(fd)
                os.close(fd)
        self._unsynced, self._write_fd = [], -1
        if self._ack_fd >= 0:
            self._persist_ack()
            os.fsync(self._ack_fd)
            os.close(self._ack_fd)
            self._ack_fd = -1

    def remove_if_empty(self) -> bool:
        """Delete the directory of a drained queue (an endpoint no longer configured)."""
        if self.backlog_bytes:
            return False
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)
        return True


def fail_waiters(waiters: list) -> None:
    # A flush() waiting on a closing queue learns that its bodies stay undelivered.
    for _, fut in waiters:
        if not fut.done():
            fut.set_exception(WriterClosed("the Dataway writer was closed before delivery"))
    waiters.clear()
