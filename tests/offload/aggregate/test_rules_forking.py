"""Selection, forking and batch building (spec/aggregate.md §2, §3) for DataKit-form rules."""

from __future__ import annotations

import pytest

from offload._proto.point import point_pb2 as ppb
from offload.aggregate import hashing
from offload.aggregate.engine import RulesEngine
from offload.aggregate.rules import parse_rules
from offload.point import Point, UInt

T0 = 1_700_000_000_000_000_000


def engine_for(text: str, **kwargs) -> RulesEngine:
    ruleset, diags = parse_rules(text)
    assert ruleset is not None, diags
    return RulesEngine(ruleset, **kwargs)


def forked(engine: RulesEngine) -> list:
    """Every queued AggregationBatch, flattened."""
    return [b for bs in engine.take() for b in bs.batchs]


def as_point(pb: ppb.PBPoint) -> Point:
    tags, fields = {}, {}
    for f in pb.fields:
        kind = f.WhichOneof("val")
        v = getattr(f, kind) if kind else None
        if f.is_tag:
            tags[f.key] = v
        else:
            fields[f.key] = UInt(v) if kind == "u" else v
    return Point(pb.name, tags, fields, pb.time)


NGINX = """
default_window = "10s"
[[aggregate_rules]]
name = "nginx_latency"
group_by = ["service", "host", "code"]
  [aggregate_rules.select]
  category = "logging"
  measurements = ["nginx", "reg:^gw_"]
  metric_name = ["latency", "reg:^bytes_", "host"]
  condition = '{ status >= 200 and method in ["GET", "POST"] } { force = true }'
  [aggregate_rules.algorithms.latency_sum]
  method = "sum"
  source_field = "latency"
  window = 60000000000
    [aggregate_rules.algorithms.latency_sum.add_tags]
    agg = "sum"
  [aggregate_rules.algorithms.latency_q]
  method = "quantiles"
  source_field = "latency"
    [aggregate_rules.algorithms.latency_q.quantile_opts]
    percentiles = [0.5, 0.99]
"""


def test_fork_one_point_per_selected_field_with_spec_layout():
    e = engine_for(NGINX)
    p = Point("nginx", {"host": "h1", "service": "web", "method": "GET"},
              {"latency": 12, "bytes_in": UInt(7), "bytes_out": 1.5, "other": 3, "status": 200,
               "code": 404, "flag": True},
              T0)
    e.feed("logging", [p])
    batches = forked(e)
    assert len(batches) == 3  # latency, bytes_in, bytes_out; "host" is a tag, so it is not forked
    by_field = {b.points.arr[0].fields[0].key: b for b in batches}
    b = by_field["latency"]
    pt = b.points.arr[0]
    assert pt.name == "nginx" and pt.time == T0
    first = pt.fields[0]
    assert first.WhichOneof("val") == "f" and first.f == 12.0 and not first.is_tag  # int -> float
    # then group_by keys sorted: code (a field: keeps its int type), host, service (tags)
    assert [(f.key, f.is_tag, f.WhichOneof("val")) for f in pt.fields[1:]] == [
        ("code", False, "i"), ("host", True, "s"), ("service", True, "s")]
    assert by_field["bytes_in"].points.arr[0].fields[0].f == 7.0  # uint -> float
    for b in batches:
        point = as_point(b.points.arr[0])
        assert b.routing_key == hashing.routing_key(point, ["service", "host", "code"])
        assert b.pick_key == hashing.pick_key("nginx", ["code", "host", "service"])
        opts = b.aggregation_opts
        assert set(opts) == {"latency_sum", "latency_q"}
        assert opts["latency_sum"].window == 60_000_000_000 and dict(opts["latency_sum"].add_tags) == {"agg": "sum"}
        assert opts["latency_q"].window == 10_000_000_000  # default_window
        assert list(opts["latency_q"].quantile_opts.percentiles) == [0.5, 0.99]
        assert b.config_hash == e.ruleset.config_hash and not b.raw_config


def test_spec_hash_vectors():
    e = engine_for(NGINX.replace('group_by = ["service", "host", "code"]', 'group_by = ["service", "host"]'))
    e.feed("logging", [Point("nginx", {"host": "h1", "service": "web"}, {"latency": 12.5, "status": 200,
                                                                         "method": "GET"}, T0)])
    (b,) = forked(e)
    assert b.routing_key == 4127877650926251513
    assert b.pick_key == 17828702574034093578
    e.feed("logging", [Point("nginx", {"host": "h1"}, {"latency": 12.5, "force": True}, T0)])
    (b,) = forked(e)
    assert b.routing_key == 14003462514239883385 and b.pick_key == 17828702574034093578


@pytest.mark.parametrize(
    "point, selected",
    [
        pytest.param(Point("gw_edge", {}, {"latency": 1, "status": 201, "method": "POST"}), True, id="reg-measurement"),
        pytest.param(Point("apache", {}, {"latency": 1, "status": 201, "method": "POST"}), False, id="measurement"),
        pytest.param(Point("nginx", {}, {"latency": 1, "status": 199, "method": "GET"}), False, id="condition-num"),
        pytest.param(Point("nginx", {}, {"latency": 1, "status": 200, "method": "PUT"}), False, id="condition-in"),
        pytest.param(Point("nginx", {}, {"latency": 1, "force": True}), True, id="second-clause"),
        pytest.param(Point("nginx", {"method": "GET"}, {"latency": 1}), False, id="missing-key-false"),
    ],
)
def test_selection(point, selected):
    e = engine_for(NGINX)
    point.time = T0
    e.feed("logging", [point])
    assert bool(forked(e)) == selected
    e.feed("metric", [point])  # other categories never match
    assert not forked(e)


def test_unforkable_values_and_empty_group_tags():
    e = engine_for(NGINX)
    e.feed("logging", [Point("nginx", {"host": "", "service": "web"},
                             {"latency": [1, 2], "bytes_x": "s", "status": 200, "method": "GET", "host": "hf"}, T0)])
    batches = forked(e)
    # arrays are not forked; a string field is forked as a string; "host" is selected by
    # metric_name and is a field here, so it is forked too; the empty host tag falls back
    # to the field of the same name in the group
    assert [b.points.arr[0].fields[0].key for b in batches] == ["bytes_x", "host"]
    pt = batches[0].points.arr[0]
    assert pt.fields[0].s == "s"
    assert [(f.key, f.is_tag) for f in pt.fields[1:]] == [("host", False), ("service", True)]
    assert batches[0].routing_key == hashing.routing_key(as_point(pt), ["code", "host", "service"])


def test_batchs_grouped_by_pick_key():
    e = engine_for(NGINX)
    pts = [Point(name, {"host": f"h{i}"}, {"latency": i, "force": True}, T0 + i)
           for i in range(10) for name in ("nginx", "gw_a")]
    e.feed("logging", pts)
    out = e.take()
    assert sorted(bs.pick_key for bs in out) == sorted(
        hashing.pick_key(n, ["code", "host", "service"]) for n in ("nginx", "gw_a"))
    for bs in out:
        assert len(bs.batchs) == 10 and all(b.pick_key == bs.pick_key for b in bs.batchs)


MONASCA = """
default_window = "10s"
[[aggregate_rules]]
name = "m"
group_by = ["service"]
  [aggregate_rules.select]
  category = "metric"
  metric_name = ["v"]
  require = { service = ["a", "b"], region = "reg:^eu-" }
  reject = { env = ["dev"] }
  reject_dimension = ["debug_id"]
  [aggregate_rules.algorithms.v_sum]
  method = "sum"
  source_field = "v"
"""


@pytest.mark.parametrize(
    "tags, selected",
    [
        ({"service": "a", "region": "eu-west"}, True),
        ({"service": "b", "region": "eu-1", "env": "prod"}, True),
        ({"service": "c", "region": "eu-1"}, False),
        ({"region": "eu-1"}, False),
        ({"service": "a", "region": "us-1"}, False),
        ({"service": "a", "region": "eu-1", "env": "dev"}, False),
        ({"service": "a", "region": "eu-1", "debug_id": "x"}, False),
    ],
)
def test_monasca_filters(tags, selected):
    e = engine_for(MONASCA)
    e.feed("metric", [Point("m", tags, {"v": 1.0}, T0)])
    assert bool(forked(e)) == selected


def test_resolutions_expand_to_one_algorithm_each():
    e = engine_for("""
default_window = "1m"
[[aggregate_rules]]
name = "r"
group_by = ["host"]
  [aggregate_rules.select]
  category = "metric"
  metric_name = ["lat"]
  [aggregate_rules.algorithms.lat]
  method = "rollup"
  resolutions = ["1m", "5m", "10m", "30m", "1h", "4h"]
""")
    e.feed("metric", [Point("cpu", {"host": "h"}, {"lat": 2.0}, T0)])
    (b,) = forked(e)
    got = {k: (v.method, v.source_field, v.window) for k, v in b.aggregation_opts.items()}
    minute = 60_000_000_000
    assert got == {f"lat_{n}": ("rollup", "lat", w * minute)
                   for n, w in (("1m", 1), ("5m", 5), ("10m", 10), ("30m", 30), ("1h", 60), ("4h", 240))}


def test_config_hash_and_identity_are_stable_across_formatting():
    a, _ = parse_rules(NGINX)
    b, _ = parse_rules("# a comment\n" + NGINX.replace("  ", "    "))
    assert a.config_hash == b.config_hash
    assert a.rules[0].identity == b.rules[0].identity
    c, _ = parse_rules(NGINX.replace("0.99", "0.9"))
    assert c.config_hash != a.config_hash and c.rules[0].identity != a.rules[0].identity


COUNTER = """
default_window = "10s"
[[aggregate_rules]]
name = "req"
group_by = ["service"]
  [aggregate_rules.select]
  category = "metric"
  metric_name = ["requests_total"]
  [aggregate_rules.algorithms.req_inc]
  method = "increase"
  source_field = "requests_total"
  [aggregate_rules.algorithms.req_max]
  method = "max"
  source_field = "requests_total"
"""


def test_increase_sends_reset_aware_deltas_per_raw_series():
    e = engine_for(COUNTER)
    seq = [("p1", 10), ("p2", 100), ("p1", 15), ("p2", 130), ("p1", 3), ("p1", 3), ("p2", 131)]
    pts = [Point("http", {"service": "s", "pod": pod}, {"requests_total": v}, T0 + i) for i, (pod, v) in
           enumerate(seq)]
    pts.append(Point("http", {"service": "s", "pod": "p1"}, {"requests_total": 99}, T0 + 2))  # out of order
    e.feed("metric", pts)
    batches = forked(e)
    raw = [b for b in batches if "req_max" in b.aggregation_opts]
    delta = [b for b in batches if "req_inc" in b.aggregation_opts]
    assert all(set(b.aggregation_opts) == {"req_max"} for b in raw)
    assert all(b.aggregation_opts["req_inc"].method == "sum" for b in delta)
    assert [b.points.arr[0].fields[0].f for b in raw] == [10, 100, 15, 130, 3, 3, 131, 99]
    # baselines 0, then +5, +30, reset -> 3, duplicate time ignored... (p1,3) at a new time adds 0
    assert [b.points.arr[0].fields[0].f for b in delta] == [0, 0, 5, 30, 3, 0, 1]
    assert all(b.routing_key == raw[0].routing_key for b in batches)  # same group series and field


def test_selects_tells_the_agent_which_points_a_rule_consumes():
    e = engine_for(NGINX.replace('default_window = "10s"', 'default_window = "10s"\naction = "drop"'))
    assert e.action == "drop"
    assert e.selects("logging", Point("nginx", {}, {"latency": 1, "force": True}))
    assert not e.selects("logging", Point("nginx", {}, {"latency": 1}))  # condition fails
    assert not e.selects("logging", Point("nginx", {}, {"other": 1, "force": True}))  # no field selected
    assert not e.selects("metric", Point("nginx", {}, {"latency": 1, "force": True}))
