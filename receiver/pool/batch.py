"""One batch through a worker: decompress, decode, check, run the scripts, pack the results.

This is the whole CPU-heavy part of ingest and runs inside worker processes
(`process_job` is also callable in-process, which the tests and the benchmark's
baseline use). It follows DataKit's receiver order (wire.md d.1): decompress
(d.5), decode by content type (d.2) with the request precision (d.4), the
category precheck (b.6), "no points", strict mode, echo, then the pipeline.

Script selection: a logging point runs `<scripts_dir>/<script>.p`, where
`script` is the request's `source` (HTTP) or the batch's `pipeline`/`source`
(gRPC), else the point's own name. Points are grouped by script name so each
group is one `run_batch` call and per-script counters fall out of it.

Errors never escape: a payload the codecs refuse becomes `JobResult.error`
= (DataKit error name, message), which the daemon answers with 400 /
INVALID_ARGUMENT.
"""

from __future__ import annotations

import io
import time
import zlib
from typing import Any

import orjson

from offload.errors import DecodeError
from offload.point import Point
from receiver.pool.jobs import (
    KIND_BODY,
    KIND_OFFLOAD,
    Job,
    JobResult,
    ScriptStats,
    pack_points,
)

__all__ = ["PRECISION_NS", "BatchError", "apply_precision", "content_format", "decompress", "process_job"]

PB_CONTENT_TYPE = "application/protobuf; proto=com.guance.Point"
PBJSON_CONTENT_TYPE = "application/pbjson; proto=com.guance.Point"

PRECISION_NS = {"n": 1, "ns": 1, "u": 1_000, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                "m": 60_000_000_000, "h": 3_600_000_000_000}

NO_SCRIPT = "-"  # metric label of points that ran no script


class BatchError(Exception):
    """A payload this batch cannot be taken with; `code` is the DataKit error name."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


# -- decompression (wire.md d.5) ---------------------------------------------------------------------

def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding; BatchError decodeBodyFailed / bodyTooLarge (output over `limit`)."""
    if not encoding:
        return data
    try:
        if encoding == "gzip":
            return _inflate(data, 31, limit, multi_member=True)
        if encoding == "deflate":
            # zlib-wrapped or raw deflate: a valid 2-byte zlib header is stripped, the checksum ignored.
            if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
                return _inflate(data[2:], -15, limit, multi_member=False)
            return _inflate(data, -15, limit, multi_member=False)
        if encoding == "zstd":
            return _unzstd(data, limit)
        if encoding == "br":
            return _unbrotli(data, limit)
    except zlib.error as exc:
        raise BatchError("decodeBodyFailed", f"{encoding}: {exc}") from None
    raise BatchError("decodeBodyFailed", f"unsupported encoding {encoding!r}")


def _inflate(data: bytes, wbits: int, limit: int, multi_member: bool) -> bytes:
    out = bytearray()
    while True:
        d = zlib.decompressobj(wbits)
        out += d.decompress(data, limit + 1 - len(out))
        if len(out) > limit or d.unconsumed_tail:
            raise BatchError("bodyTooLarge", f"decompressed body is larger than {limit} bytes")
        if not d.eof:
            raise BatchError("decodeBodyFailed", "compressed stream is truncated")
        data = d.unused_data
        if not (multi_member and data):
            return bytes(out)


def _unzstd(data: bytes, limit: int) -> bytes:
    import zstandard

    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        out = reader.read(limit + 1)
        while len(out) <= limit:
            more = reader.read(limit + 1 - len(out))
            if not more:
                break
            out += more
    except zstandard.ZstdError as exc:
        raise BatchError("decodeBodyFailed", f"zstd: {exc}") from None
    if len(out) > limit:
        raise BatchError("bodyTooLarge", f"decompressed body is larger than {limit} bytes")
    if data and not out:
        raise BatchError("decodeBodyFailed", "zstd: no data in the stream")
    return out


def _unbrotli(data: bytes, limit: int) -> bytes:
    try:
        import brotli  # optional: DataKit accepts br, we do when the module is installed
    except ImportError:
        raise BatchError("decodeBodyFailed", "br encoding is not supported by this receiver") from None
    try:
        out = brotli.decompress(data)
    except brotli.error as exc:
        raise BatchError("decodeBodyFailed", f"br: {exc}") from None
    if len(out) > limit:
        raise BatchError("bodyTooLarge", f"decompressed body is larger than {limit} bytes")
    return out


# -- decoding -------------------------------------------------------------------------------------------

def content_format(content_type: str) -> str:
    """wire.md d.2: 'json', 'protobuf' or 'lp' (exact matches except the application/json substring)."""
    if "application/json" in content_type or content_type == PBJSON_CONTENT_TYPE:
        return "json"
    if content_type == PB_CONTENT_TYPE:
        return "protobuf"
    return "lp"


_DECODE_CODES = {"lp": "invalidLinePoint", "json": "invalidJsonPoint", "protobuf": "invalidProtobufPoint"}


def apply_precision(points: list[Point], precision: str | None, now_ns: int) -> None:
    """Time 0 -> receive time; else scale by the precision unit (None: dynamic, wire.md d.4)."""
    unit = PRECISION_NS.get(precision, 1) if precision is not None else None
    for p in points:
        t = p.time
        if not t:
            p.time = now_ns
        elif unit is None:
            p.time = t * _dynamic_unit(t)
        elif unit != 1:
            p.time = t * unit


def _dynamic_unit(ts: int) -> int:
    if ts < 0:
        return 1_000_000_000
    if ts // 1_000_000_000 < 10:
        return 1_000_000_000
    if ts // 1_000_000_000_000 < 10:
        return 1_000_000
    if ts // 1_000_000_000_000_000 < 10:
        return 1_000
    return 1


def _decode_body(job: Job, data: bytes) -> tuple[str, list[Point]]:
    from offload.codec import jsonpoints, lineproto, protobuf

    fmt = content_format(job.content_type)
    try:
        if fmt == "lp":
            points = lineproto.decode(data, precision=job.precision, now_ns=job.now_ns)
            now = job.now_ns
            for p in points:
                if not p.time:  # an explicit 0 also means "not set" (wire.md d.4)
                    p.time = now
            return fmt, points
        points = jsonpoints.decode(data) if fmt == "json" else protobuf.decode(data)
    except (DecodeError, UnicodeDecodeError, ValueError, OverflowError, RecursionError) as exc:
        raise BatchError(_DECODE_CODES[fmt], _reason(exc)) from None
    apply_precision(points, job.precision, job.now_ns)
    return fmt, points


def _decode_offload(job: Job) -> tuple[str, list[Point], str]:
    """A serialized OffloadBatch -> (format, points, script name from the batch)."""
    from google.protobuf.message import DecodeError as PBDecodeError

    from offload._proto.offload.v1 import offload_pb2
    from offload.codec import protobuf

    try:
        batch = offload_pb2.OffloadBatch.FromString(job.payload)
    except PBDecodeError as exc:
        raise BatchError("invalidProtobufPoint", f"OffloadBatch: {exc}") from None
    script = job.script or batch.pipeline or batch.source
    which = batch.WhichOneof("payload")
    if which == "pbpoints":
        try:
            points = protobuf.decode(batch.pbpoints)
        except (DecodeError, UnicodeDecodeError, ValueError, OverflowError) as exc:
            raise BatchError("invalidProtobufPoint", _reason(exc)) from None
        apply_precision(points, "n", job.now_ns)
        return "protobuf", points, script
    if which == "lines":
        lines, times = batch.lines.lines, batch.lines.times
        if times and len(times) != len(lines):
            raise BatchError("invalidProtobufPoint", f"lines.times has {len(times)} entries for {len(lines)} lines")
        name, now = batch.source, job.now_ns
        if times:
            points = [Point(name, {}, {"message": line}, t or now) for line, t in zip(lines, times, strict=True)]
        else:
            points = [Point(name, {}, {"message": line}, now) for line in lines]
        return "lines", points, script
    raise BatchError("noPoints", "the batch has no payload")


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# -- the job ----------------------------------------------------------------------------------------------

def process_job(store: Any, job: Job) -> JobResult:
    """Run one job to completion in this process; never raises for bad input."""
    started = time.perf_counter()
    try:
        result = _process(store, job)
    except BatchError as exc:
        result = JobResult(error=(exc.code, exc.message))
    result.cost_s = time.perf_counter() - started
    return result


def _process(store: Any, job: Job) -> JobResult:
    from offload.codec import check

    script = job.script
    if job.kind == KIND_BODY:
        if not job.payload:
            raise BatchError("emptyBody", "the request body is empty")
        data = decompress(job.payload, job.encoding, job.max_decoded)
        if len(data) > job.max_decoded:
            raise BatchError("bodyTooLarge", f"body is larger than {job.max_decoded} bytes")
        _, points = _decode_body(job, data)
    elif job.kind == KIND_OFFLOAD:
        _, points, script = _decode_offload(job)
    else:
        raise BatchError("invalidAPIHandler", f"unknown job kind {job.kind!r}")

    points = check.check_points(points, job.category)
    if not points:
        raise BatchError("noPoints", "no points in the payload")
    if job.strict:
        for p in points:
            if p.warns:
                kind, message = p.warns[0]
                raise BatchError(job.strict, f"{kind}: {message}")
    echo = _echo(job.echo, points) if job.echo else None
    received = len(points)
    if job.dry:
        return JobResult(received=received, echo=echo, stats=[(NO_SCRIPT, received, 0, 0, 0)])

    side: dict[str, list[Point]] = {}
    agg: list[tuple] = []
    if job.passthrough:
        out, stats, samples = points, [ScriptStats(NO_SCRIPT, received, received)], []
    else:
        out, stats, samples = _run_scripts(store, job.category, points, script, side, agg)
    result = JobResult(received=received, written=len(out), stats=[s.row() for s in stats],
                       error_samples=samples, echo=echo, agg=agg)
    for p in out:
        p.warns = None  # diagnostics of the decode checks: never stored (wire.md a.2)
    if job.build is not None:
        from offload.dataway.body import build_bodies

        encoding, max_raw, gzip = job.build
        result.built = build_bodies(out, encoding, max_raw, gzip, job.headers) if out else None
        result.side = [(cat, build_bodies(pts, encoding, max_raw, gzip, job.headers), len(pts))
                       for cat, pts in side.items()]
    else:
        result.points_blob = pack_points(out)
        result.side = [(cat, pack_points(pts), len(pts)) for cat, pts in side.items()]
    return result


def _run_scripts(store: Any, category: str, points: list[Point], script: str,
                 side: dict[str, list[Point]] | None = None,
                 agg: list[tuple] | None = None) -> tuple[list[Point], list[ScriptStats], list[str]]:
    """Run the scripts; extra points of other categories (create_point) go to `side`, by category,
    and agg_create/agg_metric operations to `agg`."""
    from receiver.pipeline import run_batch

    if category != "logging":
        # Other categories pick their script from the point (the engine knows the rule).
        groups = {script: points}
    elif script:
        groups = {script: points}
    else:
        groups = {}
        for p in points:
            group = groups.get(p.name)
            if group is None:
                groups[p.name] = group = []
            group.append(p)
    out: list[Point] = []
    stats: list[ScriptStats] = []
    samples: list[str] = []
    for name, group in groups.items():
        res = run_batch(store, category, group, source=name or None)
        result_points = list(res.points)
        out.extend(result_points)
        if side is not None:
            for cat, pts in getattr(res, "side", {}).items():
                side.setdefault(cat, []).extend(pts)
        if agg is not None:
            agg.extend(getattr(res, "agg", ()))
        unprocessed = _count(getattr(res, "unprocessed", 0))
        label = name if name and unprocessed < len(group) else NO_SCRIPT
        stats.append(ScriptStats(label, len(group), len(result_points), _count(res.errors), _count(res.dropped)))
        samples.extend(str(s) for s in (getattr(res, "error_samples", None) or ())[:3])
    return out, stats, samples[:5]


def _count(value: Any) -> int:
    if isinstance(value, int):
        return value
    try:
        return len(value)
    except TypeError:
        return 0


# -- echo (wire.md d.3) -------------------------------------------------------------------------------------

def _echo(kind: str, points: list[Point]) -> bytes | None:
    if kind == "lp":
        from offload.codec import lineproto

        text = lineproto.encode(points)
        return text.encode() if isinstance(text, str) else bytes(text)
    if kind == "json":
        return orjson.dumps([_simple_json(p) for p in points], default=_json_default)
    if kind == "pbjson":
        from google.protobuf import json_format

        from offload._proto.point import point_pb2
        from offload.codec import protobuf

        msg = point_pb2.PBPoints.FromString(protobuf.encode(points))
        return orjson.dumps([json_format.MessageToDict(p) for p in msg.arr])
    return None


def _simple_json(p: Point) -> dict[str, Any]:
    out: dict[str, Any] = {"measurement": p.name, "fields": p.fields, "time": p.time}
    if p.tags:
        out["tags"] = p.tags
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)

