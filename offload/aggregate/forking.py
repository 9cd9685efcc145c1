"""One rule at run time: select points, fork one point per metric field, build `AggregationBatch`es.

This is the agent's hot path (spec/aggregate.md §2). For each input point of the
rule's category: measurement whitelist, tag matchers and condition must pass; then
every field the rule selects becomes a forked point (the field, then the group-by
keys in sorted order, tags before fields) and one `AggregationBatch` carrying that
point, its routing and pick keys (§3, computed with `offload.aggregate.hashing`), the
file's config hash and the rule's algorithms. Batches collect per pick key in a
pending `Batchs` until the engine takes them.

Algorithms with the `delta` transform (increase, sum2) get their own batch whose
sample is the counter's reset-aware increase since the previous sample of the same
raw series (same measurement, field and full tag set): `v - prev` if `v >= prev`,
else `v` (the counter restarted from zero). The first sample of a series is its
baseline and contributes 0; a sample not newer than the previous one is ignored.
That state lives in the runner, so it survives a reload of an unchanged rule but
not a restart (the first sample after a restart is a new baseline).

Everything that can be decided once is: whitelist and series-name verdicts are
cached per name, the hashes of names and keys are cached, and the constant part of
every batch (config hash + algorithms) is serialized once and merged in.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

from offload._proto.aggregate import aggrbatch_pb2 as apb
from offload._proto.point import point_pb2 as ppb
from offload.aggregate import hashing
from offload.aggregate.condition import compile_condition, compile_re2
from offload.aggregate.guard import CardinalityGuard
from offload.aggregate.rules import Algorithm, LabelMatcher, Rule
from offload.point import Point

__all__ = ["RuleRunner", "algorithm_message", "label_predicate"]

log = logging.getLogger("offload.aggregate.forking")

_SEED1 = getattr(hashing, "SEED1", 0x9E3779B97F4A7C15)
_CACHE_MAX = 100_000  # entries per verdict/hash cache before it is cleared
_MISSING = object()


def algorithm_message(a: Algorithm) -> apb.AggregationAlgo:
    """The wire form of one algorithm (spec wire.md §f)."""
    msg = apb.AggregationAlgo(method=a.method, source_field=a.source_field, window=a.window)
    if a.add_tags:
        msg.add_tags.update(dict(a.add_tags))
    # `options` is a oneof: the method decides which options matter
    if a.percentiles is not None and (a.method == "quantiles" or a.histogram_buckets is None):
        msg.quantile_opts.percentiles.extend(a.percentiles)
    elif a.histogram_buckets is not None:
        msg.histogram_opts.buckets.extend(a.histogram_buckets)
    elif a.expo_opts is not None:
        msg.expo_opts.max_scale, msg.expo_opts.max_buckets, msg.expo_opts.record_min_max = a.expo_opts
    return msg


def _whitelist(entries: tuple[str, ...]) -> Callable[[str], bool]:
    exact = frozenset(e for e in entries if not e.startswith("reg:"))
    regs = tuple(compile_re2(e[4:]) for e in entries if e.startswith("reg:"))
    if not regs:
        return exact.__contains__
    return lambda name: name in exact or any(r.search(name) is not None for r in regs)


def _value_test(m: LabelMatcher) -> Callable[[str | None], bool]:
    """value (None = tag absent) -> passes?"""
    op = m.op
    if op in ("=", "!="):
        want = m.values[0]
        if op == "=":
            return lambda v: (v or "") == want
        return lambda v: (v or "") != want
    if op in ("=~", "!~"):
        r = compile_re2(f"^(?:{m.values[0]})$")
        if op == "=~":
            return lambda v: r.search(v or "") is not None
        return lambda v: r.search(v or "") is None
    if op == "absent":
        return lambda v: not v
    member = _whitelist(m.values)
    if op == "in":
        return lambda v: v is not None and member(v)
    return lambda v: v is None or not member(v)  # not_in


def label_predicate(matchers: tuple[LabelMatcher, ...]) -> Callable[[dict], bool] | None:
    """tags -> all matchers pass; None when there are no matchers."""
    if not matchers:
        return None
    tests = tuple((m.label, _value_test(m)) for m in matchers)

    def pred(tags: dict) -> bool:
        for label, test in tests:
            if not test(tags.get(label)):
                return False
        return True

    return pred


def _series_name_predicate(matchers: tuple[LabelMatcher, ...]) -> Callable[[str], bool]:
    tests = tuple(_value_test(m) for m in matchers)
    return lambda name: all(t(name) for t in tests)


def _measurement_candidates(matchers: tuple[LabelMatcher, ...]) -> frozenset[str] | None:
    # an exact metric name `a_b_c` can only come from measurement `a` or `a_b`
    for m in matchers:
        if m.op == "=":
            name = m.values[0]
            return frozenset(name[:i] for i, c in enumerate(name) if c == "_" and 0 < i < len(name) - 1)
    return None


class RuleRunner:
    """The run-time state of one rule: compiled selection, guard, counter baselines, pending Batchs."""

    def __init__(self, rule: Rule, config_hash: int, guard: CardinalityGuard) -> None:
        self.rule = rule
        self.guard = guard
        sel = rule.selector
        self._measurement_ok = _whitelist(sel.measurements) if sel.measurements else None
        self._candidates = _measurement_candidates(sel.series_name)
        self._field_ok = _whitelist(sel.metric_names)
        self._series_ok = _series_name_predicate(sel.series_name) if sel.series_name else None
        self._labels_ok = label_predicate(sel.matchers)
        self._condition = compile_condition(sel.condition) if sel.condition else None
        self._group = rule.group_by
        self._without = frozenset(rule.group_without) if rule.group_without is not None else None
        self._rename = rule.rename_field
        self._mcache: dict[str, bool] = {}
        self._fcache: dict[tuple[str, str], bool] = {}
        self._hcache: dict[str, int] = {}
        self._pcache: dict[tuple, int] = {}
        self._scache: dict[tuple, tuple[str, ...]] = {}
        self._gcache: dict[tuple, tuple[list[ppb.Field], int, int]] = {}
        self._last: dict[tuple, tuple[int, float, int]] = {}  # delta baselines: (time, value, hour)
        self.pending: dict[int, apb.Batchs] = {}
        self.pending_batches = 0
        self.forked = 0
        self._swept_hour = -1
        self.rebind(config_hash)

    def rebind(self, config_hash: int) -> None:
        """Use a new file-wide config hash (the rule itself is unchanged; its state stays)."""
        self.config_hash = config_hash
        raw = [a for a in self.rule.algorithms if a.transform == "raw"]
        delta = [a for a in self.rule.algorithms if a.transform == "delta"]
        self._raw_tmpl = self._template(raw) if raw else None
        self._delta_tmpl = self._template(delta) if delta else None

    def _template(self, algorithms: list[Algorithm]) -> bytes:
        msg = apb.AggregationBatch(config_hash=self.config_hash)
        for a in algorithms:
            msg.aggregation_opts[a.output].CopyFrom(algorithm_message(a))
        return msg.SerializeToString()

    # -- hashing helpers -------------------------------------------------------------------
    def _h(self, s: str) -> int:
        h = self._hcache.get(s)
        if h is None:
            if len(self._hcache) > _CACHE_MAX:
                self._hcache.clear()
            h = self._hcache[s] = hashing.xxh64(s)
        return h

    def _pick(self, name: str, group: tuple[str, ...]) -> int:
        key = (name, group)
        pk = self._pcache.get(key)
        if pk is None:
            if len(self._pcache) > _CACHE_MAX:
                self._pcache.clear()
            pk = self._pcache[key] = hashing.pick_key(name, group)
        return pk

    # -- selection -------------------------------------------------------------------------
    def _measurement(self, name: str) -> bool:
        ok = self._mcache.get(name)
        if ok is None:
            if len(self._mcache) > _CACHE_MAX:
                self._mcache.clear()
            ok = True
            if self._measurement_ok is not None:
                ok = self._measurement_ok(name)
            if ok and self._candidates is not None:
                ok = name in self._candidates
            self._mcache[name] = ok
        return ok

    def _field(self, name: str, key: str) -> bool:
        ck = (name, key)
        ok = self._fcache.get(ck)
        if ok is None:
            if len(self._fcache) > _CACHE_MAX:
                self._fcache.clear()
            if self._series_ok is not None:
                ok = self._series_ok(f"{name}_{key}")
            else:
                ok = self._field_ok(key)
            self._fcache[ck] = ok
        return ok

    # -- the hot loop ----------------------------------------------------------------------
    def feed(self, points: Iterable[Point], hour: int) -> None:
        """Select, fork and queue; `hour` is the current clock hour for the guard."""
        guard = self.guard
        guard.roll(hour)
        if hour != self._swept_hour:
            if self._swept_hour >= 0:
                self._sweep(hour)
            self._swept_hour = hour
        combine = hashing.combine
        h = self._h
        labels_ok, condition = self._labels_ok, self._condition
        raw_tmpl, delta_tmpl = self._raw_tmpl, self._delta_tmpl
        rename = self._rename
        for p in points:
            name = p.name
            if not self._measurement(name):
                continue
            tags = p.tags
            if labels_ok is not None and not labels_ok(tags):
                continue
            if condition is not None and not condition(p):
                continue
            fields = p.fields
            selected = self._selected(name, fields)
            if not selected:
                continue
            group_fields, rk0, pick = self._group_of(p)
            for key in selected:
                v = fields[key]
                fork_key = rename or key
                first = _typed_field(fork_key, v) if raw_tmpl is not None else None
                if first is None and delta_tmpl is None:
                    continue  # arrays, maps, nil: nothing to fork (spec §2)
                routing = combine(rk0, h(fork_key))
                if not guard.admit(routing):
                    continue
                self.forked += 1
                if first is not None:
                    self._queue(raw_tmpl, routing, pick, name, p.time, first, group_fields)
                if delta_tmpl is not None:
                    delta = self._delta(p, key, v, hour)
                    if delta is not None:
                        self._queue(delta_tmpl, routing, pick, name, p.time, ppb.Field(key=fork_key, f=delta),
                                    group_fields)

    def selects(self, p: Point) -> bool:
        """True if this rule consumes `p` (forks at least one of its fields)."""
        if not self._measurement(p.name):
            return False
        if self._labels_ok is not None and not self._labels_ok(p.tags):
            return False
        if self._condition is not None and not self._condition(p):
            return False
        return bool(self._selected(p.name, p.fields))

    def _selected(self, name: str, fields: dict) -> tuple[str, ...]:
        """The field keys this rule forks from a point (cached per measurement and key set)."""
        ck = (name, tuple(fields))
        sel = self._scache.get(ck)
        if sel is None:
            if len(self._scache) > _CACHE_MAX:
                self._scache.clear()
            sel = self._scache[ck] = tuple(k for k in ck[1] if self._field(name, k))
        return sel

    def _group_of(self, p: Point) -> tuple[list[ppb.Field], int, int]:
        """(the group's forked Fields, routing-key prefix before the metric field, pick key)."""
        tags = p.tags
        if self._without is not None:
            ck: tuple = (p.name, tuple(tags.items()))
        else:
            vals = tuple(map(tags.get, self._group))
            # only groups fully resolved from tags are cached: field values vary per point
            ck = (p.name, vals) if all(vals) else None
        if ck is not None:
            hit = self._gcache.get(ck)
            if hit is not None:
                return hit
        out = self._compute_group(p)
        if ck is not None:
            if len(self._gcache) > _CACHE_MAX:
                self._gcache.clear()
            self._gcache[ck] = out
        return out

    def _compute_group(self, p: Point) -> tuple[list[ppb.Field], int, int]:
        combine, h = hashing.combine, self._h
        tags, fields = p.tags, p.fields
        if self._without is not None:
            group = tuple(sorted(k for k in tags if k not in self._without))
        else:
            group = self._group
        out: list[ppb.Field] = []
        rk = combine(_SEED1, h(p.name))
        for k in group:
            tv = tags.get(k)
            if tv:
                out.append(ppb.Field(key=k, s=tv, is_tag=True))
                rk = combine(combine(rk, h(k)), h(tv))
                continue
            fv = fields.get(k, _MISSING)
            if fv is _MISSING or fv is None:
                continue
            f = _typed_field(k, fv, keep_ints=True)
            if f is not None:
                out.append(f)
                if isinstance(fv, str):
                    rk = combine(combine(rk, h(k)), h(fv))
        return out, rk, self._pick(p.name, group)

    def _queue(self, tmpl: bytes, routing: int, pick: int, name: str, time_ns: int, first: ppb.Field,
               group_fields: list[ppb.Field]) -> None:
        batchs = self.pending.get(pick)
        if batchs is None:
            batchs = self.pending[pick] = apb.Batchs(pick_key=pick)
        b = batchs.batchs.add()
        b.MergeFromString(tmpl)
        b.routing_key = routing
        b.pick_key = pick
        pt = b.points.arr.add(name=name, time=time_ns)
        fl = pt.fields
        fl.append(first)
        if group_fields:
            fl.extend(group_fields)
        self.pending_batches += 1

    def _delta(self, p: Point, key: str, v: object, hour: int) -> float | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        v = float(v)
        sk = (p.name, key, frozenset(p.tags.items()))
        prev = self._last.get(sk)
        if prev is None:
            self._last[sk] = (p.time, v, hour)
            return 0.0
        pt, pv, _ = prev
        if p.time <= pt:
            return None  # out of order or duplicate: the baseline already covers it
        self._last[sk] = (p.time, v, hour)
        return v - pv if v >= pv else v

    def _sweep(self, hour: int) -> None:
        # counter baselines of series silent for two hours are forgotten (bounded memory)
        self._last = {k: s for k, s in self._last.items() if s[2] >= hour - 1}

    def take(self) -> list[apb.Batchs]:
        """The pending Batchs (one per pick key), emptied."""
        out = list(self.pending.values())
        self.pending = {}
        self.pending_batches = 0
        return out


def _typed_field(key: str, v: object, keep_ints: bool = False) -> ppb.Field | None:
    """The forked value (spec §2: numbers become floats); group-by fields keep their type."""
    if isinstance(v, bool):
        return ppb.Field(key=key, b=v)
    if isinstance(v, float):
        return ppb.Field(key=key, f=v)
    if isinstance(v, int):
        if keep_ints:
            from offload.point import UInt

            if isinstance(v, UInt):
                return ppb.Field(key=key, u=int(v))
            return ppb.Field(key=key, i=v)
        return ppb.Field(key=key, f=float(v))
    if isinstance(v, str):
        return ppb.Field(key=key, s=v)
    if isinstance(v, bytes):
        return ppb.Field(key=key, d=v)
    return None
