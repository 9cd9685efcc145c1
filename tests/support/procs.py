"""Start the project's console scripts as real processes, on free ports, and clean them up.

    runner = ProcessRunner(tmp_path)
    port = free_port()
    proc = runner.start("offload-receiver", "serve", "--config", cfg, name="rx1")
    wait_http(f"http://127.0.0.1:{port}/v1/ping")        # poll until it answers 200
    proc.kill9() / proc.terminate(); proc.wait(10)
    runner.output("rx1")                                  # stdout+stderr so far (for assertion messages)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: "Proc | None" = None) -> None:
    """Poll url until it answers 2xx; fail early if proc has exited."""
    import httpx

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.output()}")
        try:
            r = httpx.get(url, timeout=1.0)
            if r.status_code < 300:
                return
            last = r.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {timeout}s (last: {last})")


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0, proc: "Proc | None" = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.output()}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{host}:{port} not listening within {timeout}s")


class Proc:
    def __init__(self, name: str, popen: subprocess.Popen, log: Path) -> None:
        self.name = name
        self.popen = popen
        self.log = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int:
        return self.popen.wait(timeout)


class ProcessRunner:
    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.procs: dict[str, Proc] = {}

    def start(self, script: str, *args: str, name: str | None = None, env: dict | None = None,
              cwd: Path | None = None, stdin=subprocess.DEVNULL) -> Proc:
        name = name or script
        exe = str(BIN / script) if (BIN / script).exists() else script
        log = self.workdir / f"{name}.log"
        full_env = dict(os.environ)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        if env:
            full_env.update(env)
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            popen = subprocess.Popen(
                [exe, *map(str, args)], cwd=cwd or self.workdir, env=full_env, stdin=stdin,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def output(self, name: str) -> str:
        return self.procs[name].output()

    def cleanup(self) -> None:
        for proc in self.procs.values():
            if proc.popen.poll() is None:
                try:
                    os.killpg(proc.popen.pid, signal.SIGTERM)
                    proc.popen.wait(5)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    try:
                        os.killpg(proc.popen.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.popen.wait(5)
