"""Tail log files: globbed paths, rotation by rename and by truncation, acked positions.

One `FileTailer` per `[[inputs.file]]`. It polls (no inotify: portable and cheap
at a 200 ms interval) and reads new bytes with `pread` from a descriptor it keeps
open, so a file renamed or deleted under it is still read to its end.

* Lines are cut on `\\n` (a trailing `\\r` is dropped, empty lines are skipped, bytes
  that are not UTF-8 become U+FFFD); a partial last line waits for its newline, or
  for the file to be rotated away, or is cut at 1 MiB.
* Complete lines go out in batches of `batch_size`; each batch covers a byte range
  [start, end) of one file generation and gets the id hash(nonce, start, end).
* `emit` (the router) applies back-pressure: while it waits, nothing is read.
* When a batch is acknowledged the file's committed offset advances over the
  longest prefix of acknowledged batches (acks can come back out of order) and
  the position store is marked dirty; the agent saves it atomically.
* Rotation by rename: the path now names another inode (or nothing). The old file
  stays open and is read until it has been quiet for `rotate_grace` seconds and
  all its batches are acked; the new file is read from its beginning. A rotated
  file that still matches a glob (`app.log*`) is simply followed under its new name.
* Truncation (copytruncate): the size drops below what was read; the file starts a
  new generation at offset 0 (new nonce; acks for the old generation are ignored).
* Startup: a file with a saved position (same inode, same fingerprint) resumes
  there; a new file at a path we knew (rotated while we were down) is read from
  its beginning; a file never seen before starts at its end unless
  `from_beginning = true`. Files that appear later are read from their beginning.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import logging
import os
import stat
import time
from collections import deque
from typing import Awaitable, Callable

from offload.agent.positions import FP_BYTES, FilePosition, PositionStore, fingerprint

__all__ = ["FileTailer", "batch_id_for", "split_lines", "text_lines"]

log = logging.getLogger("offload.agent.tailer")

CHUNK = 1 << 20
MAX_LINE = 1 << 20

# emit(lines, read_time_ns, batch_id, on_done(ok)) -> awaits until the batch is accepted downstream;
# lines are str, or UTF-8 bytes when the tailer was made with raw=True
Emit = Callable[[list, int, bytes, Callable[[bool], None]], Awaitable[None]]


def batch_id_for(nonce: str, start: int, end: int) -> bytes:
    return hashlib.blake2b(f"{nonce}:{start}:{end}".encode(), digest_size=16).digest()


def split_lines(chunk: bytes, batch_size: int, raw: bool = False) -> list[tuple[list, int]]:
    """Cut `chunk` (ending in a newline) into batches: (non-empty lines, bytes covered).

    Lines are `str`; with `raw=True` they stay `bytes` when the chunk is valid UTF-8
    (the gRPC RawLines path takes bytes as they are: 0.2 instead of 0.5 us a line to
    split and serialize), and are `str` otherwise. Hot path of the agent: only C-level
    operations per line unless the chunk has CRs or empty lines.
    """
    if raw and _utf8(chunk):
        segs = chunk.split(b"\n")
        segs.pop()
        has_cr = b"\r" in chunk
        return [(_clean(part, has_cr), sum(map(len, part)) + len(part))
                for part in (segs[i:i + batch_size] for i in range(0, len(segs), batch_size))]
    text = chunk[:-1].decode("utf-8", "replace")
    lines = text.split("\n")
    has_cr = "\r" in text
    if len(lines) <= batch_size:
        return [(_clean(lines, has_cr), len(chunk))]
    out = []
    if chunk.isascii():  # one byte per character: byte counts come from string lengths
        for i in range(0, len(lines), batch_size):
            part = lines[i:i + batch_size]
            out.append((_clean(part, has_cr), sum(map(len, part)) + len(part)))
        return out
    segs = chunk.split(b"\n")
    segs.pop()
    for i in range(0, len(segs), batch_size):
        part = segs[i:i + batch_size]
        out.append((_clean(lines[i:i + batch_size], has_cr), sum(map(len, part)) + len(part)))
    return out


def _utf8(chunk: bytes) -> bool:
    if chunk.isascii():
        return True
    try:
        chunk.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _clean(lines: list, has_cr: bool = True) -> list:
    """Drop one trailing CR per line and every empty line (str or bytes lines)."""
    if not lines:
        return lines
    cr, empty = ("\r", "") if isinstance(lines[0], str) else (b"\r", b"")
    if has_cr:
        lines = [line[:-1] if line.endswith(cr) else line for line in lines]
    if empty in lines:
        lines = [line for line in lines if line]
    return lines


def text_lines(lines: list) -> list[str]:
    """`lines` as str (bytes lines are valid UTF-8: split_lines checked)."""
    if lines and isinstance(lines[0], bytes):
        return [line.decode() for line in lines]
    return lines


class _Tracked:
    """One open file generation being tailed."""

    __slots__ = ("key", "path", "fd", "read_offset", "partial", "nonce", "gen", "pending", "committed",
                 "gone_since", "last_data", "fp", "fp_len")

    def __init__(self, key: str, path: str, fd: int, offset: int, nonce: str, now: float) -> None:
        self.key = key
        self.path = path
        self.fd = fd
        self.read_offset = offset  # everything before this went into batches
        self.partial = b""  # bytes after read_offset without a newline yet
        self.nonce = nonce
        self.gen = 0
        self.pending: deque[list] = deque()  # [end, done] in read order
        self.committed = offset
        self.gone_since: float | None = None
        self.last_data = now
        self.fp, self.fp_len = fingerprint(fd)


class FileTailer:
    def __init__(
        self,
        patterns: list[str],
        emit: Emit,
        positions: PositionStore,
        batch_size: int,
        *,
        from_beginning: bool = False,
        poll_interval: float = 0.2,
        scan_interval: float = 1.0,
        rotate_grace: float = 1.0,
        name: str = "file",
        raw: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.patterns = patterns
        self.raw = raw  # hand lines downstream as bytes when valid UTF-8 (offloaded inputs)
        self.emit = emit
        self.positions = positions
        self.batch_size = batch_size
        self.from_beginning = from_beginning
        self.poll_interval = poll_interval
        self.scan_interval = scan_interval
        self.rotate_grace = rotate_grace
        self.name = name
        self.clock = clock
        self.files: dict[str, _Tracked] = {}
        self.lines_read = 0
        self._first_scan = True
        self._last_scan = -1e9

    # -- discovery ----------------------------------------------------------------------
    def scan(self) -> None:
        """Match the globs: open new files, follow renamed ones, mark vanished ones as gone."""
        now = self.clock()
        seen: set[str] = set()
        for pattern in self.patterns:
            for path in sorted(glob.glob(pattern)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                key = f"{st.st_dev}:{st.st_ino}"
                seen.add(key)
                tracked = self.files.get(key)
                if tracked is not None:
                    if tracked.path != path:
                        log.info("%s: %s is now %s", self.name, tracked.path, path)
                        tracked.path = path
                        self._save_position(tracked)
                    tracked.gone_since = None
                    continue
                self._open(path, key, st.st_size)
        for tracked in self.files.values():
            if tracked.key not in seen and tracked.gone_since is None:
                tracked.gone_since = now
        self._first_scan = False
        self._last_scan = now

    def _open(self, path: str, key: str, size: int) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            log.warning("%s: cannot open %s: %s", self.name, path, exc)
            return
        st = os.fstat(fd)
        if f"{st.st_dev}:{st.st_ino}" != key:  # replaced between stat and open: next scan
            os.close(fd)
            return
        saved = self.positions.get(key)
        offset, nonce = 0, os.urandom(8).hex()
        if saved is not None and saved.offset <= st.st_size and saved.fp_len and \
                fingerprint(fd, saved.fp_len) == (saved.fp, saved.fp_len):
            offset, nonce = saved.offset, saved.nonce
            how = f"resuming at byte {offset}"
        elif saved is None and self._first_scan and not self.from_beginning and self.positions.by_path(path) is None:
            offset = st.st_size
            how = "from its end"
        else:
            how = "from its beginning"
        log.info("%s: tailing %s %s", self.name, path, how)
        tracked = _Tracked(key, path, fd, offset, nonce, self.clock())
        self.files[key] = tracked
        self._save_position(tracked)

    # -- reading ------------------------------------------------------------------------
    async def poll(self) -> int:
        """Read what is new in every file once; returns the lines emitted."""
        if self.clock() - self._last_scan >= self.scan_interval:
            self.scan()
        total = 0
        for tracked in list(self.files.values()):
            total += await self._read(tracked)
            total += await self._maybe_close(tracked)
        return total

    async def _read(self, t: _Tracked) -> int:
        emitted = 0
        while True:
            size = os.fstat(t.fd).st_size
            pos = t.read_offset + len(t.partial)
            if size < pos:
                self._truncated(t)
                continue
            if size == pos:
                return emitted
            data = os.pread(t.fd, min(CHUNK, size - pos), pos)
            if not data:
                return emitted
            t.last_data = self.clock()
            buf = t.partial + data if t.partial else data
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                t.partial = buf
                if len(buf) >= MAX_LINE:  # an endless line: cut it here
                    emitted += await self._emit_partial(t)
                continue
            t.partial = buf[cut:]
            emitted += await self._emit(t, split_lines(buf[:cut], self.batch_size, self.raw))
            await asyncio.sleep(0)  # a big backlog must not starve the sender tasks and the HTTP API

    async def _emit_partial(self, t: _Tracked) -> int:
        data, t.partial = t.partial, b""
        return await self._emit(t, [(_clean([data.decode("utf-8", "replace")]), len(data))])

    async def _emit(self, t: _Tracked, batches: list[tuple[list[str], int]]) -> int:
        """Hand batches (lines, bytes covered) downstream, in file order."""
        now_ns = time.time_ns()
        emitted = 0
        gen = t.gen
        for lines, nbytes in batches:
            if t.gen != gen:
                break  # truncated while we waited downstream: the rest belongs to a dead generation
            start = t.read_offset
            end = start + nbytes
            t.read_offset = end
            entry = [end, False]
            t.pending.append(entry)
            if not lines:
                self._ack(t, gen, entry)
                continue
            emitted += len(lines)
            self.lines_read += len(lines)
            await self.emit(lines, now_ns, batch_id_for(t.nonce, start, end),
                            lambda ok, t=t, gen=gen, entry=entry: self._ack(t, gen, entry))
        return emitted

    def _ack(self, t: _Tracked, gen: int, entry: list) -> None:
        if gen != t.gen:
            return
        entry[1] = True
        advanced = False
        while t.pending and t.pending[0][1]:
            t.committed = t.pending.popleft()[0]
            advanced = True
        if advanced:
            self._save_position(t)

    def _truncated(self, t: _Tracked) -> None:
        log.info("%s: %s was truncated; reading it again from the start", self.name, t.path)
        t.gen += 1
        t.read_offset = t.committed = 0
        t.partial = b""
        t.pending.clear()
        t.nonce = os.urandom(8).hex()
        t.fp, t.fp_len = fingerprint(t.fd)
        self._save_position(t)

    def _save_position(self, t: _Tracked) -> None:
        if t.fp_len < FP_BYTES:
            t.fp, t.fp_len = fingerprint(t.fd)
        self.positions.put(t.key, FilePosition(path=t.path, offset=t.committed, fp=t.fp, fp_len=t.fp_len,
                                               nonce=t.nonce))

    async def _maybe_close(self, t: _Tracked) -> int:
        """Close a rotated-away or deleted file once it is quiet and fully acknowledged."""
        if t.gone_since is None:
            return 0
        now = self.clock()
        if now - t.gone_since < self.rotate_grace or now - t.last_data < self.rotate_grace:
            return 0
        if t.partial:
            # The file will never get the newline of its last line: send the line as it is.
            return await self._emit_partial(t)
        if t.pending:
            return 0
        os.close(t.fd)
        del self.files[t.key]
        self.positions.remove(t.key)
        log.info("%s: done with %s (rotated or deleted)", self.name, t.path)
        return 0

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set."""
        while not stop.is_set():
            try:
                await self.poll()
            except OSError as exc:
                log.warning("%s: %s", self.name, exc)
            except Exception:  # keep tailing: the next poll retries from the last read offset
                log.exception("%s: unexpected error while reading", self.name)
            try:
                await asyncio.wait_for(stop.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        for t in self.files.values():
            try:
                os.close(t.fd)
            except OSError:
                pass
        self.files.clear()

