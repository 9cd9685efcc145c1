"""`offload-agent send --config FILE --source NAME FILE...`: offload whole files once.

Every line of every file is offloaded (whatever `[pipeline] offloaded` says) as a
logging point named NAME, processed on a receiver by NAME.p. The command exits
0 once every line has been acknowledged, and prints one JSON line on stdout:

    {"sent": <lines queued>, "acked": <lines acknowledged>, "failed": <lines given up>}

Lines are given up only when a receiver refuses a batch outright (4xx,
INVALID_ARGUMENT, bad token) or when no receiver at all has been reachable for
`[sender] give_up_after` seconds (default 60); then the exit status is 1.
A progress bar is drawn on stderr when stderr is a terminal (not with --no-progress).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time

from offload.agent.config import AgentConfig, load_config
from offload.agent.logs import setup_logging
from offload.agent.tailer import _clean, split_lines
from offload.errors import ConfigError
from offload.sender import Batch, Sender

__all__ = ["send_command", "send_files"]

log = logging.getLogger("offload.agent.send")
CHUNK = 4 << 20


class _Progress:
    """A one-line progress bar on a terminal."""

    def __init__(self, total: int, stream=None) -> None:
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()

    def draw(self, counts: dict, final: bool = False) -> None:
        done = counts["acked"] + counts["failed"]
        frac = min(1.0, done / self.total)
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        rate = done / max(time.monotonic() - self.started, 1e-6)
        failed = f", {counts['failed']:,} failed" if counts["failed"] else ""
        self.stream.write(f"\r[{bar}] {done:,}/{self.total:,} lines acked{failed}  {rate:,.0f} lines/s ")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _count_lines(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            last = b""
            while chunk := f.read(CHUNK):
                total += chunk.count(b"\n")
                last = chunk
            if last and not last.endswith(b"\n"):
                total += 1
    return total


async def send_files(cfg: AgentConfig, source: str, paths: list[str], progress: _Progress | None = None) -> dict:
    """Offload every line of `paths`; returns {"sent", "acked", "failed"} once all are settled."""
    sender = Sender(cfg.offload, cfg.sender, give_up_after=cfg.sender.give_up_after or None)
    counts = {"sent": 0, "acked": 0, "failed": 0}

    def done(batch: Batch, ok: bool) -> None:
        counts["acked" if ok else "failed"] += batch.count

    async def submit(lines: list[str], now: int) -> None:
        if lines:
            counts["sent"] += len(lines)
            await sender.submit(Batch(source=source, lines=lines, times=[now] * len(lines), hop=1,
                                      token=cfg.sender.token, on_done=done))

    drawer = None
    if progress is not None:
        async def draw_loop() -> None:
            while True:
                progress.draw(counts)
                await asyncio.sleep(0.2)

        drawer = asyncio.get_running_loop().create_task(draw_loop())
    await sender.start()
    try:
        for path in paths:
            with open(path, "rb") as f:
                partial = b""
                while chunk := await asyncio.to_thread(f.read, CHUNK):
                    buf = partial + chunk if partial else chunk
                    cut = buf.rfind(b"\n") + 1
                    partial = buf[cut:]
                    if cut:
                        now = time.time_ns()
                        for lines, _ in split_lines(buf[:cut], sender.batch_size, raw=True):
                            await submit(lines, now)
                if partial:
                    await submit(_clean([partial.decode("utf-8", "replace")]), time.time_ns())
        await sender.drain()
    finally:
        await sender.close(timeout=0)
        if drawer is not None:
            drawer.cancel()
            progress.draw(counts, final=True)
    return counts


def send_command(args: argparse.Namespace) -> int:
    """Entry point of `offload-agent send`."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(cfg.log_level or "warning")
    if not cfg.offload.enabled:
        print("error: pipeline.offload.addresses: send needs [pipeline.offload] receiver and addresses",
              file=sys.stderr)
        return 2
    for path in args.files:
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            print(f"error: cannot read {path}", file=sys.stderr)
            return 2
    source = args.source.strip()
    if not source:
        print("error: --source must not be empty", file=sys.stderr)
        return 2
    progress = None
    if not getattr(args, "no_progress", False) and sys.stderr.isatty():
        progress = _Progress(_count_lines(args.files))
    counts = asyncio.run(send_files(cfg, source, list(args.files), progress))
    print(json.dumps(counts), flush=True)
    return 0 if counts["failed"] == 0 and counts["acked"] == counts["sent"] else 1
