"""The window cache: pure logic, fed with (token, Batchs body, now), asked for expired windows at a now.

No sockets, no clock of its own: `now` is Unix seconds given by the caller (tests pass
their own). Rules (spec/aggregate.md §4):

* every (algorithm, point) of a batch gives one sample; its window end is
  `AlignNextWallTime(t, W)` (Unix s, aligned from Go's year 1, which equals the epoch for
  every W dividing a day), so windows are `(end - W, end]`; W <= 0 means one minute;
* bucket key = window end + E (tolerance, whole seconds); inside a bucket each token has
  its own `Window`; inside a window calculators are keyed by (method, output name,
  measurement) and routing key: exactly the inputs of the spec's calculator key
  (`offload.aggregate.hashing.calc_key`), kept as a tuple so no hash collision can merge
  two series. The first arrival creates the calculator (and fixes its tags), later ones
  are added to it;
* late data: with `now` = max(given now, the last `expire` now), a sample whose bucket
  key <= now is dropped and counted (`FeedResult.dropped`): so a window, once handed out
  by `expire`, never receives another sample, and late data never moves to a later
  window;
* `expire(now)` removes and returns every window whose bucket key <= now;
  `window_points(window)` turns one into metric points (WindowsToData).

A body is validated completely (decode, every algorithm known) before any sample is
added: an invalid body changes nothing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

from offload.point import Point
from receiver.aggregate.batch import (
    AlgoSpec, SpecCache, decode_tags, field_value, le_of, parse_batchs, parse_points, single_point, tags_blob,
    unpack_double,
)

__all__ = ["WindowCache", "Window", "FeedResult"]

log = logging.getLogger(__name__)


class Window:
    """One token's calculators in one bucket: group key -> (measurement, {routing key: calculator})."""

    __slots__ = ("token", "key", "groups")

    def __init__(self, token: str, key: int) -> None:
        self.token = token
        self.key = key
        self.groups: dict[str, tuple[str, dict]] = {}

    def calculators(self) -> Iterable:
        for _, calcs in self.groups.values():
            yield from calcs.values()

    def __len__(self) -> int:
        return sum(len(calcs) for _, calcs in self.groups.values())

    def __repr__(self) -> str:
        return f"Window(token={self.token!r}, key={self.key}, calculators={len(self)})"


@dataclass
class FeedResult:
    """What one body did: samples accepted (added to a calculator), dropped late, skipped."""

    accepted: int = 0
    dropped: int = 0
    skipped: int = 0  # source key missing, or a non-numeric value for a numeric method
    min_key: int = 0  # smallest / largest bucket key that accepted a sample (0: none)
    max_key: int = 0
    late_keys: set[int] = field(default_factory=set)


class WindowCache:
    """Open windows keyed by bucket key then token; see the module docstring for the rules."""

    def __init__(self, tolerance_s: int = 10) -> None:
        self.tolerance_s = int(tolerance_s)
        self.buckets: dict[int, dict[str, Window]] = {}
        self.watermark = 0  # the largest `now` given to expire(): buckets <= it are closed
        self.specs = SpecCache()

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, token: str, body: bytes, now: float,
             skip: Callable[[int, str], bool] | None = None) -> FeedResult:
        """Add every sample of a `Batchs` body under `token`; InvalidBatch/UnknownMethod change nothing.

        `skip(bucket_key, token)` (WAL replay) drops samples of windows already written.
        """
        msg = parse_batchs(body)
        known = self.specs.known
        todo = []
        append = todo.append
        singles = []  # PBPoints encodings of exactly one point: parsed together below
        for b in msg.batchs:
            opts = b.opts
            n = len(opts)
            if n == 1:
                key = opts[0]
            elif n:
                key = tuple(opts)
            else:
                continue
            specs = known.get(key)
            if specs is None:
                specs = self.specs.get(key)  # parses and validates: may raise, nothing added yet
            pb = b.points
            size = len(pb)
            if (1 < size < 130 and pb[1] == size - 2 and pb[0] == 0x0A) or single_point(pb):
                singles.append(pb)
                append((b.routing_key, specs, None))
            elif pb:
                append((b.routing_key, specs, parse_points(pb)))
        points = iter(parse_points(b"".join(singles))) if singles else None
        return self._add(token, todo, points, max(math.floor(now), self.watermark), skip)

    def _add(self, token, todo, singles, now_s, skip) -> FeedResult:
        # The hot loop: field_value's canonical fast path, the window-bounds cache and the
        # group-key cache are inlined (a Python call costs as much as the work here).
        res = FeedResult()
        accepted = dropped = skipped = 0
        min_key = max_key = 0
        tol = self.tolerance_s
        buckets = self.buckets
        unpack = unpack_double
        cur_key = None
        window = groups = None
        for rk, specs, points in todo:
            if points is None:
                points = (next(singles),)
            for p in points:
                t = p.time
                name = p.name
                fields = p.fields
                blob = None
                try:
                    first = fields[0]
                except IndexError:
                    first = b""
                source = None  # algorithms of a rule mostly read the same key: decode it once
                for spec in specs:
                    if spec.prefix is not source:  # prefixes are interned per source key
                        source = spec.prefix
                        # DataKit puts the forked metric field first: `0a <len> <key> 21 <double>`
                        if len(first) == spec.plen9 and first.startswith(source) and first[spec.plen] == 0x21:
                            raw = unpack(first, spec.plen1)[0]
                            is_float = True
                        else:
                            raw = field_value(fields, spec)
                            is_float = type(raw) is float
                    v = raw
                    if not is_float:
                        if v is None:
                            skipped += 1
                            continue
                        if spec.numeric:
                            if type(v) is int:
                                v = float(v)
                            else:
                                skipped += 1
                                continue
                    if spec.lo < t <= spec.hi:
                        bk = spec.bk
                    else:
                        bk = spec.align(t, tol)
                    if bk <= now_s:
                        dropped += 1
                        res.late_keys.add(bk)
                        continue
                    if skip is not None and skip(bk, token):
                        continue
                    if bk != cur_key:
                        per_token = buckets.get(bk)
                        if per_token is None:
                            per_token = buckets[bk] = {}
                        window = per_token.get(token)
                        if window is None:
                            window = per_token[token] = Window(token, bk)
                        groups = window.groups
                        cur_key = bk
                        if bk > max_key:
                            max_key = bk
                        if bk < min_key or not min_key:
                            min_key = bk
                    gk = spec.group_keys.get(name)
                    if gk is None:
                        gk = spec.group_key(name)
                    group = groups.get(gk)
                    if group is None:
                        group = groups[gk] = (name, {})
                    calcs = group[1]
                    calc = calcs.get(rk)
                    if calc is None:
                        if blob is None:
                            blob = tags_blob(fields)
                        if spec.wants_le:
                            le = le_of(fields, tag_only=False)
                            calcs[rk] = spec.cls(spec, blob, v, t, le or "")
                        else:
                            calcs[rk] = spec.cls(spec, blob, v, t)
                    elif spec.wants_le:
                        calc.add(v, t, le_of(fields, tag_only=True))
                    else:
                        calc.add(v, t)
                    accepted += 1
        res.accepted, res.dropped, res.skipped = accepted, dropped, skipped
        res.min_key, res.max_key = min_key, max_key
        return res

    # -- flushing --------------------------------------------------------------------------
    def expire(self, now: float) -> list[Window]:
        """Remove and return every window whose bucket key <= now (GetExpWidows), oldest first."""
        now_s = math.floor(now)
        if now_s > self.watermark:
            self.watermark = now_s
        due = sorted(k for k in self.buckets if k <= now_s)
        out: list[Window] = []
        for key in due:
            out.extend(self.buckets.pop(key).values())
        return out

    def open_windows(self) -> list[Window]:
        return [w for per_token in self.buckets.values() for w in per_token.values()]

    def series(self) -> int:
        """Number of calculators in open windows (active series x algorithms)."""
        return sum(len(w) for w in self.open_windows())

    @staticmethod
    def window_points(window: Window) -> list[Point]:
        """The metric points of one window (WindowsToData): every calculator's output."""
        points: list[Point] = []
        tag_cache: dict[int, list[tuple[str, str]]] = {}
        for name, calcs in window.groups.values():
            for calc in calcs.values():
                try:
                    out = calc.fields()
                    if not out:
                        continue
                    blob = calc.tags
                    point_tags = tag_cache.get(id(blob))
                    if point_tags is None:
                        point_tags = tag_cache[id(blob)] = decode_tags(blob)
                    spec: AlgoSpec = calc.spec
                    for fields, t, extra in out:
                        tags = dict(extra) if extra else {}
                        for k, v in spec.add_tags:
                            tags[k] = v
                        for k, v in point_tags:
                            tags[k] = v
                        points.append(Point(name, tags, fields, t))
                except Exception:  # a calculator that errors contributes nothing (spec §4.3)
                    log.exception("aggregate: calculator %s for %s failed; skipped", type(calc).__name__, name)
        return points
