"""Protobuf `point.PBPoints` bodies <-> points (wire.md a.2-a.5).

Decoding, measured on 10,000 nginx logging points (tests/benchmarks/bench_codecs.py,
CPU time, this 2-core machine; the bare `PBPoints.FromString` takes ~1.0 us a point):

* generated classes, then a loop over `arr` / `fields` reading `key`, `WhichOneof`,
  the member and `is_tag`: 9.5-17 us a point (10-15x the bare parse). upb builds a
  Python wrapper for every Field and each attribute read costs 50-150 ns; merely
  iterating the Field objects already costs ~3x the parse;
* a pure-Python decoder over the bytes (`_pbwire.decode_careful`): ~31 us (~35x);
* kept: a *shadow* schema with the same field numbers in which `PBPoint.fields` is
  `repeated bytes`. upb parses and checks the outer structure in C (0.15 us a point,
  UTF-8 of the name included) and hands each Field over as raw bytes. A point whose
  Fields repeat the layout of the point before (same keys, same members: the steady
  state of a logging body) is read by a loop generated for that layout (`_pblayout`):
  a fixed prefix check and an inline conversion per Field, tag sets from a per-call
  cache keyed by their raw bytes. Other points go through the per-Field path: the
  common layouts (key then a string, double or int; tag = key, is_tag, s) inline,
  Fields that repeat byte for byte from a per-call cache. nginx points: ~7 us a point
  (was ~10), 5-8x the bare parse. The 2x target is out of reach in pure Python: taking
  the 8 Fields of a point out of upb as bytes costs ~0.6 us, building the Point with
  its two dicts ~0.5 us, and every Field needs a few hundred ns of interpreter work.
  (Iterating a upb repeated container ends in a formatted IndexError, ~1 us a point:
  the containers are sliced into lists first.)

Anything the fast path does not take (a Field not in the common layout, any error)
goes to `_pbwire`, the complete decoder, which also reports errors with an offset.
Both follow the protobuf runtimes' rules (see `_pbwire`): unknown fields are skipped,
a known field with another valid wire type counts as unknown, invalid wire types (6,
7), truncation and invalid UTF-8 are `ProtobufDecodeError`s.

Points: a Field with is_tag and a string goes to `point.tags`; a Field without a
value becomes None (a "nil field"); `Field.a` arrays/maps become list/dict; `warns`
become `point.warns`; `type`, `unit`, `description` and `debugs` are read and not
kept (the point model has no place for them).

Encoding: tags first (the spec vector a.5 puts the `host` tag before `v` and `msg`),
then fields, each group in insertion order; time 0 and an empty name are omitted
(proto3 defaults); `encode` raises `EncodeError` for a value it cannot represent.
"""

from __future__ import annotations

import struct
from typing import Iterable

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as _PBDecodeError

from offload.codec import _pbencode, _pblayout
from offload.codec import _pbwire as w
from offload.errors import EncodeError, ProtobufDecodeError
from offload.point import Point, UInt

__all__ = ["decode", "decode_point", "encode", "encode_point"]


def _shadow_class():
    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="offload_codec_shadow.proto", package="offload_codec_shadow")
    fdp.syntax = "proto3"
    pt = fdp.message_type.add(name="Point")
    for name, num, typ, label in (
        ("name", 1, f.TYPE_STRING, f.LABEL_OPTIONAL),
        ("fields", 2, f.TYPE_BYTES, f.LABEL_REPEATED),
        ("time", 3, f.TYPE_INT64, f.LABEL_OPTIONAL),
        ("warns", 4, f.TYPE_BYTES, f.LABEL_REPEATED),
    ):
        pt.field.add(name=name, number=num, type=typ, label=label)
    pts = fdp.message_type.add(name="Points")
    pts.field.add(name="arr", number=1, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED,
                  type_name=".offload_codec_shadow.Point")
    pool = descriptor_pool.DescriptorPool()  # private pool: never clashes with the real `point` package
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("offload_codec_shadow.Points"))


_Shadow = _shadow_class()
_parse_shadow = _Shadow.FromString
_unpack_d = struct.Struct("<d").unpack_from
_pack_d = struct.Struct("<d").pack
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1
_CACHE_RAW_MAX = 48  # Fields up to this size are cached byte for byte within one decode call


class _Slow(Exception):
    """Internal: a Field outside the fast layouts."""


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    r = shift = 0
    while True:
        b = raw[pos]
        pos += 1
        r |= (b & 0x7F) << shift
        if b < 0x80:
            if r >= _U64:
                raise _Slow  # a 10th byte beyond 64 bits: the complete decoder applies the runtimes' rule
            return r, pos
        shift += 7
        if shift >= 70:
            raise _Slow


def _fast_field(raw: bytes) -> tuple[bool, str, object]:
    """(is_tag, key, value) for the layouts upstream and we write: key, one member, is_tag before s."""
    n = len(raw)
    if n < 3 or raw[0] != 0x0A or raw[1] > 0x7F:
        raise _Slow
    pos = 2 + raw[1]
    key = raw[2:pos].decode()
    if pos >= n:
        raise _Slow
    t = raw[pos]
    pos += 1
    if t == 0x5A:  # s
        ln = raw[pos]
        if ln < 0x80:
            pos += 1
        else:
            ln, pos = _varint(raw, pos)
        if pos + ln != n:
            raise _Slow
        return False, key, raw[pos:].decode()
    if t == 0x10:  # i
        v, pos = _varint(raw, pos)
        if pos != n:
            raise _Slow
        return False, key, (v - _U64 if v > _I64_MAX else v)
    if t == 0x21:  # f
        if pos + 8 != n:
            raise _Slow
        return False, key, _unpack_d(raw, pos)[0]
    if t == 0x40:  # is_tag, then s
        if pos + 2 < n and raw[pos] == 0x01 and raw[pos + 1] == 0x5A:
            ln = raw[pos + 2]
            pos += 3
            if ln < 0x80 and pos + ln == n:
                return True, key, raw[pos:].decode()
        raise _Slow
    if t == 0x18:  # u
        v, pos = _varint(raw, pos)
        if pos != n or v >= _U64:
            raise _Slow
        return False, key, UInt(v)
    if t == 0x28:  # b
        if pos + 1 == n and raw[pos] < 0x80:
            return False, key, raw[pos] != 0
        raise _Slow
    raise _Slow


def _field(raw: bytes) -> tuple[bool, str, object]:
    """(goes to tags, key, value) for one raw Field."""
    try:
        is_tag, key, val = _fast_field(raw)
    except (_Slow, IndexError, UnicodeDecodeError):
        is_tag, key, val = w.parse_field(raw, 0, len(raw))
    # A tag carries a string; without a value it is an empty tag. Any other kind marked
    # is_tag cannot be a tag in the point model and is kept as a field.
    if is_tag:
        if val is None:
            return True, key, ""
        if type(val) is not str:
            return False, key, val
    return is_tag, key, val


def decode(data: bytes) -> list[Point]:
    """Decode a `point.PBPoints` body; raises `ProtobufDecodeError` (with an offset) when malformed."""
    data = bytes(data)
    try:
        return _decode_fast(data)
    except (_PBDecodeError, ProtobufDecodeError, UnicodeDecodeError, IndexError, struct.error, _Slow):
        pass
    # Locate the problem precisely (or decode what the fast path declined to).
    return w.decode_careful(data)


_RUNS: dict[tuple, object] = {}  # layout -> its generated loop (see _pblayout)
_RUNS_MAX = 64


def _decode_fast(data: bytes) -> list[Point]:
    out: list[Point] = []
    app = out.append
    cache: dict[bytes, tuple] = {}
    tcache: dict = {}
    # Lists, not the upb containers: iterating those ends in a formatted IndexError each time.
    arr = _parse_shadow(data).arr[:]
    i, n = 0, len(arr)
    run = None
    while i < n:
        if run is not None:
            # The layout of the previous point, read point after point by its generated loop.
            i = run(arr, i, n, app, tcache)
            if i >= n:
                break
        p = arr[i]
        app(_point(p, cache))
        i += 1
        if i < n:
            layout = _pblayout.layout_of(p.fields[:])
            run = None
            if layout is not None:
                run = _RUNS.get(layout)
                if run is None:
                    if len(_RUNS) >= _RUNS_MAX:
                        _RUNS.clear()
                    run = _RUNS[layout] = _pblayout.compile_run(layout)
    return out


def _point(p, cache: dict) -> Point:
    """One shadow point through the per-Field path (inline common layouts, byte-for-byte cache)."""
    get = cache.get
    unpack_d = _unpack_d
    tags: dict = {}
    fields: dict = {}
    for raw in p.fields[:]:
        n = len(raw)
        if n <= _CACHE_RAW_MAX:
            r = get(raw)
            if r is not None:
                (tags if r[0] else fields)[r[1]] = r[2]
                continue
        # Inline: key then a string or double member, the bulk of logging Fields.
        kl = raw[1]
        if raw[0] == 0x0A and kl < 0x80:
            pos = 2 + kl
            if pos + 1 < n:
                t = raw[pos]
                if t == 0x5A:
                    ln = raw[pos + 1]
                    if ln < 0x80:
                        if pos + 2 + ln == n:
                            fields[raw[2:pos].decode()] = raw[pos + 2 :].decode()
                            continue
                    elif pos + 2 < n and raw[pos + 2] < 0x80 and pos + 3 + ((ln & 0x7F) | (raw[pos + 2] << 7)) == n:
                        fields[raw[2:pos].decode()] = raw[pos + 3 :].decode()
                        continue
                elif t == 0x21 and pos + 9 == n:
                    fields[raw[2:pos].decode()] = unpack_d(raw, pos + 1)[0]
                    continue
                elif t == 0x10 and n - pos <= 11:
                    v, q = _varint(raw, pos + 1)
                    if q == n:
                        fields[raw[2:pos].decode()] = v - _U64 if v > _I64_MAX else v
                        continue
        r = _field(raw)
        if n <= _CACHE_RAW_MAX and type(r[2]) not in (list, dict):  # never share mutables
            cache[raw] = r
        (tags if r[0] else fields)[r[1]] = r[2]
    if p.warns:
        return Point(p.name, tags, fields, p.time, [w.parse_warn(x, 0, len(x)) for x in p.warns[:]])
    return Point(p.name, tags, fields, p.time)


def decode_point(data: bytes) -> Point:
    """Decode one serialized `point.PBPoint` message (not wrapped in PBPoints)."""
    data = bytes(data)
    return w.parse_point(data, 0, len(data))


# --- encoding -----------------------------------------------------------------------------
_CACHE_MAX = 50_000
_key_cache: dict[str, bytes] = {}
_tag_cache: dict[tuple[str, str], bytes] = {}


def _key(k: str) -> bytes:
    b = _key_cache.get(k)
    if b is None:
        if type(k) is not str:
            raise EncodeError(f"field key {k!r} is not a string")
        if len(_key_cache) >= _CACHE_MAX:
            _key_cache.clear()
        b = _key_cache[k] = w.encode_key(k)
    return b


_SMALL = [bytes((i,)) for i in range(128)]


def _point_body(p: Point) -> bytes:
    parts = []
    app = parts.append
    name = p.name
    if name:
        app(w.length_prefixed(b"\x0a", _name(name)))
    tags = p.tags
    if tags:
        tc = _tag_cache
        for item in tags.items():
            b = tc.get(item)
            if b is None:
                b = w.encode_tag(*item)
                if len(tc) >= _CACHE_MAX:
                    tc.clear()
                tc[item] = b
            app(b)
    ld = w.length_prefixed
    small = _SMALL
    kc = _key_cache
    for k, v in p.fields.items():
        kp = kc.get(k)
        if kp is None:
            kp = _key(k)
        t = type(v)
        if t is str:
            vb = v.encode()
            n = len(vb)
            body = kp + b"\x5a" + (small[n] if n < 128 else w.enc_varint(n)) + vb
        elif t is int and -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
            body = kp + b"\x10" + (small[v] if 0 <= v < 128 else w.enc_varint(v & 0xFFFFFFFFFFFFFFFF))
        elif t is float:
            body = kp + b"\x21" + _pack_d(v)
        else:
            body = kp + w.encode_value(v)
        n = len(body)
        app((b"\x12" + small[n] + body) if n < 128 else ld(b"\x12", body))
    t = p.time
    if t:
        if t < -(1 << 63) or t > _I64_MAX:
            raise EncodeError(f"time {t} is out of the int64 range")
        app(b"\x18" + w.enc_varint(t & (_U64 - 1)))
    if p.warns:
        for wtype, msg in p.warns:
            app(w.encode_warn(wtype, msg))
    return b"".join(parts)


_name_cache: dict[str, bytes] = {}


def _name(name: str) -> bytes:
    b = _name_cache.get(name)
    if b is None:
        if len(_name_cache) >= 1000:
            _name_cache.clear()
        b = _name_cache[name] = w._utf8(name, "the measurement name")
    return b


def encode_point(p: Point) -> bytes:
    """One serialized `point.PBPoint` message (the element of `PBPoints.arr`, without its framing)."""
    try:
        return _point_body(p)
    except UnicodeEncodeError:
        raise EncodeError(f"point {p.name!r} holds a string that is not valid Unicode (lone surrogate)") from None


def encode(points: Iterable[Point]) -> bytes:
    """A serialized `point.PBPoints` body; `EncodeError` if a point holds a value protobuf cannot carry."""
    # The fast writer (_pbencode) writes the bytes of _encode_reference, with fewer steps a Field.
    try:
        return _pbencode.encode(points)
    except UnicodeEncodeError:
        raise EncodeError("a point holds a string that is not valid Unicode (lone surrogate)") from None


def _encode_reference(points: Iterable[Point]) -> bytes:
    """The plain writer `encode` must match byte for byte (kept for the equality tests)."""
    ld = w.length_prefixed
    body = _point_body
    try:
        return b"".join([ld(b"\x0a", body(p)) for p in points])
    except UnicodeEncodeError:
        raise EncodeError("a point holds a string that is not valid Unicode (lone surrogate)") from None
