"""The shared aggregate hashes against the spec's verified vectors (spec/aggregate.md §3, §5)."""

from __future__ import annotations

import pytest

from offload.aggregate import hashing
from offload.aggregate.hashing import (
    SEED1, calc_key, combine, distinct_hash, fnv1a64, go_format_float, go_value_text, pick_key, routing_key, xxh64,
)
from offload.point import Point, UInt


@pytest.mark.parametrize("text, expected", [
    pytest.param("", 0xEF46DB3751D8E999, id="empty"),
    pytest.param("cpu", 0x4196F531CE64819B, id="cpu"),
    pytest.param("nginx", 0x188D61B16256BBCC, id="nginx"),
    pytest.param("host", 0x47FB2B69F412B698, id="host"),
    pytest.param("h1", 0xD18FB40FE4E36755, id="h1"),
    pytest.param("latency", 0x3A244E0352E8D5F7, id="latency"),
    pytest.param("sum", 0x36AB25892FB753A8, id="sum"),
])
def test_xxh64_vectors(text, expected):
    assert xxh64(text) == expected


def test_constants_and_combine_vector():
    assert SEED1 == 11400714819323198485
    assert combine(SEED1, xxh64("cpu")) == 2613383690153232249


def _forked(**tags) -> Point:
    return Point("nginx", tags=tags, fields={"latency": 12.5})


def test_routing_and_pick_keys():
    p = _forked(host="h1", service="web")
    assert routing_key(p, ["host", "service"]) == 4127877650926251513
    assert pick_key("nginx", ["host", "service"]) == 17828702574034093578
    assert pick_key(p, ["service", "host"]) == 17828702574034093578  # sorted inside


def test_group_by_order_does_not_matter():
    p = _forked(host="h1", service="web")
    assert routing_key(p, ["service", "host"]) == 4127877650926251513


def test_calc_key_vector():
    assert calc_key(4127877650926251513, "sum", "latency_sum", "nginx") == 6074817545256760619


def test_absent_group_by_key_is_skipped():
    p = _forked(host="h1")
    assert routing_key(p, ["host", "service"]) == 14003462514239883385
    assert pick_key(p, ["host", "service"]) == 17828702574034093578


def test_empty_group_by():
    p = _forked(host="h1", service="web")
    assert routing_key(p, []) == 265895406765934756
    assert pick_key(p, []) == 13903032718043675434


def test_string_field_counts_like_a_tag_and_non_string_is_skipped():
    as_field = Point("nginx", tags={"host": "h1"}, fields={"latency": 12.5, "service": "web"})
    assert routing_key(as_field, ["host", "service"]) == 4127877650926251513
    non_string = Point("nginx", tags={"host": "h1"}, fields={"latency": 12.5, "service": 3})
    assert routing_key(non_string, ["host", "service"]) == 14003462514239883385


@pytest.mark.parametrize("text, expected", [
    pytest.param("float64:3", 15606597506358434716, id="float"),
    pytest.param("string:abc", 8612988366978483410, id="string"),
    pytest.param("bool:true", 10441371741206902245, id="bool"),
])
def test_fnv1a64_vectors(text, expected):
    assert fnv1a64(text.encode()) == expected


@pytest.mark.parametrize("value, text", [
    pytest.param(3.0, "3", id="int-valued"),
    pytest.param(0.1, "0.1", id="tenth"),
    pytest.param(123456.0, "123456", id="six-digits"),
    pytest.param(1e6, "1e+06", id="million"),
    pytest.param(1234567.0, "1.234567e+06", id="exp-form"),
    pytest.param(0.0001, "0.0001", id="small"),
    pytest.param(1e-05, "1e-05", id="smaller"),
    pytest.param(-2.5, "-2.5", id="negative"),
    pytest.param(1e21, "1e+21", id="huge"),
    pytest.param(1.5e-300, "1.5e-300", id="tiny"),
    pytest.param(-0.0, "-0", id="neg-zero"),
    pytest.param(float("inf"), "+Inf", id="inf"),
    pytest.param(float("nan"), "NaN", id="nan"),
])
def test_go_float_format(value, text):
    assert go_format_float(value) == text


@pytest.mark.parametrize("value, text", [
    pytest.param(3.0, "float64:3", id="float"),
    pytest.param("abc", "string:abc", id="string"),
    pytest.param(True, "bool:true", id="bool"),
    pytest.param(b"ab", "[]uint8:[97 98]", id="bytes"),
    pytest.param(7, "int64:7", id="int"),
    pytest.param(UInt(7), "uint64:7", id="uint"),
])
def test_go_value_text(value, text):
    assert go_value_text(value) == text


def test_distinct_hash_uses_the_go_text():
    assert distinct_hash(3.0) == 15606597506358434716
    assert distinct_hash("abc") == 8612988366978483410
    assert distinct_hash(True) == 10441371741206902245


def test_public_names():
    assert set(hashing.__all__) >= {"routing_key", "pick_key", "calc_key", "combine", "distinct_hash"}
