"""Benchmark: the agent-side aggregation hot path (select + fork + build Batchs, then encode bodies).

Run: python tests/benchmarks/bench_rules.py [--points N]

Baseline, measured in the same run: encoding the same points as one protobuf PBPoints
(what shipping them raw would cost at least). Ratios > 1 mean slower than the baseline.
"""

from __future__ import annotations

import argparse
import random
import time

from offload._proto.point import point_pb2 as ppb
from offload.aggregate.client import AggregateClient
from offload.aggregate.engine import RulesEngine
from offload.aggregate.rules import parse_rules
from offload.point import Point

DATAKIT = """
default_window = "10s"
[[aggregate_rules]]
name = "nginx"
group_by = ["host", "service"]
  [aggregate_rules.select]
  category = "metric"
  measurements = ["nginx"]
  metric_name = ["latency"]
  condition = '{ status >= 200 }'
  [aggregate_rules.algorithms.latency_sum]
  method = "sum"
  source_field = "latency"
  [aggregate_rules.algorithms.latency_q]
  method = "quantiles"
  source_field = "latency"
  quantile_opts = { percentiles = [0.5, 0.99] }
"""

PROMQL = """
[[promql_rules]]
promql = 'sum by (service, le) (nginx_latency_bucket{env!="dev"}[10s])'
as = "lat_bucket"
"""

INCREASE = """
[[promql_rules]]
promql = 'increase by (service) (nginx_requests_total[10s])'
as = "req_inc"
"""


def make_points(n: int) -> list[Point]:
    rnd = random.Random(1)
    out = []
    for i in range(n):
        out.append(Point(
            "nginx",
            {"host": f"h{rnd.randrange(50)}", "service": f"s{rnd.randrange(10)}", "le": str(rnd.choice([0.1, 1, 10])),
             "env": "prod", "pod": f"p{rnd.randrange(200)}"},
            {"latency": rnd.random() * 100, "status": 200, "latency_bucket": rnd.randrange(100),
             "requests_total": i, "bytes": 1234, "path": "/x"},
            1_700_000_000_000_000_000 + i,
        ))
    return out


def baseline(points: list[Point]) -> float:
    t0 = time.perf_counter()
    msg = ppb.PBPoints()
    for p in points:
        pb = msg.arr.add(name=p.name, time=p.time)
        for k, v in p.tags.items():
            pb.fields.add(key=k, s=v, is_tag=True)
        for k, v in p.fields.items():
            if isinstance(v, str):
                pb.fields.add(key=k, s=v)
            elif isinstance(v, int):
                pb.fields.add(key=k, i=v)
            else:
                pb.fields.add(key=k, f=v)
    msg.SerializeToString()
    return time.perf_counter() - t0


def run(text: str, points: list[Point], batch: int = 1000) -> tuple[float, float, int]:
    ruleset, diags = parse_rules(text)
    assert ruleset is not None, diags
    engine = RulesEngine(ruleset)
    t0 = time.perf_counter()
    for i in range(0, len(points), batch):
        engine.feed("metric", points[i:i + batch])
    batchs = engine.take()
    t1 = time.perf_counter()
    client = AggregateClient(["http://127.0.0.1:9"])
    bodies = client.encode(batchs)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, sum(b.batches for b in bodies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    args = ap.parse_args()
    points = make_points(args.points)
    base = min(baseline(points) for _ in range(3))
    print(f"points: {len(points)}")
    print(f"baseline PBPoints encode: {len(points) / base:,.0f} points/s")
    for label, text in (("datakit rule (condition, 2 algos)", DATAKIT), ("promql histogram rule", PROMQL),
                        ("promql increase rule", INCREASE)):
        feed, encode, batches = min((run(text, points) for _ in range(3)), key=lambda r: r[0] + r[1])
        total = feed + encode
        print(f"{label}: feed {len(points) / feed:,.0f} points/s, encode {batches / encode:,.0f} batches/s, "
              f"{batches} batches; feed+encode / baseline = {total / base:.2f}x")


if __name__ == "__main__":
    main()
