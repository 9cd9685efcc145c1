"""Host CPU of offloading vs processing locally, same lines, same script, same run.

    python tests/benchmarks/bench_agent.py [--lines 200000] [--batch-size 0]

Starts a Dataway stand-in (in this process) and one `offload-receiver serve`, then
runs the real agent daemon (`offload-agent run`) twice on the same nginx access
log, tailed from a file that is filled after the agent is ready:

  offload: [pipeline.offload] -> the receiver over gRPC; done when the agent's
           /metrics show every line acknowledged;
  local:   no offload; the agent runs examples/pipelines/nginx.p itself and writes
           the results to Dataway; done when the stand-in has every point.

The agent's CPU time (user + system, psutil) is read when it is ready and when it
is done, so interpreter start-up is excluded from both. A third figure is the
engine alone (`receiver.pipeline.run_batch` in this process, no I/O) on the same
lines: the strictest baseline. Also reported: the one-shot `offload-agent send`
(CPU of the child process, start-up included). Target: offload <= 15 % of local.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # before tests/: tests/offload/ must not shadow the offload package

from make_sample_logs import nginx_lines  # noqa: E402
from support.dataway import DatawayStandIn  # noqa: E402
from support.procs import ProcessRunner, free_port, wait_http  # noqa: E402

TOKEN = "tkn_" + "b" * 32
SCRIPTS = ROOT / "examples" / "pipelines"


def metric_sum(url: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    text = httpx.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def run_agent(runner: ProcessRunner, work: Path, name: str, config: str, data: Path, lines: list[str],
              done) -> float:
    """Start the agent on an empty file, fill the file, wait for `done()`; the agent's CPU seconds in between."""
    port = free_port()
    cfg = work / f"{name}.toml"
    cfg.write_text(f'log_level = "warning"\n[http]\nlisten = "127.0.0.1:{port}"\n[agent]\nstate_dir = "{work / name}"\n' + config +
                   f'[[inputs.file]]\npaths = ["{data}"]\nsource = "nginx"\nfrom_beginning = true\n')
    data.write_text("")
    proc = runner.start("offload-agent", "run", "--config", str(cfg), name=name)
    wait_http(f"http://127.0.0.1:{port}/v1/ping", proc=proc, timeout=60)
    p = psutil.Process(proc.pid)
    before = cpu(p)
    started = time.monotonic()
    with open(data, "a") as f:
        f.write("\n".join(lines) + "\n")
    metrics = f"http://127.0.0.1:{port}/metrics"
    while not done(metrics):
        if time.monotonic() - started > 600:
            raise SystemExit(f"{name}: not done after 600 s:\n{proc.output()[-2000:]}")
        time.sleep(0.5)
    spent = cpu(p) - before
    wall = time.monotonic() - started
    proc.terminate()
    proc.wait(60)
    print(f"  {name:8s} agent CPU {spent:7.2f} s   wall {wall:6.2f} s", flush=True)
    return spent


def engine_only(lines: list[str]) -> float:
    """CPU seconds of the engine alone over `lines` (batches of 512), in this process."""
    from offload.point import Point
    from receiver.pipeline import ScriptStore, run_batch

    store = ScriptStore(str(SCRIPTS))
    now = time.time_ns()
    t0 = time.process_time()
    for i in range(0, len(lines), 512):
        run_batch(store, "logging", [Point("nginx", {}, {"message": m}, now) for m in lines[i:i + 512]], "nginx")
    return time.process_time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--batch-size", type=int, default=0, help="[sender] batch_size (0: the default)")
    args = ap.parse_args()
    n = args.lines
    lines = nginx_lines(n, random.Random(7))
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    runner = ProcessRunner(work)
    dw = DatawayStandIn().start()
    try:
        hp, gp = free_port(), free_port()
        (work / "rx.toml").write_text(
            f'[http]\nlisten = "127.0.0.1:{hp}"\n[grpc]\nlisten = "127.0.0.1:{gp}"\n'
            f'[pipeline]\nscripts_dir = "{SCRIPTS}"\n'
            f'[dataway]\nurls = ["{dw.url}?token={TOKEN}"]\nwal_dir = "{work / "rx-wal"}"\n')
        rx = runner.start("offload-receiver", "serve", "--config", str(work / "rx.toml"), name="receiver")
        wait_http(f"http://127.0.0.1:{hp}/v1/ping", proc=rx, timeout=60)
        data = work / "access.log"
        sender = f"[sender]\nbatch_size = {args.batch_size}\n" if args.batch_size else ""
        print(f"{n:,} nginx lines ({sum(map(len, lines)) / n:.0f} bytes a line); 2 cores; agent CPU via psutil")

        offload = run_agent(
            runner, work, "offload",
            f'[pipeline.offload]\nreceiver = "ploffload"\naddresses = ["grpc://127.0.0.1:{gp}"]\n' + sender,
            data, lines,
            lambda m: metric_sum(m, "offload_sender_points_offloaded_total") >= n)
        base = dw.point_count()
        local = run_agent(
            runner, work, "local",
            f'[pipeline]\nscripts_dir = "{SCRIPTS}"\n[dataway]\nurls = ["{dw.url}?token={TOKEN}"]\n',
            data, lines,
            lambda m: dw.point_count() - base >= n)
        engine = engine_only(lines)
        print(f"  {'engine':8s} CPU       {engine:7.2f} s   (run_batch in-process, no I/O)")

        cfg = work / "send.toml"
        cfg.write_text(f'[http]\nlisten = ""\n[pipeline.offload]\nreceiver = "ploffload"\n'
                       f'addresses = ["grpc://127.0.0.1:{gp}"]\n' + sender)
        with open(data, "w") as f:
            f.write("\n".join(lines) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        res = subprocess.run([str(Path(sys.executable).parent / "offload-agent"), "send", "--config", str(cfg),
                              "--source", "nginx", "--no-progress", str(data)], capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        send_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if res.returncode:
            raise SystemExit(f"send failed: {res.stderr}")
        print(f"  {'send':8s} CPU       {send_cpu:7.2f} s   wall {time.monotonic() - t0:6.2f} s "
              f"(one-shot, start-up included) {res.stdout.strip()}")

        per_m = 1e6 / n
        print()
        print(f"CPU seconds per million lines: offload {offload * per_m:.2f}, local {local * per_m:.2f}, "
              f"engine only {engine * per_m:.2f}, one-shot send {send_cpu * per_m:.2f}")
        print(f"offload / local       = {offload / local:6.1%}   (target <= 15%)")
        print(f"offload / engine only = {offload / engine:6.1%}")
        ok = offload / local <= 0.15
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        runner.cleanup()
        dw.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
