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
import zlib

import pytest

from aggr_wire import SECOND, algo, batch_for, body_for, every_algorithm, forked
from offload.codec._pbwire import enc_varint
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


def counted(cache, name):
    """Wrap a WindowCache method to count its calls; returns the counter list."""
    calls = [0]
    original = getattr(cache, name)

    def wrapper(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    setattr(cache, name, wrapper)
    return calls


def test_new_series_are_read_with_a_known_layout():
    # 300 series whose batches have the same length: only the first is read the careful way
    algos = {k: v for k, v in every_algorithm(10).items() if v["method"] != "histogram"}
    fast, slow = WindowCache(5), WindowCache(5, fast_path=False)
    slow_calls, new_calls = counted(fast, "_add_slow"), counted(fast, "_add_new")
    for tick in range(3):
        batches = [batch_for(forked("nginx", "latency", float(h * tick), (T0 + tick) * SECOND + h,
                                    {"host": f"h{h:03d}", "service": "web"}), algos, ("host", "service"))
                   for h in range(300)]
        body = body_for(batches)
        assert fast.feed(TOKENS[0], body, T0) == slow.feed(TOKENS[0], body, T0)
    assert flush(fast, T0 + 3600) == flush(slow, T0 + 3600)
    small = sum(b.routing_key < 1 << 56 for b in batches)  # 1 in 128: never templated, read carefully
    # beyond those, once per layout: 9- or 10-byte routing key, pick key lengths
    assert slow_calls[0] <= 4 + 3 * small, (slow_calls, small)
    assert new_calls[0] >= 290, new_calls


def _raw(p, algos, group_by=("host",), config_hash=1, rk=None):
    b = batch_for(p, algos, group_by, config_hash)
    b.routing_key = rk if rk is not None else 1 << 63 | zlib.crc32(p.tags["host"].encode()) & 0xFFFF  # 10 bytes
    b.pick_key = 7
    return b.SerializeToString()


def _feed_both(raws_by_now, skip=None):
    """Feed each (now, [raw batches]) as one body to a templated and a reference cache."""
    fast, ref = WindowCache(5), WindowCache(5, fast_path=False)
    new_calls = counted(fast, "_add_new")
    for now, raws in raws_by_now:
        body = b"".join(b"\x0a" + enc_varint(len(r)) + r for r in raws)
        assert fast.feed(TOKENS[0], body, now, skip) == ref.feed(TOKENS[0], body, now, skip)
        assert flush(fast, now) == flush(ref, now)
    assert flush(fast, T0 + 3600) == flush(ref, T0 + 3600)
    return new_calls[0]


def test_known_layouts_refuse_what_differs_at_the_same_length():
    algos = {"s": algo("sum", "latency", window_s=60)}
    t = T0 * SECOND
    base = _raw(forked("nginx", "latency", 1.5, t, {"host": "h1", "service": "web"}), algos)
    # a non-tag string field where a tag was, the same length (0a 07 service 12 03 web 40 01 = 16 bytes)
    untagged = batch_for(forked("nginx", "latency", 2.5, t, {"host": "h2"}), algos)
    untagged.points.arr[0].fields.add(key="service", s="webxx")
    untagged.routing_key, untagged.pick_key = 1 << 63 | 2, 7
    untagged = untagged.SerializeToString()
    # is_tag before the value: still a canonical tag for the careful path
    swapped = batch_for(forked("nginx", "latency", 3.5, t, {"host": "h3"}), algos)
    f = swapped.points.arr[0].fields.add(key="service", is_tag=True)
    f.s = "web"
    swapped.routing_key, swapped.pick_key = 1 << 63 | 3, 7
    swapped = swapped.SerializeToString()
    # another rule (config hash, options) at the same length
    other_hash = _raw(forked("nginx", "latency", 4.5, t, {"host": "h4", "service": "web"}), algos, config_hash=2)
    other_method = _raw(forked("nginx", "latency", 5.5, t, {"host": "h5", "service": "web"}),
                        {"s": algo("max", "latency", window_s=60)})
    # routing keys of 9 bytes and of 8 bytes, tags one or two bytes longer to keep the length
    rk9 = _raw(forked("nginx", "latency", 6.5, t, {"host": "h66", "service": "web"}), algos, rk=1 << 60)
    rk8 = _raw(forked("nginx", "latency", 7.5, t, {"host": "h777", "service": "web"}), algos, rk=1 << 50)
    # another measurement name of the same length, a float field that is not the source
    other_name = _raw(forked("apach", "latency", 8.5, t, {"host": "h8", "service": "web"}), algos)
    other_field = _raw(forked("nginx", "latencz", 9.5, t, {"host": "h9", "service": "web"}), algos)
    raws = [base, untagged, swapped, other_hash, other_method, rk9, rk8, other_name, other_field]
    assert len({len(r) for r in raws if r is not rk9 and r is not rk8}) == 1, [len(r) for r in raws]
    # a 1-byte routing key then a pick key filling the 11 bytes a 10-byte key takes (its last
    # byte 01 too), and the same series (key 5) in its usual layout: one calculator for both
    assert base[10] == 0x01
    disguised = b"\x08\x05\x30" + b"\x81" * 7 + b"\x01" + base[11:]
    usual = _raw(forked("nginx", "latency", 0.5, t, {"host": "h1", "service": "web"}), algos, rk=5)
    raws += [disguised, usual]
    _feed_both([(T0 - 100, raws), (T0 - 100, raws[::-1])])
    # each of them first, then the rest: every layout gets to be the known one
    for i in range(len(raws)):
        _feed_both([(T0 - 100, [raws[i]] + raws[:i] + raws[i + 1:])])


def test_known_layouts_and_skipped_algorithms():
    # `c` reads a tag that the first series lacks (skipped) and the second has (fed from a tag)
    algos = {"s": algo("sum", "latency", window_s=60), "c": algo("count", "env", window_s=60),
             "m": algo("max", "enz", window_s=60)}
    t = T0 * SECOND
    a = _raw(forked("nginx", "latency", 1.0, t, {"host": "h1", "enz": "prod"}), algos)
    b = _raw(forked("nginx", "latency", 2.0, t, {"host": "h2", "env": "prod"}), algos)
    c = _raw(forked("nginx", "latency", 3.0, t, {"host": "h3", "enz": "prod"}), algos)
    assert len(a) == len(b) == len(c)
    _feed_both([(T0 - 100, [a, b, c, b, a])])
    _feed_both([(T0 - 100, [b, a, c]), (T0 - 100, [c, b, a])])


def test_known_layouts_with_late_data_and_replay_skips():
    algos = {"s": algo("sum", "latency", window_s=10), "n": algo("count", "latency", window_s=20)}

    def raw(h, t_s):
        return _raw(forked("nginx", "latency", float(h), t_s * SECOND + h, {"host": f"h{h}"}), algos)

    late = [raw(1, T0), raw(2, T0 - 60), raw(3, T0), raw(4, T0 - 15), raw(5, T0 - 15), raw(2, T0)]
    assert _feed_both([(T0 - 5, late), (T0, late)]) > 0
    skipped_key = (T0 // 10 * 10 + 10) + 5  # the 10 s window of T0 (tolerance 5)
    assert _feed_both([(T0 - 30, late)], skip=lambda bk, token: bk == skipped_key) > 0
