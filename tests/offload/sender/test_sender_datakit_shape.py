"""What a real DataKit sends, byte for byte, is served by our receiver (and our agent sends the same).

DataKit's offload sender (wire.md c.2) posts, with no query parameters:
  datakit-http: line protocol to /v1/write/logging, no Content-Type at all;
  ploffload:    a PBPoints body to /v1/write/ploffload/logging with
                Content-Type: application/protobuf; proto=com.guance.Point.
Go's client adds only Host, User-Agent: Go-http-client/1.1, Content-Length and
Accept-Encoding: gzip. These requests are written on a raw socket here so that no
client library adds anything, against a real `offload-receiver serve`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))

from agent_e2e_support import RX_TOKEN, messages, start_receiver, write_lines  # noqa: E402
from offload.codec import lineproto, protobuf  # noqa: E402
from offload.point import Point  # noqa: E402
from support.dataway import DatawayStandIn  # noqa: E402
from support.procs import ProcessRunner  # noqa: E402

BIN = Path(sys.executable).parent


def go_post(port: int, path: str, body: bytes, content_type: str | None = None) -> tuple[int, bytes]:
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "User-Agent: Go-http-client/1.1",
            f"Content-Length: {len(body)}"]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    head.append("Accept-Encoding: gzip")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        status = int(head_raw.split(b" ", 2)[1])
        length = 0
        for line in head_raw.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            rest += s.recv(65536)
    return status, rest


@pytest.fixture(scope="module")
def _shared(tmp_path_factory):
    """One Dataway stand-in and one receiver for the whole module (each start/stop costs ~2 s)."""
    work = tmp_path_factory.mktemp("datakit-shape")
    runner = ProcessRunner(work)
    server = DatawayStandIn().start()
    try:
        yield start_receiver(runner, work, server.url, "rx"), server
    finally:
        runner.cleanup()
        server.stop()


@pytest.fixture
def receiver(_shared):
    return _shared[0]


@pytest.fixture
def dataway(_shared):
    server = _shared[1]
    server.requests.clear()
    return server


def test_datakit_http_line_protocol_without_content_type(receiver, dataway, tmp_path):
    lines = write_lines(tmp_path / "a.log", 128)
    points = [Point("nginx", {}, {"message": m}, 1700000000000000000 + i) for i, m in enumerate(lines)]
    body = lineproto.encode(points)  # joined by \n, no trailing newline, ns timestamps (wire.md c.2)
    assert not body.endswith(b"\n")
    status, answer = go_post(receiver.http_port, "/v1/write/logging", body)
    assert status == 200, answer
    got = dataway.wait_points(128, "logging", timeout=30)
    assert sorted(messages(got)) == sorted(lines)
    assert all("http_method" in p.tags for p in got), "nginx.p ran on the receiver"


def test_ploffload_protobuf(receiver, dataway, tmp_path):
    lines = write_lines(tmp_path / "a.log", 128, seed=2)
    body = protobuf.encode([Point("nginx", {}, {"message": m}, 1700000000000000000) for m in lines])
    status, answer = go_post(receiver.http_port, "/v1/write/ploffload/logging", body,
                             "application/protobuf; proto=com.guance.Point")
    assert status == 200, answer
    got = dataway.wait_points(128, "logging", timeout=30)
    assert sorted(messages(got)) == sorted(lines)
    assert all(isinstance(p.fields.get("status_code"), int) for p in got)


@pytest.mark.parametrize("receiver_kind", ["datakit-http", "ploffload"])
def test_agent_over_http_is_served_the_same(receiver, dataway, tmp_path, receiver_kind):
    data = tmp_path / "access.log"
    lines = write_lines(data, 1000, seed=3)
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[http]\nlisten = ""\n[pipeline.offload]\nreceiver = "{receiver_kind}"\n'
                   f'addresses = ["{receiver.http_url}"]\n')
    res = subprocess.run([str(BIN / "offload-agent"), "send", "--config", str(cfg), "--source", "nginx", str(data)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"sent": 1000, "acked": 1000, "failed": 0}
    got = dataway.wait_points(1000, "logging", timeout=60)
    assert sorted(messages(got)) == sorted(lines)
    assert all("http_method" in p.tags for p in got)
    assert {r.token for r in dataway.ok_requests()} == {RX_TOKEN}
