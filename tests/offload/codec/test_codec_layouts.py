"""The per-layout loops of both decoders: they stop at anything outside their layout and agree with the careful paths."""

from __future__ import annotations

import pytest

from offload.codec import _pbwire, lineproto, protobuf
from offload.errors import LineProtocolError
from offload.point import Point, UInt

NOW = 1_700_000_000_123_456_789


def _lp_line(k: int) -> str:
    return f'web,host=h{k % 3} n={k}i,msg="a \\"q\\" {k}",x={k}.5 {1_700_000_000_000_000_000 + k}'


LP_ODD_LINES = [
    'web,host=h1 n=1i,msg="x",x=1.5',  # no timestamp: now
    "web,host=h1 n=1i,msg=\"x\",x=1.5 9223372036854775807",  # largest int64
    'web\\ a,host=h\\,1 n=1i,msg="x",x=1.5 5',  # escapes in the head
    'web,host=hnew n=1i,msg="x",x=1.5 5',  # a head not seen before
    'web,host=h1 n=1i,msg="multi\nline",x=1.5 5',  # a string across lines
    'web,host=h1 n=1i,msg="x",x=1.5',
    "",
    "# a comment",
    'web,host=h1 n=1u,msg="x",x=1.5 5',  # another layout
    'web,host=h1 n=99999999999999999999i,msg="x",x=1.5 5',  # not an int64 (scanner error)
]


@pytest.mark.parametrize("odd", range(len(LP_ODD_LINES)))
@pytest.mark.parametrize("precision", ["n", "s", None])
def test_lineproto_layout_stops_where_the_scanner_must_take_over(odd, precision):
    lines = [_lp_line(k) for k in range(6)] + [LP_ODD_LINES[odd]] + [_lp_line(k) for k in range(6, 12)]
    text = "\n".join(lines)
    try:
        want = lineproto.decode_careful(text, precision, NOW)
    except LineProtocolError as exc:
        with pytest.raises(LineProtocolError) as got:
            lineproto.decode(text, precision, NOW)
        assert (got.value.line, got.value.column) == (exc.line, exc.column)
        return
    assert lineproto.decode(text, precision, NOW) == want
    assert lineproto.decode(text.encode() + b"\n", precision, NOW) == want


def test_lineproto_layout_timestamp_out_of_range_is_reported():
    text = "\n".join([_lp_line(k) for k in range(4)] + ['web,host=h1 n=1i,msg="x",x=1.5 9223372036854775808'])
    with pytest.raises(LineProtocolError) as got:
        lineproto.decode(text, "n", NOW)
    assert got.value.line == 5
    text = "\n".join([_lp_line(k) for k in range(4)] + ['web,host=h1 n=1i,msg="x",x=1.5 9223372036854775'])
    with pytest.raises(LineProtocolError):
        lineproto.decode(text, "s", NOW)


def test_lineproto_layout_points_own_their_dicts():
    points = lineproto.decode("\n".join(_lp_line(k) for k in range(5)), "n", NOW)
    points[2].tags["x"] = "y"
    points[2].fields["z"] = 1
    assert all("x" not in p.tags and "z" not in p.fields for i, p in enumerate(points) if i != 2)
    again = lineproto.decode("\n".join(_lp_line(k) for k in range(5)), "n", NOW)
    assert all("x" not in p.tags for p in again)
    assert points[3] == Point("web", {"host": "h0"}, {"n": 3, "msg": 'a "q" 3', "x": 3.5}, 1_700_000_000_000_000_003)


def _pb_point(k: int) -> Point:
    return Point(
        "web",
        {"host": f"h{k % 3}"},
        {"msg": "m" * (k * 7 % 300), "n": k - 3, "x": k / 4},
        1_700_000_000_000_000_000 + k,
    )


def _field(key: bytes, member: bytes) -> bytes:
    body = b"\x0a" + bytes([len(key)]) + key + member
    return b"\x12" + bytes([len(body)]) + body


def _point_bytes(fields: list[bytes], extra: bytes = b"") -> bytes:
    body = b"\x0a\x03web" + b"".join(fields) + extra
    return b"\x0a" + _pbwire.enc_varint(len(body)) + body


TAG = _field(b"host", b"\x40\x01\x5a\x02h1")
PB_ODD = [
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x10\x05"), _field(b"x", b"\x21" + b"\0" * 8)]),
    # an int64 of ten bytes (negative), a uint64 in the place of the int
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x10" + b"\xff" * 9 + b"\x01"),
                  _field(b"x", b"\x21" + b"\0" * 8)]),
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x18\x05"), _field(b"x", b"\x21" + b"\0" * 8)]),
    # a string member followed by is_tag, a Field with two values (the last wins)
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a\x40\x01"), _field(b"n", b"\x10\x05\x10\x06"),
                  _field(b"x", b"\x21" + b"\0" * 8)]),
    # invalid UTF-8 in a string: an error
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01\xff"), _field(b"n", b"\x10\x05"), _field(b"x", b"\x21" + b"\0" * 8)]),
    # one Field fewer, one more
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x10\x05")]),
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x10\x05"), _field(b"x", b"\x21" + b"\0" * 8),
                  _field(b"y", b"\x28\x01")]),
    # a warning, an unknown field
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x10\x05"), _field(b"x", b"\x21" + b"\0" * 8)],
                 b"\x22\x06\x0a\x01w\x12\x01m"),
    _point_bytes([TAG, _field(b"msg", b"\x5a\x01a"), _field(b"n", b"\x10\x05"), _field(b"x", b"\x21" + b"\0" * 8)],
                 b"\x48\x07"),
    # a 2-byte string length, a tag with an empty value
    _point_bytes([_field(b"host", b"\x40\x01\x5a\x00"), _field(b"msg", b"\x5a\x80\x01" + b"z" * 128),
                  _field(b"n", b"\x10\x05"), _field(b"x", b"\x21" + b"\0" * 8)]),
]


@pytest.mark.parametrize("odd", range(len(PB_ODD)))
def test_protobuf_layout_stops_where_the_generic_path_must_take_over(odd):
    head = protobuf.encode([_pb_point(k) for k in range(5)])
    tail = protobuf.encode([_pb_point(k) for k in range(5, 9)])
    data = head + PB_ODD[odd] + tail
    try:
        want = _pbwire.decode_careful(data)
    except Exception as exc:  # noqa: BLE001 - the same error class is what matters
        with pytest.raises(type(exc)):
            protobuf.decode(data)
        return
    got = protobuf.decode(data)
    assert got == want
    assert [p.warns for p in got] == [p.warns for p in want]


def test_protobuf_layout_values():
    points = [_pb_point(k) for k in range(9)] + [Point("web", {"host": "h"}, {"msg": "", "n": -(1 << 63), "x": -0.0}, -5)]
    got = protobuf.decode(protobuf.encode(points))
    assert got == points
    assert all(type(p.fields["n"]) is int and type(p.fields["x"]) is float for p in got)
    got[1].tags["q"] = "r"
    assert "q" not in got[4].tags
    assert protobuf.decode(protobuf.encode([Point("a", {}, {"u": UInt(3)}, 1)] * 3)) == [Point("a", {}, {"u": UInt(3)}, 1)] * 3
