"""AggregateClient against a real HTTP server that decodes Batchs: headers, endpoints, split, retries."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from offload._proto.aggregate import aggrbatch_pb2 as apb
from offload.aggregate.client import AggregateClient, split_bodies
from support.procs import free_port

TOKEN = "tkn_" + "a" * 32


class AggregateServer:
    """Answers /v1/aggregate with scripted statuses (then 200) and keeps every decoded Batchs."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    parts = urlsplit(self.path)
                    outer.requests.append({
                        "path": parts.path, "query": parse_qs(parts.query), "status": status,
                        "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                        "batchs": apb.Batchs.FromString(body),
                    })
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def ok(self) -> list[dict]:
        return [r for r in self.requests if r["status"] == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    made: list[AggregateServer] = []

    def make(port: int = 0) -> AggregateServer:
        s = AggregateServer(port)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def make_batchs(pick: int, n: int, payload: int = 100) -> apb.Batchs:
    bs = apb.Batchs(pick_key=pick)
    for i in range(n):
        b = bs.batchs.add(routing_key=(pick * 1_000_003 + i) % (1 << 64), pick_key=pick, config_hash=7)
        b.aggregation_opts["x"].method = "sum"
        b.aggregation_opts["x"].source_field = "x"
        p = b.points.arr.add(name="m", time=i)
        p.fields.add(key="x", f=float(i))
        p.fields.add(key="pad", s="p" * payload, is_tag=True)
    return bs


async def test_headers_url_and_endpoint_choice(servers):
    a, b = servers(), servers()
    picks = [2**64 - 1, 2**64 - 2, 4, 5, 0]
    async with AggregateClient([a.url, b.url + "/"], token=TOKEN, timeout=5) as client:
        report = await client.send([make_batchs(p, 3) for p in picks])
    assert report.ok and report.bodies == 5 and report.batches == 15
    for server, parity in ((a, 0), (b, 1)):
        got = sorted(r["batchs"].pick_key for r in server.requests)
        assert got == sorted(p for p in picks if p % 2 == parity)
        for r in server.requests:
            h, key = r["headers"], str(r["batchs"].pick_key)
            assert r["path"] == "/v1/aggregate" and r["query"] == {"token": [TOKEN]}
            assert h["content-type"] == "application/x-protobuf" and h["content-encoding"] == "identity"
            assert h["x-payload-size"] == str(len(r["body"]))
            assert h["guance-pick-key"] == key and h["guance-routing-key"] == key
            assert [x.pick_key for x in r["batchs"].batchs] == [r["batchs"].pick_key] * 3


async def test_bodies_split_at_one_mebibyte(servers):
    s = servers()
    pick = 12345678901234567890
    parts = [make_batchs(pick, 2500, payload=200) for _ in range(3)]  # ~2 MiB with one pick key
    total = sum(p.ByteSize() for p in parts)
    assert total > 2 * (1 << 20)
    async with AggregateClient([s.url], token=TOKEN) as client:
        report = await client.send(parts)
    assert report.ok and report.bodies == 3
    sent = [b.SerializeToString() for r in s.requests for b in r["batchs"].batchs]
    # the same batches (bodies travel concurrently, so only the order inside a body is kept)
    assert sorted(sent) == sorted(b.SerializeToString() for p in parts for b in p.batchs)
    for r in s.requests:
        assert len(r["body"]) <= 1 << 20 and r["batchs"].pick_key == pick
        assert r["headers"]["guance-pick-key"] == str(pick)


def test_split_bodies_are_exact_batchs_serializations():
    bs = make_batchs(99, 50)
    bodies = split_bodies(99, [bs], 2000)
    assert len(bodies) > 3 and all(len(b.data) <= 2000 for b in bodies)
    for body in bodies:
        parsed = apb.Batchs.FromString(body.data)
        assert parsed.pick_key == 99 and len(parsed.batchs) == body.batches
        assert parsed.SerializeToString() == body.data
    one = make_batchs(0, 1, payload=5000)  # a lone oversize batch still goes, alone; pick key 0 omitted
    (body,) = split_bodies(0, [one], 1000)
    assert apb.Batchs.FromString(body.data) == one


async def test_retries_5xx_drops_4xx(servers):
    s = servers()
    s.statuses = [503, 502]
    async with AggregateClient([s.url], token=TOKEN, retries=3, retry_wait=0.01) as client:
        report = await client.send([make_batchs(1, 2)])
        assert report.ok and [r["status"] for r in s.requests] == [503, 502, 200]
        s.statuses = [400]
        report = await client.send([make_batchs(1, 2)])
        assert report.failed == 1 and report.kept == 0 and "HTTP 400" in report.errors[0]
        assert client.dropped_bodies == 1 and len(s.requests) == 4  # no retry of a 4xx


async def test_transport_errors_keep_bodies_for_flush(servers):
    port = free_port()
    async with AggregateClient([f"http://127.0.0.1:{port}"], token=TOKEN, retries=1, retry_wait=0.01,
                               timeout=2) as client:
        report = await client.send([make_batchs(3, 4), make_batchs(4, 1)])
        assert report.failed == 2 and report.kept == 2 and "ConnectError" in report.errors[0]
        s = servers(port)
        report = await client.flush()
        assert report.ok and report.batches == 5 and client.kept_bodies == 0
        assert sorted(len(r["batchs"].batchs) for r in s.requests) == [1, 4]
