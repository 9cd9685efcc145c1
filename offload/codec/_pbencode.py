"""The fast `PBPoints` writer behind `protobuf.encode` (wire.md a.2-a.5).

It writes exactly the bytes of `protobuf._encode_reference` (the straightforward writer
built from `_pbwire`'s pieces; tests/offload/codec/test_codec_pbencode_fast.py holds
the two to byte equality) with less interpreter work per Field:

* one loop over all points, the common value kinds (str, int, float) inline, keyed on
  the exact type so that bool (an int subclass) and UInt fall to the general path;
* per field key, cached: the key member, the finished Field header for a float (its
  length is fixed), for an int by the length of its varint, for a string by its byte
  length, and whole Fields for small ints (0..16383, a bounded number a key);
* a string Field is its cached header plus the value's bytes, appended separately so
  the value is copied once, by the join of its point;
* tag Fields and the name member are cached whole; a timestamp reuses the varint of
  its high bits (bits 28 and up) while consecutive points share them.

Anything else (bool, UInt, bytes, arrays, maps, None, out-of-range ints, warnings)
goes through `_pbwire`, the same functions the reference uses.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from offload.codec import _pbwire as w
from offload.errors import EncodeError

__all__ = ["encode"]

_CACHE_MAX = 50_000
_PER_KEY = 256
# Entries in the per-key dicts, all keys together: when they run out the key cache starts over
# (bounds the memory a stream of ever new keys and lengths can take to a few tens of MB).
_ROOM = 200_000
_room = _ROOM
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_M64 = (1 << 64) - 1
_V14 = w._V14  # varints of 0..16383
_V14C = w._V14C  # 14 bits as two continued varint bytes
_pack_d = struct.Struct("<d").pack

# key -> (len(key member), key member + s tag, key member, Field headers for an int by the
#         length of its varint, Field header for a float, {string length: Field header},
#         {small int: whole Field}); the two dicts hold at most _PER_KEY entries.
_keys: dict[str, tuple] = {}
_tags: dict[tuple, bytes] = {}
_names: dict[str, bytes] = {}
# point length (below 16384) -> its PBPoints.arr tag and length
_prefixes: dict[int, bytes] = {}


def _key_entry(k) -> tuple:
    if type(k) is not str:
        raise EncodeError(f"field key {k!r} is not a string")
    kp = w.encode_key(k)
    n = len(kp)
    ev = w.enc_varint
    e = (
        n,
        kp + b"\x5a",
        kp,
        tuple(
            b"\x12" + ev(n + 1 + ln) + kp + b"\x10" for ln in range(11)
        ),  # by varint length
        b"\x12" + ev(n + 9) + kp + b"\x21",
        {},  # string byte length -> Field header
        {},  # small int -> whole Field
    )
    global _room
    if len(_keys) >= _CACHE_MAX:
        _keys.clear()
        _room = _ROOM
    _keys[k] = e
    return e


def _tag(item: tuple) -> bytes:
    b = w.encode_tag(*item)
    if len(_tags) >= _CACHE_MAX:
        _tags.clear()
    _tags[item] = b
    return b


def _name(name: str) -> bytes:
    b = w.length_prefixed(b"\x0a", w._utf8(name, "the measurement name"))
    if len(_names) >= 1000:
        _names.clear()
    _names[name] = b
    return b


def _remember(d: dict, k: int, b: bytes) -> None:
    global _room
    if _room <= 0:
        _keys.clear()
        _room = _ROOM
    if len(d) < _PER_KEY:
        d[k] = b
        _room -= 1


def _str_header(ke: tuple, n: int) -> bytes:
    ev = w.enc_varint
    nv = ev(n)
    h = b"\x12" + ev(ke[0] + 1 + len(nv) + n) + ke[1] + nv
    _remember(ke[5], n, h)
    return h


def _small_int(ke: tuple, v: int) -> bytes:
    vb = w.enc_varint(v)
    b = ke[3][len(vb)] + vb
    _remember(ke[6], v, b)
    return b


def _point_prefix(n: int) -> bytes:
    b = b"\x0a" + w.enc_varint(n)
    if n < 16384:
        _prefixes[n] = b
    return b


def _time(t) -> bytes:
    """The time member outside the fast range (small, negative, or not a plain int)."""
    if t < -(1 << 63) or t > _I64_MAX:
        raise EncodeError(f"time {t} is out of the int64 range")
    return b"\x18" + w.enc_varint(t & _M64)


def encode(points: Iterable) -> bytes:
    """A serialized `point.PBPoints` body (UnicodeEncodeError for a lone surrogate: the caller words it)."""
    out: list[bytes] = []
    app = out.append
    kc, tc, nc, pc = _keys, _tags, _names, _prefixes
    V14, V14C, ev, ld = _V14, _V14C, w.enc_varint, w.length_prefixed
    pack_d = _pack_d
    encode_value = w.encode_value
    last_hi = -1
    last_hib = b""
    for p in points:
        parts: list[bytes] = []
        pa = parts.append
        name = p.name
        if name:
            b = nc.get(name)
            pa(b if b is not None else _name(name))
        tags = p.tags
        if tags:
            for item in tags.items():
                b = tc.get(item)
                pa(b if b is not None else _tag(item))
        for k, v in p.fields.items():
            ke = kc.get(k)
            if ke is None:
                ke = _key_entry(k)
            t = type(v)
            if t is str:
                vb = v.encode()
                n = len(vb)
                h = ke[5].get(n)
                if h is None:
                    h = _str_header(ke, n)
                pa(h)
                pa(vb)
            elif t is int:
                if 0 <= v < 16384:
                    b = ke[6].get(v)
                    pa(b if b is not None else _small_int(ke, v))
                elif 16384 <= v <= _I64_MAX:
                    vb = V14C[v & 0x3FFF] + V14[v >> 14] if v < 0x10000000 else ev(v)
                    pa(ke[3][len(vb)] + vb)
                elif _I64_MIN <= v < 0:
                    pa(ke[3][10] + ev(v & _M64))
                else:
                    pa(ld(b"\x12", ke[2] + encode_value(v)))
            elif t is float:
                pa(ke[4] + pack_d(v))
            else:
                pa(ld(b"\x12", ke[2] + encode_value(v)))
        t = p.time
        if t:
            if type(t) is int and 0x10000000 <= t <= _I64_MAX:
                hi = t >> 28
                if hi != last_hi:
                    last_hi = hi
                    last_hib = ev(hi)
                pa(b"\x18" + V14C[t & 0x3FFF] + V14C[(t >> 14) & 0x3FFF] + last_hib)
            else:
                pa(_time(t))
        if p.warns:
            for wtype, msg in p.warns:
                pa(w.encode_warn(wtype, msg))
        body = b"".join(parts)
        n = len(body)
        b = pc.get(n)
        app(b if b is not None else _point_prefix(n))
        app(body)
    return b"".join(out)
