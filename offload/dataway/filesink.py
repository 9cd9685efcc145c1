"""The `file://` sink: points appended to a local file as JSON lines instead of sent to Dataway.

One object per point: {"category", "token", "name", "tags", "fields", "time"};
bytes values are standard base64 strings, NaN/Inf floats become null (JSON has no
such numbers). Each write is appended and flushed before write() returns. This is
the out-of-the-box destination when no Dataway is configured, and what tests and
the quickstart read back.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path
from typing import Sequence

import orjson

from offload.dataway.endpoint import Endpoint
from offload.point import Point

__all__ = ["FileSink", "encode_lines"]


def _default(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def encode_lines(category: str, token: str | None, points: Sequence[Point]) -> bytes:
    """The JSON lines for `points`, newline-terminated."""
    dumps = orjson.dumps
    out = []
    for p in points:
        out.append(dumps(
            {"category": category, "token": token, "name": p.name, "tags": p.tags, "fields": p.fields, "time": p.time},
            default=_default,
        ))
    out.append(b"")
    return b"\n".join(out)


class FileSink:
    """Appends JSON lines to `endpoint.path` (relative paths: the working directory)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.path = Path(endpoint.path)
        self._fh = None
        self._lock = threading.Lock()

    async def write(self, category: str, token: str | None, points: Sequence[Point]) -> None:
        await asyncio.to_thread(self._write, category, token if token is not None else self.endpoint.token, points)

    def _write(self, category: str, token: str | None, points: Sequence[Point]) -> None:
        data = encode_lines(category, token, points)
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "ab")
            self._fh.write(data)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
