"""Issue 8: the README's first command runs to completion; DataKit's container variables work."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from support.procs import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "tkn_" + "0123456789abcdef" * 2


def readme_first_command() -> str:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("```sh")
    return lines[start + 1].split("#")[0].strip()


def test_readme_first_command_runs_the_main_job():
    command = readme_first_command()
    assert command == "bash scripts/quickstart.sh"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    out = subprocess.run(command.split(), cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3000 lines offloaded, 3000 points written" in out.stdout, out.stdout
    for source in ("nginx", "app", "syslog"):
        assert f'"name": "{source}"' in out.stdout
    assert '"status_code": ' in out.stdout  # the nginx grok ran on the receiver
    assert "lines/s" in out.stdout.splitlines()[-1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_receiver_with_only_datakit_env_listens_and_writes_there(tmp_path, dataway, procs):
    port = free_port()
    env = {"ENV_DATAWAY": f"{dataway.url}?token={TOKEN}", "ENV_HTTP_LISTEN": f"127.0.0.1:{port}"}
    if not _port_free(9530):  # the default gRPC port is taken on this machine: move only that
        env["OFFLOAD_RECEIVER_GRPC__LISTEN"] = f"127.0.0.1:{free_port()}"
    proc = procs.start("offload-receiver", "serve", name="rx", env=env, cwd=tmp_path)
    wait_http(f"http://127.0.0.1:{port}/v1/ping", proc=proc, timeout=60)
    r = httpx.post(f"http://127.0.0.1:{port}/v1/write/metric", content=b"cpu,host=h1 usage=1.5 1700000000000000000\n")
    assert r.status_code == 200, r.text
    points = dataway.wait_points(1, category="metric", timeout=30)
    assert [(p.name, p.tags, p.fields["usage"], p.time) for p in points] == [("cpu", {"host": "h1"}, 1.5, 1700000000000000000)]
    assert dataway.ok_requests()[0].token == TOKEN
    proc.terminate()
    assert proc.wait(30) == 0, proc.output()
