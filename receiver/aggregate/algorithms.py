"""Calculators: the per-window state of one algorithm over one series (spec/aggregate.md §5).

A calculator is created from the first sample of its series in a window and then fed
the later ones with `add(value, time_ns)`; `fields()` gives its output. State lives in
`__slots__` (no per-object dict): a window holds one calculator per active series, so
memory per calculator is what bounds the number of series (the benchmark measures it).

Common slots: `spec` (the AlgoSpec of the first arrival: output name, add_tags, options),
`tags` (the first point's tag fields, kept as raw protobuf bytes and decoded only at
output), `n` (samples merged) and `t` (the output time, the largest input time unless
the method says otherwise). Numeric methods receive floats (int64 inputs converted);
`count`, `count_distinct` receive the raw value.

Beyond Dataway's list:

* `delta`: last - first value by time; `rate`: delta / (last time - first time) in
  seconds, no point when the span is zero;
* `increase` (alias `sum2`): the counter-reset-aware increase; a value below the
  previous one is a reset and counts from zero. Samples must arrive in time order for a
  series: one older than (or as old as) the latest seen adds to `K_count` only;
* `rollup`: K_sum, K_count, K_min, K_max, K_first, K_first_ts (int ns), K_last (value at
  the largest time) and K_increase (reset-aware, as `increase`), so a rules engine can
  derive coarser resolutions from one window series.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = [
    "METHODS", "ALIASES", "canonical_method", "Calculator",
    "SumCalc", "AvgCalc", "CountCalc", "MinCalc", "MaxCalc", "FirstCalc", "LastCalc", "StdevCalc",
    "DeltaCalc", "RateCalc", "IncreaseCalc", "RollupCalc",
]

Fields = dict[str, Any]


class Calculator:
    """Base of every calculator; subclasses set `__slots__`, `add`, `fields`."""

    __slots__ = ("spec", "tags", "n", "t")
    numeric = True  # receives floats only (non-numeric inputs are skipped before add)
    method = ""

    def fields(self) -> list[tuple[Fields, int, dict[str, str] | None]] | None:
        """Output as (fields, time_ns, extra tags applied before the calculator's) tuples."""
        raise NotImplementedError


class SumCalc(Calculator):
    __slots__ = ("v",)
    method = "sum"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t
        self.v = v

    def add(self, v, t):
        self.n += 1
        self.v += v
        if t > self.t:
            self.t = t

    def fields(self):
        k = self.spec.output
        return [({k: self.v, k + "_count": self.n}, self.t, None)]


class AvgCalc(SumCalc):
    __slots__ = ()
    method = "avg"

    def fields(self):
        k = self.spec.output
        return [({k: self.v / self.n, k + "_count": self.n}, self.t, None)]


class CountCalc(Calculator):
    __slots__ = ()
    numeric = False
    method = "count"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t

    def add(self, v, t):
        self.n += 1
        if t > self.t:
            self.t = t

    def fields(self):
        k = self.spec.output
        return [({k: self.n, k + "_count": self.n}, self.t, None)]


class MinCalc(SumCalc):
    __slots__ = ()
    method = "min"

    def add(self, v, t):
        self.n += 1
        if v < self.v:
            self.v = v
        if t > self.t:
            self.t = t


class MaxCalc(SumCalc):
    __slots__ = ()
    method = "max"

    def add(self, v, t):
        self.n += 1
        if v > self.v:
            self.v = v
        if t > self.t:
            self.t = t


class FirstCalc(SumCalc):
    """Value with the smallest time; `t` is that time. Equal times keep the earlier arrival."""

    __slots__ = ()
    method = "first"

    def add(self, v, t):
        self.n += 1
        if t < self.t:
            self.t = t
            self.v = v


class LastCalc(SumCalc):
    """Value with the largest time; `t` is that time. Equal times keep the earlier arrival."""

    __slots__ = ()
    method = "last"

    def add(self, v, t):
        self.n += 1
        if t > self.t:
            self.t = t
            self.v = v


class StdevCalc(Calculator):
    """Sample standard deviation; each add is a Chan merge with a one-sample side (n_b = 1)."""

    __slots__ = ("mean", "m2")
    method = "stdev"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t
        self.mean = v
        self.m2 = 0.0

    def add(self, v, t):
        na = self.n
        n = na + 1
        delta = v - self.mean
        self.mean += delta * 1.0 / n
        self.m2 += delta * delta * na * 1.0 / n
        self.n = n
        if t > self.t:
            self.t = t

    def fields(self):
        if self.n < 2:
            return None
        k = self.spec.output
        return [({k: (self.m2 / (self.n - 1)) ** 0.5, k + "_count": self.n}, self.t, None)]


class DeltaCalc(Calculator):
    """Last minus first value by time; `t`/`v` is the latest sample, `ft`/`fv` the earliest."""

    __slots__ = ("v", "ft", "fv")
    method = "delta"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = self.ft = t
        self.v = self.fv = v

    def add(self, v, t):
        self.n += 1
        if t > self.t:
            self.t = t
            self.v = v
        elif t < self.ft:
            self.ft = t
            self.fv = v

    def fields(self):
        k = self.spec.output
        return [({k: float(self.v - self.fv), k + "_count": self.n}, self.t, None)]


class RateCalc(DeltaCalc):
    """Delta per second over the observed span (last time - first time); no point for a zero span."""

    __slots__ = ()
    method = "rate"

    def fields(self):
        span = self.t - self.ft
        if span <= 0:
            return None
        k = self.spec.output
        return [({k: (self.v - self.fv) * 1e9 / span, k + "_count": self.n}, self.t, None)]


class IncreaseCalc(Calculator):
    """Counter-reset-aware increase over in-order samples; `v` is the latest counter value."""

    __slots__ = ("v", "inc")
    method = "increase"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t
        self.v = v
        self.inc = 0.0

    def add(self, v, t):
        self.n += 1
        if t > self.t:
            prev = self.v
            self.inc += v - prev if v >= prev else v
            self.t = t
            self.v = v

    def fields(self):
        k = self.spec.output
        return [({k: self.inc, k + "_count": self.n}, self.t, None)]


class RollupCalc(Calculator):
    """Everything a coarser resolution needs: sum, count, min, max, first (+ts), last, increase.

    `K_last` is the counter value accounting for resets: the value the in-order chain of
    samples started from plus its reset-aware increase, so a counter that reset inside the
    window still reads as monotonic (with no reset it is the plain last value).
    """

    __slots__ = ("v", "ft", "fv", "cv", "s", "mn", "mx", "inc")
    method = "rollup"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = self.ft = t
        self.v = self.fv = self.cv = self.s = self.mn = self.mx = v
        self.inc = 0.0

    def add(self, v, t):
        self.n += 1
        self.s += v
        if v < self.mn:
            self.mn = v
        if v > self.mx:
            self.mx = v
        if t > self.t:
            prev = self.v
            self.inc += v - prev if v >= prev else v
            self.t = t
            self.v = v
        elif t < self.ft:
            self.ft = t
            self.fv = v

    def fields(self):
        k = self.spec.output
        return [({
            k + "_sum": float(self.s), k + "_count": self.n, k + "_min": float(self.mn),
            k + "_max": float(self.mx), k + "_first": float(self.fv), k + "_first_ts": self.ft,
            k + "_last": float(self.cv + self.inc), k + "_increase": float(self.inc),
        }, self.t, None)]


def _registry() -> dict[str, Callable[..., Calculator]]:
    from receiver.aggregate.sketches import CountDistinctCalc, HistogramCalc, QuantilesCalc

    classes = [SumCalc, AvgCalc, CountCalc, MinCalc, MaxCalc, FirstCalc, LastCalc, StdevCalc,
               QuantilesCalc, CountDistinctCalc, HistogramCalc, DeltaCalc, RateCalc, IncreaseCalc, RollupCalc]
    return {cls.method: cls for cls in classes}


METHODS: dict[str, Callable[..., Calculator]] = {}
ALIASES = {"merge_histogram": "histogram", "sum2": "increase"}


def canonical_method(method: str) -> str | None:
    """The canonical lower-case method for a wire method string, or None when unknown."""
    if not METHODS:
        METHODS.update(_registry())
    name = method.strip().lower()
    name = ALIASES.get(name, name)
    return name if name in METHODS else None
