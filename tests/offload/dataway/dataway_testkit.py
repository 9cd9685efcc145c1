"""Helpers for the Dataway writer tests: tokens, points, polling."""

from __future__ import annotations

import asyncio
import os
import time

from offload.point import Point

TOKEN_A = "tkn_" + "a" * 32
TOKEN_B = "tkn_" + "b" * 32


def log_points(n: int, start: int = 0, source: str = "nginx", size: int = 60, noise: bool = False) -> list[Point]:
    """`n` logging points with a distinguishable `seq` field and a message of about `size` bytes
    (`noise`: random hex that gzip cannot shrink much, for tests that need big bodies on disk)."""
    base = 1_700_000_000_000_000_000
    out = []
    for i in range(start, start + n):
        pad = os.urandom(size // 2).hex() if noise else "x" * size
        out.append(Point(source, {"host": "web-01", "service": source},
                         {"message": f"GET /item/{i} {pad}", "seq": i}, base + i))
    return out


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll `predicate()` until true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
