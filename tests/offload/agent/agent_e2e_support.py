"""Helpers for the agent/sender integration tests: real receivers, agents and their metrics."""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "examples" / "pipelines"
RX_TOKEN = "tkn_" + "r" * 32

sys.path.insert(0, str(ROOT / "scripts"))
from make_sample_logs import nginx_lines  # noqa: E402
from support.procs import Proc, ProcessRunner, free_port, wait_http  # noqa: E402


def write_lines(path: Path, n: int, seed: int = 1) -> list[str]:
    """n distinct nginx access-log lines (each line's timestamp is unique)."""
    lines = nginx_lines(n, random.Random(seed))
    path.write_text("\n".join(lines) + "\n")
    return lines


def metric(url: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`, scraped from a /metrics URL."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


@dataclass
class Receiver:
    name: str
    http_port: int
    grpc_port: int
    config: Path
    proc: Proc

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.http_url}/metrics"

    def accepted_batches(self, transport: str = "grpc") -> float:
        """Batches this receiver accepted (its own count, from its /metrics)."""
        return metric(self.metrics_url, "offload_receiver_requests_total", transport=transport, code="ok")


def start_receiver(runner: ProcessRunner, work: Path, dataway_url: str, name: str = "rx",
                   scripts: Path = SCRIPTS, workers: int = 1) -> Receiver:
    hp, gp = free_port(), free_port()
    cfg = work / f"{name}.toml"
    cfg.write_text(
        f'[http]\nlisten = "127.0.0.1:{hp}"\n[grpc]\nlisten = "127.0.0.1:{gp}"\n'
        f'[pipeline]\nscripts_dir = "{scripts}"\n[workers]\ncount = {workers}\n'
        f'[dataway]\nurls = ["{dataway_url}?token={RX_TOKEN}"]\nwal_dir = "{work / (name + "-wal")}"\n'
    )
    return restart_receiver(runner, Receiver(name, hp, gp, cfg, None))  # type: ignore[arg-type]


def restart_receiver(runner: ProcessRunner, rx: Receiver) -> Receiver:
    rx.proc = runner.start("offload-receiver", "serve", "--config", str(rx.config), name=rx.name)
    wait_http(f"{rx.http_url}/v1/ping", proc=rx.proc, timeout=60)
    return rx


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s")


def messages(points) -> list[str]:
    return [p.fields.get("message") for p in points]
