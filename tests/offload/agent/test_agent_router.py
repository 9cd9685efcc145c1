"""Router decisions: which script is offloaded, the hop rule, the explicit pipeline name, local fallbacks."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sender"))

from fakes_sender import FakeTransport  # noqa: E402
from offload._proto.offload.v1 import offload_pb2  # noqa: E402
from offload.agent.config import parse_config  # noqa: E402
from offload.agent.router import Router  # noqa: E402
from offload.point import Point  # noqa: E402
from offload.sender import Sender  # noqa: E402


class FakeLocal:
    def __init__(self):
        self.calls = []
        self.observe = None

    async def process(self, category, points, script=None):
        self.calls.append((category, [p.fields.get("message") for p in points], script))
        return len(points)


@pytest.fixture
async def setup():
    cfg = parse_config({"pipeline": {"offloaded": ["nginx", "app2"],
                                     "offload": {"receiver": "ploffload", "addresses": ["grpc://10.0.0.2:9530"]}},
                        "sender": {"token": "tkn_" + "t" * 32}}, environ={})
    fake = FakeTransport("rx")
    sender = Sender(cfg.offload, cfg.sender, transports=[fake])
    await sender.start()
    local = FakeLocal()
    yield Router(cfg, sender, local), sender, fake, local
    await sender.close(1)


async def test_lines_of_an_offloaded_script_go_to_the_sender(setup):
    router, sender, fake, local = setup
    done = []
    await router.lines("nginx", "", ["a", "b"], 123, b"x" * 16, done.append)
    assert await sender.drain(5)
    assert done == [True] and local.calls == []
    msg = offload_pb2.OffloadBatch.FromString(fake.bodies[0])
    assert (msg.batch_id, msg.source, msg.pipeline, msg.hop, msg.token) == (b"x" * 16, "nginx", "", 1,
                                                                            "tkn_" + "t" * 32)
    assert list(msg.lines.lines) == ["a", "b"] and list(msg.lines.times) == [123, 123]


async def test_explicit_pipeline_decides_and_travels(setup):
    router, sender, fake, local = setup
    done = []
    await router.lines("app", "app2", ["x"], 1, b"y" * 16, done.append)  # script app2 is offloaded
    await router.lines("nginx", "other", ["z"], 1, b"z" * 16, done.append)  # script "other" is not
    assert await sender.drain(5)
    assert offload_pb2.OffloadBatch.FromString(fake.bodies[0]).pipeline == "app2"
    assert local.calls == [("logging", ["z"], "other")]
    assert done == [True, True]


async def test_pushed_points_hop_and_grouping(setup):
    router, sender, fake, local = setup
    pts = [Point("nginx", {}, {"message": "1"}), Point("syslog", {}, {"message": "2"}),
           Point("nginx", {}, {"message": "3"})]
    assert await router.points("logging", pts, hop=0)
    assert await sender.drain(5)
    assert len(fake.accepted) == 1 and local.calls == [("logging", ["2"], None)]
    assert await router.points("logging", pts, hop=1)  # already offloaded once: everything stays here
    assert await router.points("metric", [Point("cpu", {}, {"v": 1.0})], hop=0)
    assert len(fake.accepted) == 1
    assert [c[0] for c in local.calls] == ["logging", "logging", "metric"]
