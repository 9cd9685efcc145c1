"""The fast protobuf writer (`_pbencode`) writes exactly the reference writer's bytes."""

from __future__ import annotations

import pytest
from codec_strategies import I64, PB_VALUE, examples, pb_points
from hypothesis import given
from hypothesis import strategies as st

from offload.codec import protobuf
from offload.errors import EncodeError
from offload.point import Point, UInt

VECTOR = bytes.fromhex(
    "0a2f0a03637075120c0a04686f737440015a02683112050a0176102a12090a036d73675a026869188080a8b1e39fe7cb17"
)
VECTOR_POINT = Point("cpu", {"host": "h1"}, {"v": 42, "msg": "hi"}, 1700000000000000000)


def _same_bytes(points: list[Point]) -> None:
    assert protobuf.encode(points) == protobuf._encode_reference(points)


def test_spec_vector():
    assert protobuf.encode([VECTOR_POINT]) == VECTOR
    assert protobuf._encode_reference([VECTOR_POINT]) == VECTOR


@given(st.lists(pb_points(), max_size=6))
@examples(300)
def test_same_bytes_as_the_reference(points):
    _same_bytes(points)


# Sizes around the varint boundaries of values, Fields and points (127/128, 16383/16384).
_SIZES = st.sampled_from(
    [
        0,
        1,
        100,
        120,
        125,
        126,
        127,
        128,
        129,
        200,
        16370,
        16375,
        16379,
        16380,
        16383,
        16384,
        20000,
    ]
)


@given(
    key_len=_SIZES,
    val_len=_SIZES,
    n_fields=st.integers(1, 3),
    value=st.one_of(
        I64, st.integers(min_value=-(1 << 70), max_value=1 << 70), PB_VALUE
    ),
    time=st.one_of(
        I64, st.sampled_from([0, 1, (1 << 28) - 1, 1 << 28, (1 << 63) - 1, -(1 << 63)])
    ),
)
@examples(300)
def test_same_bytes_around_size_boundaries(key_len, val_len, n_fields, value, time):
    fields = {
        ("k" * key_len) + str(i): "é" * (val_len // 2) + "v" * (val_len % 2)
        for i in range(n_fields)
    }
    fields["x" * key_len] = value
    fields["f" * key_len] = 1.5
    fields["i" * key_len] = val_len
    points = [
        Point("m" * val_len, {"t" * key_len: "v" * val_len}, fields, time),
        Point(
            "m",
            {},
            {"i": val_len, "n": -val_len, "b": True, "u": UInt(val_len)},
            time + 1 if time < (1 << 63) - 1 else time,
        ),
    ]
    try:
        want = protobuf._encode_reference(points)
    except EncodeError as exc:
        with pytest.raises(EncodeError) as got:
            protobuf.encode(points)
        assert str(got.value) == str(exc)
        return
    assert protobuf.encode(points) == want


def test_same_errors_as_the_reference():
    bad = [
        [Point("m", {}, {"s": "\ud800"}, 1)],
        [Point("\ud800", {}, {"s": "x"}, 1)],
        [Point("m", {"t": 1}, {"s": "x"}, 1)],
        [Point("m", {}, {1: "x"}, 1)],
        [Point("m", {}, {"i": 1 << 63}, 1)],
        [Point("m", {}, {"u": UInt(-1)}, 1)],
        [Point("m", {}, {"o": object()}, 1)],
        [Point("m", {}, {"i": 1}, 1 << 63)],
    ]
    for points in bad:
        with pytest.raises(EncodeError) as want:
            protobuf._encode_reference(points)
        with pytest.raises(EncodeError) as got:
            protobuf.encode(points)
        assert str(got.value) == str(want.value)


def test_a_stream_of_points_sharing_time_high_bits():
    t0 = 1_700_000_000_000_000_000
    points = [
        Point(
            "nginx",
            {"host": f"web-{k % 3}"},
            {"msg": "x" * k, "n": k * 97, "f": k / 7},
            t0 + k * 999_983_117,
        )
        for k in range(300)
    ]
    _same_bytes(points)
    _same_bytes(points[::-1])
    assert protobuf.decode(protobuf.encode(points)) == points
