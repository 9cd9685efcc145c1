"""Decoding `Batchs` bodies for the window cache: a lazy schema, algorithm specs, field values.

Why a second schema: walking the generated `aggregate.v1` classes costs about 7 µs per
batch in Python (every nested message access builds a wrapper), against 0.4 µs for
upb's parse itself. `LazyBatchs` below declares the same field numbers, but keeps each
`aggregation_opts` map entry, each batch's `points` and each point `Field` as raw bytes
(the same wire type), so upb still does all the framing in C and Python touches only:

* the points of every batch holding exactly one point (DataKit's shape, checked on the
  bytes by `single_point`) are concatenated and parsed by one `LazyPoints` call: the
  concatenation of PBPoints encodings is a valid PBPoints whose `arr` is in batch order;
* the opts entries, parsed once per distinct byte string into `AlgoSpec`s (a cache);
* the point's name, time and the one raw `Field` holding the algorithm's source key,
  read by a fast path for the canonical encoding `0a <len> <key> 21 <double>` (or
  `10 <varint>`; window.py inlines the float case), and by the generated `point.Field`
  class for anything else;
* the tag fields only when a new calculator is created, kept as raw bytes
  (`tags_blob`) and decoded once at output (`decode_tags`).

Unknown fields (config_hash, pick_key, warns, ...) are skipped by upb as usual.
"""

from __future__ import annotations

import struct
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtoDecodeError

from offload._proto.aggregate import aggrbatch_pb2
from offload._proto.point import point_pb2
from offload.point import UInt
from receiver.aggregate.algorithms import METHODS, canonical_method
from receiver.aggregate.errors import InvalidBatch, UnknownMethod
from offload.codec._pbwire import enc_varint as _varint  # one varint encoder for every hand-built message

__all__ = [
    "LazyBatchs", "LazyBatch", "LazyPoints", "RawBatchs", "RoutingKey", "AlgoSpec", "SpecCache", "parse_batchs",
    "parse_batch", "raw_batchs", "parse_points", "single_point",
    "field_value", "unpack_double", "tags_blob", "decode_tags", "le_of", "align_next_wall_time",
    "DEFAULT_WINDOW_NS",
]

SECOND = 1_000_000_000
# The issue: "the window from each algorithm, one minute when unset" (cliutils itself
# would make one-second buckets from a zero window; the client never sends one).
DEFAULT_WINDOW_NS = 60 * SECOND
# Go's zero time (0001-01-01T00:00:00Z) in Unix ns: windows align relative to it (§4.1).
GO_ZERO_NS = -62135596800 * SECOND


def _build_lazy_schema():
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="receiver_aggregate_lazy.proto", package="receiver_aggregate_lazy",
                                             syntax="proto3")

    def message(name, fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = ".receiver_aggregate_lazy." + type_name

    one, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("LazyPoint", [("name", 1, F.TYPE_STRING, one, None), ("fields", 2, F.TYPE_BYTES, rep, None),
                          ("time", 3, F.TYPE_INT64, one, None)])
    message("LazyPoints", [("arr", 1, F.TYPE_MESSAGE, rep, "LazyPoint")])
    message("LazyBatch", [("routing_key", 1, F.TYPE_UINT64, one, None), ("opts", 4, F.TYPE_BYTES, rep, None),
                          ("points", 5, F.TYPE_BYTES, one, None)])
    message("LazyBatchs", [("batchs", 1, F.TYPE_MESSAGE, rep, "LazyBatch"), ("pick_key", 2, F.TYPE_UINT64, one, None)])
    # Every batch as its raw bytes (series.py matches them against per-series templates),
    # and a routing key alone (series.py checks a batch's leading bytes encode it).
    message("RawBatchs", [("batchs", 1, F.TYPE_BYTES, rep, None)])
    message("RoutingKey", [("routing_key", 1, F.TYPE_UINT64, one, None)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get = lambda name: message_factory.GetMessageClass(  # noqa: E731
        pool.FindMessageTypeByName(f"receiver_aggregate_lazy.{name}"))
    return (get("LazyBatchs"), get("LazyBatch"), get("LazyPoints"), get("RawBatchs"), get("RoutingKey"))


LazyBatchs, LazyBatch, LazyPoints, RawBatchs, RoutingKey = _build_lazy_schema()


def parse_batchs(body: bytes):
    """Parse a `Batchs` body with the lazy schema; InvalidBatch when it is not protobuf."""
    try:
        return LazyBatchs.FromString(body)
    except ProtoDecodeError as exc:
        raise InvalidBatch(f"body is not a protobuf Batchs: {exc}") from None


def raw_batchs(body: bytes) -> list[bytes]:
    """The raw bytes of every `AggregationBatch` of a body; InvalidBatch when it is not protobuf."""
    try:
        return list(RawBatchs.FromString(body).batchs)
    except ProtoDecodeError as exc:
        raise InvalidBatch(f"body is not a protobuf Batchs: {exc}") from None


def parse_batch(raw: bytes):
    """One raw `AggregationBatch` with the lazy schema; InvalidBatch when it is not protobuf."""
    try:
        return LazyBatch.FromString(raw)
    except ProtoDecodeError as exc:
        raise InvalidBatch(f"bad batch in a Batchs body: {exc}") from None


def parse_points(raw: bytes):
    """The `arr` of a (possibly concatenated) PBPoints; InvalidBatch when it is not protobuf."""
    try:
        return LazyPoints.FromString(raw).arr
    except ProtoDecodeError as exc:
        raise InvalidBatch(f"bad points in a batch: {exc}") from None


def single_point(pb: bytes) -> bool:
    """True when a PBPoints encoding is exactly one `arr` entry (the DataKit builder's shape).

    Such encodings can be concatenated and parsed as one PBPoints, one point per batch,
    in order: a single C-level parse instead of three wrapper objects per batch.
    """
    n = len(pb)
    if n < 2 or pb[0] != 0x0A:
        return False
    if pb[1] < 0x80:
        return pb[1] == n - 2
    return n > 3 and pb[2] < 0x80 and (pb[1] & 0x7F) | (pb[2] << 7) == n - 3


class AlgoSpec:
    """One `(output name, AggregationAlgo)` of a batch, validated, with hot-path caches."""

    __slots__ = ("output", "method", "cls", "numeric", "wants_le", "source", "prefix", "plen", "plen1", "plen9",
                 "window_ns",
                 "add_tags", "percentiles", "lo", "hi", "bk", "group_keys", "base")

    def __init__(self, output: str, algo: Any) -> None:
        method = canonical_method(algo.method)
        if method is None:
            raise UnknownMethod(f"algorithm {output!r}: unknown or unsupported method {algo.method!r}")
        self.output = output
        self.method = method
        self.cls = METHODS[method]
        self.numeric = self.cls.numeric
        self.wants_le = getattr(self.cls, "wants_le", False)
        self.source = algo.source_field or output
        key = self.source.encode()
        self.prefix = b"\x0a" + _varint(len(key)) + key
        self.plen = len(self.prefix)
        self.plen1 = self.plen + 1  # where the double starts in `prefix 21 <8 bytes>`
        self.plen9 = self.plen + 9  # the whole canonical float field
        self.window_ns = algo.window if algo.window > 0 else DEFAULT_WINDOW_NS
        self.add_tags = tuple(sorted(algo.add_tags.items()))
        percentiles = tuple(algo.quantile_opts.percentiles) if algo.HasField("quantile_opts") else ()
        for q in percentiles:
            if not 0.0 <= q <= 1.0:
                raise InvalidBatch(f"algorithm {output!r}: percentile {q} is outside [0, 1]")
        self.percentiles = percentiles
        self.lo = self.hi = self.bk = 0  # the last window seen: (lo, hi] ns -> bucket key (s)
        self.group_keys: dict[str, str] = {}  # measurement -> the window's group key
        self.base = self  # series.Shape copies a spec; `base` is the spec it copies

    def group_key(self, measurement: str) -> str:
        """The calculator-group key (method, output, measurement): the inputs of the spec's calc key."""
        gk = self.group_keys.get(measurement)
        if gk is None:
            if len(self.group_keys) > 4096:
                self.group_keys.clear()
            gk = self.group_keys[measurement] = f"{self.method}\x00{self.output}\x00{measurement}"
        return gk

    def align(self, t: int, tolerance_s: int) -> int:
        """Bucket key (Unix s) of time t: AlignNextWallTime(t, W) + E; caches the window bounds."""
        w = self.window_ns
        r = (t - GO_ZERO_NS) % w
        end = t - r + w if r else t
        self.lo = end - w
        self.hi = end
        self.bk = end // SECOND + tolerance_s
        return self.bk


def align_next_wall_time(t_ns: int, window_ns: int) -> int:
    """cliutils AlignNextWallTime: the end of t's window, in Unix seconds (spec §4.1)."""
    r = (t_ns - GO_ZERO_NS) % window_ns if window_ns > 0 else 0
    if r == 0:
        return t_ns // SECOND
    return (t_ns - r + window_ns) // SECOND


class SpecCache:
    """Raw opts entry bytes -> tuple of AlgoSpec; bounded (cleared when it passes `limit`)."""

    def __init__(self, limit: int = 4096) -> None:
        self.known: dict[Any, tuple[AlgoSpec, ...]] = {}
        self._prefixes: dict[bytes, bytes] = {}
        self._limit = limit

    def get(self, key: Any) -> tuple[AlgoSpec, ...]:
        specs = self.known.get(key)
        if specs is None:
            specs = self._build(key)
        return specs

    def _build(self, key: Any) -> tuple[AlgoSpec, ...]:
        entries = (key,) if isinstance(key, bytes) else key
        framed = b"".join(b"\x22" + _varint(len(e)) + e for e in entries)
        try:
            batch = aggrbatch_pb2.AggregationBatch.FromString(framed)
        except ProtoDecodeError as exc:
            raise InvalidBatch(f"bad aggregation_opts: {exc}") from None
        specs = tuple(AlgoSpec(name, algo) for name, algo in sorted(batch.aggregation_opts.items()))
        for spec in specs:  # one bytes object per source key: the hot loop compares by identity
            spec.prefix = self._prefixes.setdefault(spec.prefix, spec.prefix)
        if len(self.known) >= self._limit:
            self.known.clear()
            self._prefixes.clear()
        self.known[key] = specs
        return specs


# -- field values -----------------------------------------------------------------------------

unpack_double = struct.Struct("<d").unpack_from


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = raw[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _any_value(any_msg) -> Any:
    if any_msg.type_url.endswith("/point.Array"):
        arr = point_pb2.Array.FromString(any_msg.value)
        return [getattr(e, e.WhichOneof("x")) for e in arr.arr if e.WhichOneof("x")]
    if any_msg.type_url.endswith("/point.Map"):
        mp = point_pb2.Map.FromString(any_msg.value)
        return {k: getattr(e, e.WhichOneof("x")) for k, e in mp.map.items() if e.WhichOneof("x")}
    return any_msg.value


def slow_field(raw: bytes) -> tuple[str, Any, bool]:
    """(key, value, is_tag) of one raw `point.Field`; value None for a field without one."""
    f = point_pb2.Field.FromString(raw)
    kind = f.WhichOneof("val")
    if kind is None:
        value = None
    elif kind == "u":
        value = UInt(f.u)
    elif kind == "a":
        value = _any_value(f.a)
    else:
        value = getattr(f, kind)
    return f.key, value, f.is_tag


def field_value(fields, spec: AlgoSpec) -> Any:
    """The value of the spec's source key among a point's raw fields; None when absent."""
    prefix = spec.prefix
    for raw in fields:
        if raw.startswith(prefix):
            pos = spec.plen
            end = len(raw)
            if end == pos + 9 and raw[pos] == 0x21:
                return unpack_double(raw, pos + 1)[0]
            if end > pos and raw[pos] == 0x10 and raw[end - 1] < 0x80:
                value, stop = _read_varint(raw, pos + 1)
                if stop == end:
                    return value - (1 << 64) if value >= 1 << 63 else value
            key, value, _ = slow_field(raw)
            if key == spec.source:
                return value
        elif not raw or raw[0] != 0x0A:
            # not the canonical key-first layout: read it properly
            key, value, _ = slow_field(raw)
            if key == spec.source:
                return value
    return None


def _is_tag(raw: bytes) -> bool:
    if len(raw) > 3 and raw[0] == 0x0A and raw[1] < 0x80:
        pos = 2 + raw[1]
        if raw[pos:pos + 2] == b"\x40\x01":
            return True  # canonical tag: key, is_tag=1, s
        if len(raw) == pos + 9 and raw[pos] == 0x21:
            return False  # exactly key + double: no room for is_tag
    if b"\x40" not in raw:
        return False  # every encoding of is_tag (field 8, varint) has the tag byte 0x40
    return slow_field(raw)[2]


_SHORT = [bytes((0x12, n)) for n in range(128)]  # field 2 tag + one-byte length


def tags_blob(fields) -> bytes:
    """The point's tag fields as raw `PBPoint.fields` entries (field 2), decoded at output."""
    return b"".join((_SHORT[len(raw)] if len(raw) < 128 else b"\x12" + _varint(len(raw))) + raw
                    for raw in fields if _is_tag(raw))


def decode_tags(blob: bytes) -> list[tuple[str, str]]:
    """(key, value) of every tag in a `tags_blob`, in the point's order."""
    if not blob:
        return []
    return [(f.key, f.s) for f in point_pb2.PBPoint.FromString(blob).fields]


def le_of(fields, tag_only: bool) -> str | None:
    """The point's `le` as a string: its tag, or (first point) a string field; None when absent."""
    for raw in fields:
        if raw.startswith(b"\x0a\x02le"):
            key, value, is_tag = slow_field(raw)
            if key == "le" and isinstance(value, str) and (is_tag or not tag_only):
                return value
    return None
