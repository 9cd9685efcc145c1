"""Per-series byte templates: the window cache's fast path for series it has seen before.

Real traffic repeats every series every interval, and a DataKit client encodes a series'
batch with the same bytes each time except the value (a double) and the time (a varint
of 9 bytes for any time from 1972 to 2262). So once a batch has been decoded the careful
way (upb, spec cache, field lookups: the cache's slow path), its bytes are split into

    [routing key: 11 bytes] [head] [value: 8] [tags] [0x18 + time: 9] [tail]

and later batches whose bytes equal it everywhere but in the value and the time are
known to decode to the same batch with that value and time (framing, keys, tags and
algorithms all come from the equal bytes; the time bytes are checked to be a varint of
the same length). One `struct` unpack and three byte comparisons then replace the
decode, and the sample goes straight to the series' calculator of the current window.

What the template holds, without costing memory per series:

* the cache key is the batch's first 11 bytes (field tag + routing key varint, plus the
  next tag byte when the key takes 9 bytes) and is the same object as the series' key in
  its window (`series_key`), so the two indexes share it;
* `Shape` (a copy of the algorithm's `AlgoSpec` with the unpacker, head and tail bytes,
  shared by every series of a rule whose bytes have the same layout) replaces the
  calculator's `spec`: no extra slot;
* the tags part is the calculator's own `tags` blob (the raw tag fields, in the same
  framing), so the comparison needs no copy.

New series: the template of a layout fits every series laid out alike (same length, same
bytes but the routing key, value, tags and time: one rule, tag values of the same
widths). The window cache keeps the shapes of recent layouts by batch length, so a new
series' first batch is read with one of them too, once `key_ok` (its first 11 bytes are a
series key) and `tags_only` (the bytes between value and time are exactly the tag blob the
careful path would keep) accept it; only the first series of each layout is decoded the
careful way. Layouts with an algorithm skipped for want of its source key are not used so:
another series' tags may hold that key.

A batch takes the fast path only in the canonical layout (`layout`): routing key,
config hash, algorithms, one point holding its name, the metric field first as a double,
then tags only, then the time; an optional pick key after it. Anything else (other field
orders, int or string values, a `histogram`'s `le`, several points) stays on the slow path,
which is the reference: tests/receiver/aggregate/test_aggr_fastpath.py checks that both
give the same windows.
"""

from __future__ import annotations

import struct

from google.protobuf.message import DecodeError as ProtoDecodeError

from receiver.aggregate.batch import AlgoSpec, RoutingKey, _read_varint
from offload.codec._pbwire import enc_varint as _varint

__all__ = ["Shape", "layout", "series_key", "time_tables", "hi_time", "shape_for", "key_ok", "tags_only"]

_U63, _U56 = 1 << 63, 1 << 56
_CONT8, _CONT9 = int.from_bytes(b"\x80" * 8, "little"), int.from_bytes(b"\x80" * 9, "little")  # continuation bits
_from_le = int.from_bytes


def _build_tables() -> tuple[list, list, list]:
    """Decoding of the time varint's first 4 bytes (with the 0x18 tag before them) by lookup.

    The fast path reads `<H H B` over [0x18 b0] [b1 b2] [b3]: each table gives that part's
    bits of the time, or None when a byte lacks its continuation bit (or the tag is not
    0x18), so the `|` of the parts raises TypeError for anything but a 9-byte varint start.
    """
    ta: list = [None] * 65536
    for b0 in range(0x80, 0x100):
        ta[0x18 | b0 << 8] = b0 & 0x7F
    tb: list = [None] * 65536
    for b1 in range(0x80, 0x100):
        for b2 in range(0x80, 0x100):
            tb[b1 | b2 << 8] = (b1 & 0x7F) << 7 | (b2 & 0x7F) << 14
    tc: list = [None] * 256
    for b3 in range(0x80, 0x100):
        tc[b3] = (b3 & 0x7F) << 21
    return ta, tb, tc


_TABLES: tuple[list, list, list] | None = None


def time_tables() -> tuple[list, list, list]:
    global _TABLES
    if _TABLES is None:
        _TABLES = _build_tables()
    return _TABLES


def hi_time(shape: Shape, rest: bytes) -> int | None:
    """Bits 28..62 of the time for `rest` = the time varint's last 5 bytes + the batch's tail;
    None unless those bytes end a 9-byte varint and the tail is the shape's. Cached per shape
    (the bits change every 268 ms), so a cache hit also vouches for the tail."""
    if (rest[0] < 0x80 or rest[1] < 0x80 or rest[2] < 0x80 or rest[3] < 0x80 or rest[4] >= 0x80
            or rest[5:] != shape.tail):
        return None
    value = ((rest[0] & 0x7F) << 28 | (rest[1] & 0x7F) << 35 | (rest[2] & 0x7F) << 42 | (rest[3] & 0x7F) << 49
             | rest[4] << 56)
    hi = shape.times
    if len(hi) >= 256:
        hi.clear()
    hi[rest] = value
    return value


class Shape(AlgoSpec):
    """An AlgoSpec plus the byte template of a batch layout; see the module docstring."""

    __slots__ = ("unpack", "head", "tail", "name", "nskip", "times")

    def __init__(self, spec: AlgoSpec, unpack, head: bytes, tail: bytes, name: str, nskip: int) -> None:
        for slot in AlgoSpec.__slots__:
            setattr(self, slot, getattr(spec, slot))
        self.base = spec.base
        self.unpack = unpack
        self.head = head
        self.tail = tail
        self.name = name  # the measurement
        self.nskip = nskip  # algorithms of the batch that skip it (source key missing, not numeric)
        self.times: dict[bytes, int] = {}  # see hi_time


_SHAPES: dict[tuple, Shape] = {}
_STRUCTS: dict[str, object] = {}


def shape_for(spec: AlgoSpec, raw: bytes, a: int, b: int, name: str, nskip: int) -> Shape:
    """The shared Shape of `spec` for batches laid out like `raw` (value at a, time at b)."""
    n = len(raw)
    fmt = f"<11x{a - 11}sd{b - 1 - (a + 8)}sHHB{n - (b + 4)}s"
    head, tail = raw[11:a], raw[b + 9:]
    key = (spec, fmt, head, tail, name, nskip)
    shape = _SHAPES.get(key)
    if shape is None:
        st = _STRUCTS.get(fmt)
        if st is None:
            st = _STRUCTS[fmt] = struct.Struct(fmt)
        if len(_SHAPES) >= 4096:  # calculators keep theirs; new series get fresh ones
            _SHAPES.clear()
            _STRUCTS.clear()
        shape = _SHAPES[key] = Shape(spec, st.unpack, head, tail, name, nskip)
    return shape


def layout(raw: bytes) -> tuple[int, int] | None:
    """(a, b) when `raw` is a batch in the canonical layout: the value's 8 bytes start at a,
    the time's 9 varint bytes at b (after its 0x18 tag); None for any other layout.

    Canonical: 08 <routing key, 10 bytes, or 9 then the config hash tag> [10 <config hash>]
    (22 <algorithm>)* 2a <points: 0a <point: 0a <name> 12 <0a <key> 21 <double>> (12 <tag>)*
    18 <time, 9 bytes>>> [30 <pick key>]. The parts are not checked beyond framing: upb has
    decoded the same bytes on the slow path already.
    """
    n = len(raw)
    try:
        if raw[0] != 0x08:
            return None
        if raw[10] == 0x01 and _from_le(raw[1:10], "little") & _CONT9 == _CONT9:
            pos = 11
        elif raw[10] == 0x10 and 0 < raw[9] < 0x80 and _from_le(raw[1:9], "little") & _CONT8 == _CONT8:
            pos = 10
        else:
            return None
        if raw[pos] == 0x10:
            _, pos = _read_varint(raw, pos + 1)
        while raw[pos] == 0x22:
            ln, pos = _read_varint(raw, pos + 1)
            pos += ln
        if raw[pos] != 0x2A:
            return None
        ln, pos = _read_varint(raw, pos + 1)
        end = pos + ln
        if raw[pos] != 0x0A:
            return None
        ln, pos = _read_varint(raw, pos + 1)
        if pos + ln != end or raw[pos] != 0x0A:
            return None
        ln, pos = _read_varint(raw, pos + 1)
        pos += ln
        if raw[pos] != 0x12:
            return None
        ln, pos = _read_varint(raw, pos + 1)
        fend = pos + ln
        if raw[pos] != 0x0A:
            return None
        ln, pos = _read_varint(raw, pos + 1)
        pos += ln
        if raw[pos] != 0x21 or pos + 9 != fend:
            return None
        a = pos + 1
        pos = fend
        while raw[pos] == 0x12:
            ln, pos = _read_varint(raw, pos + 1)
            pos += ln
        if (raw[pos] != 0x18 or pos + 10 != end or raw[pos + 9] >= 0x80
                or _from_le(raw[pos + 1:pos + 9], "little") & _CONT8 != _CONT8):
            return None
        if end != n:
            if raw[end] != 0x30:
                return None
            _, stop = _read_varint(raw, end + 1)
            if stop != n:
                return None
        return a, pos + 1
    except IndexError:
        return None


def key_ok(raw: bytes) -> bool:
    """True when `raw` starts with a routing key `layout` accepts: raw[:11] is then its series key."""
    if raw[0] != 0x08:
        return False
    if raw[10] == 0x01:
        return _from_le(raw[1:10], "little") & _CONT9 == _CONT9
    return raw[10] == 0x10 and 0 < raw[9] < 0x80 and _from_le(raw[1:9], "little") & _CONT8 == _CONT8


def tags_only(mid: bytes) -> bool:
    """True when `mid` (a batch's bytes between the value and the time) is exactly what
    `batch.tags_blob` makes of its fields: canonical tag fields only (`0a <key> 40 01 ...`,
    each under 128 bytes, one-byte framing). Anything else is left to the slow path."""
    n = len(mid)
    pos = 0
    try:
        while pos < n:
            ln = mid[pos + 1]
            kl = mid[pos + 3]
            # 12 <len> 0a <key len> <key> 40 01 ...; _is_tag's canonical test, same order
            if (mid[pos] != 0x12 or ln >= 0x80 or ln <= 3 or mid[pos + 2] != 0x0A or kl >= 0x80
                    or mid[pos + 4 + kl:pos + 6 + kl] != b"\x40\x01" or kl + 4 > ln):
                return False
            pos += 2 + ln
    except IndexError:
        return False
    return pos == n


def _decoded_rk(prefix: bytes) -> int | None:
    try:
        return RoutingKey.FromString(prefix).routing_key
    except ProtoDecodeError:
        return None


def series_key(raw: bytes, rk: int) -> bytes | int:
    """A series' key in its window: a pure function of the routing key, equal to the batch's
    first 11 bytes for a canonical batch (so the template index shares the object).

    10-byte varints (rk >= 2**63): 08 + varint; 9-byte ones: 08 + varint + 10 (the config
    hash tag that follows); smaller keys (1 in 256) stay ints.
    """
    if rk >= _U63:
        if len(raw) > 10 and raw[0] == 0x08 and raw[10] == 0x01:
            k = raw[:11]
            if _decoded_rk(k) == rk:
                return k
        return b"\x08" + _varint(rk)
    if rk >= _U56:
        if len(raw) > 10 and raw[0] == 0x08 and raw[10] == 0x10 and _decoded_rk(raw[:10]) == rk:
            return raw[:11]
        return b"\x08" + _varint(rk) + b"\x10"
    return rk
