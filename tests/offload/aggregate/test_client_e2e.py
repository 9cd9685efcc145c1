"""End to end: rules engine + AggregateClient -> a standalone `offload-receiver` -> the Dataway stand-in.

Every function's aggregated value is checked against a value computed here, independently,
from the raw samples (counter resets inside a window included). Windows are 2 s and
the receiver's tolerance 1 s, so the whole test takes a few seconds.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import pytest

from offload.aggregate.client import AggregateClient
from offload.aggregate.engine import RulesEngine
from offload.point import Point
from support.procs import free_port, wait_http

TOKEN = "tkn_" + "0123456789abcdef" * 2
SEC = 1_000_000_000
W = 2  # base window, seconds

RULES = """
default_window = "2s"

[[promql_rules]]
promql = 'increase by (service) (http_requests_total[2s])'
as = "req_inc"

[[promql_rules]]
promql = 'sum2 by (service) (http_requests_total{pod=~"p.*"}[2s])'
as = "req_sum2"

[[promql_rules]]
promql = 'sum by (dc) (node_temp[2s])'
as = "temp_sum"

[[promql_rules]]
promql = 'count by (dc) (node_temp[2s])'
as = "temp_count"

[[promql_rules]]
promql = 'min by (dc) (node_temp[2s])'
as = "temp_min"

[[promql_rules]]
promql = 'max by (dc) (node_temp[2s])'
as = "temp_max"

[[promql_rules]]
promql = 'avg by (dc) (node_temp{host!="ignored"}[2s])'
as = "temp_avg"

[[promql_rules]]
promql = 'last by (dc) (node_temp[2s])'
as = "temp_last"

[[promql_rules]]
promql = 'sum by (le) (rpc_latency_bucket[2s])'
as = "rpc_bucket"

[[aggregate_rules]]
name = "temp_rollup"
group_by = ["host"]
  [aggregate_rules.select]
  category = "metric"
  measurements = ["node"]
  metric_name = ["temp"]
  [aggregate_rules.algorithms.temp_r]
  method = "rollup"
  source_field = "temp"
  resolutions = ["2s", "4s"]
"""


def window_end(t_ns: int, w: int) -> int:
    """Spec §4.1 alignment for whole-second windows: (E - W, E], E in seconds."""
    return -((-t_ns) // (w * SEC)) * w


def samples(end: int) -> list[tuple[str, dict, str, float, int]]:
    """(measurement, tags, field, value, time ns): two 2 s windows ending at end-2 and end."""
    E = end * SEC
    at = lambda s: E - int(s * SEC)  # noqa: E731  seconds before the end
    out = []
    # counters: pod p1 resets inside the last window; p2 keeps counting
    for pod, series in (("p1", [(3.5, 100), (2.5, 110), (1.8, 120), (1.2, 5), (0.6, 9), (0.0, 12)]),
                        ("p2", [(3.0, 50), (1.5, 70), (0.5, 75)])):
        for s, v in series:
            out.append(("http", {"service": "api", "pod": pod}, "requests_total", float(v), at(s)))
    # gauges in two data centres
    for dc, host, series in (("eu", "h1", [(3.9, 20.5), (2.2, 22.0), (1.9, 21.0), (0.7, 25.5), (0.1, 19.0)]),
                             ("eu", "h2", [(3.1, 30.0), (1.0, 31.5), (0.3, 29.0)]),
                             ("us", "h3", [(1.4, -4.0), (0.9, 3.0)])):
        for s, v in series:
            out.append(("node", {"dc": dc, "host": host}, "temp", v, at(s)))
    # histogram buckets (cumulative counts per le) from two hosts
    for host, le, s, v in (("a", "0.1", 1.5, 3), ("a", "1", 1.5, 7), ("a", "+Inf", 1.5, 9),
                           ("b", "0.1", 0.5, 1), ("b", "1", 0.5, 4), ("b", "+Inf", 0.5, 4)):
        out.append(("rpc", {"host": host, "le": le}, "latency_bucket", float(v), at(s)))
    return out


def expected(raw) -> dict[tuple, dict[str, float]]:
    """(measurement, frozenset(tags), window end s, field) -> value, computed straight from raw."""
    exp: dict[tuple, float] = {}

    def put(name, tags, end, fields):
        for k, v in fields.items():
            exp[(name, frozenset(tags.items()), end, k)] = v

    # gauges by dc: sum count min max avg last
    groups = defaultdict(list)
    for name, tags, field, v, t in raw:
        if name == "node":
            groups[(tags["dc"], window_end(t, W))].append((t, v))
    for (dc, end), vals in groups.items():
        vs = [v for _, v in vals]
        n = len(vs)
        last = max(vals, key=lambda x: x[0])[1]
        for k, val in (("temp_sum", sum(vs)), ("temp_count", n), ("temp_min", min(vs)), ("temp_max", max(vs)),
                       ("temp_avg", sum(vs) / n), ("temp_last", last)):
            put("node", {"dc": dc}, end, {k: val, k + "_count": n})
    # counters: per raw series (pod) increases, reset-aware, first sample = baseline 0
    incs = defaultdict(list)
    for pod in ("p1", "p2"):
        series = sorted((t, v) for name, tags, _, v, t in raw if name == "http" and tags["pod"] == pod)
        prev = None
        for t, v in series:
            inc = 0.0 if prev is None else (v - prev if v >= prev else v)
            prev = v
            incs[window_end(t, W)].append(inc)
    for end, vals in incs.items():
        for k in ("req_inc", "req_sum2"):
            put("http", {"service": "api"}, end, {k: sum(vals), k + "_count": len(vals)})
    # histogram buckets: per le sums
    buckets = defaultdict(list)
    for name, tags, _, v, t in raw:
        if name == "rpc":
            buckets[(tags["le"], window_end(t, W))].append(v)
    for (le, end), vals in buckets.items():
        put("rpc", {"le": le}, end, {"rpc_bucket": sum(vals), "rpc_bucket_count": len(vals)})
    # rollups per host at 2 s and 4 s
    for res in (2, 4):
        series = defaultdict(list)
        for name, tags, _, v, t in raw:
            if name == "node":
                series[(tags["host"], window_end(t, res))].append((t, v))
        for (host, end), vals in series.items():
            vals.sort()
            vs = [v for _, v in vals]
            inc, prev = 0.0, None
            for v in vs:
                if prev is not None:
                    inc += v - prev if v >= prev else v
                prev = v
            k = f"temp_r_{res}s"
            put("node", {"host": host}, end, {
                k + "_sum": sum(vs), k + "_count": len(vs), k + "_min": min(vs), k + "_max": max(vs),
                k + "_first": vs[0], k + "_first_ts": vals[0][0], k + "_last": vs[0] + inc, k + "_increase": inc,
            })
    return exp


def receiver_config(tmp_path, dataway_url: str) -> tuple:
    http_port, grpc_port = free_port(), free_port()
    (tmp_path / "pipelines").mkdir()
    cfg = tmp_path / "receiver.toml"
    cfg.write_text(f"""
aggregator_mode = "standalone"
aggregator_tolerance = "1s"
[http]
listen = "127.0.0.1:{http_port}"
[grpc]
listen = "127.0.0.1:{grpc_port}"
[pipeline]
scripts_dir = "{tmp_path / 'pipelines'}"
[dataway]
urls = ["{dataway_url}?token={TOKEN}"]
wal_dir = "{tmp_path / 'wal'}"
""")
    return cfg, f"http://127.0.0.1:{http_port}"


async def test_every_function_end_to_end(tmp_path, procs, dataway):
    cfg, rx_url = receiver_config(tmp_path, dataway.url)
    rx = procs.start("offload-receiver", "serve", "--config", cfg, name="rx")
    wait_http(f"{rx_url}/v1/ping", timeout=30, proc=rx)

    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    engine = RulesEngine.from_file(rules)
    # a window end, multiple of 4 s, at least 2.2 s ahead: both 2 s windows and the 4 s one
    # end on or before it and none is late when sent
    end = math.ceil((time.time() + 2.2) / 4) * 4
    raw = samples(end)
    # the agent sees points in time order, in a few batches per category
    raw.sort(key=lambda s: s[4])
    for i in range(0, len(raw), 5):
        engine.feed("metric", [Point(n, dict(tags), {f: v, "noise": "x"}, t) for n, tags, f, v, t in raw[i:i + 5]])
    async with AggregateClient([rx_url], token=TOKEN, timeout=5) as client:
        report = await client.send(engine.take())
    assert report.ok, report.errors
    assert time.time() < end - W + 1, "samples were sent too late for the first window"

    want = expected(raw)
    deadline = time.monotonic() + (end + 1 + 3 - time.time()) + 10
    got: dict[tuple, float] = {}
    while time.monotonic() < deadline:
        got = {}
        for p in dataway.points("metric"):
            for k, v in p.fields.items():
                got[(p.name, frozenset(p.tags.items()), window_end(p.time, 4 if "_4s_" in k else W), k)] = v
        if all(key in got for key in want):
            break
        time.sleep(0.2)
    missing = [k for k in want if k not in got]
    assert not missing, f"missing {missing[:5]}\nreceiver log:\n{procs.output('rx')[-3000:]}"
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key
    # every request to Dataway carried the agent's token
    assert {r.token for r in dataway.ok_requests("/v1/write/metric")} == {TOKEN}


def test_every_function_through_the_window_cache_in_process():
    """The same check without processes or sockets: the engine's bodies fed to the receiver's WindowCache."""
    from receiver.aggregate.window import WindowCache

    rules = RulesEngine(parse_rules_text(RULES))
    end = 1_700_000_004
    raw = sorted(samples(end), key=lambda s: s[4])
    for i in range(0, len(raw), 5):
        rules.feed("metric", [Point(n, dict(tags), {f: v}, t) for n, tags, f, v, t in raw[i:i + 5]])
    cache = WindowCache(1)
    for body in AggregateClient(["http://unused"]).encode(rules.take()):
        cache.feed(TOKEN, body.data, end - 4)
    got = {}
    for window in cache.expire(end + 10):
        for p in WindowCache.window_points(window):
            for k, v in p.fields.items():
                got[(p.name, frozenset(p.tags.items()), window_end(p.time, 4 if "_4s_" in k else W), k)] = v
    want = expected(raw)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def parse_rules_text(text: str):
    from offload.aggregate.rules import parse_rules

    ruleset, diags = parse_rules(text)
    assert ruleset is not None, diags
    return ruleset
