"""Write the bundled sample logs in examples/logs/ (deterministic: same seed, same files).

Usage: python scripts/make_sample_logs.py [--lines N] [--out DIR]
Also used by the benchmarks to make larger inputs of the same shape.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

PATHS = ["/", "/index.html", "/api/v1/users", "/api/v1/orders?id=42", "/static/app.js", "/login", "/health"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "curl/8.4.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
]
STATUSES = [200] * 12 + [201, 204, 301, 304, 400, 404, 500, 503]
LEVELS = ["INFO"] * 6 + ["DEBUG", "WARN", "ERROR"]
START = datetime(2026, 11, 1, 8, 0, 0, tzinfo=timezone.utc)


def nginx_lines(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        t = START + timedelta(milliseconds=137 * i)
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        method = rng.choice(["GET"] * 5 + ["POST", "PUT", "DELETE"])
        out.append(
            f'{ip} - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{method} {rng.choice(PATHS)} HTTP/1.1" '
            f'{rng.choice(STATUSES)} {rng.randrange(100, 60000)} "-" "{rng.choice(AGENTS)}"'
        )
    return out


def json_lines(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        t = START + timedelta(milliseconds=211 * i)
        out.append(json.dumps({
            "time": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": rng.choice(LEVELS),
            "service": rng.choice(["checkout", "search", "auth"]),
            "trace_id": f"{rng.getrandbits(64):016x}",
            "duration_ms": round(rng.uniform(0.5, 900), 3),
            "user": {"id": rng.randrange(1, 5000), "region": rng.choice(["eu", "us", "ap"])},
            "msg": rng.choice(["request served", "cache miss", "payment declined", "slow query"]),
        }, separators=(",", ":")))
    return out


def syslog_lines(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        t = START + timedelta(seconds=3 * i)
        prog = rng.choice(["sshd", "cron", "kernel", "systemd"])
        msg = {
            "sshd": f"Accepted publickey for deploy from 10.0.{rng.randrange(256)}.{rng.randrange(256)} port {rng.randrange(1024, 65535)} ssh2",
            "cron": "(root) CMD (run-parts /etc/cron.hourly)",
            "kernel": f"eth0: link up, {rng.choice([1000, 10000])}Mbps, full-duplex",
            "systemd": f"Started Session {rng.randrange(1, 999)} of user deploy.",
        }[prog]
        out.append(f"{t.strftime('%Y-%m-%dT%H:%M:%S+00:00')} web-{rng.randrange(1, 4)} {prog}[{rng.randrange(100, 30000)}]: {msg}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "examples" / "logs")
    ns = parser.parse_args()
    ns.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261122)
    for name, make in [("nginx-access.log", nginx_lines), ("app.json.log", json_lines), ("syslog.log", syslog_lines)]:
        (ns.out / name).write_text("\n".join(make(ns.lines, rng)) + "\n")


if __name__ == "__main__":
    main()
