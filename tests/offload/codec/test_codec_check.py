"""DataKit's precheck (wire.md b.6) with the receiver's category options."""

from __future__ import annotations

import math

import pytest

import offload.codec as codec
from offload.codec.check import check_points
from offload.point import Point


def _types(p: Point) -> list[str]:
    return [t for t, _ in p.warns or []]


def test_clean_logging_point_only_gets_status():
    p = Point("nginx", {"host": "h"}, {"message": "m"}, 1)
    assert check_points([p], "logging") == [p]
    assert p.fields == {"message": "m", "status": "info"}
    assert _types(p) == ["add_required_kv"]
    q = Point("nginx", {"status": "warn"}, {"message": "m"}, 1)
    check_points([q], "logging")
    assert q.fields == {"message": "m"} and q.warns is None  # status as a tag counts


def test_logging_drops_source_and_date_and_dots():
    p = Point("x", {"source": "s", "a.b": "1"}, {"date": 1, "c.d": 2, "status": "ok"}, 1)
    check_points([p], "logging")
    assert p.tags == {"a_b": "1"}
    assert p.fields == {"c_d": 2, "status": "ok"}
    assert sorted(_types(p)) == ["dot_in_key", "dot_in_key", "field_disabled", "tag_disabled"]


def test_object_defaults():
    p = Point("host", {"class": "c"}, {"v": 1}, 1)
    check_points([p], "object")
    assert p.tags == {} and p.fields == {"v": 1, "name": "default"}


def test_metric_drops_strings_and_bytes_and_allows_dots():
    p = Point("cpu", {"a.b": "1"}, {"s": "x", "d": b"y", "v.x": 1.5}, 1)
    check_points([p], "metric")
    assert p.tags == {"a.b": "1"} and p.fields == {"v.x": 1.5}
    assert _types(p) == ["invalid_field_value_type"] * 2


def test_trailing_backslashes_newlines_and_conflicts():
    p = Point("m", {"k\\\\": "v\\", "n\nl": "a\nb", "dup": "1"}, {"f\\": 1, "dup": 2, "x\ny": 3}, 1)
    check_points([p], "network")
    assert p.tags == {"k": "v", "n l": "a b", "dup": "1"}
    assert p.fields == {"f": 1, "x y": 3}
    assert "same_tag_field_key" in _types(p)
    assert _types(p).count("found_new_line_or_tail_espace") == 6


def test_limits_and_values():
    p = Point("", {"t" * 300: "v" * 2000}, {f"f{i}": i for i in range(1030)}, 1)
    p.fields["inf"] = math.inf
    check_points([p], "custom_object")
    assert p.name == "__default"
    assert len(p.fields) == 1024 and "inf" not in p.fields
    (k, v), = p.tags.items()
    assert len(k) == 256 and len(v) == 1024
    assert {"invalid_measurement", "exceed_max_fields", "exceed_max_tag_key_len", "exceed_max_tag_value_len"} <= set(
        _types(p))


def test_inf_nil_maps_and_mixed_arrays():
    p = Point("m", {}, {"a": math.inf, "b": -math.inf, "n": None, "map": {"k": 1}, "mix": [1, "x"], "ok": [1, 2]}, 1)
    check_points([p], "metric")
    assert p.fields == {"a": 18446744073709551615.0, "b": -9223372036854775808.0, "n": None, "ok": [1, 2]}
    assert _types(p) == ["inf_convert_to_max_value", "inf_convert_to_min_value", "nil_field",
                         "invalid_field_value_type", "invalid_field_value_type"]
    q = Point("m", {}, {"map": {"k": 1}, "mix": [1, "x"]}, 1)
    check_points([q], "metric", dict_fields=True, mixed_arrays=True)
    assert q.fields == {"map": {"k": 1}, "mix": [1, "x"]}


def test_truncation_never_splits_a_character():
    p = Point("m", {"t": "é" * 600}, {"v": 1}, 1)
    check_points([p], "metric")
    assert p.tags["t"] == "é" * 512


def test_existing_warnings_are_kept():
    p = Point("m", {}, {"n": None}, 1, [("old", "x")])
    check_points([p], "metric")
    assert p.warns == [("old", "x"), ("nil_field", "nil field(n)")]


@pytest.mark.parametrize("name", ["lineproto", "protobuf", "jsonpoints", "check"])
def test_package_exports(name):
    assert name in codec.__all__ and hasattr(codec, name)
    assert set(codec.__all__) == {n for n in dir(codec) if not n.startswith("_")} - {"annotations"}
