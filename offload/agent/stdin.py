"""The stdin input: lines piped into the agent, batched as they arrive.

A daemon thread reads standard input in chunks (whatever is available, up to
1 MiB) and hands them to the event loop through a small bounded queue, so a slow
downstream stops the reading (back-pressure) and a blocked read never delays
shutdown. Lines are cut like the file tailer's; a last line without a newline is
sent at end of input. Stdin cannot be read again, so its batches have random ids
and, with `[sender] spill_dir`, may spill to disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Awaitable, Callable

from offload.agent.tailer import _clean, split_lines
from offload.sender.batch import new_batch_id

__all__ = ["StdinReader"]

log = logging.getLogger("offload.agent.stdin")
CHUNK = 1 << 20

Emit = Callable[[list, int, bytes, Callable[[bool], None]], Awaitable[None]]


class StdinReader:
    def __init__(self, emit: Emit, batch_size: int, fd: int = 0, raw: bool = False) -> None:
        self.emit = emit
        self.raw = raw  # lines as UTF-8 bytes when valid (offloaded input), see split_lines
        self.batch_size = batch_size
        self.fd = fd
        self.lines = 0
        self.acked = 0
        self.failed = 0

    def _done(self, n: int):
        def done(ok: bool) -> None:
            if ok:
                self.acked += n
            else:
                self.failed += n

        return done

    async def _emit_all(self, batches: list[tuple[list[str], int]]) -> None:
        now = time.time_ns()
        for lines, _ in batches:
            if lines:
                self.lines += len(lines)
                await self.emit(lines, now, new_batch_id(), self._done(len(lines)))

    async def run(self) -> None:
        """Read until end of input."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)

        def reader() -> None:
            while True:
                try:
                    data = os.read(self.fd, CHUNK)
                except OSError as exc:
                    log.warning("stdin: %s", exc)
                    data = b""
                try:
                    asyncio.run_coroutine_threadsafe(chunks.put(data), loop).result()
                except RuntimeError:  # the loop is gone
                    return
                if not data:
                    return

        threading.Thread(target=reader, name="stdin-reader", daemon=True).start()
        partial = b""
        while True:
            data = await chunks.get()
            if not data:
                break
            buf = partial + data if partial else data
            cut = buf.rfind(b"\n") + 1
            partial = buf[cut:]
            if cut:
                await self._emit_all(split_lines(buf[:cut], self.batch_size, self.raw))
        if partial:
            await self._emit_all([(_clean([partial.decode("utf-8", "replace")]), len(partial))])
        log.info("stdin: end of input after %d lines", self.lines)
