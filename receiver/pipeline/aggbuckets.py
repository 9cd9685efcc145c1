"""Script-side aggregation buckets: the state behind `agg_create()` and `agg_metric()`.

A script run does not touch the buckets: the two built-ins record operations (`AggOp`
tuples) which `run_batch` hands back with the batch (`BatchResult.agg`). The process
that owns the buckets applies them in order: the receiver daemon (one set of buckets per
node, as DataKit has one per DataKit, whichever worker ran the script), the agent for
what it processes locally, the `pipeline run` command for its input. So a bucket sees
every point of the node, not one worker's share, and emits whole aggregates.

A bucket is (workspace token, category, name): different workspaces never share one
(DataKit serves one workspace; a receiver serves several). It is created by the first
`agg_create` of its name (later calls change nothing), collects `agg_metric` values
per group (the names of the `agg_by` keys) and per timeline (their values), and emits
one point per timeline, named after the bucket, tagged with the const tags and the
group's keys, one float field per `new_field`, timestamped at emission:

* every `on_interval` (a daemon tick checks once a second), when it holds values;
* after `on_count` accepted values, when `on_count` > 0;
* when the owner stops (DataKit does so when its pipeline stops).

Without `keep_value` a bucket starts empty after each emission; with it, the values
stay and are emitted again. The aggregation functions are `avg`, `sum`, `min`, `max`
and `set` (the last value); values are read as DataKit casts them to float (numbers,
booleans as 1/0, numeric strings; anything else is 0). Unlike DataKit, `min` and `max`
are the true minimum and maximum (DataKit's `min` keeps the last value and its `max`
starts from 0, so all-negative values give 0). Buckets live in memory: open ones are
lost on a crash, as in DataKit.
"""

from __future__ import annotations

import time
from typing import Any

from offload.point import Point

__all__ = ["AGG_FUNCTIONS", "AggBuckets", "Bucket", "to_float"]

AGG_FUNCTIONS = ("avg", "sum", "min", "max", "set")
MAX_TIMELINES = 100_000  # per bucket: past it, new timelines are not started (counted in `refused`)


def to_float(v: Any) -> float:
    """A value as DataKit's cast.ToFloat64 reads it (0 when it cannot)."""
    t = type(v)
    if t is float or t is int:
        return float(v)
    if t is bool:
        return 1.0 if v else 0.0
    if t is str:
        try:
            return float(v.strip())
        except ValueError:
            return 0.0
    return 0.0


class _Agg:
    __slots__ = ("fn", "n", "v")

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self.n = 0
        self.v = 0.0

    def add(self, x: float) -> None:
        fn = self.fn
        if self.n == 0 or fn == "set":
            self.v = x
        elif fn == "sum" or fn == "avg":
            self.v += x
        elif fn == "min":
            if x < self.v:
                self.v = x
        elif x > self.v:  # max
            self.v = x
        self.n += 1

    def value(self) -> float:
        return self.v / self.n if self.fn == "avg" and self.n else self.v


class Bucket:
    """One bucket's settings and its timelines: (group key names, their values) -> {field: _Agg}."""

    __slots__ = ("token", "category", "name", "interval_ns", "count", "keep_value", "const_tags", "timelines",
                 "seen", "next_due", "refused")

    def __init__(self, token: str | None, category: str, name: str, interval_ns: int, count: int, keep_value: bool,
                 const_tags: dict[str, str], now_ns: int) -> None:
        self.token = token
        self.category = category
        self.name = name
        self.interval_ns = interval_ns
        self.count = count
        self.keep_value = keep_value
        self.const_tags = const_tags
        self.timelines: dict[tuple, dict[str, _Agg]] = {}
        self.seen = 0  # values since the last emission (on_count)
        self.next_due = now_ns + interval_ns if interval_ns > 0 else 0
        self.refused = 0

    def add(self, field: str, fn: str, names: tuple, values: tuple, x: float) -> bool:
        key = (names, values)
        tl = self.timelines.get(key)
        if tl is None:
            if len(self.timelines) >= MAX_TIMELINES:
                self.refused += 1
                return False
            tl = self.timelines[key] = {}
        agg = tl.get(field)
        if agg is None:
            agg = tl[field] = _Agg(fn)
        agg.add(x)
        return True

    def emit(self, now_ns: int) -> list[Point]:
        """The points of every timeline; empties the bucket unless keep_value."""
        out = []
        for (names, values), fields in self.timelines.items():
            tags = dict(self.const_tags)
            tags.update(zip(names, values))
            out.append(Point(self.name, tags, {f: a.value() for f, a in fields.items()}, now_ns))
        if not self.keep_value:
            self.timelines = {}
        self.seen = 0
        return out


class AggBuckets:
    """Every bucket of one owner; `apply` the operations of a batch, `due` on a tick, `flush_all` at the end."""

    def __init__(self, clock=time.time_ns) -> None:
        self.buckets: dict[tuple, Bucket] = {}
        self.clock = clock

    def apply(self, ops: list[tuple], token: str | None) -> list[tuple[Bucket, list[Point]]]:
        """Apply a batch's operations in order; returns what buckets that reached `on_count` emit."""
        out = []
        now = self.clock()
        for op in ops:
            if op[0] == "c":
                _, category, name, interval_ns, count, keep, const_tags = op
                key = (token, category, name)
                if key not in self.buckets:
                    self.buckets[key] = Bucket(token, category, name, interval_ns, count, keep, const_tags, now)
            else:
                _, category, name, field, fn, names, values, x = op
                b = self.buckets.get((token, category, name))
                if b is None or fn not in AGG_FUNCTIONS:
                    continue  # DataKit: no bucket or an unknown function -> nothing
                if b.add(field, fn, names, values, x) and b.count > 0:
                    b.seen += 1
                    if b.seen >= b.count:
                        out.append((b, b.emit(now)))
        return out

    def due(self) -> list[tuple[Bucket, list[Point]]]:
        """What the buckets whose interval ended emit now (nothing for an empty bucket)."""
        now = self.clock()
        out = []
        for b in self.buckets.values():
            if b.next_due and now >= b.next_due:
                b.next_due = now + b.interval_ns
                if b.timelines:
                    out.append((b, b.emit(now)))
        return out

    def flush_all(self) -> list[tuple[Bucket, list[Point]]]:
        now = self.clock()
        return [(b, b.emit(now)) for b in self.buckets.values() if b.timelines]
