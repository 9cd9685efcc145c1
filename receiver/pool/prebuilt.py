"""Results that leave a worker as finished Dataway bodies, and how they enter the writer.

Encoding the result points (protobuf), gzipping them and cutting them into bodies
costs more CPU than anything else outside the scripts. Done by the writer in the
daemon process it would run on one core, under the GIL, behind every worker. So
workers call the writer's own `offload.dataway.body.build_bodies` (same bodies,
same headers, unique X-Pkg-Id per process) and return the bodies; the daemon only
appends them to the WAL.

`BodySink.write_built(...)` hands them to `DatawayWriter.write_built(category, built,
token)`, which appends them to the WAL as `write()` would. File sinks need points,
not bodies: with a `file://` URL configured `BodySink.settings` is None and results
travel as points.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BodySink"]


class BodySink:
    """Feeds pre-built bodies to one DatawayWriter."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        config = getattr(writer, "config", None)
        urls = list(getattr(config, "urls", []) or [])
        usable = bool(urls) and not any(str(u).startswith("file:") for u in urls)
        # What a worker passes to build_bodies: (encoding, max_raw_body_size, gzip).
        self.settings: tuple[str, int, bool] | None = (
            (config.content_encoding, config.max_raw_body_size, config.gzip) if usable else None)

    async def write_built(self, category: str, built: Any, npoints: int, token: str | None) -> None:
        """Queue `built` (a BuildResult) for every endpoint; returns once fsynced in the WAL."""
        await self.writer.write_built(category, built, token)
