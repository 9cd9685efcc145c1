"""Every ingest format reaches the Dataway stand-in as exactly the processed points, with token and headers.

A real `offload-receiver serve` (2 workers) writes to the stand-in; the expected
points are computed in this process with the codecs and the engine directly.
"""

from __future__ import annotations

import collections
import zlib

import grpc
import httpx
import orjson
import pytest
import zstandard
from test_daemon_harness import (
    HOST_TOKEN,
    TOKEN,
    expected_points,
    gz,
    nginx_line,
    nginx_lp,
    point_key,
    post,
    scripts_dir,
    start_receiver,
)

from offload._proto.offload.v1 import offload_pb2, offload_pb2_grpc
from offload.codec import lineproto, protobuf
from offload.point import Point

PB = "application/protobuf; proto=com.guance.Point"


@pytest.fixture
def rx(procs, dataway, tmp_path):
    return start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}")


def by_token(dataway) -> dict[str | None, list]:
    out: dict[str | None, list] = collections.defaultdict(list)
    for req in dataway.ok_requests():
        out[req.token].extend(req.points)
    return out


def keys(points) -> collections.Counter:
    return collections.Counter(point_key(p) for p in points)


def test_http_formats_deliver_processed_points(rx, dataway, tmp_path):
    scripts = scripts_dir(tmp_path)
    sent_default: list[Point] = []  # written with the receiver's own token
    sent_host: list[Point] = []  # written with HOST_TOKEN (the request's token parameter)

    # 1. line protocol, no Content-Type (DataKit's datakit-http offload), dynamic precision
    body = nginx_lp(0, 40)
    assert post(rx, "/v1/write/logging", body).status_code == 200
    sent_default += lineproto.decode(body, precision=None)

    # 2. line protocol, gzip, with the host's token and a storage index
    body = nginx_lp(40, 30)
    r = post(rx, "/v1/write/logging", gz(body), headers={"Content-Encoding": "gzip"},
             params={"token": HOST_TOKEN, "storage_index": "idx1"})
    assert r.status_code == 200, r.text
    sent_host += lineproto.decode(body, precision=None)

    # 3. protobuf PBPoints
    pts = lineproto.decode(nginx_lp(70, 25), precision="n")
    body = protobuf.encode(pts)
    r = post(rx, "/v1/write/logging", body, headers={"Content-Type": PB})
    assert r.status_code == 200, r.text
    sent_default += protobuf.decode(body)

    # 4. JSON (simple form), precision ms
    rows = [{"measurement": "simple", "tags": {"host": f"h{i}"}, "fields": {"message": f"json line {i}"},
             "time": 1_700_000_000_000 + i} for i in range(20)]
    r = post(rx, "/v1/write/logging", orjson.dumps(rows), headers={"Content-Type": "application/json"},
             params={"precision": "ms"})
    assert r.status_code == 200, r.text
    sent_default += [Point("simple", {"host": f"h{i}"}, {"message": f"json line {i}"}, (1_700_000_000_000 + i) * 10**6)
                     for i in range(20)]

    # 5. ploffload: protobuf points, precision ns, no decompression
    pts = lineproto.decode(nginx_lp(95, 15), precision="n")
    r = post(rx, "/v1/write/ploffload/logging", protobuf.encode(pts), headers={"Content-Type": PB})
    assert r.status_code == 200, r.text
    sent_default += protobuf.decode(protobuf.encode(pts))

    # 6. deflate (zlib-wrapped) and zstd bodies, `source` parameter picks the script
    body = nginx_lp(110, 10, source="other")
    r = post(rx, "/v1/write/logging", zlib.compress(body), headers={"Content-Encoding": "deflate"},
             params={"source": "nginx", "token": HOST_TOKEN})
    assert r.status_code == 200, r.text
    via_source = lineproto.decode(body, precision=None)
    body = nginx_lp(120, 10)
    r = post(rx, "/v1/write/logging", zstandard.ZstdCompressor().compress(body), params={"encoding": "zstd"})
    assert r.status_code == 200, r.text
    sent_default += lineproto.decode(body, precision=None)

    # 7. a metric point (no script), line protocol with an explicit content type
    r = post(rx, "/v1/write/metric", b"cpu,host=h1 usage=0.5,n=3i 1700000000000000000",
             headers={"Content-Type": "application/line-protocol"})
    assert r.status_code == 200, r.text

    want_default = expected_points(scripts, "logging", sent_default)
    want_host = expected_points(scripts, "logging", sent_host) + expected_points(scripts, "logging", via_source, "nginx")
    total = len(want_default) + len(want_host) + 1
    dataway.wait_points(total, timeout=30)

    got = by_token(dataway)
    logging_default = [p for r in dataway.ok_requests() if r.token == TOKEN and r.category == "logging" for p in r.points]
    assert keys(logging_default) == keys(want_default)
    assert keys(got[HOST_TOKEN]) == keys(want_host)
    metric = dataway.points("metric")
    assert [(p.name, p.tags, p.fields) for p in metric] == [("cpu", {"host": "h1"}, {"usage": 0.5, "n": 3})]

    # The nginx script really ran: typed captures and the method tag.
    sample = next(p for p in logging_default if p.fields.get("http_url") == "/api/items/3?q=21")
    assert sample.fields["status_code"] == 404 and sample.fields["status"] == "warning"
    assert sample.tags["http_method"] == nginx_line(3).split('"')[1].split()[0]

    for req in dataway.ok_requests():
        assert req.path in ("/v1/write/logging", "/v1/write/metric")
        assert req.headers["content-type"] == PB
        assert req.headers["content-encoding"] == "gzip"
        assert int(req.headers["x-points"]) == len(req.points)
        assert req.headers["user-agent"].startswith("datakit-")
        assert req.headers["x-pkg-id"].startswith("dk_")
    indexed = [r for r in dataway.ok_requests() if r.headers.get("x-storage-index-name") == "idx1"]
    assert indexed and all(r.token == HOST_TOKEN for r in indexed)


def test_grpc_pbpoints_and_raw_lines(rx, dataway, tmp_path):
    scripts = scripts_dir(tmp_path)
    channel = grpc.insecure_channel(rx.grpc_target)
    stub = offload_pb2_grpc.PipelineOffloadStub(channel)

    pts = lineproto.decode(nginx_lp(0, 30), precision="n")
    ack = stub.Offload(offload_pb2.OffloadBatch(batch_id=b"b1" * 8, category="logging", source="nginx",
                                                token=HOST_TOKEN, hop=1, pbpoints=protobuf.encode(pts)), timeout=30)
    assert ack.status == offload_pb2.OffloadAck.ACCEPTED and ack.points == 30 and ack.batch_id == b"b1" * 8

    lines = [nginx_line(i) for i in range(30, 55)]
    times = [1_700_000_100_000_000_000 + i for i in range(len(lines))]
    ack = stub.Offload(offload_pb2.OffloadBatch(batch_id=b"b2" * 8, category="logging", source="nginx", hop=1,
                                                lines=offload_pb2.RawLines(lines=lines, times=times)), timeout=30)
    assert ack.status == offload_pb2.OffloadAck.ACCEPTED and ack.points == len(lines)

    # `pipeline` names the script when it differs from the source.
    lines2 = [nginx_line(i) for i in range(55, 60)]
    ack = stub.Offload(offload_pb2.OffloadBatch(batch_id=b"b3" * 8, category="logging", source="access",
                                                pipeline="nginx", token=HOST_TOKEN,
                                                lines=offload_pb2.RawLines(lines=lines2, times=[7] * 5)), timeout=30)
    assert ack.points == 5

    want_host = expected_points(scripts, "logging", protobuf.decode(protobuf.encode(pts)), "nginx")
    want_host += expected_points(scripts, "logging", [Point("access", {}, {"message": m}, 7) for m in lines2], "nginx")
    want_default = expected_points(scripts, "logging", [Point("nginx", {}, {"message": m}, t)
                                                        for m, t in zip(lines, times)], "nginx")
    dataway.wait_points(len(want_host) + len(want_default), timeout=30)
    got = by_token(dataway)
    assert keys(got[HOST_TOKEN]) == keys(want_host)
    assert keys(got[TOKEN]) == keys(want_default)

    # A resend of an accepted batch is DUPLICATE and writes nothing more.
    before = dataway.point_count()
    ack = stub.Offload(offload_pb2.OffloadBatch(batch_id=b"b2" * 8, category="logging", source="nginx", hop=1,
                                                lines=offload_pb2.RawLines(lines=lines, times=times)), timeout=30)
    assert ack.status == offload_pb2.OffloadAck.DUPLICATE and ack.points == len(lines)
    assert rx.metric("offload_receiver_duplicate_batches_total") == 1
    assert dataway.point_count() == before
    channel.close()


def test_echo_and_dry(rx, dataway):
    body = b'app,host=h1 message="m1",n=1i 1700000000000000000\napp message="m2" 1700000000000000001'
    r = post(rx, "/v1/write/logging", body, params={"echo": "json", "dry": "true"})
    assert r.status_code == 200
    echoed = orjson.loads(r.content)
    assert [e["measurement"] for e in echoed] == ["app", "app"]
    assert echoed[0]["tags"] == {"host": "h1"} and echoed[0]["fields"]["n"] == 1
    r = post(rx, "/v1/write/logging", body, params={"echo": "lp"})
    assert r.status_code == 200 and lineproto.decode(r.content, precision="n")[1].fields["message"] == "m2"
    dataway.wait_points(2)
    assert dataway.point_count() == 2  # the dry write wrote nothing
    assert httpx.get(f"{rx.url}/v1/ping").json()["ready"] is True
