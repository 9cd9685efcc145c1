"""Every calculator's edge cases (aggregate.md §5) and the methods beyond Dataway (delta, rate, increase, rollup)."""

from __future__ import annotations

import math

import pytest

from aggr_wire import SECOND, algo, batch_for, body_for, forked
from offload.aggregate.hashing import SEED1, combine, distinct_hash
from receiver.aggregate import WindowCache
from receiver.aggregate.sketches import BITMAP_BITS, RESERVOIR

T0 = 1_700_000_000
TOKEN = "tkn_" + "a" * 32


def run(algos, samples, *, field="latency", tags=None, extra=None):
    """Feed [(time_s, value)] (or (time_s, value, tags)) and return {first field name: point} after flushing."""
    cache = WindowCache(tolerance_s=0)
    batches = []
    for sample in samples:
        t, v = sample[0], sample[1]
        point_tags = sample[2] if len(sample) > 2 else ({"host": "h1"} if tags is None else tags)
        batches.append(batch_for(forked("m", field, v, int(round(t * 1e9)), point_tags, extra), algos))
    cache.feed(TOKEN, body_for(batches), T0 - 1000)
    points = [p for w in cache.expire(T0 + 10_000) for p in cache.window_points(w)]
    return points


def one(algos, samples, **kw):
    points = run(algos, samples, **kw)
    assert len(points) == 1, points
    return points[0]


# -- Dataway's methods -------------------------------------------------------------------------------------

def test_histogram_sums_per_le_tag_and_counts_all():
    algos = {"h": algo("histogram", "latency")}
    points = run(algos, [(T0 + 1, 1.0, {"host": "h1"}), (T0 + 2, 2.0, {"host": "h1"}),
                         (T0 + 3, 4.0, {"host": "h1"})])
    # the first point has no le: bucket "" (tag omitted); later points without le add nothing
    assert sorted((tuple(p.tags.items()), tuple(p.fields.items())) for p in points) == [
        ((("host", "h1"),), (("h", 1.0),)),
        ((("host", "h1"),), (("h_count", 3),)),
    ]


def test_histogram_first_point_le_tag_overrides_every_bucket():
    algos = {"h": algo("merge_histogram", "latency")}
    points = run(algos, [(T0 + 1, 1.0, {"host": "h1", "le": "10"}), (T0 + 2, 2.0, {"host": "h1", "le": "20"}),
                         (T0 + 3, 4.0, {"host": "h1", "le": "10"})])
    sums = sorted(p.fields["h"] for p in points if "h" in p.fields)
    assert sums == [2.0, 5.0]  # bucket 10 = 1 + 4, bucket 20 = 2
    assert all(p.tags["le"] == "10" for p in points)  # the first point's le tag wins (upstream quirk)
    assert [p.fields for p in points if "h_count" in p.fields] == [{"h_count": 3}]


def test_histogram_first_point_le_from_a_string_field():
    algos = {"h": algo("histogram", "latency")}
    points = run(algos, [(T0 + 1, 1.0, {"host": "h1"})], extra={"le": "+Inf"})
    bucket = [p for p in points if "h" in p.fields]
    assert bucket[0].tags == {"le": "+Inf", "host": "h1"}


def test_stdev_single_value_emits_nothing():
    assert run({"sd": algo("stdev", "latency")}, [(T0 + 1, 5.0)]) == []


def test_count_distinct_typed_values():
    p = one({"d": algo("count_distinct", "latency")}, [(T0 + 1, 3), (T0 + 2, 3.0), (T0 + 3, "3")])
    # 3 (int64 on the wire) and 3.0 (float64) are different Go values; "3" is a string
    assert p.fields == {"d": 3, "d_count": 3}


def test_count_distinct_switches_to_the_bitmap_past_4096():
    n = 6000
    p = one({"d": algo("count_distinct", "latency")}, [(T0 + 1 + i * 0.001, f"user-{i}") for i in range(n)])
    # linear counting over the same hashes, computed independently
    bits = {distinct_hash(f"user-{i}") % BITMAP_BITS for i in range(n)}
    zeros = BITMAP_BITS - len(bits)
    expected = math.floor(-BITMAP_BITS * math.log(zeros / BITMAP_BITS) + 0.5)
    assert p.fields["d"] == expected == p.fields["d_count"]
    assert abs(expected - n) < n * 0.02


def test_quantiles_reservoir_replacement_is_deterministic():
    n = RESERVOIR + 3000
    values = [float(i % 977) * 1.5 for i in range(n)]
    p = one({"q": algo("quantiles", "latency", window_s=60, percentiles=[0.0, 0.5, 1.0])},
            [(T0 + 1 + i * 0.001, v) for i, v in enumerate(values)])
    kept = values[:RESERVOIR]
    for c in range(RESERVOIR + 1, n + 1):
        j = combine(SEED1, c) % c
        if j < RESERVOIR:
            kept[j] = values[c - 1]
    kept.sort()
    pos = 0.5 * (len(kept) - 1)
    i = math.floor(pos)
    median = kept[i] + (pos - i) * (kept[i + 1] - kept[i])
    assert p.fields == {"q_count": n, "q_P0": kept[0], "q_P50": median, "q_P100": kept[-1]}


def test_output_time_is_the_largest_input_time():
    p = one({"s": algo("sum", "latency")}, [(T0 + 3, 1.0), (T0 + 9, 1.0), (T0 + 5, 1.0)])
    assert p.time == (T0 + 9) * SECOND


# -- beyond Dataway ------------------------------------------------------------------------------------

def test_delta_is_last_minus_first_by_time():
    p = one({"d": algo("delta", "latency")}, [(T0 + 5, 7.0), (T0 + 1, 2.0), (T0 + 9, 4.0), (T0 + 3, 100.0)])
    assert p.fields == {"d": 2.0, "d_count": 4} and p.time == (T0 + 9) * SECOND


def test_rate_is_delta_per_second_over_the_observed_span():
    p = one({"r": algo("rate", "latency")}, [(T0 + 1, 10.0), (T0 + 9, 50.0), (T0 + 5, 20.0)])
    assert p.fields == {"r": 5.0, "r_count": 3}
    assert run({"r": algo("rate", "latency")}, [(T0 + 2, 10.0)]) == []  # zero span: no point


@pytest.mark.parametrize("method", ["increase", "sum2", "Increase"])
def test_increase_is_counter_reset_aware(method):
    # 10 -> 15 (+5) -> 3 (reset: +3) -> 8 (+5) -> 8 (+0)
    p = one({"i": algo(method, "latency")}, [(T0 + 1, 10.0), (T0 + 2, 15.0), (T0 + 3, 3.0), (T0 + 4, 8.0),
                                              (T0 + 5, 8.0)])
    assert p.fields == {"i": 13.0, "i_count": 5}


def test_increase_ignores_out_of_order_samples_for_the_increase():
    p = one({"i": algo("increase", "latency")}, [(T0 + 1, 10.0), (T0 + 3, 20.0), (T0 + 2, 0.0), (T0 + 4, 25.0)])
    assert p.fields == {"i": 15.0, "i_count": 4}


def test_rollup_outputs_every_statistic():
    p = one({"lat": algo("rollup", "latency")}, [(T0 + 2, 10.0), (T0 + 1, 4.0), (T0 + 3, 16.0), (T0 + 4, 6.0)])
    assert p.fields == {
        "lat_sum": 36.0, "lat_count": 4, "lat_min": 4.0, "lat_max": 16.0, "lat_first": 4.0,
        "lat_first_ts": (T0 + 1) * SECOND,
        "lat_last": 22.0,  # the chain's start (10) plus its reset-aware increase
        # in-order chain 10 -> 16 (+6) -> 6 (reset, +6); the older 4 @ T0+1 only counts elsewhere
        "lat_increase": 12.0,
    }
    assert type(p.fields["lat_first_ts"]) is int and p.time == (T0 + 4) * SECOND


def test_every_method_on_one_batch():
    methods = ["sum", "avg", "count", "min", "max", "first", "last", "stdev", "quantiles", "count_distinct",
               "histogram", "delta", "rate", "increase", "rollup"]
    algos = {f"o_{m}": algo(m, "latency", percentiles=[0.5] if m == "quantiles" else None) for m in methods}
    points = run(algos, [(T0 + 1, 1.0), (T0 + 2, 3.0)])
    names = {k for p in points for k in p.fields}
    for m in methods:
        assert any(n.startswith(f"o_{m}") for n in names), m
