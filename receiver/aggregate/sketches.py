"""The calculators that keep more than a few numbers: quantiles, count_distinct, histogram (spec §5).

* quantiles: a reservoir of the first 8192 values, then deterministic replacement
  (slot `combine(SEED1, c) mod c` for the c-th value when that is < 8192); linear
  interpolation between sorted samples; labels `K_P<q*100 rounded half-even>`.
* count_distinct: the exact set of FNV-1a-64 hashes of the Go `%T:%v` text up to 4096
  distinct, then a 262144-bit linear-counting bitmap.
* histogram: one sum per `le` bucket plus a `K_count` point.
"""

from __future__ import annotations

import math

from offload.aggregate.hashing import SEED1, combine, distinct_hash
from receiver.aggregate.algorithms import Calculator

__all__ = ["QuantilesCalc", "CountDistinctCalc", "HistogramCalc", "quantile_label", "RESERVOIR", "EXACT_LIMIT",
           "BITMAP_BITS"]

RESERVOIR = 8192
EXACT_LIMIT = 4096
BITMAP_BITS = 262144


def quantile_label(q: float) -> str:
    """`P` + q*100 formatted like Go's %.0f (round half to even on the float product)."""
    return "P%.0f" % (q * 100)


def quantile_of(sorted_samples: list[float], q: float) -> float:
    m = len(sorted_samples)
    pos = q * (m - 1)
    i = int(math.floor(pos))
    if i >= m - 1:
        return sorted_samples[-1]
    return sorted_samples[i] + (pos - i) * (sorted_samples[i + 1] - sorted_samples[i])


class QuantilesCalc(Calculator):
    __slots__ = ("samples",)
    method = "quantiles"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t
        self.samples = [v]

    def add(self, v, t):
        c = self.n + 1
        self.n = c
        samples = self.samples
        if len(samples) < RESERVOIR:
            samples.append(v)
        else:
            j = combine(SEED1, c) % c
            if j < RESERVOIR:
                samples[j] = v
        if t > self.t:
            self.t = t

    def fields(self):
        k = self.spec.output
        out = {k + "_count": self.n}
        ordered = sorted(self.samples)
        for q in self.spec.percentiles:
            out[f"{k}_{quantile_label(q)}"] = float(quantile_of(ordered, q))
        return [(out, self.t, None)]


class CountDistinctCalc(Calculator):
    """`seen` is a set of hashes while exact, then a bytearray bitmap of BITMAP_BITS bits."""

    __slots__ = ("seen",)
    numeric = False
    method = "count_distinct"

    def __init__(self, spec, tags, v, t):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t
        self.seen = {distinct_hash(v)}

    def add(self, v, t):
        self.n += 1
        if t > self.t:
            self.t = t
        h = distinct_hash(v)
        seen = self.seen
        if isinstance(seen, set):
            if h in seen or len(seen) < EXACT_LIMIT:
                seen.add(h)
                return
            bitmap = bytearray(BITMAP_BITS // 8)
            for old in seen:
                bit = old % BITMAP_BITS
                bitmap[bit >> 3] |= 1 << (bit & 7)
            self.seen = seen = bitmap
        bit = h % BITMAP_BITS
        seen[bit >> 3] |= 1 << (bit & 7)

    def distinct(self) -> int:
        seen = self.seen
        if isinstance(seen, set):
            return len(seen)
        zeros = BITMAP_BITS - int.from_bytes(seen, "little").bit_count()
        if zeros == 0:
            return BITMAP_BITS
        est = -BITMAP_BITS * math.log(zeros / BITMAP_BITS)
        return int(math.floor(est + 0.5))  # Go's math.Round: half away from zero (est >= 0)

    def fields(self):
        k = self.spec.output
        d = self.distinct()
        return [({k: d, k + "_count": d}, self.t, None)]


class HistogramCalc(Calculator):
    """Per-`le` sums. The first point names its bucket by an `le` tag or string field; later
    points add to the bucket of their `le` tag only (none: counted, value not added)."""

    __slots__ = ("buckets",)
    method = "histogram"
    wants_le = True

    def __init__(self, spec, tags, v, t, le=""):
        self.spec = spec
        self.tags = tags
        self.n = 1
        self.t = t
        self.buckets = {le: v}

    def add(self, v, t, le=None):
        self.n += 1
        if t > self.t:
            self.t = t
        if le is not None:
            buckets = self.buckets
            buckets[le] = buckets.get(le, 0.0) + v

    def fields(self):
        k = self.spec.output
        out = []
        for le, total in self.buckets.items():
            # an empty le is omitted, as line protocol does (spec §5)
            out.append(({k: float(total)}, self.t, {"le": le} if le else None))
        out.append(({k + "_count": self.n}, self.t, None))
        return out
