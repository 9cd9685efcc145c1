"""Benchmark: points/s through DatawayWriter.write() into the fsynced WAL vs the bare encode.

    python tests/benchmarks/bench_dataway.py [--points 100000] [--batch 500] [--writers 32] [--repeat 3]

Ratios are baseline/measured: 1.0 = as fast as the bare encode, 0.5 = half as fast.
Baselines, measured in the same run on the same points (best of --repeat runs):
  encode        offload.codec.protobuf.encode(batch), one batch after another
  build         encode + split + gzip (build_bodies), what write() does before the WAL
Measured:
  write xN      N concurrent tasks calling write() (group commit: appends share fsyncs)
  write x1      one task calling write() (one fsync round per write)

The WAL lives in a temporary directory on the same disk as /tmp; the Dataway URL
points at a closed port with a long retry delay, so the senders stay out of the
measurement (each takes one body, fails to connect, and waits).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from offload.codec import protobuf  # noqa: E402
from offload.dataway import DatawayConfig, DatawayWriter  # noqa: E402
from offload.dataway.body import build_bodies  # noqa: E402
from offload.point import Point  # noqa: E402

TOKEN = "tkn_" + "0" * 32


def make_points(n: int) -> list[Point]:
    base = 1_700_000_000_000_000_000
    paths = ["/api/v1/items", "/login", "/static/app.js", "/api/v1/orders/42", "/health"]
    out = []
    for i in range(n):
        path = paths[i % len(paths)]
        msg = (f'10.0.{i % 256}.{(i * 7) % 256} - - [14/Nov/2023:22:13:20 +0000] "GET {path}?id={i} HTTP/1.1" '
               f'{200 if i % 17 else 502} {1000 + i % 5000} "-" "Mozilla/5.0 (X11; Linux x86_64) bench/{i % 97}"')
        out.append(Point("nginx", {"host": f"web-{i % 8:02d}", "service": "nginx", "status": "info"},
                         {"message": msg, "bytes": 1000 + i % 5000, "duration": (i % 1000) / 7.0, "seq": i},
                         base + i * 1000))
    return out


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


async def run_writes(points_batches, writers: int, wal_dir: Path) -> tuple[float, dict]:
    cfg = DatawayConfig(urls=[f"http://127.0.0.1:{closed_port()}?token={TOKEN}"], wal_dir=wal_dir,
                        retry_delay=60, max_retry_delay=60, wal_max_bytes=8 << 30)
    w = DatawayWriter(cfg)
    await w.start()
    queue = list(points_batches)

    async def one_writer():
        while queue:
            await w.write("logging", queue.pop())

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_writer() for _ in range(writers)))
    elapsed = (time.perf_counter() - t0, time.process_time() - c0)
    stats = w.stats
    await w.close()
    return elapsed, stats


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process, every thread included)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--writers", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    logging.getLogger("offload.dataway").setLevel(logging.ERROR)  # the refused connections are expected

    level = DatawayConfig(urls=["file:///dev/null"]).gzip_level
    points = make_points(args.points)
    batches = [points[i : i + args.batch] for i in range(0, len(points), args.batch)]
    n = len(points)
    raw = sum(len(protobuf.encode(b)) for b in batches)
    gz = sum(len(body.payload) for b in batches
             for body in build_bodies(b, "protobuf", 1 << 20, True, None, level).bodies)
    print(f"{n} points in {len(batches)} batches of {args.batch}; {raw / n:.0f} B/point raw, {gz / n:.0f} gzipped "
          f"(level {level}); {os.cpu_count()} CPUs; "
          f"best of {args.repeat}")

    def run(writers: int):
        with tempfile.TemporaryDirectory(prefix="bench-dataway-", dir="/tmp") as tmp:
            return asyncio.run(run_writes(batches, writers, Path(tmp) / "wal"))

    # Interleaved rounds, best of each: a load spike on a shared machine then hits one
    # round of every measurement, not all rounds of one. CPU time (all threads) is
    # reported too: unlike wall time it barely moves with other processes' load.
    results: dict[str, tuple[tuple[float, float], dict]] = {}

    def keep(name, elapsed, stats=None):
        if name not in results or elapsed[0] < results[name][0][0]:
            results[name] = (elapsed, stats or {})

    for _ in range(args.repeat):
        keep("encode", timed(lambda: [protobuf.encode(b) for b in batches]))
        keep("build (+gzip)", timed(lambda: [build_bodies(b, "protobuf", 1 << 20, True, None, level)
                                            for b in batches]))
        for writers in (args.writers, 1):
            keep(f"write x{writers}", *run(writers))
    (w_enc, c_enc), _ = results["encode"]
    print(f"{'':16}{'points/s':>12}{'wall ratio':>12}{'CPU us/pt':>11}{'CPU ratio':>11}")
    for name, ((wall, cpu), stats) in results.items():
        extra = ""
        if stats:
            rounds = stats["wal_fsync_rounds"]
            extra = f"   {stats['writes'] / max(rounds, 1):.1f} writes per fsync ({rounds} rounds)"
        print(f"{name:16}{n / wall:12,.0f}{w_enc / wall:12.2f}{cpu / n * 1e6:11.1f}{c_enc / cpu:11.2f}{extra}")
    x1, xn = results["write x1"][0][0], results[f"write x{args.writers}"][0][0]
    print(f"group commit, wall time: x{args.writers} writers / x1 = {x1 / xn:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
