"""The committed bindings in offload/_proto match protos/ (regenerate: python scripts/gen_protos.py)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_fresh():
    out = subprocess.run([sys.executable, "scripts/gen_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_field_numbers_match_the_spec():
    from offload._proto.point import point_pb2
    from offload._proto.aggregate import aggrbatch_pb2

    f = point_pb2.Field.DESCRIPTOR.fields_by_name
    assert {k: f[k].number for k in ("key", "i", "u", "f", "b", "d", "a", "is_tag", "type", "unit", "s", "description")} == {
        "key": 1, "i": 2, "u": 3, "f": 4, "b": 5, "d": 6, "a": 7, "is_tag": 8, "type": 9, "unit": 10, "s": 11, "description": 12,
    }
    assert point_pb2.PBPoint.DESCRIPTOR.full_name == "point.PBPoint"
    a = aggrbatch_pb2.AggregationAlgo.DESCRIPTOR.fields_by_name
    assert {k: a[k].number for k in a} == {
        "method": 1, "source_field": 2, "window": 3, "histogram_opts": 10, "expo_opts": 11, "quantile_opts": 12, "add_tags": 8,
    }
    assert aggrbatch_pb2.Batchs.DESCRIPTOR.full_name == "aggregate.v1.Batchs"


def test_spec_test_vector_parses():
    from offload._proto.point import point_pb2

    raw = bytes.fromhex(
        "0a2f0a03637075120c0a04686f737440015a02683112050a0176102a12090a036d73675a026869188080a8b1e39fe7cb17"
    )
    pts = point_pb2.PBPoints.FromString(raw)
    assert pts.arr[0].name == "cpu" and pts.arr[0].time == 1700000000000000000
    assert pts.SerializeToString() == raw
