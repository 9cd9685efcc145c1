"""WindowCache as pure logic: the spec's worked examples (aggregate.md §6 A-F), alignment, buckets, late data."""

from __future__ import annotations

import pytest

from aggr_wire import SECOND, algo, batch_for, body_for, forked
from receiver.aggregate import InvalidBatch, UnknownMethod, WindowCache
from receiver.aggregate.batch import align_next_wall_time

S = SECOND
T0 = 1_700_000_000
TOKEN_A = "tkn_" + "a" * 32
TOKEN_B = "tkn_" + "b" * 32


def ns(seconds: float | int) -> int:
    """Seconds as ns; an int larger than 1e15 is already ns (floats cannot hold ns precision)."""
    if isinstance(seconds, int) and seconds > 10**15:
        return seconds
    return int(round(seconds * 1e9))


def feed(cache, algos, samples, *, token=TOKEN_A, now=T0, name="nginx", field="latency", tags=None,
         group_by=("host",)):
    """samples: [(time_s, value)] -> one body, one AggregationBatch per forked point."""
    tags = {"host": "h1"} if tags is None else tags
    batches = [batch_for(forked(name, field, v, ns(t), tags), algos, group_by) for t, v in samples]
    return cache.feed(token, body_for(batches), now)


def flushed(cache, now):
    """{(token, key): {field: value}} plus the list of points of every expired window."""
    out = []
    for w in cache.expire(now):
        for p in cache.window_points(w):
            out.append((w.token, p))
    return out


def fields_by_key(points):
    merged = {}
    for _, p in points:
        merged.update(p.fields)
    return merged


# -- §4.1 alignment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("t_ns, window_s, expected", [
    pytest.param(ns(1700000003.5), 10, 1700000010, id="mid-window"),
    pytest.param(1700000010 * S, 10, 1700000010, id="on-boundary"),
    pytest.param(1700000010 * S + 1, 10, 1700000020, id="just-after"),
    pytest.param(1700000003 * S, 7, 1700000004, id="w7-year-one"),
    pytest.param(1700000003 * S, 60, 1700000040, id="w60"),
    pytest.param(ns(1700000003.25), 0.5, 1700000003, id="sub-second"),
])
def test_alignment_vectors(t_ns, window_s, expected):
    assert align_next_wall_time(t_ns, int(window_s * S)) == expected


# -- §6 worked examples ------------------------------------------------------------------------------

EXAMPLE_A = {
    "lat_sum": algo("sum", "latency"), "lat_avg": algo("avg", "latency"), "lat_max": algo("max", "latency"),
    "lat_min": algo("min", "latency"), "req": algo("count", "latency"),
}


def test_example_a_sum_avg_min_max_count():
    cache = WindowCache(tolerance_s=5)
    res = feed(cache, EXAMPLE_A, [(1700000001.0, 10), (1700000004.5, 20.5), (1700000009.9, 30.0),
                                  (1700000010.0, 40.0)])
    assert (res.accepted, res.dropped, res.min_key, res.max_key) == (20, 0, 1700000015, 1700000015)
    assert flushed(cache, 1700000014) == []
    out = flushed(cache, 1700000015)
    assert len(out) == 5
    for token, p in out:
        assert token == TOKEN_A and p.name == "nginx" and p.tags == {"host": "h1"}
        assert p.time == 1700000010 * S
    got = {tuple(p.fields): p.fields for _, p in out}
    assert got[("lat_sum", "lat_sum_count")] == {"lat_sum": 100.5, "lat_sum_count": 4}
    assert got[("lat_avg", "lat_avg_count")] == {"lat_avg": 25.125, "lat_avg_count": 4}
    assert got[("lat_max", "lat_max_count")] == {"lat_max": 40.0, "lat_max_count": 4}
    assert got[("lat_min", "lat_min_count")] == {"lat_min": 10.0, "lat_min_count": 4}
    req = got[("req", "req_count")]
    assert req == {"req": 4, "req_count": 4} and type(req["req"]) is int
    assert all(type(p.fields[k]) is float for _, p in out for k in p.fields if not k.endswith("count") and k != "req")


def test_example_a_next_window_and_late_drop():
    cache = WindowCache(tolerance_s=5)
    res = feed(cache, {"lat_sum": algo("sum", "latency")}, [(1700000010 * S + 1, 1.0)])
    assert res.max_key == 1700000025  # window ending 1700000020
    late = feed(cache, {"lat_sum": algo("sum", "latency")}, [(1700000009.0, 1.0)], now=1700000015)
    assert (late.accepted, late.dropped) == (0, 1)
    assert late.late_keys == {1700000015}


def test_example_b_stdev():
    cache = WindowCache(tolerance_s=5)
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    feed(cache, {"sd": algo("stdev", "latency")}, [(T0 + 1 + i * 0.5, float(v)) for i, v in enumerate(values)])
    feed(cache, {"sd": algo("stdev", "latency")}, [(T0 + 15, 3.0)])  # a window with a single value
    out = flushed(cache, T0 + 100)
    assert len(out) == 1
    assert out[0][1].fields["sd"] == pytest.approx(2.138089935299395, rel=1e-15)
    assert out[0][1].fields["sd_count"] == 8


def test_example_c_quantiles():
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"lat": algo("quantiles", "latency", percentiles=[0.5, 0.9, 0.99])},
         [(T0 + 1 + i, float(v)) for i, v in enumerate([10, 20, 30, 40, 50])])
    (_, p), = flushed(cache, T0 + 100)
    assert p.fields == {"lat_count": 5, "lat_P50": 30.0, "lat_P90": 46.0, "lat_P99": pytest.approx(49.6)}
    assert list(p.fields) == ["lat_count", "lat_P50", "lat_P90", "lat_P99"]


def test_quantile_labels_round_half_even():
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"q": algo("quantiles", "latency", percentiles=[0.995, 0.125, 0.5])}, [(T0 + 1, 1.0)])
    (_, p), = flushed(cache, T0 + 100)
    assert set(p.fields) == {"q_count", "q_P100", "q_P12", "q_P50"}


def test_example_d_count_distinct():
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"users": algo("count_distinct", "user")}, [(T0 + 1, "a"), (T0 + 2, "b"), (T0 + 3, "a")],
         field="user")
    (_, p), = flushed(cache, T0 + 100)
    assert p.fields == {"users": 2, "users_count": 2}
    assert type(p.fields["users"]) is int


def test_example_e_first_last():
    cache = WindowCache(tolerance_s=5)
    algos = {"f": algo("first", "latency"), "l": algo("last", "latency")}
    feed(cache, algos, [(1700000002, 5.0), (1700000008, 7.0), (1700000005, 6.0)])
    out = {tuple(p.fields)[0]: p for _, p in flushed(cache, T0 + 100)}
    assert out["f"].fields == {"f": 5.0, "f_count": 3} and out["f"].time == 1700000002 * S
    assert out["l"].fields == {"l": 7.0, "l_count": 3} and out["l"].time == 1700000008 * S


def test_first_last_equal_times_keep_the_earlier_arrival():
    cache = WindowCache(tolerance_s=5)
    algos = {"f": algo("first", "latency"), "l": algo("last", "latency")}
    feed(cache, algos, [(T0 + 2, 1.0), (T0 + 2, 2.0)])
    out = {tuple(p.fields)[0]: p.fields for _, p in flushed(cache, T0 + 100)}
    assert out["f"]["f"] == 1.0 and out["l"]["l"] == 1.0


def test_example_f_tags_point_overrides_add_tags():
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"s": algo("sum", "latency", add_tags={"agg": "x", "host": "zzz"})}, [(T0 + 1, 1.0)])
    (_, p), = flushed(cache, T0 + 100)
    assert p.tags == {"agg": "x", "host": "h1"}


# -- §4.2 buckets, tokens, calculators ---------------------------------------------------------------

def test_tokens_are_separate_windows():
    cache = WindowCache(tolerance_s=5)
    algos = {"s": algo("sum", "latency")}
    feed(cache, algos, [(T0 + 1, 1.0)], token=TOKEN_A)
    feed(cache, algos, [(T0 + 2, 2.0)], token=TOKEN_B)
    windows = cache.expire(T0 + 100)
    assert sorted(w.token for w in windows) == [TOKEN_A, TOKEN_B]
    assert {w.token: cache.window_points(w)[0].fields["s"] for w in windows} == {TOKEN_A: 1.0, TOKEN_B: 2.0}


def test_series_and_outputs_are_separate_calculators_and_first_tags_stick():
    cache = WindowCache(tolerance_s=5)
    algos = {"s": algo("sum", "latency")}
    feed(cache, algos, [(T0 + 1, 1.0)], tags={"host": "h1", "zone": "a"})
    feed(cache, algos, [(T0 + 2, 2.0)], tags={"host": "h1", "zone": "b"})  # same series: zone not in group_by
    feed(cache, algos, [(T0 + 3, 4.0)], tags={"host": "h2"})
    feed(cache, {"s2": algo("sum", "latency")}, [(T0 + 4, 8.0)], tags={"host": "h1"})
    out = sorted((p.tags.get("host"), tuple(p.fields.items()), tuple(p.tags.items())) for _, p in flushed(cache, T0 + 100))
    assert out == [
        ("h1", (("s", 3.0), ("s_count", 2)), (("host", "h1"), ("zone", "a"))),
        ("h1", (("s2", 8.0), ("s2_count", 1)), (("host", "h1"),)),
        ("h2", (("s", 4.0), ("s_count", 1)), (("host", "h2"),)),
    ]


def test_windows_per_algorithm_and_default_one_minute():
    cache = WindowCache(tolerance_s=0)
    algos = {"s10": algo("sum", "latency", window_s=10), "s0": algo("sum", "latency", window_s=0)}
    res = feed(cache, algos, [(1700000003, 1.0), (1700000012, 2.0)])
    assert res.accepted == 4
    assert sorted(cache.buckets) == [1700000010, 1700000020, 1700000040]
    assert {p.fields.get("s10") for _, p in flushed(cache, 1700000020)} == {1.0, 2.0}
    (_, p), = flushed(cache, 1700000040)
    assert p.fields == {"s0": 3.0, "s0_count": 2} and p.time == 1700000012 * S


def test_expire_is_inclusive_and_returns_each_window_once():
    cache = WindowCache(tolerance_s=2)
    feed(cache, {"s": algo("sum", "latency")}, [(T0 + 5, 1.0)])
    assert cache.expire(T0 + 11.999) == []
    assert len(cache.expire(T0 + 12)) == 1
    assert cache.expire(T0 + 13) == [] and cache.buckets == {}


def test_late_data_never_merges_into_a_later_window():
    cache = WindowCache(tolerance_s=2)
    algos = {"s": algo("sum", "latency")}
    feed(cache, algos, [(T0 + 5, 1.0)])
    assert len(flushed(cache, T0 + 12)) == 1
    # the clock steps back: the window is closed all the same
    late = feed(cache, algos, [(T0 + 6, 5.0)], now=T0 + 3)
    assert (late.accepted, late.dropped) == (0, 1)
    assert cache.buckets == {}
    ok = feed(cache, algos, [(T0 + 10.5, 7.0)], now=T0 + 3)
    assert ok.accepted == 1 and list(cache.buckets) == [T0 + 22]


def test_missing_and_non_numeric_values_are_skipped():
    cache = WindowCache(tolerance_s=5)
    algos = {"s": algo("sum", "latency"), "c": algo("count", "latency"), "x": algo("sum", "nope")}
    res = feed(cache, algos, [(T0 + 1, "text"), (T0 + 2, 2.0), (T0 + 3, True)])
    assert (res.accepted, res.skipped) == (4, 5)
    out = {tuple(p.fields)[0]: p.fields for _, p in flushed(cache, T0 + 100)}
    assert out["s"] == {"s": 2.0, "s_count": 1}
    assert out["c"] == {"c": 3, "c_count": 3}


def test_count_without_source_field_reads_the_output_name():
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"req": algo("count")}, [(T0 + 1, 1.0)])  # the point has no key named "req"
    feed(cache, {"latency": algo("count")}, [(T0 + 1, 1.0)])
    (_, p), = flushed(cache, T0 + 100)
    assert p.fields == {"latency": 1, "latency_count": 1}


def test_unknown_method_rejects_the_whole_body():
    cache = WindowCache(tolerance_s=5)
    good = batch_for(forked("nginx", "latency", 1.0, ns(T0 + 1), {"host": "h1"}), {"s": algo("sum", "latency")})
    bad = batch_for(forked("nginx", "latency", 1.0, ns(T0 + 1), {"host": "h1"}), {"e": algo("expo_histogram")})
    with pytest.raises(UnknownMethod):
        cache.feed(TOKEN_A, body_for([good, bad]), T0)
    assert cache.buckets == {}
    with pytest.raises(InvalidBatch):
        cache.feed(TOKEN_A, b"\xff\xff\xff", T0)


@pytest.mark.parametrize("method", ["SUM", " Sum ", "sum"])
def test_methods_are_case_insensitive_and_trimmed(method):
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"s": algo(method, "latency")}, [(T0 + 1, 2.0)])
    (_, p), = flushed(cache, T0 + 100)
    assert p.fields == {"s": 2.0, "s_count": 1}


def test_int_values_count_as_floats():
    cache = WindowCache(tolerance_s=5)
    feed(cache, {"s": algo("sum", "latency")}, [(T0 + 1, 3), (T0 + 2, -5)])
    (_, p), = flushed(cache, T0 + 100)
    assert p.fields == {"s": -2.0, "s_count": 2} and type(p.fields["s"]) is float
