"""End to end with real processes: `offload-receiver serve` x2, the Dataway stand-in, `offload-agent`.

* `send` spreads batches evenly over two receivers and every line arrives processed;
* a receiver kill -9'd mid-way: `send` still completes, every line arrives (after the
  killed receiver comes back and drains its WAL), duplicates within the documented bound;
* `check` refuses the agent's own listener as an offload address (loop error);
* two agents offloading to each other do not bounce a batch;
* `run` tails a file across a restart and a rotation: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agent_e2e_support import SCRIPTS, metric, messages, restart_receiver, start_receiver, wait_for, write_lines
from offload.codec import lineproto
from offload.point import Point
from support.procs import free_port, wait_http

BIN = Path(sys.executable).parent
TOKEN_A = "tkn_" + "a" * 32
TOKEN_B = "tkn_" + "b" * 32


def agent_config(path: Path, addresses: list[str], listen: str = "", receiver: str = "ploffload",
                 extra: str = "") -> Path:
    path.write_text(f'[http]\nlisten = "{listen}"\n[agent]\nstate_dir = "{path.parent / (path.stem + "-state")}"\n'
                    f'[pipeline.offload]\nreceiver = "{receiver}"\naddresses = {json.dumps(addresses)}\n' + extra)
    return path


def send_cmd(cfg: Path, *files: Path, source: str = "nginx") -> list[str]:
    return [str(BIN / "offload-agent"), "send", "--config", str(cfg), "--source", source, *map(str, files)]


def summary(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def assert_processed(points) -> None:
    # nginx.p ran: the grok fields are typed, the method became a tag, the status was set.
    bad = [p for p in points if "http_method" not in p.tags or not isinstance(p.fields.get("status_code"), int)]
    assert not bad, f"{len(bad)} points were not processed by nginx.p, e.g. {bad[:1]}"


def test_send_spreads_evenly_and_delivers_every_line(procs, dataway, tmp_path):
    n = 200_000  # ~10 s on 2 cores with the current receiver
    rxs = [start_receiver(procs, tmp_path, dataway.url, f"rx{i}") for i in range(2)]
    data = tmp_path / "access.log"
    lines = write_lines(data, n)
    cfg = agent_config(tmp_path / "agent.toml", [rx.grpc_url for rx in rxs])
    res = subprocess.run(send_cmd(cfg, data), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert summary(res.stdout) == {"sent": n, "acked": n, "failed": 0}
    assert res.stderr == "", "no progress bar (nor anything else) when stderr is not a terminal"

    points = dataway.wait_points(n, "logging", timeout=120)
    got = messages(points)
    assert len(got) == n and set(got) == set(lines)
    assert_processed(points)
    assert {r.token for r in dataway.ok_requests()} == {"tkn_" + "r" * 32}

    batches = [rx.accepted_batches() for rx in rxs]
    share = batches[0] / sum(batches)
    assert 0.45 <= share <= 0.55, f"receiver batches {batches}"


def test_send_survives_a_receiver_killed_midway(procs, dataway, tmp_path):
    n, batch_size, concurrency = 30_000, 50, 2
    rxs = [start_receiver(procs, tmp_path, dataway.url, f"rx{i}") for i in range(2)]
    data = tmp_path / "access.log"
    lines = write_lines(data, n)
    cfg = agent_config(tmp_path / "agent.toml", [rx.grpc_url for rx in rxs],
                       extra=f"[sender]\nbatch_size = {batch_size}\nconcurrency = {concurrency}\n")
    err = open(tmp_path / "send.err", "w")
    send = subprocess.Popen(send_cmd(cfg, data), stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        total_batches = n // batch_size
        wait_for(lambda: rxs[0].accepted_batches() >= total_batches // 8, timeout=60, interval=0.02,
                 what="receiver 0 busy")
        assert send.poll() is None, "the send must still be running when the receiver dies"
        rxs[0].proc.kill9()
        before_kill = rxs[1].accepted_batches()
        out, _ = send.communicate(timeout=120)
    finally:
        if send.poll() is None:
            send.kill()
    assert send.returncode == 0, (tmp_path / "send.err").read_text()
    assert summary(out) == {"sent": n, "acked": n, "failed": 0}
    assert rxs[1].accepted_batches() > before_kill, "the survivor took over"
    assert not send.returncode

    # What the killed receiver had acked sits in its WAL: it is delivered when the receiver
    # comes back (as its StatefulSet pod would).
    restart_receiver(procs, rxs[0])
    points = dataway.wait_points(n, "logging", timeout=120)
    got = messages(points)
    assert set(got) == set(lines), f"{len(set(lines) - set(got))} lines lost"
    # Documented bound (README, "Delivery guarantees"): the batches in flight to the killed
    # receiver (acked to nobody, resent to the survivor), plus what the killed receiver's
    # Dataway writer had sent but not yet marked delivered in its WAL (at most 4 x its
    # `workers` bodies per endpoint; here one body holds at most one batch).
    writer_resend_bodies = 4 * 4
    assert len(got) - n <= (concurrency + writer_resend_bodies) * batch_size
    assert_processed(points)


@pytest.mark.parametrize("scheme, host", [("http", "127.0.0.1"), ("grpc", "localhost"), ("http", "0.0.0.0"),
                                          ("grpc", socket.gethostname())])
def test_check_refuses_the_agents_own_listener(tmp_path, scheme, host):
    port = free_port()
    cfg = agent_config(tmp_path / "agent.toml", ["grpc://10.9.9.9:9530", f"{scheme}://{host}:{port}"],
                       listen=f"0.0.0.0:{port}")
    res = subprocess.run([str(BIN / "offload-agent"), "check", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith("loop error: pipeline.offload.addresses[1]: ") and "would form a loop" in res.stderr


def test_check_accepts_another_port_and_names_the_bad_key(tmp_path):
    port = free_port()
    ok = agent_config(tmp_path / "ok.toml", [f"http://localhost:{port + 1}"], listen=f"0.0.0.0:{port}")
    res = subprocess.run([str(BIN / "offload-agent"), "check", "--config", str(ok)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("ok: "), res.stderr
    cfg = agent_config(tmp_path / "agent.toml", ["10.0.0.2:9530"])
    res = subprocess.run([str(BIN / "offload-agent"), "check", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "pipeline.offload.addresses[0]" in res.stderr and "scheme" in res.stderr


def test_two_agents_offloading_to_each_other_do_not_bounce(procs, dataway, tmp_path):
    pa, pb = free_port(), free_port()
    agents = {}
    for name, port, peer, token in (("a", pa, pb, TOKEN_A), ("b", pb, pa, TOKEN_B)):
        cfg = agent_config(tmp_path / f"agent-{name}.toml", [f"http://127.0.0.1:{peer}"], listen=f"127.0.0.1:{port}",
                           extra=f'[pipeline]\nscripts_dir = "{SCRIPTS}"\n'
                                 f'[dataway]\nurls = ["{dataway.url}?token={token}"]\n')
        agents[name] = (procs.start("offload-agent", "run", "--config", str(cfg), name=f"agent-{name}"), port)
    for proc, port in agents.values():
        wait_http(f"http://127.0.0.1:{port}/v1/ping", proc=proc)

    n = 300
    lines = write_lines(tmp_path / "lines.log", 2 * n)
    for (name, (_, port)), chunk in zip(agents.items(), (lines[:n], lines[n:])):
        body = lineproto.encode([Point("nginx", {}, {"message": m}, 0) for m in chunk])
        r = httpx.post(f"http://127.0.0.1:{port}/v1/write/logging", content=body)  # an application's push
        assert r.status_code == 200, r.text

    points = dataway.wait_points(2 * n, "logging", timeout=60)
    for proc, port in agents.values():  # both idle: every counter is final
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: metric(url, "offload_sender_inflight_batches") == 0
                 and metric(url, "offload_sender_queue_batches") == 0, what="agent idle")
    assert_processed(points)
    by_token = {}
    for r in dataway.ok_requests():
        by_token.setdefault(r.token, []).extend(messages(r.points))
    # Lines pushed to A were offloaded once, to B, which processed them itself; and the other way round.
    assert sorted(by_token[TOKEN_B]) == sorted(lines[:n])
    assert sorted(by_token[TOKEN_A]) == sorted(lines[n:])
    for name, (_, port) in agents.items():
        url = f"http://127.0.0.1:{port}/metrics"
        assert metric(url, "offload_sender_points_offloaded_total") == n, f"agent {name} offloaded only its own"
        assert metric(url, "offload_agent_points_routed_total", route="local") == n
        assert metric(url, "offload_agent_http_requests_total", path="/v1/write/ploffload", code="200") >= 1


def test_run_tails_across_restart_and_rotation_without_loss_or_resend(procs, dataway, tmp_path):
    rx = start_receiver(procs, tmp_path, dataway.url, "rx")
    log = tmp_path / "access.log"
    lines = write_lines(tmp_path / "all.log", 2600)
    port = free_port()
    cfg = agent_config(tmp_path / "agent.toml", [rx.grpc_url], listen=f"127.0.0.1:{port}",
                       extra=f'[[inputs.file]]\npaths = ["{tmp_path}/access.log*"]\nsource = "nginx"\n'
                             "from_beginning = true\n")

    def append(path, chunk):
        with open(path, "a") as f:
            f.write("\n".join(chunk) + "\n")

    def start():
        proc = procs.start("offload-agent", "run", "--config", str(cfg), name="agent")
        wait_http(f"http://127.0.0.1:{port}/v1/ping", proc=proc)
        return proc

    append(log, lines[:1000])
    agent = start()
    dataway.wait_points(1000, "logging", timeout=60)
    append(log, lines[1000:1500])
    dataway.wait_points(1500, "logging", timeout=60)
    agent.popen.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0, agent.output()

    append(log, lines[1500:2000])  # written while the agent is down ...
    log.rename(tmp_path / "access.log.1")  # ... then rotated away
    append(log, lines[2000:2600])
    agent = start()
    points = dataway.wait_points(2600, "logging", timeout=60)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: metric(url, "offload_sender_points_offloaded_total") >= 1100, what="agent acked the rest")
    got = messages(dataway.points("logging"))
    assert sorted(got) == sorted(lines), "every line exactly once"
    assert_processed(points)
