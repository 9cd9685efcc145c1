"""The aggregate endpoint in real `offload-receiver serve` processes, posted to by a DataKit-shaped client.

The client builds Batchs from the spec's schema (aggr_wire, protobuf runtime) and sends
DataKit's headers; a Dataway stand-in receives what the receivers write.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import pytest

from aggr_wire import (
    EVERY_VALUES, SECOND, batch_for, body_for, check_every, datakit_headers, every_algorithm, forked,
)
from support.dataway import DatawayStandIn
from support.procs import free_port, wait_http

DEFAULT_TOKEN = "tkn_" + "0" * 32
TOKEN_A = "tkn_" + "a" * 32
TOKEN_B = "tkn_" + "b" * 32
STEP = SECOND // 10  # samples 0.1 s apart, so every sample fits a 1 s window


def start_receiver(procs, tmp_path: Path, name: str, dataway_url: str, top: str = "", env: dict | None = None):
    """Write a config, start `offload-receiver serve`, wait for /v1/ping; (proc, base URL)."""
    workdir = tmp_path / name
    workdir.mkdir(exist_ok=True)
    port, grpc_port = free_port(), free_port()
    (workdir / "receiver.toml").write_text(f"""{top}
[http]
listen = "127.0.0.1:{port}"
[grpc]
listen = "127.0.0.1:{grpc_port}"
[workers]
count = 1
[dataway]
urls = ["{dataway_url}?token={DEFAULT_TOKEN}"]
wal_dir = "data/wal"
content_encoding = "v1"
""")
    proc = procs.start("offload-receiver", "serve", "--config", "receiver.toml", name=name, cwd=workdir, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/v1/ping", timeout=30, proc=proc)
    return proc, base


def window_body(window_end_s: int, host: str = "h1") -> bytes:
    """EVERY_VALUES as DataKit batches, 0.1 s apart, inside the 1 s window ending at window_end_s."""
    start = (window_end_s - 1) * SECOND
    algos = every_algorithm(window_s=1)
    return body_for([batch_for(forked("nginx", "latency", v, start + dt * STEP, {"host": host}), algos)
                     for dt, v in EVERY_VALUES])


def check_window(points, window_end_s: int, host: str = "h1") -> None:
    start = (window_end_s - 1) * SECOND
    # the shared expectation assumes 1 s steps: rescale the two time-dependent outputs
    fixed = []
    for p in points:
        f = dict(p.fields)
        if "lat_rate" in f:
            f["lat_rate"] = f["lat_rate"] / 10  # 20 over 0.4 s instead of 4 s
        if "lat_rollup_first_ts" in f:
            f["lat_rollup_first_ts"] = start + (f["lat_rollup_first_ts"] - start) * 10
        p.fields = f
        fixed.append(p)
    check_every(fixed, start, host)


def post(base: str, body: bytes, token: str | None, pick: int = 7) -> httpx.Response:
    url = f"{base}/v1/aggregate" + (f"?token={token}" if token else "")
    return httpx.post(url, content=body, headers=datakit_headers(body, pick), timeout=10)


def next_window_end(lead: float = 0.3) -> int:
    """The end (Unix s) of a 1 s window still open `lead` seconds from now."""
    return math.floor(time.time() + lead) + 1


def test_standalone_every_algorithm_two_tokens(procs, dataway, tmp_path):
    _, base = start_receiver(procs, tmp_path, "rx", dataway.url,
                             'aggregator_mode = "standalone"\naggregator_tolerance = "1s"')
    end = next_window_end()
    body = window_body(end)
    for token in (TOKEN_A, TOKEN_B):
        r = post(base, body, token)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 75
    reqs = dataway.wait_requests(2, "/v1/write/metric", timeout=20)
    assert sorted(r.token for r in reqs) == [TOKEN_A, TOKEN_B]
    for r in reqs:
        assert r.status == 200
        check_window(r.points, end)
    # a late batch for the flushed window is dropped, and nothing else is written
    r = post(base, body, TOKEN_A)
    assert r.json() == {"accepted": 0, "dropped": 75, "skipped": 0}
    metrics = httpx.get(f"{base}/metrics").text
    assert f'dataway_aggr_dropped_late_total{{api="/v1/aggregate",token="{TOKEN_A}"}} 75.0' in metrics
    assert f'dataway_http_aggr_point_total{{api="/v1/aggregate",token="{TOKEN_B}"}} 75.0' in metrics
    assert len(dataway.ok_requests("/v1/write/metric")) == 2


def test_kill9_with_open_windows_then_restart_writes_each_window_once(procs, dataway, tmp_path):
    top = 'aggregator_mode = "standalone"\naggregator_tolerance = "1s"'
    proc, base = start_receiver(procs, tmp_path, "rx", dataway.url, top)
    first = next_window_end()
    later = first + 5  # still open when the process is killed
    assert post(base, window_body(first), TOKEN_A).status_code == 200
    assert post(base, window_body(later, host="h2"), TOKEN_A).status_code == 200
    assert post(base, window_body(later, host="h2"), TOKEN_B).status_code == 200
    (flushed,) = dataway.wait_requests(1, "/v1/write/metric", timeout=20)
    check_window(flushed.points, first)
    # let the writer record the delivery (its own at-least-once WAL) before the crash
    deadline = time.monotonic() + 5
    while 'dataway_send_total{category="metric",status="200"} 1.0' not in httpx.get(f"{base}/metrics").text:
        assert time.monotonic() < deadline, "writer did not count the delivery"
        time.sleep(0.05)
    time.sleep(0.2)
    assert time.time() < later + 1, "the second window closed before the kill; the test machine is too slow"
    proc.kill9()

    restarted, base = start_receiver(procs, tmp_path, "rx", dataway.url, top)
    reqs = dataway.wait_requests(3, "/v1/write/metric", timeout=20)
    assert "into 2 open windows" in restarted.output()  # replayed from the state log
    by_token = {}
    for r in reqs[1:]:
        by_token.setdefault(r.token, []).append(r)
    assert sorted(by_token) == [TOKEN_A, TOKEN_B]
    for token, got in by_token.items():
        (r,) = got
        check_window(r.points, later, host="h2")
    time.sleep(1.5)  # several ticks: nothing is written twice
    assert len(dataway.ok_requests("/v1/write/metric")) == 3


def test_config_env_standalone_file_empty_and_both_empty(procs, dataway, tmp_path):
    _, on = start_receiver(procs, tmp_path, "env", dataway.url,
                           env={"DW_AGGREGATOR_MODE": "standalone", "DW_AGGREGATOR_TOLERANCE": "1s"})
    _, off = start_receiver(procs, tmp_path, "off", dataway.url)
    r = httpx.post(f"{on}/v1/aggregate", content=b"")
    assert r.status_code == 400 and r.json()["error_code"] == "aggregate.emptyBody"
    end = next_window_end()
    assert post(on, window_body(end), TOKEN_A).status_code == 200
    (req,) = dataway.wait_requests(1, "/v1/write/metric", timeout=20)
    check_window(req.points, end)
    assert post(off, window_body(end), TOKEN_A).status_code == 404


def test_config_proxy_without_endpoints_fails_to_start(procs, dataway, tmp_path):
    workdir = tmp_path / "bad"
    workdir.mkdir()
    (workdir / "receiver.toml").write_text(f"""aggregator_mode = "proxy"
[http]
listen = "127.0.0.1:{free_port()}"
[grpc]
listen = "127.0.0.1:{free_port()}"
[dataway]
urls = ["{dataway.url}?token={DEFAULT_TOKEN}"]
""")
    proc = procs.start("offload-receiver", "serve", "--config", "receiver.toml", name="bad", cwd=workdir)
    assert proc.wait(30) != 0
    assert "aggregator_endpoint" in proc.output()


@pytest.fixture
def three_backends():
    servers = [DatawayStandIn().start() for _ in range(3)]
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()


def test_proxy_from_env_over_file_routes_pick_key_mod_3(procs, dataway, tmp_path, three_backends):
    env = {"DW_AGGREGATOR_MODE": "proxy", "DW_AGGREGATOR_ENDPOINTS": ",".join(b.url for b in three_backends)}
    _, base = start_receiver(procs, tmp_path, "proxy", dataway.url, 'aggregator_mode = "standalone"', env=env)
    end = next_window_end(lead=100)
    with httpx.Client(timeout=10) as client:
        for pick in range(100):
            body = window_body(end, host=f"h{pick}")
            r = client.post(f"{base}/v1/aggregate?token={TOKEN_A}", content=body, headers=datakit_headers(body, pick))
            assert r.status_code == 200, (pick, r.text)
    for index, backend in enumerate(three_backends):
        picks = [int(r.headers["guance-pick-key"]) for r in backend.requests]
        assert picks == [k for k in range(100) if k % 3 == index]
        for r in backend.requests:
            assert r.path == "/v1/aggregate" and r.query == {"token": TOKEN_A}
            assert r.raw_body == window_body(end, host=f"h{int(r.headers['guance-pick-key'])}")
    three_backends[2].fail_with(429)
    three_backends[0].fail_with(500)
    body = window_body(end)
    r = post(base, body, TOKEN_A, pick=5)
    assert (r.status_code, r.json()["error_code"]) == (429, "stand-in")
    r = post(base, body, TOKEN_A, pick=6)
    assert (r.status_code, r.json()["error_code"]) == (500, "stand-in")
    assert httpx.post(f"{base}/v1/aggregate", content=body).status_code == 400  # no pick key
    assert dataway.ok_requests("/v1/write/metric") == []
