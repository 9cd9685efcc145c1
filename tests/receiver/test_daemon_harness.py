"""Shared helpers for the receiver daemon tests (imported by test_daemon_*, test_ingest_*, ...; no tests here).

`start_receiver(procs, tmp_path, dataway_url, **overrides)` writes a config, starts a
real `offload-receiver serve` process on free ports and waits until /v1/ping says ready.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from support.procs import Proc, ProcessRunner, free_port, wait_http

TOKEN = "tkn_" + "0123456789abcdef" * 2  # the receiver's own Dataway token
HOST_TOKEN = "tkn_" + "fedcba9876543210" * 2  # a host's workspace token, carried per batch
AUTH_TOKEN = "tkn_" + "a1" * 16  # an [auth] token

# An nginx "combined" script: grok with typed captures, status from the code, time from the line.
NGINX_SCRIPT = r'''
grok(_, "%{IPORHOST:client_ip} %{NOTSPACE:http_ident} %{NOTSPACE:http_auth} \\[%{HTTPDATE:time}\\] \"%{DATA:http_method} %{GREEDYDATA:http_url} HTTP/%{NUMBER:http_version}\" %{INT:status_code:int} %{INT:bytes:int} \"%{DATA:referrer}\" \"%{DATA:agent}\"")
if status_code >= 500 {
  add_key(status, "error")
} elif status_code >= 400 {
  add_key(status, "warning")
} else {
  add_key(status, "info")
}
default_time(time)
set_tag(http_method)
'''

# Language-only statements (no grok): enough to see that a script ran.
SIMPLE_SCRIPT = '''
add_key(processed, "yes")
n = 0
for i = 0; i < 3; i = i + 1 {
  n += i
}
add_key(loops, n)
'''

METHODS = ["GET", "POST", "PUT", "DELETE"]


def nginx_line(i: int) -> str:
    status = (200, 201, 304, 404, 500)[i % 5]
    return (f'10.0.{i // 250 % 250}.{i % 250} - - [10/Oct/2023:13:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
            f'"{METHODS[i % 4]} /api/items/{i}?q={i * 7} HTTP/1.1" {status} {1000 + i} "-" "curl/8.{i % 9}"')


def lp_escape_str(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def nginx_lp(start: int, n: int, source: str = "nginx", t0: int = 1_700_000_000_000_000_000) -> bytes:
    """n line-protocol logging points, field message = an nginx line, explicit ns times."""
    return "\n".join(f'{source} message="{lp_escape_str(nginx_line(i))}" {t0 + i}'
                     for i in range(start, start + n)).encode()


def scripts_dir(tmp_path: Path, scripts: dict[str, str] | None = None) -> Path:
    d = tmp_path / "pipelines"
    d.mkdir(exist_ok=True)
    for name, text in (scripts if scripts is not None else {"nginx": NGINX_SCRIPT, "simple": SIMPLE_SCRIPT}).items():
        (d / f"{name}.p").write_text(text)
    return d


@dataclass
class Receiver:
    proc: Proc
    http_port: int
    grpc_port: int
    config: Path
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def output(self) -> str:
        return self.proc.output()

    def worker_pids(self) -> list[int]:
        """Worker processes: the forkserver's children (spawn: the daemon's spawn_main children)."""
        pids = []
        try:
            for c in psutil.Process(self.proc.pid).children():
                cmd = " ".join(c.cmdline())
                if "forkserver" in cmd:
                    pids += [w.pid for w in c.children()]
                elif "spawn_main" in cmd:
                    pids.append(c.pid)
        except psutil.Error:
            pass
        return pids

    def rss_bytes(self) -> int:
        """Resident memory of the daemon and all its children (workers, forkserver)."""
        total = 0
        try:
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        return total

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            metric, _, label_text = head.partition("{")
            if metric != name:
                continue
            if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
                total += float(value)
        return total


def write_config(tmp_path: Path, dataway_url: str, *, name: str = "rx", http_port: int | None = None,
                 grpc_port: int | None = None, extra: str = "", workers: int = 2, tokens: list[str] | None = None,
                 max_body_bytes: int | None = None, inflight: int = 64, dataway_extra: str = "",
                 scripts: Path | None = None, top: str = "") -> tuple[Path, int, int]:
    """A receiver config; `top` holds top-level keys (aggregator_*), `extra` more tables."""
    http_port = http_port or free_port()
    grpc_port = grpc_port or free_port()
    scripts = scripts or scripts_dir(tmp_path)
    body = f"""{top}
[http]
listen = "127.0.0.1:{http_port}"
{f"max_body_bytes = {max_body_bytes}" if max_body_bytes else ""}
[grpc]
listen = "127.0.0.1:{grpc_port}"
[pipeline]
scripts_dir = "{scripts}"
[workers]
count = {workers}
max_inflight_batches = {inflight}
[auth]
tokens = {list(tokens or [])!r}
[shutdown]
drain_timeout = 20.0
flush_timeout = 2.0
[dataway]
urls = ["{dataway_url}"]
wal_dir = "{tmp_path / (name + '-wal')}"
retry_delay = 0.05
max_retry_delay = 0.5
timeout = 5.0
{dataway_extra}
{extra}
"""
    path = tmp_path / f"{name}.toml"
    path.write_text(body.replace("'", '"'))
    return path, http_port, grpc_port


def start_receiver(procs: ProcessRunner, tmp_path: Path, dataway_url: str, *, name: str = "rx",
                   env: dict[str, str] | None = None, timeout: float = 60.0, **kwargs: Any) -> Receiver:
    config, http_port, grpc_port = write_config(tmp_path, dataway_url, name=name, **kwargs)
    return launch(procs, tmp_path, config, http_port, grpc_port, name=name, env=env, timeout=timeout)


def launch(procs: ProcessRunner, tmp_path: Path, config: Path, http_port: int, grpc_port: int, *,
           name: str = "rx", env: dict[str, str] | None = None, timeout: float = 60.0) -> Receiver:
    proc = procs.start("offload-receiver", "serve", "--config", str(config), name=name, env=env, cwd=tmp_path)
    rx = Receiver(proc, http_port, grpc_port, config, tmp_path)
    wait_http(f"{rx.url}/v1/ping", timeout=timeout, proc=proc)
    return rx


def post(rx: Receiver, path: str, body: bytes, *, headers: dict[str, str] | None = None,
         params: dict[str, str] | None = None, timeout: float = 30.0, client: httpx.Client | None = None) -> httpx.Response:
    c = client or httpx
    return c.post(f"{rx.url}{path}", content=body, headers=headers or {}, params=params or {}, timeout=timeout)


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s")


def point_key(p) -> tuple:
    """A hashable, type-exact identity of a decoded point."""
    return (p.name, tuple(sorted(p.tags.items())),
            tuple(sorted((k, type(v).__name__, repr(v)) for k, v in p.fields.items())), p.time)


def expected_points(scripts: Path, category: str, points: list, source: str | None = None) -> list:
    """What the engine makes of `points` in this process: checked, then the script of each point."""
    from offload.codec import check
    from receiver.pipeline import ScriptStore, run_batch

    store = ScriptStore(str(scripts))
    checked = check.check_points(points, category)
    out = []
    if category == "logging" and not source:
        groups: dict[str, list] = {}
        for p in checked:
            groups.setdefault(p.name, []).append(p)
        for name, group in groups.items():
            out.extend(run_batch(store, category, group, source=name).points)
    else:
        out.extend(run_batch(store, category, checked, source=source).points)
    return out

