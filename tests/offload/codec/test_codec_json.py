"""JSON points (wire.md a.6): both forms, the spec's verified outputs, mixing, and round trips."""

from __future__ import annotations

import math

import orjson
import pytest
from codec_strategies import examples, pb_points, same
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from offload._proto.point import point_pb2
from offload.codec import jsonpoints, protobuf
from offload.errors import EncodeError
from offload.point import Point, UInt

FAST = examples(40)
VECTOR_POINT = Point("cpu", {"host": "h1"}, {"v": 42, "msg": "hi"}, 1700000000000000000)


def test_spec_outputs():
    assert jsonpoints.encode([VECTOR_POINT], form="pbjson") == (
        b'[{"name":"cpu","fields":[{"key":"host","s":"h1","is_tag":true},{"key":"v","i":"42"},'
        b'{"key":"msg","s":"hi"}],"time":"1700000000000000000"}]'
    )
    assert jsonpoints.encode([VECTOR_POINT]) == (
        b'[{"measurement":"cpu","tags":{"host":"h1"},"fields":{"msg":"hi","v":42},"time":1700000000000000000}]'
    )


def test_simple_form_reading_rules():
    body = orjson.dumps([{
        "measurement": "m",
        "tags": {"t": "x"},
        "fields": {"i": 3, "f": 1.5, "s": "str", "b": True, "nums": [1, 2.5], "strs": ["a"], "nested": {"a": 1},
                   "null": None, "empty": []},
        "time": 7,
    }, {"measurement": "n", "fields": {"v": 1}}])
    got = jsonpoints.decode(body)
    assert got == [
        Point("m", {"t": "x"}, {"i": 3.0, "f": 1.5, "s": "str", "b": True, "nums": [1.0, 2.5], "strs": ["a"],
                                "nested": None, "null": None, "empty": None}, 7),
        Point("n", {}, {"v": 1.0}, 0),
    ]
    assert type(got[0].fields["i"]) is float  # every JSON number is a float64


def test_pbjson_reading_rules_and_mixing():
    body = orjson.dumps([
        {"name": "a", "fields": [{"key": "u", "u": "18446744073709551615"}, {"key": "i", "i": -5},
                                 {"key": "d", "d": "aGk="}, {"key": "w", "d": "-_8"}, {"key": "f", "f": "NaN"},
                                 {"key": "t", "s": "v", "isTag": True}, {"key": "g", "f": 2, "type": "GAUGE",
                                                                         "unit": "ms"},
                                 {"key": "arr", "a": {"@type": "type.googleapis.com/point.Array",
                                                      "arr": [{"i": "1"}, {"i": "2"}]}},
                                 {"key": "map", "a": {"@type": "type.googleapis.com/point.Map",
                                                      "map": {"k": {"s": "v"}}}},
                                 {"key": "nil"}],
         "time": "5", "warns": [{"type": "x", "message": "y"}]},
        {"measurement": "b", "fields": {"v": 1}},
    ])
    a, b = jsonpoints.decode(body)
    assert a.name == "a" and a.tags == {"t": "v"} and a.time == 5 and a.warns == [("x", "y")]
    assert a.fields["u"] == UInt(2**64 - 1) and type(a.fields["u"]) is UInt
    assert a.fields["i"] == -5 and a.fields["d"] == b"hi" and a.fields["w"] == b"\xfb\xff"
    assert math.isnan(a.fields["f"]) and a.fields["g"] == 2.0
    assert a.fields["arr"] == [1, 2] and a.fields["map"] == {"k": "v"} and a.fields["nil"] is None
    assert b == Point("b", {}, {"v": 1.0}, 0)


@FAST
@given(st.lists(pb_points(), max_size=3))
def test_pbjson_round_trip(points):
    assert same(jsonpoints.decode(jsonpoints.encode(points, form="pbjson")), points)


@FAST
@given(st.lists(pb_points(), max_size=3))
def test_pbjson_is_protobuf_json(points):
    """The protobuf runtime's own JSON reader accepts what we write and means the same points."""
    data = jsonpoints.encode(points, form="pbjson")
    msgs = [json_format.ParseDict(d, point_pb2.PBPoint()) for d in orjson.loads(data)]
    wire = point_pb2.PBPoints(arr=msgs).SerializeToString()
    assert same(protobuf.decode(wire), points)


def test_simple_round_trip_keeps_what_simple_json_can_say():
    p = Point("m", {"t": "v"}, {"s": "x", "b": False, "f": 2.5, "strs": ["a", "b"]}, 9)
    assert jsonpoints.decode(jsonpoints.encode([p])) == [p]
    lossy = Point("m", {}, {"i": 3, "u": UInt(4), "d": b"hi"}, 0)
    assert jsonpoints.decode(jsonpoints.encode([lossy])) == [Point("m", {}, {"i": 3.0, "u": 4.0, "d": "aGk="}, 0)]


def test_encode_errors():
    with pytest.raises(ValueError):
        jsonpoints.encode([VECTOR_POINT], form="xml")
    with pytest.raises(EncodeError):
        jsonpoints.encode([Point("m", {}, {"v": math.inf}, 1)])
