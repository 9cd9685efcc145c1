"""HTTP writes carrying X-Offload-Batch-Id are deduplicated in the window shared with gRPC.

A real `offload-receiver serve` writes to the Dataway stand-in; the receiver is
stopped gracefully at the end (its writer flushes the WAL), so the stand-in's
totals are final and a duplicate that slipped through would be counted.
"""

from __future__ import annotations

import collections

import grpc
import httpx
import pytest
from test_daemon_harness import (
    TOKEN,
    expected_points,
    nginx_lp,
    point_key,
    post,
    scripts_dir,
    start_receiver,
)

from offload._proto.offload.v1 import offload_pb2, offload_pb2_grpc
from offload.codec import lineproto, protobuf

PB = "application/protobuf; proto=com.guance.Point"
PLOFFLOAD = "/v1/write/ploffload/logging"


@pytest.fixture
def rx(procs, dataway, tmp_path):
    return start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}")


def keys(points) -> collections.Counter:
    return collections.Counter(point_key(p) for p in points)


def test_http_resends_are_answered_from_the_window(rx, dataway, tmp_path):
    scripts = scripts_dir(tmp_path)
    want = []
    body_a = protobuf.encode(lineproto.decode(nginx_lp(0, 20), precision="n"))
    pts_a = expected_points(scripts, "logging", protobuf.decode(body_a))

    with httpx.Client() as client:  # one keep-alive connection: a duplicate answer leaves it usable
        def send(path, body, batch_id=None, **headers):
            if batch_id is not None:
                headers["X-Offload-Batch-Id"] = batch_id
            return post(rx, path, body, headers=headers, client=client)

        # 1. ploffload: the resend of an accepted id is 200, empty, flagged, and not processed.
        first = send(PLOFFLOAD, body_a, "a1" * 16, **{"Content-Type": PB})
        assert first.status_code == 200, first.text
        assert "x-offload-duplicate" not in first.headers
        want += pts_a
        again = send(PLOFFLOAD, body_a, "a1" * 16, **{"Content-Type": PB})
        assert again.status_code == 200 and again.content == b""
        assert again.headers["x-offload-duplicate"] == "1"

        # 2. the same body under another id is a different batch: processed.
        other = send(PLOFFLOAD, body_a, "b2" * 16, **{"Content-Type": PB})
        assert other.status_code == 200 and "x-offload-duplicate" not in other.headers
        want += pts_a

        # 3. datakit-http (/v1/write/<category>, line protocol) is deduplicated the same way.
        body_lp = nginx_lp(100, 10)
        assert send("/v1/write/logging", body_lp, "c3" * 16).status_code == 200
        want += expected_points(scripts, "logging", lineproto.decode(body_lp, precision=None))
        dup = send("/v1/write/logging", body_lp, "c3" * 16)
        assert dup.status_code == 200 and dup.headers["x-offload-duplicate"] == "1"

        # 4. an id longer than 128 bytes is ignored: both sends are processed.
        long_id = "d" * 129
        body_d = nginx_lp(200, 5)
        for _ in range(2):
            r = send("/v1/write/logging", body_d, long_id)
            assert r.status_code == 200 and "x-offload-duplicate" not in r.headers
            want += expected_points(scripts, "logging", lineproto.decode(body_d, precision=None))

        # 5. a refused attempt is not recorded: the resend under the same id is processed.
        bad = send(PLOFFLOAD, b"\xff\x00 not points", "e5" * 16, **{"Content-Type": PB})
        assert bad.status_code == 400, bad.text
        body_e = protobuf.encode(lineproto.decode(nginx_lp(300, 7), precision="n"))
        ok = send(PLOFFLOAD, body_e, "e5" * 16, **{"Content-Type": PB})
        assert ok.status_code == 200 and "x-offload-duplicate" not in ok.headers
        want += expected_points(scripts, "logging", protobuf.decode(body_e))

    # 6. one window for both transports: an id accepted over gRPC is a duplicate over HTTP.
    shared_id = "shared-batch-0001"
    body_g = protobuf.encode(lineproto.decode(nginx_lp(400, 6), precision="n"))
    with grpc.insecure_channel(rx.grpc_target) as channel:
        ack = offload_pb2_grpc.PipelineOffloadStub(channel).Offload(offload_pb2.OffloadBatch(
            batch_id=shared_id.encode(), category="logging", pbpoints=body_g), timeout=30)
    assert ack.status == offload_pb2.OffloadAck.ACCEPTED
    want += expected_points(scripts, "logging", protobuf.decode(body_g))
    cross = post(rx, PLOFFLOAD, body_g, headers={"Content-Type": PB, "X-Offload-Batch-Id": shared_id})
    assert cross.status_code == 200 and cross.headers["x-offload-duplicate"] == "1"

    # 7. our agent's ids: 16 raw bytes over gRPC, the same bytes hex-encoded over HTTP.
    raw_id = bytes(range(16))
    body_h = protobuf.encode(lineproto.decode(nginx_lp(500, 5), precision="n"))
    with grpc.insecure_channel(rx.grpc_target) as channel:
        ack = offload_pb2_grpc.PipelineOffloadStub(channel).Offload(offload_pb2.OffloadBatch(
            batch_id=raw_id, category="logging", pbpoints=body_h), timeout=30)
    assert ack.status == offload_pb2.OffloadAck.ACCEPTED
    want += expected_points(scripts, "logging", protobuf.decode(body_h))
    cross = post(rx, PLOFFLOAD, body_h, headers={"Content-Type": PB, "X-Offload-Batch-Id": raw_id.hex()})
    assert cross.status_code == 200 and cross.headers["x-offload-duplicate"] == "1"

    assert rx.metric("offload_receiver_duplicate_batches_total") == 4
    dataway.wait_points(len(want), timeout=30)
    # A graceful stop flushes the writer's WAL: whatever was written is now at the stand-in.
    rx.proc.terminate()
    assert rx.proc.wait(timeout=30) == 0
    assert keys(dataway.points("logging")) == keys(want)
