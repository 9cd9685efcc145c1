"""AggregateService behind a real uvicorn server (thread) writing through a real DatawayWriter to the stand-in."""

from __future__ import annotations

import asyncio
import gzip
import logging

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.responses import JSONResponse

from aggr_harness import DEFAULT_TOKEN, FakeClock, ServiceServer, wait_until
from aggr_wire import (
    EVERY_VALUES, SECOND, algo, batch_for, body_for, check_every, datakit_headers, every_algorithm, forked,
)
from offload.dataway import WriterFull
from receiver.aggregate import AggregateConfig, AggregateService

T0 = 1_700_000_000
STANDALONE = AggregateConfig.from_mapping({"aggregator_mode": "standalone", "aggregator_tolerance": "1s"}, {})


def tok(c: str) -> str:
    return "tkn_" + c * 32


def every_body(start_s: int = T0, host: str = "h1") -> bytes:
    algos = every_algorithm(window_s=10)
    return body_for([batch_for(forked("nginx", "latency", v, (start_s + dt) * SECOND, {"host": host}), algos)
                     for dt, v in EVERY_VALUES])


def post(srv, body: bytes, token: str | None, headers: dict | None = None) -> httpx.Response:
    url = f"{srv.url}/v1/aggregate" + (f"?token={token}" if token else "")
    return httpx.post(url, content=body, headers=headers or datakit_headers(body, 0), timeout=10)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_standalone_every_algorithm_two_tokens_two_requests(dataway):
    clock = FakeClock(T0)
    with ServiceServer(STANDALONE, dataway.url, clock=clock) as srv:
        body = every_body()
        for token in (tok("a"), tok("b")):
            r = post(srv, body, token)
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == 75
        assert dataway.requests == []
        clock.advance(10)  # window (T0, T0+10] + tolerance 1 s: due at T0+11
        assert wait_until(lambda: srv.service.cache.buckets, 2, "cache to keep the window")
        clock.advance(1)
        reqs = dataway.wait_requests(2, "/v1/write/metric")
    assert sorted(r.token for r in reqs) == [tok("a"), tok("b")]
    for r in reqs:
        check_every(r.points, T0 * SECOND)
        assert {p.time for p in r.points} == {(T0 + 5) * SECOND, (T0 + 1) * SECOND}
    assert len(dataway.requests) == 2


def test_default_token_when_the_query_has_none(dataway):
    clock = FakeClock(T0)
    with ServiceServer(STANDALONE, dataway.url, clock=clock) as srv:
        assert post(srv, every_body(), None).status_code == 200
        clock.advance(11)
        (req,) = dataway.wait_requests(1, "/v1/write/metric")
    assert req.token == DEFAULT_TOKEN


def test_unknown_method_is_a_400_json_error(dataway):
    with ServiceServer(STANDALONE, dataway.url, clock=FakeClock(T0)) as srv:
        body = body_for([batch_for(forked("nginx", "latency", 1.0, (T0 + 1) * SECOND, {"host": "h1"}),
                                   {"x": algo("median", "latency")})])
        r = post(srv, body, tok("c"))
        assert r.status_code == 400
        assert r.json()["error_code"] == "aggregate.unknownMethod" and "median" in r.json()["message"]
        assert post(srv, b"\x0a\xff", tok("c")).json()["error_code"] == "aggregate.invalidBatch"
        assert srv.service.cache.buckets == {}


def test_auth_is_checked_first(dataway):
    def auth(request):
        if request.headers.get("authorization") != "Bearer ok":
            return JSONResponse({"error_code": "datakit.invalidToken"}, status_code=401)
        return None

    with ServiceServer(STANDALONE, dataway.url, clock=FakeClock(T0), auth=auth) as srv:
        assert post(srv, b"not even protobuf", tok("d")).status_code == 401
        headers = {"Authorization": "Bearer ok"}
        assert post(srv, every_body(), tok("d"), headers).status_code == 200


def test_disabled_feature_has_no_route(dataway):
    off = AggregateConfig.from_mapping({}, {})
    with ServiceServer(off, dataway.url) as srv:
        assert srv.service.routes() == [] and not srv.service.enabled
        assert post(srv, every_body(), tok("e")).status_code == 404


def test_gzip_body_and_metrics(dataway):
    token = tok("f")
    before = sample("dataway_http_aggr_point_total", api="/v1/aggregate", token=token)
    size_before = sample("dataway_http_api_body_size_bytes_total", api="/v1/aggregate", token=token)
    with ServiceServer(STANDALONE, dataway.url, clock=FakeClock(T0)) as srv:
        raw = every_body()
        packed = gzip.compress(raw)
        r = post(srv, packed, token, {"Content-Encoding": "gzip", "Content-Type": "application/x-protobuf"})
        assert r.status_code == 200 and r.json()["accepted"] == 75
        r = post(srv, packed, token, {"Content-Encoding": "br"})
        assert r.status_code == 400 and r.json()["error_code"] == "aggregate.decodeBodyFailed"
    assert sample("dataway_http_aggr_point_total", api="/v1/aggregate", token=token) - before == 75
    assert sample("dataway_http_api_body_size_bytes_total", api="/v1/aggregate", token=token) - size_before == \
        2 * len(packed)


def test_late_data_is_dropped_counted_and_logged(dataway, caplog):
    token = tok("g")
    clock = FakeClock(T0)
    with ServiceServer(STANDALONE, dataway.url, clock=clock) as srv:
        assert post(srv, every_body(), token).json()["accepted"] == 75
        clock.advance(11)
        dataway.wait_requests(1, "/v1/write/metric")
        with caplog.at_level(logging.WARNING, logger="receiver.aggregate.service"):
            r = post(srv, every_body(), token)
        assert r.json() == {"accepted": 0, "dropped": 75, "skipped": 0}
        assert srv.service.cache.buckets == {}
    assert sample("dataway_aggr_dropped_late_total", api="/v1/aggregate", token=token) == 75
    assert any("late" in rec.getMessage() for rec in caplog.records)
    assert len(dataway.ok_requests("/v1/write/metric")) == 1


def test_self_report_writes_dataway_aggregate_points_and_resets(dataway):
    token = tok("h")
    with ServiceServer(STANDALONE, dataway.url, clock=FakeClock(T0), report_interval=0.3) as srv:
        body = every_body()
        assert post(srv, body, token).status_code == 200
        wait_until(lambda: [p for p in dataway.points("metric") if p.name == "dataway_aggregate"], 10, "self-report")
        reports = [p for p in dataway.points("metric") if p.name == "dataway_aggregate"]
        (point,) = [p for p in reports if p.tags.get("token") == token]
        assert point.tags == {"api": "/v1/aggregate", "token": token}
        assert point.fields == {"dataway_http_api_body_size_bytes_total": float(len(body)),
                                "dataway_http_aggr_point_total": 75.0}
        req = [r for r in dataway.ok_requests("/v1/write/metric") if any(p.name == "dataway_aggregate" for p in r.points)]
        assert req[0].token == DEFAULT_TOKEN
        # reset after the write: nothing new to report
        assert srv.service.tallies.snapshot() == []


def test_report_failure_keeps_the_counters():
    class FlakyWriter:
        def __init__(self):
            self.calls = []
            self.fail = True

        async def write(self, category, points, token=None):
            if self.fail:
                raise WriterFull("full")
            self.calls.append((category, points, token))

    async def scenario():
        writer = FlakyWriter()
        svc = AggregateService(STANDALONE, writer, DEFAULT_TOKEN, lambda r: None, clock=FakeClock(T0))
        from receiver.aggregate import selfmetrics as sm

        svc.tallies.inc(sm.AGGR_POINTS, 5, api="/v1/aggregate", token=tok("i"))
        with pytest.raises(WriterFull):
            await svc.report()
        assert svc.tallies.snapshot() != []
        writer.fail = False
        assert await svc.report() == 1
        assert writer.calls[0][2] == DEFAULT_TOKEN
        assert writer.calls[0][1][0].fields == {"dataway_http_aggr_point_total": 5.0}
        assert svc.tallies.snapshot() == []

    asyncio.run(scenario())


def test_window_write_retried_until_the_writer_takes_it():
    class FullOnce:
        def __init__(self):
            self.calls = 0
            self.written = []

        async def write(self, category, points, token=None):
            self.calls += 1
            if self.calls == 1:
                raise WriterFull("full")
            self.written.append((token, points))

    async def scenario():
        clock = FakeClock(T0)
        writer = FullOnce()
        svc = AggregateService(STANDALONE, writer, DEFAULT_TOKEN, lambda r: None, clock=clock)
        res = svc.cache.feed(tok("j"), every_body(), clock())
        assert res.accepted == 75
        clock.advance(11)
        assert await svc.flush_due() == 0 and len(svc.pending) == 1
        assert await svc.flush_due() == 16 and svc.pending == []
        assert writer.written[0][0] == tok("j")

    asyncio.run(scenario())


def test_state_survives_a_stop_and_is_written_once(dataway, tmp_path):
    clock = FakeClock(T0)
    token = tok("k")
    with ServiceServer(STANDALONE, dataway.url, clock=clock, state_dir=tmp_path / "state") as srv:
        assert post(srv, every_body(), token).status_code == 200
        assert post(srv, every_body(T0 + 10), token).status_code == 200  # the next window
        clock.advance(11)
        dataway.wait_requests(1, "/v1/write/metric")
    assert len(dataway.ok_requests("/v1/write/metric")) == 1
    with ServiceServer(STANDALONE, dataway.url, clock=clock, state_dir=tmp_path / "state") as srv:
        assert len(srv.service.cache.open_windows()) == 1  # the first window was not replayed
        clock.advance(10)
        reqs = dataway.wait_requests(2, "/v1/write/metric")
        assert wait_until(lambda: not srv.service.cache.buckets, 5, "flush")
    check_every(reqs[1].points, (T0 + 10) * SECOND)
    assert len(dataway.ok_requests("/v1/write/metric")) == 2


def test_state_log_segments_are_collected_as_windows_flush(dataway, tmp_path):
    clock = FakeClock(T0)
    state_dir = tmp_path / "state"
    token = tok("l")
    with ServiceServer(STANDALONE, dataway.url, clock=clock, state_dir=state_dir) as srv:
        srv.service.state.segment_bytes = 1  # rotate after every tick that wrote something
        for i in range(6):
            clock.now = T0 + 10 * i + 0.5
            assert post(srv, every_body(T0 + 10 * i), token).status_code == 200
            clock.now = T0 + 10 * i + 11
            dataway.wait_requests(i + 1, "/v1/write/metric")
        wait_until(lambda: len(list(state_dir.glob("*.wal"))) <= 2, 5, "old segments to be deleted")
    with ServiceServer(STANDALONE, dataway.url, clock=clock, state_dir=state_dir) as srv:
        assert srv.service.cache.open_windows() == []
        clock.advance(100)
    assert len(dataway.ok_requests("/v1/write/metric")) == 6
