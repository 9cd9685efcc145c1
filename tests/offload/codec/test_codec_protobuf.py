"""Protobuf PBPoints: the spec vector, round trips, and an independent schema built here from wire.md a.2."""

from __future__ import annotations

import math

import pytest
from codec_strategies import examples, pb_points, same
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given
from hypothesis import strategies as st

from offload.codec import _pbwire, protobuf
from offload.errors import EncodeError, ProtobufDecodeError
from offload.point import Point, UInt

FAST = examples(50)

VECTOR = bytes.fromhex(
    "0a2f0a03637075120c0a04686f737440015a02683112050a0176102a12090a036d73675a026869188080a8b1e39fe7cb17"
)
VECTOR_POINT = Point("cpu", {"host": "h1"}, {"v": 42, "msg": "hi"}, 1700000000000000000)


def test_spec_vector_both_ways():
    # wire.md a.5: the tag is written first, then the fields in insertion order
    assert protobuf.encode([VECTOR_POINT]) == VECTOR
    assert protobuf.decode(VECTOR) == [VECTOR_POINT]
    assert _pbwire.decode_careful(VECTOR) == [VECTOR_POINT]
    assert protobuf.encode_point(VECTOR_POINT) == VECTOR[2:]
    assert protobuf.decode_point(VECTOR[2:]) == VECTOR_POINT


def test_oneof_members_are_written_even_when_zero():
    p = Point("", {"t": ""}, {"i": 0, "u": UInt(0), "f": 0.0, "b": False, "d": b"", "s": ""}, 0)
    data = protobuf.encode([p])
    msg = _independent()["PBPoints"].FromString(data)
    assert [f.WhichOneof("val") for f in msg.arr[0].fields] == ["s", "i", "u", "f", "b", "d", "s"]
    assert msg.arr[0].time == 0 and not msg.arr[0].name
    assert b"\x18" not in data[-3:]  # time 0 and the empty name are proto3 defaults: not written
    assert protobuf.decode(data) == [p]


def test_composite_and_nil_values():
    p = Point("m", {}, {"arr": [1, 2], "strs": ["a", "b"], "map": {"k": 1.5, "n": None}, "nil": None}, 1)
    data = protobuf.encode([p])
    msg = _independent()["PBPoints"].FromString(data)
    a = msg.arr[0].fields[0].a
    assert a.type_url == "type.googleapis.com/point.Array"
    assert [e.i for e in _independent()["Array"].FromString(a.value).arr] == [1, 2]
    assert msg.arr[0].fields[2].a.type_url == "type.googleapis.com/point.Map"
    assert msg.arr[0].fields[3].WhichOneof("val") is None
    assert protobuf.decode(data) == [p]
    # an empty array is "no value" on the wire (wire.md a.4)
    assert protobuf.decode(protobuf.encode([Point("m", {}, {"e": []}, 1)]))[0].fields == {"e": None}


def test_unknown_fields_and_metric_types_are_skipped():
    ind = _independent()
    msg = ind["PBPoints"]()
    pt = msg.arr.add(name="m", time=5)
    f = pt.fields.add(key="v", f=1.5, type=41, unit="ms", description="HEAD only")
    f.type = 99  # open enum: any integer is legal on the wire
    pt.debugs.add(info="dbg")
    pt.warns.add(type="w", msg="careful")
    raw = msg.SerializeToString() + b"\xa0\x06\x07"  # plus unknown field 100 (varint) at the top level
    want = [Point("m", {}, {"v": 1.5}, 5, [("w", "careful")])]
    assert same(protobuf.decode(raw), want)
    assert same(_pbwire.decode_careful(raw), want)


def test_fields_in_any_order_and_last_oneof_member_wins():
    # Field: s before key, is_tag after s, then an i that replaces the s
    field = b"\x5a\x01x" + b"\x0a\x01k" + b"\x40\x01" + b"\x10\x07"
    point = b"\x18\x05" + b"\x12" + bytes([len(field)]) + field + b"\x0a\x01m"
    data = b"\x0a" + bytes([len(point)]) + point
    want = [Point("m", {}, {"k": 7}, 5)]  # is_tag with an int: kept as a field
    assert protobuf.decode(data) == want == _pbwire.decode_careful(data)


def test_known_field_with_another_wire_type_is_skipped_like_upb_does():
    ind = _independent()
    point = b"\x08\x05" + b"\x0a\x01m"  # name as a varint first (skipped), then the real name
    data = b"\x0a" + bytes([len(point)]) + point
    assert ind["PBPoints"].FromString(data).arr[0].name == "m"
    assert protobuf.decode(data) == [Point("m", {}, {}, 0)]


@pytest.mark.parametrize(
    "point",
    [
        pytest.param(Point("m", {}, {"v": 1 << 63}, 1), id="int-too-big"),
        pytest.param(Point("m", {}, {"v": UInt(-1)}, 1), id="negative-uint"),
        pytest.param(Point("m", {"t": 1}, {}, 1), id="non-string-tag"),
        pytest.param(Point("m", {}, {"v": object()}, 1), id="unsupported-type"),
        pytest.param(Point("m", {}, {"v": "\ud800"}, 1), id="lone-surrogate"),
        pytest.param(Point("m", {}, {"v": 1}, 1 << 63), id="time-out-of-range"),
    ],
)
def test_unencodable(point):
    with pytest.raises(EncodeError):
        protobuf.encode([point])


# --- round trips --------------------------------------------------------------------------------
@FAST
@given(st.lists(pb_points(), max_size=4))
def test_round_trip(points):
    data = protobuf.encode(points)
    assert same(protobuf.decode(data), points)
    assert same(_pbwire.decode_careful(data), points)
    # our bytes are what the protobuf runtime itself writes for the same message
    assert _independent()["PBPoints"].FromString(data).SerializeToString(deterministic=True) == data or any(
        isinstance(v, dict) and len(v) > 1 for p in points for v in p.fields.values()  # map order is free
    )


@FAST
@given(st.lists(pb_points(), min_size=1, max_size=3), st.data())
def test_fast_path_agrees_with_the_complete_decoder_on_damaged_bytes(points, data):
    raw = bytearray(protobuf.encode(points))
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(raw)))
        if action == "cut":
            del raw[at:]
        elif action == "insert":
            raw[at:at] = bytes([data.draw(st.integers(0, 255))])
        elif at < len(raw):
            raw[at] = data.draw(st.integers(0, 255))

    def run(fn):
        try:
            return fn(bytes(raw))
        except ProtobufDecodeError as exc:
            return ("error", exc.offset)

    fast, careful = run(protobuf.decode), run(_pbwire.decode_careful)
    if isinstance(fast, tuple) or isinstance(careful, tuple):
        assert fast == careful
    else:
        assert same(fast, careful)


# --- an independent schema, built here from the spec's field numbers -----------------------------
_SCHEMA = None


def _independent() -> dict:
    """point.* message classes from a FileDescriptorProto written from wire.md a.2 (not our bindings)."""
    global _SCHEMA
    if _SCHEMA is not None:
        return _SCHEMA
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="independent/point.proto", package="point", syntax="proto3",
                                             dependency=["google/protobuf/any.proto"])
    mt = fdp.enum_type.add(name="MetricType")
    for name, num in (("UNSPECIFIED", 0), ("COUNT", 1), ("RATE", 2), ("GAUGE", 3)):
        mt.value.add(name=name, number=num)

    def message(name, *fields, oneof=None):
        m = fdp.message_type.add(name=name)
        if oneof:
            m.oneof_decl.add(name=oneof)
        for fname, num, typ, extra in fields:
            f = m.field.add(name=fname, number=num, type=typ, label=extra.get("label", F.LABEL_OPTIONAL))
            if "type_name" in extra:
                f.type_name = extra["type_name"]
            if extra.get("oneof"):
                f.oneof_index = 0
            if "json" in extra:
                f.json_name = extra["json"]
        return m

    rep = {"label": F.LABEL_REPEATED}
    one = {"oneof": True}
    message("BasicTypes", ("i", 1, F.TYPE_INT64, one), ("u", 2, F.TYPE_UINT64, one), ("f", 3, F.TYPE_DOUBLE, one),
            ("b", 4, F.TYPE_BOOL, one), ("d", 5, F.TYPE_BYTES, one), ("s", 6, F.TYPE_STRING, one), oneof="x")
    message("Array", ("arr", 1, F.TYPE_MESSAGE, {**rep, "type_name": ".point.BasicTypes"}))
    mp = message("Map", ("map", 1, F.TYPE_MESSAGE, {**rep, "type_name": ".point.Map.MapEntry"}))
    entry = mp.nested_type.add(name="MapEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=".point.BasicTypes")
    message("Field", ("key", 1, F.TYPE_STRING, {}), ("i", 2, F.TYPE_INT64, one), ("u", 3, F.TYPE_UINT64, one),
            ("f", 4, F.TYPE_DOUBLE, one), ("b", 5, F.TYPE_BOOL, one), ("d", 6, F.TYPE_BYTES, one),
            ("s", 11, F.TYPE_STRING, one), ("a", 7, F.TYPE_MESSAGE, {**one, "type_name": ".google.protobuf.Any"}),
            ("is_tag", 8, F.TYPE_BOOL, {}), ("type", 9, F.TYPE_ENUM, {"type_name": ".point.MetricType"}),
            ("unit", 10, F.TYPE_STRING, {}), ("description", 12, F.TYPE_STRING, {}), oneof="val")
    message("Warn", ("type", 1, F.TYPE_STRING, {}), ("msg", 2, F.TYPE_STRING, {"json": "message"}))
    message("Debug", ("info", 1, F.TYPE_STRING, {}))
    message("PBPoint", ("name", 1, F.TYPE_STRING, {}),
            ("fields", 2, F.TYPE_MESSAGE, {**rep, "type_name": ".point.Field"}), ("time", 3, F.TYPE_INT64, {}),
            ("warns", 4, F.TYPE_MESSAGE, {**rep, "type_name": ".point.Warn"}),
            ("debugs", 5, F.TYPE_MESSAGE, {**rep, "type_name": ".point.Debug"}))
    message("PBPoints", ("arr", 1, F.TYPE_MESSAGE, {**rep, "type_name": ".point.PBPoint"}))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(any_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(fdp)
    _SCHEMA = {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"point.{n}"))
               for n in ("PBPoints", "PBPoint", "Field", "Array", "Map", "BasicTypes", "Warn")}
    return _SCHEMA


def _basic_value(b):
    which = b.WhichOneof("x")
    if which is None:
        return None
    v = getattr(b, which)
    return UInt(v) if which == "u" else v


def _from_runtime(msg) -> list[Point]:
    """Points read from runtime messages, by the spec's rules, without our decoder."""
    ind = _independent()
    out = []
    for pt in msg.arr:
        tags, fields = {}, {}
        for f in pt.fields:
            which = f.WhichOneof("val")
            if which is None:
                v = None
            elif which == "a":
                if f.a.type_url.endswith("point.Array"):
                    v = [_basic_value(e) for e in ind["Array"].FromString(f.a.value).arr] or None
                else:
                    v = {k: _basic_value(e) for k, e in ind["Map"].FromString(f.a.value).map.items()}
            else:
                v = getattr(f, which)
                v = UInt(v) if which == "u" else v
            if f.is_tag and (v is None or type(v) is str):
                tags[f.key] = v or ""
            else:
                fields[f.key] = v
        out.append(Point(pt.name, tags, fields, pt.time, [(w.type, w.msg) for w in pt.warns] or None))
    return out


def _to_runtime(points: list[Point]):
    ind = _independent()
    msg = ind["PBPoints"]()
    for p in points:
        pt = msg.arr.add(name=p.name, time=p.time)
        for k, v in p.tags.items():
            pt.fields.add(key=k, s=v, is_tag=True)
        for k, v in p.fields.items():
            f = pt.fields.add(key=k)
            _set(f, v, ind)
        for wt, wm in p.warns or ():
            pt.warns.add(type=wt, msg=wm)
    return msg


def _set(f, v, ind):
    t = type(v)
    if v is None:
        return
    if t is bool:
        f.b = v
    elif t is UInt:
        f.u = v
    elif t is int:
        f.i = v
    elif t is float:
        f.f = v
    elif t is str:
        f.s = v
    elif t is bytes:
        f.d = v
    elif t is list:
        arr = ind["Array"]()
        for e in v:
            _set(arr.arr.add(), e, ind)
        f.a.type_url, f.a.value = "type.googleapis.com/point.Array", arr.SerializeToString()
    else:
        mp = ind["Map"]()
        for k, e in v.items():
            _set(mp.map[k], e, ind)
        f.a.type_url, f.a.value = "type.googleapis.com/point.Map", mp.SerializeToString()


@FAST
@given(st.lists(pb_points(), max_size=3))
def test_runtime_reads_our_bytes(points):
    assert same(_from_runtime(_independent()["PBPoints"].FromString(protobuf.encode(points))), points)


@FAST
@given(st.lists(pb_points(), max_size=3))
def test_we_read_the_runtimes_bytes(points):
    data = _to_runtime(points).SerializeToString()
    assert same(protobuf.decode(data), points)
    assert same(_pbwire.decode_careful(data), points)


def test_nan_and_infinities_survive():
    p = Point("m", {}, {"a": math.nan, "b": math.inf, "c": -math.inf, "d": -0.0}, 1)
    back = protobuf.decode(protobuf.encode([p]))[0]
    assert math.isnan(back.fields["a"]) and back.fields["b"] == math.inf and back.fields["c"] == -math.inf
    assert math.copysign(1, back.fields["d"]) == -1


@pytest.mark.parametrize(
    "body, want",
    [
        pytest.param(b"\x18" + b"\xff" * 9 + b"\x7f", Point("", {}, {}, -1), id="time"),
        pytest.param(b"\x12\x0e\x0a\x01k\x10" + b"\xff" * 9 + b"\x7f", Point("", {}, {"k": -1}, 0), id="int-field"),
        pytest.param(b"\x12\x0e\x0a\x01k\x18" + b"\xff" * 9 + b"\x7f", Point("", {}, {"k": UInt(2**64 - 1)}, 0),
                     id="uint-field"),
    ],
)
def test_ten_byte_varints_beyond_64_bits_are_truncated_like_upb(body, want):
    data = b"\x0a" + bytes([len(body)]) + body
    assert protobuf.decode(data) == [want] == _pbwire.decode_careful(data)
    runtime = _from_runtime(_independent()["PBPoints"].FromString(data))
    assert runtime == [want]
