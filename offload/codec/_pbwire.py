"""Protobuf wire format for `point.PBPoints`, written out by hand (wire.md a.2-a.5).

Reading (`decode_careful`, `parse_field`): a complete decoder over the bytes with
absolute offsets in every `ProtobufDecodeError`. `protobuf.decode` uses it for the
parts its fast path does not take and to locate an error the fast path detected.

Decoding rules (the protobuf runtimes' own, so upb, Go's protobuf and this module
agree on every input):

* fields may come in any order; unknown field numbers are skipped (groups too);
* a known field with a different *valid* wire type is skipped as unknown, as
  protobuf runtimes do; wire types 6 and 7, field number 0, truncated varints,
  lengths or fixed-size values, over-long varints and invalid UTF-8 in a string
  are errors;
* a repeated appearance of a singular field: the last one wins; for the `val`
  oneof the last member present wins;
* int64 is two's complement, enums (`Field.type`) are kept as plain integers.

Writing (`encode_value`, `encode_tag`, ...; `protobuf.encode` assembles them): inside a
Field the members go in field-number order (key 1, value 2-7, is_tag 8, s 11) like
upstream and like the protobuf runtime itself, a oneof member is written even when it
is zero, proto3 defaults elsewhere are left out (empty key, empty Any value).
"""

from __future__ import annotations

import struct

from offload.errors import EncodeError, ProtobufDecodeError
from offload.point import Point, UInt

__all__ = ["ARRAY_URL", "MAP_URL", "decode_careful", "enc_varint", "encode_field", "parse_field", "parse_warn"]

ARRAY_URL = "type.googleapis.com/point.Array"
MAP_URL = "type.googleapis.com/point.Map"
_U64 = 1 << 64
_I64_MIN, _I64_MAX, _U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_D = struct.Struct("<d")
_unpack_d = _D.unpack_from
_pack_d = _D.pack
_NIL = object()  # a Field with no `val` member


# --- reading ------------------------------------------------------------------------------
def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    start = pos
    while True:
        if pos >= end:
            raise ProtobufDecodeError("truncated varint", start)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if shift >= 63 and result >= _U64:
                result &= _U64 - 1  # a 10th byte beyond 64 bits: protobuf runtimes drop the overflow
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufDecodeError("varint longer than 10 bytes", start)


def _skip_group(buf: bytes, pos: int, end: int, fnum: int, start: int) -> int:
    while True:
        if pos >= end:
            raise ProtobufDecodeError(f"unterminated group (field {fnum})", start)
        tag_at = pos
        tag, pos = read_varint(buf, pos, end)
        wt = tag & 7
        if wt == 4:
            if tag >> 3 != fnum:
                raise ProtobufDecodeError(f"mismatched end of group {tag >> 3} (expected {fnum})", tag_at)
            return pos
        pos = _skip(buf, pos, end, tag, tag_at)


def _skip(buf: bytes, pos: int, end: int, tag: int, tag_at: int) -> int:
    """Skip one value of wire type tag & 7 that starts at pos; return the position after it."""
    wt = tag & 7
    if wt == 0:
        return read_varint(buf, pos, end)[1]
    if wt == 1:
        if pos + 8 > end:
            raise ProtobufDecodeError("truncated fixed64 value", pos)
        return pos + 8
    if wt == 2:
        n, p = read_varint(buf, pos, end)
        if p + n > end:
            raise ProtobufDecodeError(f"length {n} runs past the end of the message", pos)
        return p + n
    if wt == 5:
        if pos + 4 > end:
            raise ProtobufDecodeError("truncated fixed32 value", pos)
        return pos + 4
    if wt == 3:
        return _skip_group(buf, pos, end, tag >> 3, tag_at)
    if wt == 4:
        raise ProtobufDecodeError(f"end of group {tag >> 3} without a start", tag_at)
    raise ProtobufDecodeError(f"invalid wire type {wt} (field {tag >> 3})", tag_at)


def _fields(buf: bytes, pos: int, end: int):
    """Yield (field number, wire type, value start, value end or varint value, tag offset) for each field."""
    while pos < end:
        tag_at = pos
        tag, pos = read_varint(buf, pos, end)
        fnum, wt = tag >> 3, tag & 7
        if fnum == 0:
            raise ProtobufDecodeError("invalid field number 0", tag_at)
        if wt == 0:
            v, pos = read_varint(buf, pos, end)
            yield fnum, 0, pos, v, tag_at
        elif wt == 2:
            n, p = read_varint(buf, pos, end)
            if p + n > end:
                raise ProtobufDecodeError(f"length {n} runs past the end of the message", pos)
            pos = p + n
            yield fnum, 2, p, pos, tag_at
        elif wt == 1:
            if pos + 8 > end:
                raise ProtobufDecodeError("truncated fixed64 value", pos)
            pos += 8
            yield fnum, 1, pos - 8, pos, tag_at
        else:
            p = pos
            pos = _skip(buf, pos, end, tag, tag_at)
            yield fnum, wt, p, pos, tag_at


def _str(buf: bytes, start: int, end: int, what: str) -> str:
    try:
        return buf[start:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufDecodeError(f"invalid UTF-8 in {what}", start + exc.start) from None


def _i64(v: int) -> int:
    return v - _U64 if v > _I64_MAX else v


def parse_basic(buf: bytes, pos: int, end: int):
    """A `point.BasicTypes` (array element / map value); _NIL when no member is set."""
    val = _NIL
    for fnum, wt, a, b, _ in _fields(buf, pos, end):
        if wt == 0:
            if fnum == 1:
                val = _i64(b)
            elif fnum == 2:
                val = UInt(b)
            elif fnum == 4:
                val = b != 0
        elif wt == 1:
            if fnum == 3:
                val = _unpack_d(buf, a)[0]
        elif wt == 2:
            if fnum == 5:
                val = buf[a:b]
            elif fnum == 6:
                val = _str(buf, a, b, "a string element")
    return val


def parse_any(buf: bytes, pos: int, end: int, at: int):
    """`Field.a`: a point.Array (list) or point.Map (dict); an empty array is "no value"."""
    url = ""
    v0 = v1 = pos
    for fnum, wt, a, b, _ in _fields(buf, pos, end):
        if wt == 2:
            if fnum == 1:
                url = _str(buf, a, b, "Any.type_url")
            elif fnum == 2:
                v0, v1 = a, b
    if url == ARRAY_URL:
        out = []
        for fnum, wt, a, b, _ in _fields(buf, v0, v1):
            if fnum == 1 and wt == 2:
                e = parse_basic(buf, a, b)
                out.append(None if e is _NIL else e)
        return out if out else None
    if url == MAP_URL:
        m: dict = {}
        for fnum, wt, a, b, _ in _fields(buf, v0, v1):
            if fnum == 1 and wt == 2:
                key, val = "", _NIL
                for f2, w2, a2, b2, _ in _fields(buf, a, b):
                    if w2 == 2 and f2 == 1:
                        key = _str(buf, a2, b2, "a map key")
                    elif w2 == 2 and f2 == 2:
                        val = parse_basic(buf, a2, b2)
                m[key] = None if val is _NIL else val
        return m
    raise ProtobufDecodeError(f"unsupported Any type {url!r} in Field.a", at)


def parse_field(buf: bytes, pos: int, end: int) -> tuple[bool, str, object]:
    """A `point.Field` in buf[pos:end]: (is_tag, key, value); value None = a field with no value."""
    key = ""
    val = _NIL
    is_tag = False
    for fnum, wt, a, b, at in _fields(buf, pos, end):
        if wt == 2:
            if fnum == 11:
                val = _str(buf, a, b, "Field.s")
            elif fnum == 1:
                key = _str(buf, a, b, "Field.key")
            elif fnum == 6:
                val = buf[a:b]
            elif fnum == 7:
                val = parse_any(buf, a, b, at)
            elif fnum == 10 or fnum == 12:
                _str(buf, a, b, "Field.unit" if fnum == 10 else "Field.description")
        elif wt == 0:
            if fnum == 2:
                val = _i64(b)
            elif fnum == 3:
                val = UInt(b)
            elif fnum == 5:
                val = b != 0
            elif fnum == 8:
                is_tag = b != 0
        elif wt == 1 and fnum == 4:
            val = _unpack_d(buf, a)[0]
    return is_tag, key, (None if val is _NIL else val)


def parse_warn(buf: bytes, pos: int, end: int) -> tuple[str, str]:
    wtype = msg = ""
    for fnum, wt, a, b, _ in _fields(buf, pos, end):
        if wt == 2:
            if fnum == 1:
                wtype = _str(buf, a, b, "Warn.type")
            elif fnum == 2:
                msg = _str(buf, a, b, "Warn.msg")
    return wtype, msg


def add_field(tags: dict, fields: dict, is_tag: bool, key: str, val) -> None:
    # A tag carries a string (`s`); a tag without a value is an empty tag. Any other kind
    # marked is_tag cannot be a tag in the point model and is kept as a field.
    if is_tag and (val is None or type(val) is str):
        tags[key] = "" if val is None else val
    else:
        fields[key] = val


def parse_point(buf: bytes, pos: int, end: int) -> Point:
    name = ""
    t = 0
    tags: dict = {}
    fields: dict = {}
    warns = None
    for fnum, wt, a, b, _ in _fields(buf, pos, end):
        if wt == 2:
            if fnum == 2:
                add_field(tags, fields, *parse_field(buf, a, b))
            elif fnum == 1:
                name = _str(buf, a, b, "PBPoint.name")
            elif fnum == 4:
                if warns is None:
                    warns = []
                warns.append(parse_warn(buf, a, b))
        elif wt == 0 and fnum == 3:
            t = _i64(b)
    return Point(name, tags, fields, t, warns)


def decode_careful(buf: bytes) -> list[Point]:
    """Decode a `point.PBPoints` message entirely in Python (precise offsets, any field order)."""
    out = []
    for fnum, wt, a, b, _ in _fields(buf, 0, len(buf)):
        if fnum == 1 and wt == 2:
            out.append(parse_point(buf, a, b))
    return out


# --- writing ------------------------------------------------------------------------------
_SMALL = [bytes((i,)) for i in range(128)]
# Varint encodings of 0..16383 (minimal) and the same 14 bits as two continued bytes: a 64-bit
# varint is then at most five table lookups (time stamps are 9 bytes, lengths 1-2).
_V14 = _SMALL + [bytes(((i & 0x7F) | 0x80, i >> 7)) for i in range(128, 16384)]
_V14C = [bytes(((i & 0x7F) | 0x80, (i >> 7) | 0x80)) for i in range(16384)]


def enc_varint(v: int) -> bytes:
    """Varint of a non-negative int below 2**64 (negative int64 values: pass v & (2**64 - 1))."""
    if v < 16384:
        return _V14[v]
    hi = v >> 14
    if hi < 16384:
        return _V14C[v & 0x3FFF] + _V14[hi]
    return _V14C[v & 0x3FFF] + enc_varint(hi)


def _ld(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else enc_varint(n)) + payload


def _utf8(s: str, what: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodeError(f"{what} is not valid Unicode (lone surrogate)") from None


def _basic(v) -> bytes:
    """A point.BasicTypes message for an array element or map value."""
    t = type(v)
    if t is str:
        return _ld(b"\x32", _utf8(v, "a string element"))
    if t is bool:
        return b"\x20\x01" if v else b"\x20\x00"
    if t is int:
        if v < _I64_MIN or v > _I64_MAX:
            raise EncodeError(f"integer {v} is out of the int64 range")
        return b"\x08" + enc_varint(v & (_U64 - 1))
    if t is float:
        return b"\x19" + _pack_d(v)
    if t is UInt:
        if v < 0 or v > _U64_MAX:
            raise EncodeError(f"unsigned integer {int(v)} is out of the uint64 range")
        return b"\x10" + enc_varint(int(v))
    if t is bytes or t is bytearray or t is memoryview:
        return _ld(b"\x2a", bytes(v))
    if v is None:
        return b""
    for base in (bool, UInt, int, float, str, bytes):
        if isinstance(v, base):
            return _basic(base(v))
    raise EncodeError(f"value of type {t.__name__} cannot be an array element or map value")


def _any(v) -> bytes:
    if isinstance(v, dict):
        entries = b"".join(
            _ld(b"\x0a", _ld(b"\x0a", _utf8(str(k), "a map key")) + _ld(b"\x12", _basic(e))) for k, e in v.items()
        )
        url, payload = MAP_URL, entries
    else:
        url, payload = ARRAY_URL, b"".join(_ld(b"\x0a", _basic(e)) for e in v)
    return _ld(b"\x0a", url.encode()) + (_ld(b"\x12", payload) if payload else b"")


def encode_value(v) -> bytes:
    """The `val` oneof member of a Field (tag and value), or b"" for no value."""
    t = type(v)
    if t is str:
        return _ld(b"\x5a", _utf8(v, "a string field"))
    if t is int:
        if v < _I64_MIN or v > _I64_MAX:
            raise EncodeError(f"integer {v} is out of the int64 range")
        return b"\x10" + enc_varint(v & (_U64 - 1))
    if t is float:
        return b"\x21" + _pack_d(v)
    if t is bool:
        return b"\x28\x01" if v else b"\x28\x00"
    if t is UInt:
        if v < 0 or v > _U64_MAX:
            raise EncodeError(f"unsigned integer {int(v)} is out of the uint64 range")
        return b"\x18" + enc_varint(int(v))
    if t is bytes or t is bytearray or t is memoryview:
        return _ld(b"\x32", bytes(v))
    if t is list or t is tuple or t is dict:
        return _ld(b"\x3a", _any(v))
    if v is None:
        return b""
    for base in (bool, UInt, int, float, str, bytes, dict, list):
        if isinstance(v, base):
            return encode_value(base(v))
    raise EncodeError(f"value of type {t.__name__} cannot be encoded as a protobuf Field")


def encode_field(key_part: bytes, value_part: bytes) -> bytes:
    """`Field` (tag 2 of PBPoint) from its encoded key member and value member."""
    return _ld(b"\x12", key_part + value_part)


def encode_key(key: str) -> bytes:
    """The `key` member of a Field (omitted when empty, as proto3 does)."""
    return _ld(b"\x0a", _utf8(key, "a key")) if key else b""


def encode_tag(key: str, value: str) -> bytes:
    """A whole tag Field: key, is_tag=true, s (field-number order, as upstream writes it)."""
    if type(value) is not str:
        raise EncodeError(f"tag {key!r} has a non-string value")
    return _ld(b"\x12", encode_key(key) + b"\x40\x01" + _ld(b"\x5a", _utf8(value, "a tag value")))


def encode_warn(wtype: str, msg: str) -> bytes:
    body = (_ld(b"\x0a", _utf8(wtype, "a warning")) if wtype else b"") + (
        _ld(b"\x12", _utf8(msg, "a warning")) if msg else b""
    )
    return _ld(b"\x22", body)


def length_prefixed(tag: bytes, payload: bytes) -> bytes:
    return _ld(tag, payload)
