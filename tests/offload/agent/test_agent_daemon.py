"""The daemon without receivers: stdin processed locally (real process), the [aggregator] hook (in process)."""

from __future__ import annotations

import asyncio
import signal
import subprocess

import httpx

from agent_e2e_support import SCRIPTS, messages, write_lines
from offload.agent.config import parse_config
from offload.agent.daemon import Agent
from support.procs import free_port, wait_http

TOKEN = "tkn_" + "d" * 32


def test_stdin_lines_run_locally_and_reach_dataway(procs, dataway, tmp_path):
    port = free_port()
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[http]\nlisten = "127.0.0.1:{port}"\n[agent]\nstate_dir = "{tmp_path / "state"}"\n'
                   f'[pipeline]\nscripts_dir = "{SCRIPTS}"\n[dataway]\nurls = ["{dataway.url}?token={TOKEN}"]\n'
                   '[inputs.stdin]\nsource = "nginx"\n')
    lines = write_lines(tmp_path / "in.log", 3000)
    proc = procs.start("offload-agent", "run", "--config", str(cfg), name="agent", stdin=subprocess.PIPE)
    wait_http(f"http://127.0.0.1:{port}/v1/ping", proc=proc)
    proc.popen.stdin.write(("\n".join(lines[:1000]) + "\n").encode())
    proc.popen.stdin.flush()
    dataway.wait_points(1000, "logging", timeout=30)
    proc.popen.stdin.write(("\n".join(lines[1000:]) + "\n").encode())
    proc.popen.stdin.close()
    points = dataway.wait_points(3000, "logging", timeout=30)
    assert sorted(messages(points)) == sorted(lines)
    assert all("http_method" in p.tags for p in points), "nginx.p ran in the agent"
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'offload_agent_lines_read_total{input="stdin"} 3000.0' in text
    assert 'offload_agent_points_routed_total{route="local"} 3000.0' in text
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.output()


async def test_aggregator_sees_pushed_and_local_points(dataway, tmp_path):
    (tmp_path / "rules.toml").write_text(
        'default_window = "10s"\n[[promql_rules]]\npromql = \'sum by (host) (cpu_usage[10s])\'\nas = "cpu_sum"\n')
    port = free_port()
    cfg = parse_config({
        "http": {"listen": f"127.0.0.1:{port}"},
        "agent": {"state_dir": str(tmp_path / "state")},
        "pipeline": {"scripts_dir": str(SCRIPTS)},
        "dataway": {"urls": [f"{dataway.url}?token={TOKEN}"]},
        "aggregator": {"endpoints": [dataway.url], "token": TOKEN, "rules_file": "rules.toml",
                       "flush_interval": 0.05},
    }, environ={}, source_path=str(tmp_path / "agent.toml"))
    agent = Agent(cfg)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/v1/ping")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            r = await client.post(f"http://127.0.0.1:{port}/v1/write/metric",
                                  content=b"cpu,host=h1 usage=1.5 1700000000000000000")
            assert r.status_code == 200
        for _ in range(200):  # the aggregate pump and the Dataway writer flush independently
            if dataway.ok_requests("/v1/aggregate") and dataway.points("metric"):
                break
            await asyncio.sleep(0.05)
        agg = dataway.ok_requests("/v1/aggregate")
        assert agg and agg[0].headers.get("guance-pick-key"), "the pump sent the aggregation batch"
        assert [p.name for p in dataway.points("metric")] == ["cpu"], "the point itself went to Dataway"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
