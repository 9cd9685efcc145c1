"""Per-point cost of the language core: a compiled script vs hand-written Python doing the same.

    python tests/benchmarks/bench_engine_core.py [--points N]

The script does only language work (assignments, if/elif, arithmetic, comparisons, a for
loop, string concatenation, point reads); no built-in is called. Three figures per script:
the compiled function alone, the full `Script.run` (Context, post-processing), and the
same compiled function generated without the loop deadline checks (their overhead).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from offload.point import Point  # noqa: E402
from receiver.pipeline.compiler import compile_tree  # noqa: E402
from receiver.pipeline.parser import parse  # noqa: E402
from receiver.pipeline.runtime import Context, compile_script  # noqa: E402

SCRIPT = """
total = 0
ones = 0
for x in [3, 1, 4, 1, 5, 9, 2, 6] {
    if x > 4 {
        total = total + x * 2
    } elif x == 1 {
        ones += 1
    } else {
        total = total - x
    }
}
code = status_code
level = "ok"
if code >= 500 {
    level = "error"
} elif code >= 400 {
    level = "warn"
}
ratio = total / 3
label = "n=" + level
slow = cost > 0.5 && method == "GET"
"""


LOOP_SCRIPT = """
n = 0
for i = 0; i < 32; i += 1 {
    if i % 3 == 0 {
        continue
    }
    n = n + i
}
"""


def hand_written_loop(tags: dict, fields: dict) -> int:
    n = 0
    i = 0
    while i < 32:
        if i % 3 == 0:
            i += 1
            continue
        n = n + i
        i += 1
    return n


LIST_SCRIPT = """
items = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]
n = 0
for x in items {
    if x > 4 {
        n = n + x
    }
}
"""


def hand_written_list(tags: dict, fields: dict) -> int:
    items = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]
    n = 0
    for x in items:
        if x > 4:
            n = n + x
    return n


def hand_written(tags: dict, fields: dict) -> None:
    """The same work in plain Python (no int64 wrap-around, no type checks)."""
    total = 0
    ones = 0
    for x in (3, 1, 4, 1, 5, 9, 2, 6):
        if x > 4:
            total = total + x * 2
        elif x == 1:
            ones += 1
        else:
            total = total - x
    code = fields.get("status_code")
    level = "ok"
    if code >= 500:
        level = "error"
    elif code >= 400:
        level = "warn"
    ratio = int(total / 3)
    label = "n=" + level
    slow = fields.get("cost") > 0.5 and fields.get("method") == "GET"
    return ratio, label, slow, ones


def make_point(i: int) -> Point:
    return Point("nginx", {"host": "web-1"},
                 {"message": "x", "status_code": (200, 404, 503)[i % 3], "cost": 0.1 * (i % 10), "method": "GET"},
                 1700000000000000000)


def best_of(variants: dict, n: int, rounds: int) -> dict:
    """Best µs per call of each variant; variants run round-robin so that a noisy neighbour
    disturbs all of them alike, and the least disturbed round of each is kept."""
    best = {name: float("inf") for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn(n)
            best[name] = min(best[name], (time.perf_counter() - t0) / n * 1e6)
    return best


def measure(source: str, hand, points: list, n: int, rounds: int) -> None:
    script = compile_script(source, "bench.p")
    unchecked = compile_tree(parse(source, "bench.p"), loop_checks=False).main

    def run_hand(k: int) -> None:
        for i in range(k):
            p = points[i & 63]
            hand(p.tags, p.fields)

    def run_compiled(fn):
        def go(k: int) -> None:
            ctx = Context(points[0])
            for i in range(k):
                p = points[i & 63]
                ctx.point = p
                fn(ctx, p.tags, p.fields)
        return go

    def run_full(k: int) -> None:
        for i in range(k):
            p = points[i & 63]
            p.fields.pop("status", None)
            script.run(p)

    t = best_of({"hand": run_hand, "compiled": run_compiled(script.main), "unchecked": run_compiled(unchecked),
                 "full": run_full}, n, rounds)
    hand_t, compiled, no_checks, full = t["hand"], t["compiled"], t["unchecked"], t["full"]
    print(f"  hand-written Python              {hand_t:7.3f} µs/point   1.00x")
    print(f"  compiled script function         {compiled:7.3f} µs/point   {compiled / hand_t:.2f}x")
    print(f"    same without loop deadline checks {no_checks:7.3f} µs/point   {no_checks / hand_t:.2f}x"
          f"   (checks cost {compiled - no_checks:+.3f} µs/point)")
    print(f"  Script.run (context, post-processing) {full:7.3f} µs/point   {full / hand_t:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=20_000, help="points per timed round")
    ap.add_argument("--rounds", type=int, default=15)
    opts = ap.parse_args()
    points = [make_point(i) for i in range(64)]
    print(f"best of {opts.rounds} rounds of {opts.points} points")
    print("mixed script (assignments, if/elif, arithmetic, literal for-in, point reads):")
    measure(SCRIPT, hand_written, points, opts.points, opts.rounds)
    print("C-style loop of 32 iterations with continue (a counted loop: no deadline check needed):")
    measure(LOOP_SCRIPT, hand_written_loop, points, opts.points, opts.rounds)
    print("for-in over a list held in a variable, 16 iterations (deadline-checked):")
    measure(LIST_SCRIPT, hand_written_list, points, opts.points, opts.rounds)


if __name__ == "__main__":
    main()
