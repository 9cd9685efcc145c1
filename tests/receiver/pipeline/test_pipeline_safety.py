"""Safety through run_batch (what workers call): a runaway loop or a pathological regex costs one
point an error (or a fast no-match) within the budget, and the next point of the batch runs normally."""

from __future__ import annotations

import time

from offload.point import Point
from receiver.pipeline import ScriptStore, run_batch

BUDGET = 0.05


def batch(*msgs):
    return [Point("app", {}, {"message": m}, 1) for m in msgs]


def store_with(tmp_path, text):
    (tmp_path / "app.p").write_text(text)
    return ScriptStore(tmp_path, budget=BUDGET)


def test_runaway_loop_fails_its_point_within_the_budget_and_the_next_point_runs(tmp_path):
    store = store_with(tmp_path, 'if _ == "spin" {\n  for ;; { }\n}\nadd_key(done, true)')
    t0 = time.monotonic()
    res = run_batch(store, "logging", batch("spin", "ok"))
    elapsed = time.monotonic() - t0
    assert res.errors == 1 and res.error_samples == ["app.p:2:3: run time budget of 50 ms exceeded"]
    assert BUDGET <= elapsed < 1.0
    spun, ok = res.points
    assert "done" not in spun.fields and ok.fields["done"] is True and ok.fields["status"] == "info"


def test_pathological_grok_is_a_fast_no_match_and_the_next_point_runs(tmp_path):
    store = store_with(tmp_path, 'if !grok(_, "(a+)+$") {\n  add_key(matched, false)\n}\n'
                                 'grok(_, "^%{WORD:w}$")')
    t0 = time.monotonic()
    res = run_batch(store, "logging", batch("a" * 10000 + "b", "aaa"))
    assert time.monotonic() - t0 < 1.0
    bad, good = res.points
    assert res.errors == 0 and bad.fields["matched"] is False
    assert good.fields["w"] == "aaa" and "matched" not in good.fields


def test_pathological_regex_builtins_are_fast_and_the_next_point_runs(tmp_path):
    store = store_with(tmp_path, 'm = match("(x+x+)+y", _)\nadd_key(m, m)\nreplace(_, "(a|aa)+$", "z")')
    t0 = time.monotonic()
    res = run_batch(store, "logging", batch("x" * 5000, "a" * 5000 + "!", "xxy"))
    assert time.monotonic() - t0 < 1.0
    assert res.errors == 0
    assert [p.fields["m"] for p in res.points] == [False, False, True]
    assert res.points[2].fields["message"] == "xxy"


def test_polynomial_grok_on_a_long_line_stays_within_the_budget(tmp_path):
    # DATA DATA: polynomial backtracking in `re`; long inputs are guarded (or go to RE2)
    store = store_with(tmp_path, 'grok(_, "%{DATA:a} %{DATA:b} %{DATA:c}x$")\nadd_key(done, true)')
    t0 = time.monotonic()
    res = run_batch(store, "logging", batch(" ".join(["y"] * 8000), "1 2 3x"))
    assert time.monotonic() - t0 < 2.0
    assert res.errors == 0 and res.points[0].fields["done"] is True and "a" not in res.points[0].fields
    assert res.points[1].fields["c"] == "3"
