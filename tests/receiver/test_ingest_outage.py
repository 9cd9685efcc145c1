"""Dataway down while lines flow in over HTTP and gRPC, then back: every point arrives, no more duplicates
than the documented bound, and the receiver's memory stays bounded (results wait in the WAL, on disk).

Duplicate bound (at least once): without a receiver crash a Dataway outage causes none (a body is
acknowledged in the WAL only after a 2xx; the stand-in records only bodies it answered); after a
crash, at most the writer's in-flight bodies per endpoint (offload/dataway/wal.py). The short variant
runs by default; the issue's 30 s / 100,000 lines variant is marked slow.
"""

from __future__ import annotations

import collections
import threading
import time

import grpc
import pytest
from test_daemon_harness import TOKEN, nginx_line, nginx_lp, post, start_receiver

from offload._proto.offload.v1 import offload_pb2, offload_pb2_grpc

BATCH = 500
RSS_HEADROOM = 400 << 20  # peak growth allowed over the idle daemon + workers


def run_outage(procs, dataway, tmp_path, down_seconds: float, total_lines: int) -> dict:
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", workers=2)
    idle_rss = rx.rss_bytes()
    dataway.set_down(True)
    batches = total_lines // BATCH
    http_batches = list(range(0, batches, 2))
    grpc_batches = list(range(1, batches, 2))
    interval = down_seconds / max(len(http_batches), 1)
    errors: list[str] = []
    peak = [idle_rss]
    started = time.monotonic()

    def send_http() -> None:
        for n, b in enumerate(http_batches):
            r = post(rx, "/v1/write/logging", nginx_lp(b * BATCH, BATCH), timeout=60)
            if r.status_code != 200:
                errors.append(f"http {r.status_code} {r.text}")
            _pace(started, n + 1, interval)

    def send_grpc() -> None:
        with grpc.insecure_channel(rx.grpc_target) as channel:
            stub = offload_pb2_grpc.PipelineOffloadStub(channel)
            for n, b in enumerate(grpc_batches):
                lines = [nginx_line(i) for i in range(b * BATCH, (b + 1) * BATCH)]
                ack = stub.Offload(offload_pb2.OffloadBatch(batch_id=b.to_bytes(16, "big"), category="logging",
                                                            source="nginx", hop=1,
                                                            lines=offload_pb2.RawLines(lines=lines)), timeout=60)
                if ack.points != BATCH:
                    errors.append(f"grpc ack {ack}")
                _pace(started, n + 1, interval)

    threads = [threading.Thread(target=send_http), threading.Thread(target=send_grpc)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) or time.monotonic() - started < down_seconds:
        peak[0] = max(peak[0], rx.rss_bytes())
        time.sleep(0.2)
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert dataway.point_count() == 0, "Dataway was down: nothing can have arrived yet"
    dataway.set_down(False)
    deadline = time.monotonic() + 120
    while dataway.point_count() < batches * BATCH and time.monotonic() < deadline:
        peak[0] = max(peak[0], rx.rss_bytes())
        time.sleep(0.2)
    points = dataway.wait_points(batches * BATCH, timeout=5)
    seen = collections.Counter(p.fields["message"] for p in points)
    want = {nginx_line(i) for i in range(batches * BATCH)}
    assert set(seen) == want, f"missing {len(want - set(seen))} lines"
    return {"duplicates": sum(seen.values()) - len(seen), "idle_rss": idle_rss, "peak_rss": peak[0],
            "points": len(points)}


def _pace(started: float, n: int, interval: float) -> None:
    wait = started + n * interval - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def check(result: dict) -> None:
    print(f"outage: {result['points']} points, {result['duplicates']} duplicates, idle RSS "
          f"{result['idle_rss'] >> 20} MiB, peak {result['peak_rss'] >> 20} MiB")
    assert result["duplicates"] == 0, result
    assert result["peak_rss"] - result["idle_rss"] < RSS_HEADROOM, result


def test_dataway_outage_short(procs, dataway, tmp_path):
    check(run_outage(procs, dataway, tmp_path, down_seconds=5, total_lines=20_000))


@pytest.mark.slow
def test_dataway_outage_30s_100k_lines(procs, dataway, tmp_path):
    check(run_outage(procs, dataway, tmp_path, down_seconds=30, total_lines=100_000))
