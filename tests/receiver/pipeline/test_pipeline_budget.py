"""The per-point time budget: runaway loops and slow built-ins fail one point, not the worker."""

from __future__ import annotations

import time

from core_support import point, t_builtins  # noqa: F401  (fixture)

from receiver.pipeline import DEFAULT_BUDGET, Context, compile_script


def test_default_budget_is_100ms():
    assert DEFAULT_BUDGET == 0.1
    assert compile_script("x = 1").budget == 0.1


def test_runaway_loop_fails_that_point_and_the_next_runs():
    script = compile_script('if _ == "spin" {\n  for ;; { }\n}\nadd_key(done, true)', "loop.p", budget=0.05)
    t0 = time.monotonic()
    bad = point()
    bad.fields["message"] = "spin"
    r = script.run(bad)
    elapsed = time.monotonic() - t0
    assert r.error == "loop.p:2:3: run time budget of 50 ms exceeded"
    assert 0.05 <= elapsed < 1.0
    good = point()
    r2 = script.run(good)
    assert r2.error is None and good.fields["done"] is True


def test_nested_and_for_in_loops_are_bounded():
    script = compile_script("l = [1, 2, 3]\nfor ;; {\n  for x in l { }\n}", "n.p", budget=0.03)
    assert "budget of 30 ms exceeded" in script.run(point()).error


def test_budget_per_run_argument():
    script = compile_script("for ;; { }", "b.p")
    t0 = time.monotonic()
    r = script.run(point(), budget=0.01)
    assert "budget of 10 ms exceeded" in r.error and time.monotonic() - t0 < 0.5


def test_builtins_see_the_deadline(t_builtins):
    script = compile_script('add_key(before, 1)\n_t_spin(5)\nadd_key(after, 1)', "s.p", budget=0.02)
    pt = point()
    r = script.run(pt)
    assert r.error == "s.p:2:1: run time budget of 20 ms exceeded"
    assert pt.fields["before"] == 1 and "after" not in pt.fields


def test_context_exposes_the_deadline():
    ctx = Context(point(), budget=0.5)
    assert 0.4 < ctx.deadline - time.monotonic() <= 0.5
    ctx.check_deadline()  # not yet over


def test_long_but_finite_loops_within_budget_succeed():
    script = compile_script("n = 0\nfor i = 0; i < 20000; i += 1 { n += i }\nadd_key(n)", "f.p")
    pt = point()
    assert script.run(pt).error is None
    assert pt.fields["n"] == sum(range(20000))


def test_counted_loop_with_huge_literal_bound_is_still_checked():
    script = compile_script("for i = 0; i < 1000000000000; i += 1 { }", "c.p", budget=0.02)
    assert "budget of 20 ms exceeded" in script.run(point()).error


def test_nested_small_counted_loops_are_checked_by_the_outer_loop():
    src = "for i = 0; i < 1000; i += 1 {\n  for j = 0; j < 1000; j += 1 {\n    for k = 0; k < 1000; k += 1 { }\n  }\n}"
    script = compile_script(src, "n.p", budget=0.02)
    assert "budget of 20 ms exceeded" in script.run(point()).error


def test_nested_literal_loops_are_checked():
    items = ", ".join(["1"] * 300)
    src = f"for a in [{items}] {{\n for b in [{items}] {{\n  for c in [{items}] {{ }}\n }}\n}}"
    script = compile_script(src, "l.p", budget=0.02)
    assert "budget of 20 ms exceeded" in script.run(point()).error


def test_innermost_loop_over_a_long_runtime_value_is_checked():
    script = compile_script("n = 0\nfor c in _ {\n  n += 1\n}\nadd_key(n)", "s.p", budget=0.005)
    long_msg = point()
    long_msg.fields["message"] = "x" * 3_000_000
    r = script.run(long_msg)
    assert r.error == "s.p:2:1: run time budget of 5 ms exceeded"
    short = point()
    assert script.run(short).error is None and short.fields["n"] == 1
