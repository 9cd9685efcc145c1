"""The main job on one machine: a receiver and an agent on the bundled example logs.

Starts `offload-receiver serve` (results to a local file sink) on free ports, offloads
examples/logs/* with `offload-agent send` over gRPC, waits until every processed point
is written, prints a few of them and a one-line throughput summary, and cleans up.
Run it through scripts/quickstart.sh, which sets up the virtualenv first.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOURCES = {"nginx": "nginx-access.log", "app": "app.json.log", "syslog": "syslog.log"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"receiver exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"receiver not ready after {timeout}s:\n{log.read_text()}")


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="offload-quickstart-"))
    http_port, grpc_port, agent_port = free_port(), free_port(), free_port()
    out = work / "out.jsonl"
    (work / "receiver.toml").write_text(
        f'[http]\nlisten = "127.0.0.1:{http_port}"\n'
        f'[grpc]\nlisten = "127.0.0.1:{grpc_port}"\n'
        f'[pipeline]\nscripts_dir = "{ROOT / "examples" / "pipelines"}"\n'
        f'[dataway]\nurls = ["file://{out}"]\nwal_dir = "{work / "wal"}"\n'
    )
    (work / "agent.toml").write_text(
        f'[http]\nlisten = "127.0.0.1:{agent_port}"\n'
        f'[dataway]\nurls = ["file://{work / "agent-out.jsonl"}"]\n'
        f'[pipeline]\nscripts_dir = "{ROOT / "examples" / "pipelines"}"\noffloaded = ["*"]\n'
        f'[pipeline.offload]\nreceiver = "ploffload"\naddresses = ["grpc://127.0.0.1:{grpc_port}"]\n'
    )
    log = work / "receiver.log"
    print(f"== starting a receiver (HTTP :{http_port}, gRPC :{grpc_port}); work dir {work}")
    receiver = subprocess.Popen(
        [str(BIN / "offload-receiver"), "serve", "--config", str(work / "receiver.toml")],
        cwd=work, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{http_port}/v1/ping", receiver, log)
        started = time.monotonic()
        total = 0
        for source, name in SOURCES.items():
            path = ROOT / "examples" / "logs" / name
            print(f"== offloading {path.relative_to(ROOT)} (source {source}) over gRPC")
            res = subprocess.run(
                [str(BIN / "offload-agent"), "send", "--config", str(work / "agent.toml"), "--source", source, str(path)],
                cwd=work, capture_output=True, text=True, timeout=300,
            )
            if res.returncode != 0:
                sys.exit(f"offload-agent send failed ({res.returncode}):\n{res.stderr}")
            summary = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"   {summary}")
            total += summary["acked"]
        deadline = time.monotonic() + 60
        while count_lines(out) < total and time.monotonic() < deadline:
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        written = count_lines(out)
        print(f"== processed points (first of each source) from {out}:")
        seen: set[str] = set()
        with open(out) as f:
            for line in f:
                point = json.loads(line)
                if point["name"] not in seen:
                    seen.add(point["name"])
                    print(json.dumps(point, ensure_ascii=False))
        print(f"== {total} lines offloaded, {written} points written in {elapsed:.2f}s ({total / elapsed:,.0f} lines/s)")
        return 0 if written >= total else 1
    finally:
        if receiver.poll() is None:
            receiver.send_signal(signal.SIGTERM)
            try:
                receiver.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(receiver.pid, signal.SIGKILL)
        if os.environ.get("QUICKSTART_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
