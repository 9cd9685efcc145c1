"""Results that leave a worker as finished Dataway bodies, and how they enter the writer.

Encoding the result points (protobuf), gzipping them and cutting them into bodies
costs more CPU than anything else outside the scripts. Done by the writer in the
daemon process it would run on one core, under the GIL, behind every worker. So
workers call the writer's own `offload.dataway.body.build_bodies` (same bodies,
same headers, unique X-Pkg-Id per process) and return the bodies; the daemon only
appends them to the WAL.

`BodySink.write_built(...)` uses `DatawayWriter.write_built(category, built, token)`
when the writer has it, else it performs the steps `DatawayWriter.write()` takes
after building (records per endpoint, all-or-nothing append, group fsync) with the
writer's own objects. File sinks need points, not bodies: with a `file://` URL
configured `BodySink.settings` is None and results travel as points.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["BodySink"]

_PRIVATE = ("_endpoints", "_queues", "_enqueue", "_drop", "_counts", "_clock", "_files", "_closed")


class BodySink:
    """Feeds pre-built bodies to one DatawayWriter."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        config = getattr(writer, "config", None)
        urls = list(getattr(config, "urls", []) or [])
        usable = bool(urls) and not any(str(u).startswith("file:") for u in urls) and (
            hasattr(writer, "write_built") or all(hasattr(writer, name) for name in _PRIVATE))
        # What a worker passes to build_bodies: (encoding, max_raw_body_size, gzip).
        self.settings: tuple[str, int, bool] | None = (
            (config.content_encoding, config.max_raw_body_size, config.gzip) if usable else None)

    async def write_built(self, category: str, built: Any, npoints: int, token: str | None) -> None:
        """Queue `built` (a BuildResult) for every endpoint; returns once fsynced in the WAL."""
        writer = self.writer
        native = getattr(writer, "write_built", None)
        if native is not None:
            await native(category, built, token)
            return
        from offload.dataway.endpoint import WRITE_CATEGORIES, check_token
        from offload.dataway.errors import InvalidWrite, WriterClosed
        from offload.dataway.record import Record, pack

        if writer._closed:
            raise WriterClosed("the Dataway writer is closed")
        if category not in WRITE_CATEGORIES:
            raise InvalidWrite(f"unknown category {category!r}")
        if token is not None and (problem := check_token(token)):
            raise InvalidWrite(problem)
        await writer.start()
        for reason, n in (("oversize", built.oversize), ("unencodable", built.unencodable)):
            if n:
                writer._drop(category, reason, n)
        if not built.bodies:
            return
        now = writer._clock()
        items = []
        for key, ep in writer._endpoints.items():
            queue = writer._queues[key]
            url = ep.request_url(category, token)
            for body in built.bodies:
                rec = Record(url, category, token if token is not None else ep.token, body.headers,
                             body.points, body.raw_len, now, body.payload)
                items.append((queue, rec, pack(rec) if queue.durable else None))
        commit = writer._enqueue(category, npoints, items)
        if commit is not None:
            await asyncio.shield(commit)
        writer._counts["writes"] += 1
        writer._counts["points_written"] += npoints
