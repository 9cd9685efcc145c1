"""Proxy mode behind a real uvicorn server: pick_key % N routing, pass-through answers, unreachable backends."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from aggr_harness import ServiceServer
from aggr_wire import datakit_headers
from receiver.aggregate import AggregateConfig
from support.dataway import DatawayStandIn
from support.procs import free_port

TOKEN = "tkn_" + "p" * 32


@pytest.fixture(scope="module")
def stand_ins():
    servers = [DatawayStandIn().start() for _ in range(3)]
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()


@pytest.fixture
def backends(stand_ins):
    """Three stand-in backends, shared by the module (stopping one costs half a second), reset per test."""
    for s in stand_ins:
        s.requests.clear()
        s.fail_with(None)
        s.set_delay(0)
    return stand_ins


def proxy_cfg(urls):
    return AggregateConfig.from_mapping({"aggregator_mode": "proxy", "aggregator_endpoint": urls}, {})


def test_pick_keys_land_on_key_mod_n_unchanged(backends, dataway):
    with ServiceServer(proxy_cfg([b.url for b in backends]), dataway.url) as srv:
        with httpx.Client(timeout=10) as client:
            for pick in range(100):
                body = f"body-{pick}".encode() + bytes([pick])
                r = client.post(f"{srv.url}/v1/aggregate?token={TOKEN}&x=1", content=body,
                                headers=datakit_headers(body, pick))
                assert r.status_code == 200
    for index, backend in enumerate(backends):
        keys = [int(r.headers["guance-pick-key"]) for r in backend.requests]
        assert keys == [k for k in range(100) if k % 3 == index]
        for r in backend.requests:
            pick = int(r.headers["guance-pick-key"])
            assert r.path == "/v1/aggregate" and r.query == {"token": TOKEN, "x": "1"}
            assert r.raw_body == f"body-{pick}".encode() + bytes([pick])
            assert r.headers["content-type"] == "application/x-protobuf"
            assert r.headers["x-payload-size"] == str(len(r.raw_body))
            assert r.headers["guance-routing-key"] == str(pick)
    assert dataway.requests == []


def test_backend_status_and_body_pass_through(backends, dataway):
    with ServiceServer(proxy_cfg([b.url for b in backends]), dataway.url) as srv:
        for status in (400, 403, 500, 503):
            backends[1].fail_with(status)
            r = httpx.post(f"{srv.url}/v1/aggregate?token={TOKEN}", content=b"x", headers=datakit_headers(b"x", 4))
            assert r.status_code == status
            assert r.content == b'{"error_code":"stand-in","message":"configured failure"}'
            assert r.headers.get("content-type") is None  # the stand-in sends none, so neither do we


def test_bad_pick_key_is_400(backends, dataway):
    with ServiceServer(proxy_cfg([b.url for b in backends]), dataway.url) as srv:
        for header in (None, "", "abc", "-1", "1.5", str(1 << 64)):
            headers = {"Content-Type": "application/x-protobuf"}
            if header is not None:
                headers["Guance-Pick-Key"] = header
            r = httpx.post(f"{srv.url}/v1/aggregate", content=b"x", headers=headers)
            assert r.status_code == 400 and r.json()["error_code"] == "aggregate.invalidPickKey", header
    assert all(b.requests == [] for b in backends)


def test_backend_down_is_502_and_timeout_504_both_counted(backends, dataway):
    dead = f"http://127.0.0.1:{free_port()}"
    slow = backends[0]
    slow.set_delay(1.5)

    def errors(endpoint, reason):
        return REGISTRY.get_sample_value("dataway_aggr_proxy_backend_errors_total",
                                         {"endpoint": endpoint, "reason": reason}) or 0.0

    with ServiceServer(proxy_cfg([slow.url, dead]), dataway.url, proxy_timeout=0.3) as srv:
        down = httpx.post(f"{srv.url}/v1/aggregate", content=b"x", headers=datakit_headers(b"x", 1))
        late = httpx.post(f"{srv.url}/v1/aggregate", content=b"x", headers=datakit_headers(b"x", 0))
    assert down.status_code == 502 and down.json()["error_code"] == "aggregate.backendUnavailable"
    assert late.status_code == 504 and late.json()["error_code"] == "aggregate.backendTimeout"
    assert errors(dead, "refused") == 1
    assert errors(slow.url, "timeout") == 1
