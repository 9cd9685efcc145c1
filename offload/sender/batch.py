"""A batch: the unit the sender queues, balances, sends, retries and acknowledges.

A batch carries either raw log lines (with their read times; `str`, or UTF-8
`bytes` straight from a file, which RawLines takes without decoding) or decoded points
(what the agent's HTTP write API received), plus:

* `batch_id` — 16 bytes, fixed for the life of the batch: every resend, to the same
  or another receiver, carries the same id so a receiver can drop a duplicate.
* `hop` — how many offload hops this batch will have taken once sent (the first
  sender sets 1). It travels as gRPC `OffloadBatch.hop` and as the HTTP header
  `X-Offload-Hop`; an agent that receives a batch with hop >= 1 processes it
  locally and never offloads it again (no chains, no ping-pong).
* `on_done(batch, ok)` — called exactly once: ok=True after the receiver's ack,
  ok=False when the batch is given up (a permanent error). Inputs advance their
  positions from it.

Bodies are encoded once per wire format and cached, so a retry resends the very
same bytes (upstream resends an already-drained request body, wire.md c.4).
"""

from __future__ import annotations

import os
import time
from typing import Callable

from offload.point import Point

__all__ = ["Batch", "HOP_HEADER", "BATCH_ID_HEADER", "new_batch_id"]

HOP_HEADER = "X-Offload-Hop"
BATCH_ID_HEADER = "X-Offload-Batch-Id"
PROTOBUF_CONTENT_TYPE = "application/protobuf; proto=com.guance.Point"


def new_batch_id() -> bytes:
    return os.urandom(16)


class Batch:
    """One batch of logging lines or points bound for one script (`source`/`pipeline`)."""

    __slots__ = ("batch_id", "category", "source", "pipeline", "token", "hop", "lines", "times", "points",
                 "pbpoints", "count", "on_done", "spillable", "from_spill", "created", "_bodies", "_done")

    def __init__(
        self,
        *,
        source: str = "",
        lines: list[str] | list[bytes] | None = None,
        times: list[int] | None = None,
        points: list[Point] | None = None,
        pbpoints: bytes | None = None,
        count: int | None = None,
        batch_id: bytes | None = None,
        category: str = "logging",
        pipeline: str = "",
        token: str = "",
        hop: int = 1,
        on_done: Callable[["Batch", bool], None] | None = None,
        spillable: bool = False,
    ) -> None:
        if sum(x is not None for x in (lines, points, pbpoints)) != 1:
            raise ValueError("a batch carries exactly one of lines, points, pbpoints")
        self.batch_id = batch_id or new_batch_id()
        self.category = category
        self.source = source
        self.pipeline = pipeline
        self.token = token
        self.hop = hop
        self.lines = lines
        self.times = times
        self.points = points
        self.pbpoints = pbpoints
        if count is None:
            count = len(lines) if lines is not None else len(points) if points is not None else 0
        self.count = count
        self.on_done = on_done
        self.spillable = spillable
        self.from_spill = False  # already has a spill file (replayed)
        self.created = time.monotonic()
        self._bodies: dict[str, bytes] = {}
        self._done = False

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"Batch({self.batch_id.hex()[:8]}, {self.source!r}, {self.count} points, hop={self.hop})"

    # -- completion ---------------------------------------------------------------------
    def finish(self, ok: bool) -> None:
        """Report the outcome once; later calls are ignored."""
        if self._done:
            return
        self._done = True
        self._bodies.clear()
        if self.on_done is not None:
            self.on_done(self, ok)

    @property
    def done(self) -> bool:
        return self._done

    # -- payload views ------------------------------------------------------------------
    def as_points(self) -> list[Point]:
        """The batch as logging points (a line becomes name=source, field message, its read time)."""
        if self.points is not None:
            return self.points
        if self.pbpoints is not None:
            from offload.codec import protobuf

            self.points = protobuf.decode(self.pbpoints)
            return self.points
        name = self.source
        times = self.times or [0] * len(self.lines)
        lines = self.lines
        if lines and isinstance(lines[0], bytes):  # raw lines from a file (valid UTF-8, checked when cut)
            lines = [line.decode() for line in lines]
        return [Point(name, {}, {"message": line}, t) for line, t in zip(lines, times)]

    def grpc_body(self) -> bytes:
        """Serialized `offload.v1.OffloadBatch` (also the spill file format)."""
        body = self._bodies.get("grpc")
        if body is None:
            from offload._proto.offload.v1 import offload_pb2

            msg = offload_pb2.OffloadBatch(
                batch_id=self.batch_id, category=self.category, source=self.source, token=self.token,
                hop=self.hop, pipeline=self.pipeline,
            )
            if self.lines is not None:
                msg.lines.lines.extend(self.lines)
                if self.times:
                    msg.lines.times.extend(self.times)
            else:
                msg.pbpoints = self.ploffload_body()
            body = self._bodies["grpc"] = msg.SerializeToString()
        return body

    def ploffload_body(self) -> bytes:
        """A `point.PBPoints` body (HTTP ploffload)."""
        if self.pbpoints is not None:
            return self.pbpoints
        body = self._bodies.get("pb")
        if body is None:
            from offload.codec import protobuf

            body = self._bodies["pb"] = protobuf.encode(self.as_points())
        return body

    def lineproto_body(self) -> bytes:
        """Line protocol, points joined by '\\n' with no trailing newline (datakit-http, wire.md c.2)."""
        body = self._bodies.get("lp")
        if body is None:
            from offload.codec import lineproto

            text = lineproto.encode(self.as_points())
            body = self._bodies["lp"] = text.encode() if isinstance(text, str) else text
        return body

    @classmethod
    def from_grpc_body(cls, body: bytes, **kwargs) -> "Batch":
        """Rebuild a batch from its serialized OffloadBatch (spill replay)."""
        from offload._proto.offload.v1 import offload_pb2

        msg = offload_pb2.OffloadBatch.FromString(body)
        common = dict(batch_id=msg.batch_id, category=msg.category, source=msg.source, pipeline=msg.pipeline,
                      token=msg.token, hop=msg.hop, **kwargs)
        if msg.WhichOneof("payload") == "lines":
            batch = cls(lines=list(msg.lines.lines), times=list(msg.lines.times) or None, **common)
        else:
            from offload.codec import protobuf

            batch = cls(pbpoints=msg.pbpoints, count=_count_points(msg.pbpoints, protobuf), **common)
        batch._bodies["grpc"] = body
        return batch


def _count_points(pbpoints: bytes, codec) -> int:
    try:
        return len(codec.decode(pbpoints))
    except Exception:  # an undecodable spill file still gets sent; the receiver will reject it
        return 0
