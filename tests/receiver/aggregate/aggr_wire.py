"""A DataKit-shaped aggregate client for tests, built from the spec's schema tables (wire.md §a, §f).

The messages are declared here with descriptor_pb2 and the protobuf runtime, not taken
from offload/_proto, so the receiver is checked against the spec rather than against
its own generated code. Routing and pick keys use the shared hashes (checked against
the spec's Go-verified vectors in tests/offload/aggregate/test_hashing.py).
"""

from __future__ import annotations

from typing import Any, Iterable

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

from offload.aggregate.hashing import pick_key, routing_key
from offload.point import Point

F = descriptor_pb2.FieldDescriptorProto
ONE, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def _add_message(fdp, name, fields, oneofs=(), nested=()):
    m = fdp.message_type.add(name=name)
    for o in oneofs:
        m.oneof_decl.add(name=o)
    for n in nested:
        m.nested_type.append(n)
    for spec in fields:
        fname, number, ftype, label, type_name, oneof = (list(spec) + [None, None])[:6]
        f = m.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if oneof is not None:
            f.oneof_index = oneof
    return m


def _map_entry(name, value_type, value_type_name=None):
    entry = descriptor_pb2.DescriptorProto(name=name)
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=ONE)
    v = entry.field.add(name="value", number=2, type=value_type, label=ONE)
    if value_type_name:
        v.type_name = value_type_name
    return entry


def _build():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    point = descriptor_pb2.FileDescriptorProto(name="point/point.proto", package="point", syntax="proto3",
                                               dependency=["google/protobuf/any.proto"])
    _add_message(point, "Field", [
        ("key", 1, F.TYPE_STRING, ONE), ("i", 2, F.TYPE_INT64, ONE, None, 0), ("u", 3, F.TYPE_UINT64, ONE, None, 0),
        ("f", 4, F.TYPE_DOUBLE, ONE, None, 0), ("b", 5, F.TYPE_BOOL, ONE, None, 0),
        ("d", 6, F.TYPE_BYTES, ONE, None, 0), ("s", 11, F.TYPE_STRING, ONE, None, 0),
        ("a", 7, F.TYPE_MESSAGE, ONE, ".google.protobuf.Any", 0), ("is_tag", 8, F.TYPE_BOOL, ONE),
        ("type", 9, F.TYPE_INT32, ONE), ("unit", 10, F.TYPE_STRING, ONE), ("description", 12, F.TYPE_STRING, ONE),
    ], oneofs=["val"])
    _add_message(point, "PBPoint", [("name", 1, F.TYPE_STRING, ONE), ("fields", 2, F.TYPE_MESSAGE, REP, ".point.Field"),
                                    ("time", 3, F.TYPE_INT64, ONE)])
    _add_message(point, "PBPoints", [("arr", 1, F.TYPE_MESSAGE, REP, ".point.PBPoint")])
    pool.Add(point)

    aggr = descriptor_pb2.FileDescriptorProto(name="aggregate/aggrbatch.proto", package="aggregate.v1",
                                              syntax="proto3", dependency=["point/point.proto"])
    _add_message(aggr, "HistogramOptions", [("buckets", 1, F.TYPE_DOUBLE, REP)])
    _add_message(aggr, "ExpoHistogramOptions", [("max_scale", 1, F.TYPE_INT32, ONE), ("max_buckets", 2, F.TYPE_INT32, ONE),
                                                ("record_min_max", 3, F.TYPE_BOOL, ONE)])
    _add_message(aggr, "QuantileOptions", [("percentiles", 1, F.TYPE_DOUBLE, REP)])
    _add_message(aggr, "AggregationAlgo", [
        ("method", 1, F.TYPE_STRING, ONE), ("source_field", 2, F.TYPE_STRING, ONE), ("window", 3, F.TYPE_INT64, ONE),
        ("histogram_opts", 10, F.TYPE_MESSAGE, ONE, ".aggregate.v1.HistogramOptions", 0),
        ("expo_opts", 11, F.TYPE_MESSAGE, ONE, ".aggregate.v1.ExpoHistogramOptions", 0),
        ("quantile_opts", 12, F.TYPE_MESSAGE, ONE, ".aggregate.v1.QuantileOptions", 0),
        ("add_tags", 8, F.TYPE_MESSAGE, REP, ".aggregate.v1.AggregationAlgo.AddTagsEntry"),
    ], oneofs=["options"], nested=[_map_entry("AddTagsEntry", F.TYPE_STRING)])
    _add_message(aggr, "AggregationBatch", [
        ("routing_key", 1, F.TYPE_UINT64, ONE), ("config_hash", 2, F.TYPE_UINT64, ONE),
        ("raw_config", 3, F.TYPE_BYTES, ONE),
        ("aggregation_opts", 4, F.TYPE_MESSAGE, REP, ".aggregate.v1.AggregationBatch.AggregationOptsEntry"),
        ("points", 5, F.TYPE_MESSAGE, ONE, ".point.PBPoints"), ("pick_key", 6, F.TYPE_UINT64, ONE),
    ], nested=[_map_entry("AggregationOptsEntry", F.TYPE_MESSAGE, ".aggregate.v1.AggregationAlgo")])
    _add_message(aggr, "Batchs", [("batchs", 1, F.TYPE_MESSAGE, REP, ".aggregate.v1.AggregationBatch"),
                                  ("pick_key", 2, F.TYPE_UINT64, ONE)])
    pool.Add(aggr)
    get = lambda n: message_factory.GetMessageClass(pool.FindMessageTypeByName(n))  # noqa: E731
    return get("aggregate.v1.Batchs"), get("aggregate.v1.AggregationBatch"), get("point.PBPoints")


Batchs, AggregationBatch, PBPoints = _build()

SECOND = 1_000_000_000


def algo(method: str, source_field: str = "", window_s: float = 10, add_tags: dict | None = None,
         percentiles: Iterable[float] | None = None) -> dict[str, Any]:
    return {"method": method, "source_field": source_field, "window": int(window_s * SECOND),
            "add_tags": dict(add_tags or {}), "percentiles": list(percentiles) if percentiles is not None else None}


def _fill_point(pb, p: Point) -> None:
    pb.name = p.name
    pb.time = p.time
    for key, value in p.fields.items():  # the forked metric field first (spec §2)
        f = pb.fields.add(key=key)
        if isinstance(value, bool):
            f.b = value
        elif isinstance(value, int):
            f.i = value
        elif isinstance(value, float):
            f.f = value
        elif isinstance(value, str):
            f.s = value
        elif isinstance(value, bytes):
            f.d = value
    for key, value in p.tags.items():
        pb.fields.add(key=key, s=value, is_tag=True)


def forked(name: str, field: str, value: Any, t_ns: int, tags: dict[str, str] | None = None,
           extra_fields: dict[str, Any] | None = None) -> Point:
    fields = {field: value}
    fields.update(extra_fields or {})
    return Point(name, dict(tags or {}), fields, t_ns)


def batch_for(p: Point, algos: dict[str, dict], group_by: Iterable[str] = ("host",), config_hash: int = 1):
    """One AggregationBatch for one forked point, as the DataKit client builds it (spec §2)."""
    group_by = sorted(group_by)
    b = AggregationBatch(routing_key=routing_key(p, group_by), pick_key=pick_key(p.name, group_by),
                         config_hash=config_hash)
    for out, a in algos.items():
        entry = b.aggregation_opts[out]
        entry.method = a["method"]
        entry.source_field = a["source_field"]
        entry.window = a["window"]
        for k, v in a["add_tags"].items():
            entry.add_tags[k] = v
        if a["percentiles"] is not None:
            entry.quantile_opts.percentiles.extend(a["percentiles"])
    _fill_point(b.points.arr.add(), p)
    return b


def body_for(batches: list, pick: int | None = None) -> bytes:
    """A serialized Batchs holding the given AggregationBatch messages."""
    msg = Batchs()
    for b in batches:
        msg.batchs.add().CopyFrom(b)
    msg.pick_key = pick if pick is not None else (batches[0].pick_key if batches else 0)
    return msg.SerializeToString()


def datakit_headers(body: bytes, pick: int) -> dict[str, str]:
    """The headers DataKit's aggregate client sends (wire.md §f.1)."""
    return {
        "Content-Type": "application/x-protobuf", "Content-Encoding": "identity",
        "X-Payload-Size": str(len(body)), "Guance-Pick-Key": str(pick), "Guance-Routing-Key": str(pick),
    }


# -- one sample set through every algorithm, with the expected output (spec §5 and our extras) ------------

EVERY_VALUES = [(1, 10.0), (2, 20.0), (3, 5.0), (4, 40.0), (5, 30.0)]  # (seconds after the window start, value)


def every_algorithm(window_s: float = 10) -> dict[str, dict]:
    """One algorithm per method, output name = method (prefixed), all reading `latency`."""
    methods = ["sum", "avg", "count", "min", "max", "first", "last", "stdev", "quantiles", "count_distinct",
               "histogram", "delta", "rate", "increase", "rollup"]
    return {f"lat_{m}": algo(m, "latency", window_s=window_s, percentiles=[0.5, 0.9] if m == "quantiles" else None)
            for m in methods}


def every_expected(start_ns: int) -> list[dict[str, Any]]:
    """The field sets a window over EVERY_VALUES must produce (histogram gives two points)."""
    return [
        {"lat_sum": 105.0, "lat_sum_count": 5},
        {"lat_avg": 21.0, "lat_avg_count": 5},
        {"lat_count": 5, "lat_count_count": 5},
        {"lat_min": 5.0, "lat_min_count": 5},
        {"lat_max": 40.0, "lat_max_count": 5},
        {"lat_first": 10.0, "lat_first_count": 5},
        {"lat_last": 30.0, "lat_last_count": 5},
        {"lat_stdev": 14.317821063276353, "lat_stdev_count": 5},
        {"lat_quantiles_count": 5, "lat_quantiles_P50": 20.0, "lat_quantiles_P90": 36.0},
        {"lat_count_distinct": 5, "lat_count_distinct_count": 5},
        {"lat_histogram": 10.0},
        {"lat_histogram_count": 5},
        {"lat_delta": 20.0, "lat_delta_count": 5},
        {"lat_rate": 5.0, "lat_rate_count": 5},
        {"lat_increase": 80.0, "lat_increase_count": 5},
        {"lat_rollup_sum": 105.0, "lat_rollup_count": 5, "lat_rollup_min": 5.0, "lat_rollup_max": 40.0,
         "lat_rollup_first": 10.0, "lat_rollup_first_ts": start_ns + 1 * SECOND, "lat_rollup_last": 90.0,  # 10 + the reset-aware increase
         "lat_rollup_increase": 80.0},
    ]


def check_every(points: list, start_ns: int, host: str = "h1") -> None:
    """Assert that `points` are exactly every_expected (order-free; floats to 1e-12)."""
    import math

    got = sorted((sorted(p.fields.items()) for p in points), key=lambda kv: kv[0][0])
    want = sorted((sorted(f.items()) for f in every_expected(start_ns)), key=lambda kv: kv[0][0])
    assert len(got) == len(want), f"{len(got)} points, wanted {len(want)}: {got}"
    for g, w in zip(got, want):
        assert [k for k, _ in g] == [k for k, _ in w], (g, w)
        for (k, gv), (_, wv) in zip(g, w):
            assert type(gv) is type(wv), (k, gv, wv)
            assert math.isclose(gv, wv, rel_tol=1e-12), (k, gv, wv)
    for p in points:
        assert p.tags.get("host") == host and p.name == "nginx", p
