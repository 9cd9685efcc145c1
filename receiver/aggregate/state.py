"""The aggregate state log: open windows survive kill -9 and are written exactly once after a restart.

Design. The window cache is memory only; what makes it durable is an append-only log
of what was *accepted*, replayed into an empty cache on start:

* `B` (batch) record per accepted request: token, the effective `now` the late rule
  used, the smallest/largest bucket key it added to, and the (decompressed) body as
  received. It is written before the 200 and covered by a group-commit fsync: every
  request waiting while an fsync runs is covered by the next one.
* `F` (flushed) record after a window's points were handed to the Dataway writer
  (whose own WAL makes them durable): the token and the bucket keys written.
* `W` (watermark) record at the head of every segment: the largest flush `now` and the
  done horizon (every bucket <= it is written or was dropped; pending writes hold it back).

Replay feeds every `B` body again with its recorded `now` (so samples dropped as late
then are dropped again) and skips samples whose (bucket, token) has an `F` marker or
whose bucket is <= the horizon. A window is thus emitted once: before the crash (and
marked) or after the restart. The one gap is a crash between the writer accepting a
window and the `F` fsync: that window is written again (at least once, never lost).

Space: the log is a series of segment files `aggregate-<seq>.wal`; a new segment
starts every `segment_bytes` or `segment_age` seconds, carrying the `W` record and the
`F` markers above the horizon. A closed segment whose largest bucket key is <= the
horizon holds nothing live and is deleted: no copying, no compaction pass.

Record framing: u32 length of (kind + payload), u32 crc32 of the same, kind, payload;
a torn or corrupt tail (crash mid-write) ends replay of that segment and is truncated.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

__all__ = ["StateLog", "Replay"]

log = logging.getLogger(__name__)

_HEAD = struct.Struct("<II")
_B = struct.Struct("<qqqH")
_F = struct.Struct("<qHI")
_W = struct.Struct("<qq")
_KEY = struct.Struct("<q")
PREFIX, SUFFIX = "aggregate-", ".wal"


def _frame(kind: bytes, payload: bytes) -> bytes:
    data = kind + payload
    return _HEAD.pack(len(data), zlib.crc32(data)) + data


@dataclass
class Segment:
    seq: int
    path: Path
    max_key: int = 0
    size: int = 0
    opened: float = field(default_factory=time.monotonic)


@dataclass
class Replay:
    """What a log holds: accepted batches in order, flushed markers, watermark and horizon.

    Bodies are not kept in memory: `batches` locates them and `bodies()` reads them back
    one segment at a time, so replaying a large log needs about one segment of memory.
    """

    batches: list[tuple[str, int, Path, int, int]] = field(default_factory=list)  # token, now, file, start, end
    flushed: set[tuple[int, str]] = field(default_factory=set)
    watermark: int = 0
    horizon: int = 0
    truncated: int = 0  # bytes of torn tail dropped

    def bodies(self) -> Iterator[tuple[str, int, bytes]]:
        """(token, accept now, body) of every logged batch, in log order."""
        path, data = None, b""
        for token, now, where, start, end in self.batches:
            if where != path:
                path, data = where, where.read_bytes()
            yield token, now, data[start:end]


class StateLog:
    """Segmented append-only log in `directory`; see the module docstring."""

    def __init__(self, directory: Path, segment_bytes: int = 8 << 20, segment_age: float = 10.0) -> None:
        self.dir = Path(directory)
        self.segment_bytes = segment_bytes
        self.segment_age = segment_age
        self.segments: list[Segment] = []
        self._fd = -1
        self._written = 0
        self._synced = 0
        self._lock = asyncio.Lock()

    # -- start ---------------------------------------------------------------------------------
    def load(self) -> Replay:
        """Read every segment (creating the directory if needed); call once, before `open`."""
        self.dir.mkdir(parents=True, exist_ok=True)
        replay = Replay()
        paths = sorted(self.dir.glob(f"{PREFIX}*{SUFFIX}"))
        for path in paths:
            seq = int(path.name[len(PREFIX):-len(SUFFIX)])
            seg = Segment(seq, path)
            data = path.read_bytes()
            good = self._parse(data, seg, replay)
            if good < len(data):
                log.warning("aggregate state: %s has a torn tail of %d bytes; truncated", path, len(data) - good)
                replay.truncated += len(data) - good
                with open(path, "r+b") as fh:
                    fh.truncate(good)
                    os.fsync(fh.fileno())
            seg.size = good
            self.segments.append(seg)
        return replay

    @staticmethod
    def _parse(data: bytes, seg: Segment, replay: Replay) -> int:
        pos = 0
        view = memoryview(data)
        while pos + _HEAD.size <= len(data):
            length, crc = _HEAD.unpack_from(data, pos)
            start = pos + _HEAD.size
            end = start + length
            if length == 0 or end > len(data) or zlib.crc32(view[start:end]) != crc:
                break
            kind = data[start:start + 1]
            body = start + 1
            if kind == b"B":
                now, _, max_key, tlen = _B.unpack_from(data, body)
                tstart = body + _B.size
                token = data[tstart:tstart + tlen].decode()
                replay.batches.append((token, now, seg.path, tstart + tlen, end))
                seg.max_key = max(seg.max_key, max_key)
            elif kind == b"F":
                now, tlen, count = _F.unpack_from(data, body)
                tstart = body + _F.size
                token = data[tstart:tstart + tlen].decode()
                kpos = tstart + tlen
                for i in range(count):
                    replay.flushed.add((_KEY.unpack_from(data, kpos + 8 * i)[0], token))
                replay.watermark = max(replay.watermark, now)
            elif kind == b"W":
                watermark, horizon = _W.unpack_from(data, body)
                replay.watermark = max(replay.watermark, watermark)
                replay.horizon = max(replay.horizon, horizon)
            pos = end
        return pos

    def open(self, watermark: int, horizon: int, flushed: set[tuple[int, str]]) -> None:
        """Start a fresh segment (after `load`) headed by the watermark and the live markers."""
        self._fd, seg = self._new_segment(watermark, horizon, flushed)
        os.fsync(self._fd)
        self._fsync_dir()
        self.segments.append(seg)

    def _new_segment(self, watermark: int, horizon: int, flushed) -> tuple[int, Segment]:
        seq = self.segments[-1].seq + 1 if self.segments else 1
        path = self.dir / f"{PREFIX}{seq:016d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        head = [_frame(b"W", _W.pack(watermark, horizon))]
        by_token: dict[str, list[int]] = {}
        for key, token in flushed:
            if key > horizon:
                by_token.setdefault(token, []).append(key)
        for token, keys in by_token.items():
            head.append(self._flushed_record(watermark, token, keys))
        data = b"".join(head)
        self._write_all(fd, data)
        return fd, Segment(seq, path, size=len(data))

    # -- appends (synchronous writes; `sync` makes them durable) -------------------------------
    def append_batch(self, token: str, now: int, min_key: int, max_key: int, body: bytes) -> None:
        tok = token.encode()
        self._append(_frame(b"B", _B.pack(now, min_key, max_key, len(tok)) + tok + body), max_key)

    def append_flushed(self, now: int, token: str, keys: list[int]) -> None:
        self._append(self._flushed_record(now, token, keys), 0)

    @staticmethod
    def _flushed_record(now: int, token: str, keys: list[int]) -> bytes:
        tok = token.encode()
        return _frame(b"F", _F.pack(now, len(tok), len(keys)) + tok + b"".join(_KEY.pack(k) for k in keys))

    def _append(self, record: bytes, max_key: int) -> None:
        self._write_all(self._fd, record)
        seg = self.segments[-1]
        seg.size += len(record)
        if max_key > seg.max_key:
            seg.max_key = max_key
        self._written += 1

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    async def sync(self) -> None:
        """Group commit: return once every record appended before the call is fsynced."""
        target = self._written
        if self._synced >= target:
            return
        async with self._lock:
            if self._synced >= target:
                return
            seq = self._written
            await asyncio.to_thread(os.fsync, self._fd)
            self._synced = max(self._synced, seq)

    # -- space -----------------------------------------------------------------------------------
    def should_rotate(self) -> bool:
        seg = self.segments[-1]
        return seg.size >= self.segment_bytes or (
            time.monotonic() - seg.opened >= self.segment_age and seg.max_key > 0)

    async def rotate(self, watermark: int, horizon: int, flushed: set[tuple[int, str]]) -> None:
        """Start a new segment; the old one is fsynced and closed (deleted later by `collect`)."""
        async with self._lock:
            fd, seg = self._new_segment(watermark, horizon, flushed)
            await asyncio.to_thread(os.fsync, fd)
            await asyncio.to_thread(self._fsync_dir)
            old, seq = self._fd, self._written
            self._fd = fd
            self.segments.append(seg)
            await asyncio.to_thread(os.fsync, old)
            os.close(old)
            self._synced = max(self._synced, seq)

    def collect(self, horizon: int) -> int:
        """Delete closed segments whose every bucket is <= horizon; return how many."""
        keep, removed = [], 0
        for seg in self.segments[:-1]:
            if seg.max_key <= horizon:
                try:
                    seg.path.unlink()
                    removed += 1
                except FileNotFoundError:
                    removed += 1
                except OSError as exc:
                    log.warning("aggregate state: cannot delete %s: %s", seg.path, exc)
                    keep.append(seg)
            else:
                keep.append(seg)
        self.segments = keep + self.segments[-1:]
        return removed

    def size(self) -> int:
        return sum(seg.size for seg in self.segments)

    async def close(self) -> None:
        async with self._lock:
            if self._fd >= 0:
                await asyncio.to_thread(os.fsync, self._fd)
                os.close(self._fd)
                self._fd = -1
                self._synced = self._written

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
