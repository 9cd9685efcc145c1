"""The Dataway writer against the real HTTP stand-in: URLs, headers, tokens, splitting, 4xx, 5xx."""

from __future__ import annotations

import gzip
import re

import pytest
from dataway_testkit import TOKEN_A, TOKEN_B, log_points, wait_for
from prometheus_client import REGISTRY
from support.dataway import DatawayStandIn

from offload.dataway import DatawayConfig, DatawayWriter, InvalidWrite, WriterClosed
from offload.point import Point


FAST = dict(retry_delay=0.01, max_retry_delay=0.05, timeout=5.0)


@pytest.fixture
async def make_writer(tmp_path):
    writers = []

    async def make(urls, **kw):
        opts = {**FAST, "wal_dir": tmp_path / "wal", **kw}
        w = DatawayWriter(DatawayConfig(urls=urls, **opts))
        writers.append(w)
        await w.start()
        return w

    yield make
    for w in writers:
        await w.close()


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_headers_and_per_batch_token(dataway, make_writer):
    w = await make_writer([f"{dataway.url}?zone=cn&token={TOKEN_A}"], workers=1)  # in order
    await w.write("logging", log_points(3))
    await w.write("logging", log_points(2, start=3), token=TOKEN_B, headers={"X-Storage-Index-Name": "idx1"})
    await w.write("metric", [Point("cpu", {"host": "h"}, {"usage": 0.5}, 1)])
    assert await w.flush(timeout=10)

    reqs = dataway.ok_requests()
    assert [(r.path, r.token, r.query["zone"]) for r in reqs] == [
        ("/v1/write/logging", TOKEN_A, "cn"),
        ("/v1/write/logging", TOKEN_B, "cn"),
        ("/v1/write/metric", TOKEN_A, "cn"),
    ]
    for r, n in zip(reqs, (3, 2, 1)):
        h = r.headers
        assert h["content-type"] == "application/protobuf; proto=com.guance.Point"
        assert h["content-encoding"] == "gzip"
        assert h["x-points"] == str(n) == str(len(r.points))
        assert re.fullmatch(r"dk_[0-9a-v]{20}", h["x-pkg-id"])
        assert re.fullmatch(r"datakit-[a-z0-9]+-[a-z0-9_]+/[^/]+/.+", h["user-agent"])
        assert h["referer"] == "DataKit"
        assert gzip.decompress(r.raw_body) == r.body
    assert reqs[1].headers["x-storage-index-name"] == "idx1"
    assert "x-storage-index-name" not in reqs[0].headers
    assert len({r.headers["x-pkg-id"] for r in reqs}) == 3
    assert [p.fields["seq"] for p in dataway.points("logging")] == [0, 1, 2, 3, 4]
    assert dataway.points("metric") == [Point("cpu", {"host": "h"}, {"usage": 0.5}, 1)]
    assert w.stats["bodies_sent"] == 3 and w.stats["points_sent"] == 6


async def test_every_body_goes_to_every_url(dataway, make_writer):
    other = DatawayStandIn().start()
    try:
        w = await make_writer([f"{dataway.url}?token={TOKEN_A}", f"{other.url}?token={TOKEN_B}"])
        await w.write("logging", log_points(4))
        assert await w.flush(timeout=10)
        assert [r.token for r in dataway.ok_requests()] == [TOKEN_A]
        assert [r.token for r in other.ok_requests()] == [TOKEN_B]
        assert dataway.points() == other.points() == log_points(4)
    finally:
        other.stop()


@pytest.mark.parametrize("encoding", ["v2", "v1"])
async def test_split_below_max_raw_body_size(dataway, make_writer, encoding):
    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"], content_encoding=encoding, workers=2)
    points = log_points(3000, size=1000)  # ~3.2 MB raw
    huge = Point("nginx", {}, {"message": "y" * (1 << 20), "seq": -1}, 1)
    await w.write("logging", points[:1500] + [huge] + points[1500:])
    assert await w.flush(timeout=20)

    reqs = dataway.ok_requests()
    assert len(reqs) >= 4
    for r in reqs:
        assert len(r.body) < 1 << 20
        assert r.headers["x-points"] == str(len(r.points))
        if encoding == "v1":
            assert r.headers["content-type"] == "application/line-protocol"
            assert r.body.endswith(b"\n") and r.body.count(b"\n") == len(r.points)
    seqs = sorted(p.fields["seq"] for p in dataway.points())
    assert seqs == list(range(3000))  # every point once; the oversize one skipped
    assert w.stats["points_dropped_oversize"] == 1


async def test_4xx_is_dropped_not_retried(dataway, make_writer):
    before = metric("dataway_points_dropped_total", category="logging", reason="4xx")
    dataway.fail_with(403)
    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"])
    await w.write("logging", log_points(7))
    assert await w.flush(timeout=10)
    assert len(dataway.requests) == 1 and dataway.requests[0].status == 403
    s = w.stats
    assert (s["bodies_dropped_4xx"], s["points_dropped_4xx"], s["retries"], s["bodies_sent"]) == (1, 7, 0, 0)
    assert metric("dataway_points_dropped_total", category="logging", reason="4xx") == before + 7
    assert s["wal_pending_bytes"] == 0


async def test_5xx_retried_with_the_whole_body_until_delivered(dataway, make_writer):
    sent_before = metric("dataway_send_total", category="logging", status="503")
    dataway.fail_with(503)
    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"], workers=1)
    await w.write("logging", log_points(50))
    await wait_for(lambda: len(dataway.requests) >= 3)
    dataway.fail_with(None)
    assert await w.flush(timeout=10)

    reqs = dataway.requests
    assert [r.status for r in reqs[:-1]] == [503] * (len(reqs) - 1) and reqs[-1].status == 200
    assert {r.raw_body for r in reqs} == {reqs[-1].raw_body}  # the same full body each time
    assert {r.headers["x-pkg-id"] for r in reqs} == {reqs[-1].headers["x-pkg-id"]}
    assert dataway.points() == log_points(50)
    assert w.stats["retries"] == len(reqs) - 1
    assert metric("dataway_send_total", category="logging", status="503") >= sent_before + 3


async def test_transport_errors_are_retried(dataway, make_writer):
    dataway.set_down(True)
    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"])
    await w.write("logging", log_points(5))
    await wait_for(lambda: w.stats["retries"] >= 2)
    dataway.set_down(False)
    assert await w.flush(timeout=10)
    assert dataway.points() == log_points(5)


async def test_expired_bodies_are_dropped(dataway, tmp_path):
    now = [1000.0]
    dataway.fail_with(503)
    w = DatawayWriter(DatawayConfig(urls=[f"{dataway.url}?token={TOKEN_A}"], wal_dir=tmp_path / "wal",
                                    max_body_age=60, **FAST), clock=lambda: now[0])
    try:
        await w.write("logging", log_points(4))
        await wait_for(lambda: len(dataway.requests) >= 1)
        now[0] += 61
        assert await w.flush(timeout=10)
        assert (w.stats["bodies_dropped_expired"], w.stats["points_dropped_expired"]) == (1, 4)
        assert w.stats["bodies_sent"] == 0
    finally:
        await w.close()


async def test_invalid_writes_are_refused(dataway, make_writer):
    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"])
    with pytest.raises(InvalidWrite, match="category"):
        await w.write("nope", log_points(1))
    with pytest.raises(InvalidWrite, match="tkn_"):
        await w.write("logging", log_points(1), token="tkn_short")
    await w.write("logging", [])  # nothing to do
    await w.close()
    with pytest.raises(WriterClosed):
        await w.write("logging", log_points(1))
    assert dataway.requests == []


async def test_unencodable_points_are_skipped_and_counted(dataway, make_writer):
    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"], content_encoding="v1")
    good = Point("app", {"host": "h"}, {"v": 1}, 10)
    await w.write("logging", [
        Point("app", {"host": "h"}, {}, 11),  # no fields
        good,
        Point("app", {}, {"v": float("nan")}, 12),  # line protocol has no NaN
        Point("app", {}, {"s": "bad \udc80 surrogate"}, 13),  # not UTF-8
    ])
    assert await w.flush(timeout=10)
    assert dataway.points() == [good]
    assert dataway.ok_requests()[0].headers["x-points"] == "1"
    assert w.stats["points_dropped_unencodable"] == 3


async def test_write_built_queues_bodies_built_elsewhere(dataway, make_writer, tmp_path):
    from offload.dataway import build_bodies

    w = await make_writer([f"{dataway.url}?token={TOKEN_A}"], workers=1)
    built = build_bodies(log_points(5) + [Point("x", {}, {}, 1)], **w.body_options())
    assert built.unencodable == 0 and built.bodies[0].headers["X-Points"] == "6"  # protobuf carries it
    await w.write_built("logging", built, TOKEN_B)
    assert await w.flush(timeout=10)
    (req,) = dataway.ok_requests()
    assert req.token == TOKEN_B and len(req.points) == 6
    assert (w.stats["writes"], w.stats["points_written"], w.stats["points_sent"]) == (1, 6, 6)

    files = await make_writer([f"file://{tmp_path}/out.jsonl"], wal_dir=None)
    with pytest.raises(InvalidWrite, match="file://"):
        await files.write_built("logging", built)
