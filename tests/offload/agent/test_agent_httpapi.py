"""The agent's write API in process: DataKit answers, hop handling, 429 back-pressure, /metrics."""

import asyncio
import gzip
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sender"))

from fakes_sender import FakeTransport  # noqa: E402
from offload.agent.config import parse_config  # noqa: E402
from offload.agent.httpapi import build_app  # noqa: E402
from offload.agent.metrics import AgentMetrics  # noqa: E402
from offload.agent.router import Router  # noqa: E402
from offload.point import Point  # noqa: E402
from offload.sender import Sender, SenderMetrics  # noqa: E402


class FakeLocal:
    def __init__(self):
        self.calls = []

    async def process(self, category, points, script=None):
        self.calls.append((category, list(points), script))
        return len(points)


@pytest.fixture
async def api():
    from prometheus_client import CollectorRegistry

    cfg = parse_config({"http": {"listen": "127.0.0.1:9539"},
                        "pipeline": {"offloaded": ["nginx"],
                                     "offload": {"receiver": "ploffload", "addresses": ["grpc://10.0.0.2:9530"]}},
                        "sender": {"queue_batches": 2, "concurrency": 1, "eject_base": 0.01, "eject_max": 0.02}},
                       environ={})
    registry = CollectorRegistry()
    fake = FakeTransport("rx")
    sender = Sender(cfg.offload, cfg.sender, metrics=SenderMetrics(registry), transports=[fake])
    await sender.start()
    local = FakeLocal()
    router = Router(cfg, sender, local, AgentMetrics(registry))
    app = build_app(router, registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as client:
        yield client, sender, fake, local
    await sender.close(0.5)


LP = b'nginx message="GET / 200" 1700000000000000000\nnginx message="GET /x 404" 1700000000000000001'


async def test_pushed_logs_of_an_offloaded_script_are_offloaded_with_hop_1(api):
    client, sender, fake, local = api
    r = await client.post("/v1/write/logging", content=LP)  # DataKit's shape: no query, no content type
    assert r.status_code == 200 and r.content == b""
    assert await sender.drain(5)
    assert len(fake.accepted) == 1 and local.calls == []
    from offload._proto.offload.v1 import offload_pb2

    msg = offload_pb2.OffloadBatch.FromString(fake.bodies[0])
    assert msg.hop == 1 and msg.source == "nginx"


async def test_other_scripts_and_categories_run_locally(api):
    client, sender, fake, local = api
    r = await client.post("/v1/write/logging", content=b'app message="x"\nnginx message="y"')
    assert r.status_code == 200
    r = await client.post("/v1/write/metric", content=b"cpu,host=a usage=1.5")
    assert r.status_code == 200
    assert await sender.drain(5)
    assert [(c, [p.name for p in pts]) for c, pts, _ in local.calls] == [("logging", ["app"]), ("metric", ["cpu"])]
    assert len(fake.accepted) == 1


@pytest.mark.parametrize("path, headers", [
    ("/v1/write/logging", {"X-Offload-Hop": "1"}),
    ("/v1/write/logging", {"X-Offload-Hop": "junk"}),
    ("/v1/write/ploffload/logging", {}),
])
async def test_offloaded_batches_are_never_offloaded_again(api, path, headers):
    client, sender, fake, local = api
    r = await client.post(path, content=LP, headers=headers)
    assert r.status_code == 200
    assert fake.attempts == [] and len(local.calls) == 1 and len(local.calls[0][1]) == 2


async def test_protobuf_and_gzip_bodies(api):
    client, sender, fake, local = api
    from offload.codec import protobuf

    body = protobuf.encode([Point("app", {}, {"message": "hello"}, 1)])
    r = await client.post("/v1/write/ploffload/logging", content=body,
                          headers={"Content-Type": "application/protobuf; proto=com.guance.Point"})
    assert r.status_code == 200
    assert local.calls[-1][1][0].fields["message"] == "hello"
    r = await client.post("/v1/write/logging", content=gzip.compress(b'app message="z"'),
                          headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and local.calls[-1][1][0].fields["message"] == "z"


@pytest.mark.parametrize("path, body, code", [
    ("/v1/write/logging", b"", "datakit.emptyBody"),
    ("/v1/write/nope", b"x a=1", "datakit.invalidCategory"),
    ("/v1/write/ploffload/rum", b"x a=1", "datakit.invalidCategory"),
    ("/v1/write/logging", b"no fields here", "datakit.invalidLinePoint"),
])
async def test_datakit_error_answers(api, path, body, code):
    client, *_ = api
    r = await client.post(path, content=body)
    assert r.status_code == 400
    assert r.json()["error_code"] == code
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_full_queue_answers_429_and_recovers(api):
    client, sender, fake, local = api
    fake.mode = "down"
    assert (await client.post("/v1/write/logging", content=LP)).status_code == 200
    for _ in range(200):  # wait until the only sender task holds it (retrying)
        if sender.pending == 1 and sender.queue.memory_depth == 0:
            break
        await asyncio.sleep(0.01)
    codes = [(await client.post("/v1/write/logging", content=LP)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # 2 queued, then push back
    assert (await client.post("/v1/write/logging", content=LP)).json()["error_code"] == "datakit.reachMaxAPILimit"
    fake.mode = "ok"
    assert await sender.drain(5)
    assert (await client.post("/v1/write/logging", content=LP)).status_code == 200


async def test_ping_and_metrics(api):
    client, sender, fake, local = api
    assert (await client.get("/v1/ping")).status_code == 200
    await client.post("/v1/write/logging", content=LP)
    assert await sender.drain(5)
    text = (await client.get("/metrics")).text
    assert 'offload_sender_points_offloaded_total{receiver="rx"} 2.0' in text
    assert 'offload_agent_http_requests_total{code="200",path="/v1/write"}' in text
