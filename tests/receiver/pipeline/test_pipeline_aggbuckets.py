"""agg_create() / agg_metric(): what a run records (builtins/aggfns.py) and the buckets that apply it (aggbuckets.py)."""

from __future__ import annotations

import pytest

from offload.point import Point
from receiver.pipeline import CompileError, ScriptStore, compile_script, run_batch
from receiver.pipeline.aggbuckets import AggBuckets, to_float


class Clock:
    def __init__(self, t: int = 1_000) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def _batch(tmp_path, script: str, points: list[Point]):
    (tmp_path / "app.p").write_text(script)
    return run_batch(ScriptStore(str(tmp_path)), "logging", points)


def _pts(values: list, hosts=("h1", "h2")) -> list[Point]:
    return [Point("app", {"host": hosts[i % len(hosts)]}, {"message": "m", "v": v}, i + 1)
            for i, v in enumerate(values)]


def _emitted(pairs) -> dict:
    return {(b.category, b.token, tuple(sorted(p.tags.items()))): p.fields for b, pts in pairs for p in pts}


SCRIPT = '''
agg_create("lat", on_interval="10s", const_tags={"env": "prod", "bad": 1})
agg_metric("lat", "v_avg", "avg", ["host"], "v")
agg_metric("lat", "v_sum", "sum", ["host"], "v")
agg_metric("lat", "v_min", "min", ["host"], "v")
agg_metric("lat", "v_max", "max", ["host"], "v")
agg_metric("lat", "v_last", "set", ["host"], "v")
'''


def test_every_function_over_a_batch(tmp_path):
    res = _batch(tmp_path, SCRIPT, _pts([-3, -4, -1, "-8", True, None]))
    assert sum(1 for op in res.agg if op[0] == "c") == 1  # one create per batch is enough
    buckets = AggBuckets(clock=Clock())
    assert buckets.apply(res.agg, "tkn") == []
    out = _emitted(buckets.flush_all())
    # h1: -3, -1, True(1); h2: -4, "-8", None(0)
    assert out[("metric", "tkn", (("env", "prod"), ("host", "h1")))] == {
        "v_avg": -1.0, "v_sum": -3.0, "v_min": -3.0, "v_max": 1.0, "v_last": 1.0}
    assert out[("metric", "tkn", (("env", "prod"), ("host", "h2")))] == {
        "v_avg": -4.0, "v_sum": -12.0, "v_min": -8.0, "v_max": 0.0, "v_last": 0.0}


def test_interval_emission_and_keep_value(tmp_path):
    clock = Clock(0)
    buckets = AggBuckets(clock=clock)
    script = '''
agg_create("a", on_interval="10s")
agg_create("k", on_interval="10s", keep_value=true)
agg_metric("a", "n", "sum", ["host"], "v")
agg_metric("k", "n", "sum", ["host"], "v")
'''
    buckets.apply(_batch(tmp_path, script, _pts([1, 2], hosts=("h",))).agg, None)
    clock.t = 9_999_999_999
    assert buckets.due() == []
    clock.t = 10_000_000_000
    first = buckets.due()
    assert sorted((b.name, p.fields["n"], p.time) for b, pts in first for p in pts) == [
        ("a", 3.0, 10_000_000_000), ("k", 3.0, 10_000_000_000)]
    buckets.apply(_batch(tmp_path, script, _pts([4], hosts=("h",))).agg, None)
    clock.t = 20_000_000_000
    # "a" started empty again; "k" kept its values
    assert sorted((b.name, p.fields["n"]) for b, pts in buckets.due() for p in pts) == [("a", 4.0), ("k", 7.0)]
    clock.t = 30_000_000_000
    assert [(b.name, p.fields["n"]) for b, pts in buckets.due() for p in pts] == [("k", 7.0)]  # empty "a": nothing


def test_on_count_emits_after_that_many_values(tmp_path):
    script = 'agg_create("c", on_interval="0s", on_count=3)\nagg_metric("c", "n", "sum", ["host"], "v")\n'
    buckets = AggBuckets(clock=Clock())
    emitted = buckets.apply(_batch(tmp_path, script, _pts([1, 2, 3, 4], hosts=("h",))).agg, None)
    assert [p.fields for _, pts in emitted for p in pts] == [{"n": 6.0}]
    assert [p.fields for _, pts in buckets.flush_all() for p in pts] == [{"n": 4.0}]
    assert buckets.due() == []  # no interval: only the count emits


def test_workspaces_and_categories_do_not_share_buckets(tmp_path):
    script = '''
agg_create("b")
agg_create("b", category="L")
agg_metric("b", "n", "sum", ["host"], "v")
agg_metric("b", "n", "sum", ["host"], "v", category="logging")
'''
    ops = _batch(tmp_path, script, _pts([5], hosts=("h",))).agg
    buckets = AggBuckets(clock=Clock())
    buckets.apply(ops, "t1")
    buckets.apply(ops, "t2")
    buckets.apply(ops, "t2")
    out = _emitted(buckets.flush_all())
    assert out == {("metric", "t1", (("host", "h"),)): {"n": 5.0}, ("logging", "t1", (("host", "h"),)): {"n": 5.0},
                   ("metric", "t2", (("host", "h"),)): {"n": 10.0}, ("logging", "t2", (("host", "h"),)): {"n": 10.0}}


def test_what_datakit_ignores(tmp_path):
    script = '''
agg_create("b", category="nonsense")
agg_create("ok")
agg_metric("nobucket", "n", "sum", ["host"], "v")
agg_metric("ok", "n", "median", ["host"], "v")
agg_metric("ok", "n", "sum", ["missing"], "v")
agg_metric("ok", "n", "sum", ["host"], "missing")
agg_metric("ok", "n", "sum", ["v"], "v")
'''
    ops = _batch(tmp_path, script, _pts([1], hosts=("h",))).agg
    buckets = AggBuckets(clock=Clock())
    buckets.apply(ops, None)
    assert buckets.flush_all() == []  # unknown category, no bucket, unknown function, missing or non-str keys
    assert [b[2] for b in buckets.buckets] == ["ok"]


@pytest.mark.parametrize("script, message", [
    ('agg_create("b", on_interval="ten seconds")', "parse on_interval"),
    ('agg_create("b", on_interval="0s")', "cannot both be <= 0"),
    ('agg_create(b)', "must be a literal"),
    ('agg_metric("b", "n", "sum", [], "v")', "at least one key"),
    ('agg_metric("b", "n", "sum", ["host", 1], "v")', "list of string literals"),
    ('agg_metric("b", "n", "sum", ["host"])', "agg_field"),
])
def test_compile_errors(script, message):
    with pytest.raises(CompileError, match=message):
        compile_script(script + "\n", "a.p")


def test_category_must_be_a_string():
    script = compile_script('agg_create("b", category=1)\n', "a.p")
    assert "category must be a str" in script.run(Point("app", {}, {"message": "m"}, 1)).error


def test_to_float_reads_values_as_datakit_casts_them():
    assert [to_float(v) for v in (1, 2.5, True, False, " 3.5 ", "x", None, [1])] == [1.0, 2.5, 1.0, 0.0, 3.5, 0.0, 0.0, 0.0]
