"""The window cache's per-series fast path (series.py) gives exactly the reference path's windows.

Two caches are fed the same bodies at the same `now`s and flushed at the same ticks: one
with byte templates (the default), one with `fast_path=False` (every batch decoded the
careful way). Their feed results and flushed points must be identical, bit for bit, over
every algorithm, several windows, late data, two tokens and batches the fast path must
refuse (other value types, extra fields, changed tags or options, odd layouts).
"""

from __future__ import annotations

import math
import random

import pytest

from aggr_wire import SECOND, algo, batch_for, body_for, every_algorithm, forked
from receiver.aggregate import InvalidBatch, WindowCache

T0 = 1_700_000_000
TOKENS = ("tkn_" + "a" * 32, "tkn_" + "b" * 32)


def canon(points):
    def value(v):
        return ("nan",) if isinstance(v, float) and math.isnan(v) else (type(v).__name__, v)

    return sorted((p.name, sorted(p.tags.items()), sorted((k, value(v)) for k, v in p.fields.items()), p.time)
                  for p in points)


def flush(cache, now):
    return [(w.token, w.key, canon(cache.window_points(w))) for w in cache.expire(now)]


def same_results(bodies_by_tick, algos_note=""):
    """Feed both caches tick by tick; return how many batches took the fast path."""
    fast, slow = WindowCache(5), WindowCache(5, fast_path=False)
    slow_calls = 0
    original = fast._add_slow

    def counting(*args):
        nonlocal slow_calls
        slow_calls += 1
        return original(*args)

    fast._add_slow = counting
    total = 0
    for now, bodies in bodies_by_tick:
        for token, body in bodies:
            total += 1
            try:
                want = slow.feed(token, body, now)
            except InvalidBatch:
                with pytest.raises(InvalidBatch):
                    fast.feed(token, body, now)
                continue
            got = fast.feed(token, body, now)
            assert got == want, algos_note
        assert flush(fast, now) == flush(slow, now), algos_note
    assert flush(fast, now + 3600) == flush(slow, now + 3600)
    assert not fast.open_windows() and not any(fast._fast.values())  # templates go with their windows
    return slow_calls


def series_bodies(algos, *, seed=1, hosts=12, ticks=40, late_every=7, value_kinds=("f",), extra=None):
    """Bodies of `hosts` series, one sample per series every second (some out of order or late)."""
    rnd = random.Random(seed)
    out = []
    counter = {h: 0.0 for h in range(hosts)}
    for tick in range(ticks):
        now = T0 + tick
        bodies = []
        for token in TOKENS:
            batches = []
            for h in range(hosts):
                if rnd.random() < 0.15:
                    continue  # a quiet series this tick
                host = "h" + "x" * (h % 4) + str(h)  # several tag lengths: several layouts
                t = (T0 + tick) * SECOND + rnd.randrange(SECOND)
                if tick % late_every == 3 and h % 3 == 0:
                    t -= 9 * SECOND  # late or into an older, still open window
                if h % 5 == 0 and tick % 4 == 0:
                    t = (T0 + tick) * SECOND  # exactly on a boundary for W dividing a second multiple
                counter[h] += rnd.choice([1.0, 2.5, -0.5, 0.0]) if h % 2 else rnd.uniform(-5, 100)
                kind = rnd.choice(value_kinds)
                value = counter[h] if kind == "f" else int(counter[h]) if kind == "i" else str(int(counter[h]))
                p = forked("nginx", "latency", value, t, {"host": host, "service": "web"},
                           extra_fields=extra(h, tick) if extra else None)
                batches.append(batch_for(p, algos, ("host", "service")))
            rnd.shuffle(batches)
            if batches:
                bodies.append((token, body_for(batches)))
        out.append((now, bodies))
    return out


@pytest.mark.parametrize("window_s", [pytest.param(1, id="w1"), pytest.param(10, id="w10"),
                                      pytest.param(7, id="w7")])
def test_every_algorithm_matches_reference(window_s):
    same_results(series_bodies(every_algorithm(window_s)), f"window {window_s}")  # histogram keeps it slow
    no_histogram = {k: v for k, v in every_algorithm(window_s).items() if v["method"] != "histogram"}
    same_results(series_bodies(no_histogram, seed=2), f"window {window_s}")


@pytest.mark.parametrize("method", ["sum", "avg", "count", "min", "max", "first", "last", "stdev", "quantiles",
                                    "count_distinct", "delta", "rate", "increase", "rollup"])
def test_single_algorithm_takes_the_fast_path(method):
    algos = {"out": algo(method, "latency", window_s=10, percentiles=[0.5, 0.99] if method == "quantiles" else None)}
    bodies = series_bodies(algos, late_every=1000)
    slow_calls = same_results(bodies, method)
    batches = sum(body.count(b"latency") // 2 for _, bs in bodies for _, body in bs)  # key in options and point
    assert slow_calls < batches / 4, (slow_calls, batches)  # first sights and the first batch after a flush


def test_mixed_value_kinds_and_skipped_algorithms():
    algos = {"s": algo("sum", "latency"), "c": algo("count", "latency"), "missing": algo("sum", "nope"),
             "tagged": algo("count_distinct", "host"), "from_tag": algo("max", "service")}
    same_results(series_bodies(algos, value_kinds=("f", "f", "i", "s")), "mixed")


def test_extra_fields_and_changing_options():
    extra = lambda h, tick: {"bytes": float(tick)} if h % 3 == 1 else None  # noqa: E731 - a non-tag after the metric
    same_results(series_bodies({"s": algo("sum", "latency"), "b": algo("sum", "bytes")}, extra=extra), "extra")
    # the same series under two rules (options differ, series key the same): separate calculators
    a = series_bodies({"s": algo("sum", "latency", add_tags={"r": "1"})}, seed=3)
    b = series_bodies({"s": algo("sum", "latency", add_tags={"r": "2"})}, seed=3)
    same_results([(now, x + y) for (now, x), (_, y) in zip(a, b)], "two rules")


def test_templates_refuse_bytes_that_differ_outside_value_and_time():
    algos = {"s": algo("sum", "latency", window_s=60)}
    p = forked("nginx", "latency", 1.5, T0 * SECOND, {"host": "h1"})
    base = batch_for(p, algos).SerializeToString()
    cache, ref = WindowCache(5), WindowCache(5, fast_path=False)
    frame = lambda raw: b"\x0a" + bytes([len(raw)]) + raw  # noqa: E731 - one batch, < 128 bytes
    bodies = [frame(base), frame(base)]
    # the tag value changed at the same length; a time varint one byte shorter (1970); a pick key added
    bodies.append(frame(base.replace(b"h1", b"h2")))
    early = batch_for(forked("nginx", "latency", 2.0, 5 * SECOND, {"host": "h1"}), algos).SerializeToString()
    bodies.append(frame(early))
    p2 = forked("nginx", "latency", 3.0, T0 * SECOND + 7, {"host": "h1"})
    bodies.append(frame(batch_for(p2, algos).SerializeToString() + b"\x30\x05"))
    bodies.append(frame(base[:-1] + bytes([base[-1] ^ 0x01])))  # another pick key
    for body in bodies:
        try:
            want = ref.feed(TOKENS[0], body, T0 - 100)
        except InvalidBatch:
            with pytest.raises(InvalidBatch):
                cache.feed(TOKENS[0], body, T0 - 100)
            continue
        assert cache.feed(TOKENS[0], body, T0 - 100) == want
    assert flush(cache, T0 + 3600) == flush(ref, T0 + 3600)


def test_invalid_body_changes_nothing_even_after_templated_batches():
    algos = {"s": algo("sum", "latency", window_s=60)}
    good = [batch_for(forked("nginx", "latency", float(i), T0 * SECOND + i, {"host": f"h{i}"}), algos)
            for i in range(5)]
    cache = WindowCache(5)
    cache.feed(TOKENS[0], body_for(good), T0)
    cache.feed(TOKENS[0], body_for(good), T0)  # templates learned, then used
    before = canon(p for w in cache.open_windows() for p in cache.window_points(w))
    bad = body_for(good) + b"\x0a\x03\x08\xff"  # a batch whose routing key varint is cut short
    with pytest.raises(InvalidBatch):
        cache.feed(TOKENS[0], bad, T0)
    assert canon(p for w in cache.open_windows() for p in cache.window_points(w)) == before
