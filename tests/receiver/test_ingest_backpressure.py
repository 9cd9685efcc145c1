"""Bounded queues: beyond `[workers] max_inflight_batches` HTTP answers 429 (datakit.reachMaxAPILimit) and
gRPC RESOURCE_EXHAUSTED; retried batches all arrive; a worker killed mid-flood loses nothing."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import signal
import time

import grpc
import httpx
from test_daemon_harness import (
    TOKEN,
    nginx_line,
    nginx_lp,
    post,
    start_receiver,
    wait_until,
)

from offload._proto.offload.v1 import offload_pb2


def test_full_queue_answers_429_and_resource_exhausted(procs, dataway, tmp_path):
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", workers=1, inflight=1)
    bodies = [nginx_lp(i * 2000, 2000) for i in range(8)]

    def send(body: bytes) -> tuple[int, str]:
        r = post(rx, "/v1/write/logging", body, timeout=60)
        return r.status_code, r.json()["error_code"] if r.status_code != 200 else ""

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        outcomes = list(ex.map(send, bodies))
    codes = collections.Counter(outcomes)
    assert codes[(429, "datakit.reachMaxAPILimit")] >= 1, codes
    assert codes[(200, "")] >= 1, codes
    assert set(codes) <= {(429, "datakit.reachMaxAPILimit"), (200, "")}

    lines = [nginx_line(i) for i in range(2000)]
    payload = offload_pb2.OffloadBatch(category="logging", source="nginx",
                                       lines=offload_pb2.RawLines(lines=lines)).SerializeToString()
    with grpc.insecure_channel(rx.grpc_target) as channel:
        call = channel.unary_unary("/offload.v1.PipelineOffload/Offload")

        def offload(_: int) -> grpc.StatusCode:
            try:
                call(payload, timeout=60)
                return grpc.StatusCode.OK
            except grpc.RpcError as exc:
                return exc.code()

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            statuses = collections.Counter(ex.map(offload, range(8)))
    assert statuses[grpc.StatusCode.RESOURCE_EXHAUSTED] >= 1, statuses
    assert set(statuses) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    accepted = codes[(200, "")] * 2000 + statuses[grpc.StatusCode.OK] * 2000
    dataway.wait_points(accepted, timeout=60)
    assert rx.metric("offload_receiver_requests_total", code="reachMaxAPILimit") >= 2


def test_worker_killed_during_a_flood_loses_nothing(procs, dataway, tmp_path):
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", workers=2)
    bodies = [nginx_lp(i * 1000, 1000) for i in range(30)]
    killed = []

    def send(body: bytes) -> int:
        with httpx.Client(timeout=120) as client:
            while True:
                r = post(rx, "/v1/write/logging", body, client=client)
                if r.status_code != 429:
                    return r.status_code

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        futures = [ex.submit(send, b) for b in bodies]
        wait_until(lambda: any(f.done() for f in futures), timeout=60, what="a first answer")
        for _ in range(2):
            pids = rx.worker_pids()
            assert pids, rx.output()
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
            wait_until(lambda: len(rx.worker_pids()) == 2 and killed[-1] not in rx.worker_pids(), timeout=30,
                       what="the replacement worker")
        assert [f.result() for f in futures] == [200] * len(bodies)
    points = dataway.wait_points(30_000, timeout=60)
    messages = collections.Counter(p.fields["message"] for p in points)
    assert len(messages) == 30_000 and max(messages.values()) == 1, "every line exactly once"
    assert rx.metric("offload_receiver_worker_restarts_total") == 2


def test_memory_stays_bounded_under_a_flood(procs, dataway, tmp_path):
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", workers=2, inflight=8)
    idle = rx.rss_bytes()
    body = nginx_lp(0, 2000)
    stop = time.monotonic() + 4.0
    codes: collections.Counter = collections.Counter()
    peak = [idle]

    def flood() -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < stop:
                codes[post(rx, "/v1/write/logging", body, client=client).status_code] += 1

    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        futures = [ex.submit(flood) for _ in range(12)]
        while not all(f.done() for f in futures):
            peak[0] = max(peak[0], rx.rss_bytes())
            time.sleep(0.1)
        for f in futures:
            f.result()
    assert set(codes) <= {200, 429} and codes[429] > 0, codes
    print(f"flood: {dict(codes)}, idle RSS {idle >> 20} MiB, peak {peak[0] >> 20} MiB")
    assert peak[0] - idle < 300 << 20
    dataway.wait_points(codes[200] * 2000, timeout=60)
