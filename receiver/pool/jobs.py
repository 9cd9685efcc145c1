"""What crosses the process boundary between the daemon and a worker: one job in, one result out.

A job carries a whole batch as the bytes the client sent (an HTTP body, still
compressed, or a serialized `OffloadBatch`), so the accept loop never parses
points; the worker decompresses, decodes, checks, runs the scripts and encodes
the results. Both directions are single frames: an 8-byte big-endian length and
a pickle of a plain tuple. Results carry the points as one marshal blob of
(name, tags, fields, time) tuples, the cheapest form to rebuild `Point` objects
from in the daemon (marshal is C and 3x faster than pickling slotted objects).
"""

from __future__ import annotations

import marshal
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

from offload.point import Point

__all__ = [
    "FRAME_HEADER",
    "KIND_BODY",
    "KIND_OFFLOAD",
    "Job",
    "JobResult",
    "ScriptStats",
    "pack_points",
    "read_frame",
    "unpack_points",
    "write_frame",
]

KIND_BODY = "body"  # an HTTP /v1/write body (maybe compressed), decoded per content type
KIND_OFFLOAD = "offload"  # a serialized offload.v1.OffloadBatch (pbpoints or raw lines)

FRAME_HEADER = struct.Struct(">Q")


@dataclass(slots=True)
class Job:
    """One batch for a worker. `payload` is the request bytes, untouched."""

    kind: str
    category: str
    payload: bytes
    script: str = ""  # script name for logging points; "" = each point's name
    content_type: str = ""
    encoding: str = ""  # "", gzip, deflate, zstd, br
    precision: str | None = "n"  # None = dynamic detection (wire.md d.4)
    now_ns: int = 0  # receive time: points without a time get it
    strict: str = ""  # "" off; else the error code strict mode raises
    echo: str = ""  # "", "lp", "json", "pbjson"
    dry: bool = False
    max_decoded: int = 64 << 20
    passthrough: bool = False  # decode and check only, run no script (last attempt of a poison batch)
    # (encoding, max_raw_body_size, gzip): return finished Dataway bodies instead of points.
    build: tuple[str, int, bool] | None = None
    headers: dict[str, str] | None = None  # extra Dataway headers for the bodies (X-Storage-Index-Name)

    def to_tuple(self) -> tuple:
        return (self.kind, self.category, self.payload, self.script, self.content_type, self.encoding,
                self.precision, self.now_ns, self.strict, self.echo, self.dry, self.max_decoded, self.passthrough,
                self.build, self.headers)

    @classmethod
    def from_tuple(cls, t: tuple) -> Job:
        return cls(*t)


@dataclass(slots=True)
class ScriptStats:
    """Counters of one script over one batch: (script, received, written, failed, dropped)."""

    script: str
    received: int = 0
    written: int = 0
    failed: int = 0
    dropped: int = 0

    def row(self) -> tuple[str, int, int, int, int]:
        return (self.script, self.received, self.written, self.failed, self.dropped)


@dataclass(slots=True)
class JobResult:
    """A worker's answer: either `error` (code, message) or the result points and counters."""

    error: tuple[str, str] | None = None
    points_blob: bytes = b""
    received: int = 0
    written: int = 0
    stats: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    cost_s: float = 0.0
    echo: bytes | None = None
    # With Job.build: the finished bodies, a offload.dataway.body.BuildResult (points_blob stays empty).
    built: Any = None
    # Extra points of other categories (create_point): (category, bodies or points blob as above, count)
    side: list[tuple[str, Any, int]] = field(default_factory=list)
    # agg_create/agg_metric operations for the daemon's buckets (receiver/pool/scriptagg.py)
    agg: list[tuple] = field(default_factory=list)
    # Filled in by the pool on the daemon side:
    attempts: int = 1

    def to_tuple(self) -> tuple:
        return (self.error, self.points_blob, self.received, self.written, self.stats, self.error_samples,
                self.cost_s, self.echo, self.built, self.side, self.agg)

    @classmethod
    def from_tuple(cls, t: tuple) -> JobResult:
        return cls(*t)

    def points(self) -> list[Point]:
        return unpack_points(self.points_blob)


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


# -- points ---------------------------------------------------------------------------------------

_MARSHAL, _PICKLE = b"M", b"P"


def pack_points(points: list[Point]) -> bytes:
    """One blob for a list of points (warnings are not carried: they are never stored)."""
    rows = [(p.name, p.tags, p.fields, p.time) for p in points]
    try:
        return _MARSHAL + marshal.dumps(rows)
    except ValueError:
        # marshal refuses int subclasses (UInt); pickle keeps them.
        return _PICKLE + pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_points(blob: bytes) -> list[Point]:
    if not blob:
        return []
    rows = marshal.loads(blob[1:]) if blob[:1] == _MARSHAL else pickle.loads(blob[1:])
    return [Point(name, tags, fields, t) for name, tags, fields, t in rows]



# -- framing (blocking side; the daemon side uses asyncio streams with the same header) ------------

def write_frame(sock, data: bytes) -> None:
    """Send one frame on a blocking socket (header and data in one gathered send when it all fits)."""
    header = FRAME_HEADER.pack(len(data))
    sent = sock.sendmsg((header, data)) if data else 0
    if sent < len(header):
        sock.sendall(header[sent:])
        sent = len(header)
    if sent - len(header) < len(data):
        sock.sendall(memoryview(data)[sent - len(header):])


def read_frame(sock) -> bytes | None:
    """Receive one frame from a blocking socket; None at a clean end of stream."""
    header = _read_exactly(sock, FRAME_HEADER.size)
    if header is None:
        return None
    (size,) = FRAME_HEADER.unpack(header)
    if size == 0:
        return b""
    data = _read_exactly(sock, size)
    if data is None:
        raise EOFError("stream ended inside a frame")
    return data


def _read_exactly(sock, n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            if got == 0:
                return None
            raise EOFError("stream ended inside a frame")
        got += k
    return bytes(buf)
