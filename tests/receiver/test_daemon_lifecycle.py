"""The daemon's lifecycle with real processes: start-up log, readiness, SIGTERM drain, a second
signal, SIGHUP reload, kill -9 with the WAL delivering acked batches on restart, TLS."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import ssl
import subprocess
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from test_daemon_harness import (
    AUTH_TOKEN,
    TOKEN,
    launch,
    nginx_lp,
    post,
    scripts_dir,
    start_receiver,
    wait_until,
    write_config,
)


def messages(points) -> list[str]:
    return [p.fields.get("message") for p in points]


def test_startup_log_health_and_reflection(procs, dataway, tmp_path):
    secret = "tkn_" + "5" * 32
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={secret}", tokens=[AUTH_TOKEN])
    lines = [json.loads(line) for line in rx.output().splitlines() if line.startswith("{")]
    configs = [line for line in lines if "config" in line]
    assert len(configs) == 1, "the effective config is logged once, as one line"
    cfg = configs[0]["config"]
    assert cfg["http"]["listen"] == f"127.0.0.1:{rx.http_port}"
    assert secret not in rx.output() and AUTH_TOKEN not in rx.output()
    assert cfg["dataway"]["urls"] == [f"{dataway.url}?token=tkn_***"]
    assert any(line["msg"] == "receiver ready" for line in lines)

    ping = httpx.get(f"{rx.url}/v1/ping", timeout=10).json()
    assert ping["ready"] is True and ping["version"] and ping["uptime"] >= 0
    with grpc.insecure_channel(rx.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "offload.v1.PipelineOffload"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                 timeout=10))
        names = {s.name for s in answers[0].list_services_response.service}
        assert {"offload.v1.PipelineOffload", "grpc.health.v1.Health"} <= names
    text = httpx.get(f"{rx.url}/metrics", timeout=10).text
    assert 'offload_build_info{version="' in text
    assert "offload_receiver_queue_batches" in text and "offload_receiver_workers 2.0" in text


def test_sigterm_drains_in_flight_batches_and_exits_zero(procs, dataway, tmp_path):
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", workers=2)
    batches = [nginx_lp(i * 1000, 1000) for i in range(24)]
    results: dict[int, tuple[int, float]] = {}

    def send(i: int) -> None:
        try:
            r = post(rx, "/v1/write/logging", batches[i], timeout=60)
            results[i] = (r.status_code, time.monotonic())
        except httpx.HTTPError:
            results[i] = (0, time.monotonic())

    with concurrent.futures.ThreadPoolExecutor(len(batches)) as pool:
        futures = [pool.submit(send, i) for i in range(len(batches))]
        wait_until(lambda: any(code == 200 for code, _ in results.values()), timeout=60, what="a first answer")
        wait_until(lambda: rx.metric("offload_receiver_inflight_batches") >= 4, timeout=30, interval=0.01,
                   what="batches in flight")
        signalled = time.monotonic()
        # The whole process group, as systemd (KillMode=control-group) and a terminal do: workers must live on.
        os.killpg(rx.proc.pid, signal.SIGTERM)
        for f in futures:
            f.result()
    assert rx.proc.wait(60) == 0, rx.output()
    acked = [i for i, (code, _) in results.items() if code == 200]
    after_signal = [i for i, (code, t) in results.items() if code == 200 and t > signalled]
    timeline = sorted((round(t - signalled, 3), code) for code, t in results.values())
    assert after_signal, f"batches in flight at SIGTERM were answered (drained), not cut: {timeline}"
    refused = {code for code, _ in results.values()} - {200}
    assert refused <= {0, 503}, results
    # Everything acked is delivered: the stand-in gets it (now, or from the WAL on the next start).
    want = sum(1000 for _ in acked)
    if dataway.point_count() < want:
        rx2 = launch(procs, tmp_path, rx.config, rx.http_port, rx.grpc_port, name="rx-again")
        assert rx2.proc.popen.poll() is None
    got = set(messages(dataway.wait_points(want, timeout=60)))
    for i in acked:
        assert all(p.fields["message"] in got for p in _decoded(batches[i])), f"batch {i} acked but lost"
    assert "receiver stopped" in rx.output()
    assert "died" not in rx.output(), "no worker may die of the group's SIGTERM"


def _decoded(body: bytes):
    from offload.codec import lineproto

    return lineproto.decode(body, precision=None)


def test_second_signal_forces_exit_and_the_wal_keeps_acked_data(procs, dataway, tmp_path):
    dataway.set_down(True)
    config, http_port, grpc_port = write_config(tmp_path, f"{dataway.url}?token={TOKEN}",
                                                extra="", dataway_extra="")
    text = config.read_text().replace("flush_timeout = 2.0", "flush_timeout = 60.0")
    config.write_text(text)
    rx = launch(procs, tmp_path, config, http_port, grpc_port)
    body = nginx_lp(0, 300)
    assert post(rx, "/v1/write/logging", body).status_code == 200  # durable in the WAL, Dataway down
    rx.proc.popen.send_signal(signal.SIGTERM)
    # The writer's final flush waits for the unreachable Dataway (up to 60 s) ...
    with pytest.raises(subprocess.TimeoutExpired):
        rx.proc.wait(1.0)
    started = time.monotonic()
    rx.proc.popen.send_signal(signal.SIGTERM)  # ... a second signal ends it now
    assert rx.proc.wait(10) == 1
    assert time.monotonic() - started < 5
    assert "exiting now" in rx.output()
    dataway.set_down(False)
    launch(procs, tmp_path, config, http_port, grpc_port, name="rx2")
    got = messages(dataway.wait_points(300, timeout=60))
    assert sorted(got) == sorted(messages(_decoded(body)))


def test_kill9_after_ack_delivers_from_the_wal_on_restart(procs, dataway, tmp_path):
    dataway.set_down(True)
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}")
    sent = []
    for i in range(10):
        body = nginx_lp(i * 200, 200)
        r = post(rx, "/v1/write/logging", body)
        assert r.status_code == 200, r.text
        sent += messages(_decoded(body))
    rx.proc.kill9()  # the whole process group: daemon, forkserver, workers
    assert dataway.point_count() == 0
    dataway.set_down(False)
    launch(procs, tmp_path, rx.config, rx.http_port, rx.grpc_port, name="rx-restarted")
    got = messages(dataway.wait_points(len(sent), timeout=60))
    assert set(got) == set(sent)
    # At-least-once: resends only of bodies that were in flight at the crash (none here: Dataway was down).
    assert len(got) - len(set(got)) == 0


def test_sighup_reloads_scripts(procs, dataway, tmp_path):
    scripts = scripts_dir(tmp_path, {"app": 'add_key(version, "one")\n'})
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", scripts=scripts)
    assert post(rx, "/v1/write/logging", b'app message="a" 1700000000000000000').status_code == 200
    assert dataway.wait_points(1)[0].fields["version"] == "one"
    (scripts / "app.p").write_text('add_key(version, "two")\n')
    rx.proc.popen.send_signal(signal.SIGHUP)

    def reloaded() -> bool:
        assert post(rx, "/v1/write/logging", b'app message="b" 1700000000000000001').status_code == 200
        return any(p.fields.get("version") == "two" for p in dataway.points())

    wait_until(reloaded, timeout=30, interval=0.2, what="the reloaded script")
    assert rx.proc.popen.poll() is None
    assert "SIGHUP: reloading scripts in every worker" in rx.output()


def test_tls_for_http_and_grpc(procs, dataway, tmp_path):
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a test certificate"
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    tls = f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
    config, http_port, grpc_port = write_config(tmp_path, f"{dataway.url}?token={TOKEN}")
    text = config.read_text()
    text = text.replace(f'listen = "127.0.0.1:{http_port}"', f'listen = "127.0.0.1:{http_port}"\n{tls}')
    text = text.replace(f'listen = "127.0.0.1:{grpc_port}"', f'listen = "127.0.0.1:{grpc_port}"\n{tls}')
    config.write_text(text)
    proc = procs.start("offload-receiver", "serve", "--config", str(config), name="rx-tls", cwd=tmp_path)
    verify = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"https://127.0.0.1:{http_port}/v1/ping", verify=verify, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()
        time.sleep(0.1)
    r = httpx.post(f"https://127.0.0.1:{http_port}/v1/write/logging", content=b'tls message="h" 1700000000000000000',
                   verify=verify, timeout=30)
    assert r.status_code == 200
    creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{grpc_port}", creds) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{http_port}/v1/ping", timeout=2)
    assert dataway.wait_points(1)[0].name == "tls"


def test_serve_without_config_uses_the_defaults(procs, tmp_path):
    """No --config: scripts from ./pipelines, results to file://./data/out.jsonl, WAL in ./data/wal."""
    from support.procs import free_port, wait_http

    scripts_dir(tmp_path, {"app": 'add_key(seen, "yes")\n'})
    http_port, grpc_port = free_port(), free_port()
    env = {"OFFLOAD_RECEIVER_HTTP__LISTEN": f"127.0.0.1:{http_port}", "ENV_DATAWAY": "",
           "OFFLOAD_RECEIVER_GRPC__LISTEN": f"127.0.0.1:{grpc_port}", "OFFLOAD_RECEIVER_WORKERS__COUNT": "1"}
    proc = procs.start("offload-receiver", "serve", name="rx-defaults", env=env, cwd=tmp_path)
    wait_http(f"http://127.0.0.1:{http_port}/v1/ping", proc=proc)
    r = httpx.post(f"http://127.0.0.1:{http_port}/v1/write/logging", content=b'app message="m" 1700000000000000000',
                   timeout=30)
    assert r.status_code == 200, r.text
    out = tmp_path / "data" / "out.jsonl"
    wait_until(lambda: out.exists() and out.read_text().strip(), what="the local file sink")
    row = json.loads(out.read_text().splitlines()[0])
    assert row["name"] == "app" and row["fields"]["seen"] == "yes" and row["fields"]["message"] == "m"
    assert (tmp_path / "data" / "wal").is_dir()
    proc.terminate()
    assert proc.wait(30) == 0


def test_aggregate_route_is_mounted_only_when_configured(procs, dataway, tmp_path):
    off = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", name="agg-off")
    assert httpx.post(f"{off.url}/v1/aggregate", content=b"", timeout=10).status_code == 404
    on = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", name="agg-on", tokens=[AUTH_TOKEN],
                        top='aggregator_mode = "standalone"')
    assert httpx.post(f"{on.url}/v1/aggregate", content=b"", timeout=10).status_code == 401  # our token auth
    r = httpx.post(f"{on.url}/v1/aggregate", content=b"", timeout=10,
                   headers={"Authorization": f"Bearer {AUTH_TOKEN}"})
    assert r.status_code == 400 and "emptyBody" in r.text, r.text
