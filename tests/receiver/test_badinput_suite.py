"""Malformed and hostile requests: each gets its documented status and error code, and the receiver keeps serving.

Documented in wire.md d.5-d.7 (DataKit's codes) and receiver/http/errors.py (ours:
401 missingToken, 403 tokenNotAccepted, 400 invalidToken, 413 bodyTooLarge); gRPC
codes in receiver/grpc/servicer.py. One receiver (auth on, 4 MiB body limit) serves
the whole table; the last tests check it still pings and writes.
"""

from __future__ import annotations

import gzip
import socket

import grpc
import httpx
import orjson
import pytest
from support.dataway import DatawayStandIn
from support.procs import ProcessRunner
from test_daemon_harness import AUTH_TOKEN, TOKEN, nginx_lp, start_receiver, wait_until

from offload._proto.offload.v1 import offload_pb2, offload_pb2_grpc
from offload._proto.point import point_pb2

LIMIT = 4 << 20
PB = "application/protobuf; proto=com.guance.Point"
AUTH = {"Authorization": f"Bearer {AUTH_TOKEN}"}
GOOD_LP = b'app message="ok" 1700000000000000000'


def _pb_body() -> bytes:
    msg = point_pb2.PBPoints()
    p = msg.arr.add()
    p.name = "app"
    p.time = 1700000000000000000
    f = p.fields.add()
    f.key = "message"
    f.s = "x" * 200
    return msg.SerializeToString()


def _chunks(total: int, size: int = 1 << 20):
    sent = 0
    while sent < total:
        yield b"a" * min(size, total - sent)
        sent += size


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("badinput")
    dw = DatawayStandIn().start()
    runner = ProcessRunner(tmp)
    try:
        rx = start_receiver(runner, tmp, f"{dw.url}?token={TOKEN}", tokens=[AUTH_TOKEN], max_body_bytes=LIMIT)
        yield rx, dw
    finally:
        runner.cleanup()
        dw.stop()


# (id, method, path, body, headers, params, status, error_code)
CASES = [
    ("unknown-category", "/v1/write/foo", GOOD_LP, {}, {}, 400, "invalidCategory"),
    ("deprecated-category", "/v1/write/metrics", GOOD_LP, {}, {}, 400, "invalidCategory"),
    ("ploffload-rum", "/v1/write/ploffload/rum", _pb_body(), {"Content-Type": PB}, {}, 400, "invalidCategory"),
    ("empty-body", "/v1/write/logging", b"", {}, {}, 400, "emptyBody"),
    ("bad-gzip", "/v1/write/logging", b"\x1f\x8bnot really gzip", {"Content-Encoding": "gzip"}, {}, 400, "decodeBodyFailed"),
    ("truncated-gzip", "/v1/write/logging", gzip.compress(nginx_lp(0, 50))[:-20], {"Content-Encoding": "gzip"}, {},
     400, "decodeBodyFailed"),
    ("unknown-encoding", "/v1/write/logging", GOOD_LP, {"Content-Encoding": "compress"}, {}, 400, "decodeBodyFailed"),
    ("encoding-is-case-sensitive", "/v1/write/logging", gzip.compress(GOOD_LP), {"Content-Encoding": "GZIP"}, {},
     400, "decodeBodyFailed"),
    ("zstd-garbage", "/v1/write/logging", b"\x28\xb5\x2f\xfd garbage garbage", {}, {"encoding": "zstd"}, 400,
     "decodeBodyFailed"),
    ("deflate-garbage", "/v1/write/logging", b"\x78\x9c\xff\xff garbage", {"Content-Encoding": "deflate"}, {}, 400,
     "decodeBodyFailed"),
    ("gzip-bomb", "/v1/write/logging", gzip.compress(b"x" * (LIMIT + 4096)), {"Content-Encoding": "gzip"}, {}, 413,
     "bodyTooLarge"),
    ("truncated-protobuf", "/v1/write/logging", _pb_body()[:-30], {"Content-Type": PB}, {}, 400, "invalidProtobufPoint"),
    ("protobuf-garbage", "/v1/write/logging", b"\x0a\xff\xff\xff\xff\x0f\x01", {"Content-Type": PB}, {}, 400,
     "invalidProtobufPoint"),
    ("protobuf-without-content-type", "/v1/write/logging", _pb_body(), {}, {}, 400, "invalidLinePoint"),
    ("x-protobuf-is-line-protocol", "/v1/write/logging", _pb_body(), {"Content-Type": "application/x-protobuf"}, {},
     400, "invalidLinePoint"),
    ("ploffload-truncated-protobuf", "/v1/write/ploffload/logging", _pb_body()[:-5], {"Content-Type": PB}, {}, 400,
     "invalidProtobufPoint"),
    ("invalid-json", "/v1/write/logging", b'[{"measurement": "a", "fields": ', {"Content-Type": "application/json"}, {},
     400, "invalidJsonPoint"),
    ("json-object-not-array", "/v1/write/logging", b'{"measurement": "a", "fields": {"x": 1}}',
     {"Content-Type": "application/json"}, {}, 400, "invalidJsonPoint"),
    ("invalid-utf8", "/v1/write/logging", b'app message="\xff\xfe\xfa" 1700000000000000000', {}, {}, 400,
     "invalidLinePoint"),
    ("line-without-fields", "/v1/write/logging", b"app,host=a", {}, {}, 400, "invalidLinePoint"),
    ("bad-field-value", "/v1/write/logging", b"app x=notanumber 1", {}, {}, 400, "invalidLinePoint"),
    ("bad-timestamp", "/v1/write/logging", b'app x=1i 12abc', {}, {}, 400, "invalidLinePoint"),
    ("one-bad-line-fails-all", "/v1/write/logging", GOOD_LP + b"\napp x=\n" + GOOD_LP, {}, {}, 400, "invalidLinePoint"),
    ("binary-garbage", "/v1/write/logging", bytes(range(256)) * 4, {}, {}, 400, "invalidLinePoint"),
    ("comments-only", "/v1/write/logging", b"# nothing here\n\n   \n", {}, {}, 400, "noPoints"),
    ("strict-warning", "/v1/write/logging", GOOD_LP, {}, {"strict": "1"}, 400, "pointGotWarning"),
    ("ten-megabyte-line", "/v1/write/logging", b'app message="' + b"x" * (10 << 20) + b'"', {}, {}, 413, "bodyTooLarge"),
    ("malformed-workspace-token", "/v1/write/logging", GOOD_LP, {}, {"token": "abc"}, 400, "invalidToken"),
]

AUTH_CASES = [
    ("missing-token", {}, {}, 401, "missingToken"),
    ("wrong-token", {"Authorization": "Bearer tkn_" + "0" * 32}, {}, 403, "tokenNotAccepted"),
    ("wrong-query-token", {}, {"token": "tkn_" + "1" * 32}, 403, "tokenNotAccepted"),
    ("basic-auth-is-not-a-token", {"Authorization": "Basic dXNlcjpwYXNz"}, {}, 401, "missingToken"),
]


@pytest.mark.parametrize("path, body, headers, params, status, code", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_http_bad_input(env, path, body, headers, params, status, code):
    rx, _ = env
    r = httpx.post(f"{rx.url}{path}", content=body, headers={**AUTH, **headers}, params=params, timeout=60)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.json()["error_code"] == f"datakit.{code}"


@pytest.mark.parametrize("headers, params, status, code", [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES])
def test_http_auth(env, headers, params, status, code):
    rx, _ = env
    r = httpx.post(f"{rx.url}/v1/write/logging", content=GOOD_LP, headers=headers, params=params, timeout=30)
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == f"datakit.{code}"


def test_declared_huge_body_is_refused_before_reading(env):
    rx, _ = env
    with socket.create_connection(("127.0.0.1", rx.http_port), timeout=10) as s:
        s.sendall(b"POST /v1/write/logging HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n"
                  + f"Authorization: Bearer {AUTH_TOKEN}\r\n\r\n".encode() + b"app x=1")
        answer = b""
        while b"bodyTooLarge" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"datakit.bodyTooLarge" in answer


def test_chunked_body_over_the_limit(env):
    rx, _ = env
    r = httpx.post(f"{rx.url}/v1/write/logging", content=_chunks(LIMIT + (3 << 20)), headers=AUTH, timeout=60)
    assert r.status_code == 413 and r.json()["error_code"] == "datakit.bodyTooLarge"


def test_bad_precision_means_nanoseconds(env):
    rx, dw = env
    r = httpx.post(f"{rx.url}/v1/write/logging", content=b'prec message="p" 1700000000000000123',
                   params={"precision": "fortnights"}, headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    wait_until(lambda: any(p.name == "prec" for p in dw.points()), what="the point at the stand-in")
    assert [p.time for p in dw.points() if p.name == "prec"] == [1700000000000000123]


def test_wrong_method_and_path(env):
    rx, _ = env
    assert httpx.get(f"{rx.url}/v1/write/logging", timeout=10).status_code == 405
    assert httpx.post(f"{rx.url}/v2/write/logging", content=GOOD_LP, timeout=10).status_code == 404


def _raw_offload(target: str, payload: bytes, metadata=()) -> grpc.RpcError | bytes:
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/offload.v1.PipelineOffload/Offload")
        try:
            return call(payload, timeout=30, metadata=metadata)
        except grpc.RpcError as exc:
            return exc


GRPC_META = (("authorization", f"Bearer {AUTH_TOKEN}"),)


def _batch(**kw) -> bytes:
    return offload_pb2.OffloadBatch(**kw).SerializeToString()


GRPC_CASES = [
    ("truncated-batch", _batch(batch_id=b"x" * 16, category="logging", source="a",
                               lines=offload_pb2.RawLines(lines=["a" * 100]))[:-10], GRPC_META,
     grpc.StatusCode.INVALID_ARGUMENT),
    ("garbage-batch", b"\xff\xff\xff\xff", GRPC_META, grpc.StatusCode.INVALID_ARGUMENT),
    ("pbpoints-garbage", _batch(category="logging", pbpoints=b"\x0a\x05abc"), GRPC_META,
     grpc.StatusCode.INVALID_ARGUMENT),
    ("unknown-category", _batch(category="nope", lines=offload_pb2.RawLines(lines=["x"])), GRPC_META,
     grpc.StatusCode.INVALID_ARGUMENT),
    ("no-payload", _batch(category="logging", source="a"), GRPC_META, grpc.StatusCode.INVALID_ARGUMENT),
    ("times-length-mismatch", _batch(category="logging", source="a",
                                     lines=offload_pb2.RawLines(lines=["x", "y"], times=[1])), GRPC_META,
     grpc.StatusCode.INVALID_ARGUMENT),
    ("malformed-token", _batch(category="logging", source="a", token="abc",
                               lines=offload_pb2.RawLines(lines=["x"])), GRPC_META, grpc.StatusCode.INVALID_ARGUMENT),
    ("missing-token", _batch(category="logging", source="a", lines=offload_pb2.RawLines(lines=["x"])), (),
     grpc.StatusCode.UNAUTHENTICATED),
    ("wrong-token", _batch(category="logging", source="a", lines=offload_pb2.RawLines(lines=["x"])),
     (("token", "tkn_" + "9" * 32),), grpc.StatusCode.UNAUTHENTICATED),
]


@pytest.mark.parametrize("payload, metadata, code", [c[1:] for c in GRPC_CASES], ids=[c[0] for c in GRPC_CASES])
def test_grpc_bad_input(env, payload, metadata, code):
    rx, _ = env
    result = _raw_offload(rx.grpc_target, payload, metadata)
    assert isinstance(result, grpc.RpcError), result
    assert result.code() == code, result.details()


def test_grpc_token_in_the_batch_authenticates(env):
    rx, _ = env
    result = _raw_offload(rx.grpc_target, _batch(batch_id=b"t" * 16, category="logging", source="tok",
                                                   token=AUTH_TOKEN, lines=offload_pb2.RawLines(lines=["hi"])))
    ack = offload_pb2.OffloadAck.FromString(result)
    assert ack.status == offload_pb2.OffloadAck.ACCEPTED and ack.points == 1


def test_still_serving_after_the_suite(env):
    rx, dw = env
    assert rx.proc.popen.poll() is None, rx.output()
    ping = httpx.get(f"{rx.url}/v1/ping", timeout=10)
    assert ping.status_code == 200 and ping.json()["ready"] is True
    r = httpx.post(f"{rx.url}/v1/write/logging", content=b'final message="still here" 1700000000000000999',
                   headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    wait_until(lambda: any(p.name == "final" for p in dw.points()), what="the final point at the stand-in")
    with grpc.insecure_channel(rx.grpc_target) as channel:
        stub = offload_pb2_grpc.PipelineOffloadStub(channel)
        ack = stub.Offload(offload_pb2.OffloadBatch(category="logging", source="final",
                                                    lines=offload_pb2.RawLines(lines=["grpc ok"])),
                           metadata=GRPC_META, timeout=30)
    assert ack.points == 1
    text = httpx.get(f"{rx.url}/metrics", timeout=10).text
    assert 'offload_receiver_requests_total{category="logging",code="invalidLinePoint",transport="http"}' in text
    assert orjson.loads(httpx.get(f"{rx.url}/v1/ping", timeout=10).content)["version"]
