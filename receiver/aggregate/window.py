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
import struct
from dataclasses import dataclass, field
from typing import Callable, Iterable

from offload.point import Point
from receiver.aggregate.batch import (
    AlgoSpec, SpecCache, decode_tags, field_value, le_of, parse_batch, parse_points, raw_batchs, tags_blob,
)
from receiver.aggregate.series import hi_time, key_ok, layout, series_key, shape_for, tags_only, time_tables

__all__ = ["WindowCache", "Window", "FeedResult"]

log = logging.getLogger(__name__)
_SKIPPED = object()  # an algorithm whose source key is missing or not numeric: counted as skipped


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

    def __init__(self, tolerance_s: int = 10, fast_path: bool = True) -> None:
        self.tolerance_s = int(tolerance_s)
        self.buckets: dict[int, dict[str, Window]] = {}
        self.watermark = 0  # the largest `now` given to expire(): buckets <= it are closed
        self.specs = SpecCache()
        self.fast_path = fast_path  # off: every batch takes the reference path (tests compare both)
        # token -> series key -> the calculator (or tuple, one per algorithm) of the series'
        # newest window, whose spec is a series.Shape: the byte template of its batches
        self._fast: dict[str, dict] = {}
        # batch length -> the shapes (a tuple, one per algorithm) of recently learned layouts
        # of that length: a new series laid out like a known one is read with its template
        # (`_guess`), so only the first series of each layout takes the careful path
        self._layouts: dict[int, list[tuple]] = {}

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, token: str, body: bytes, now: float,
             skip: Callable[[int, str], bool] | None = None) -> FeedResult:
        """Add every sample of a `Batchs` body under `token`; InvalidBatch/UnknownMethod change nothing.

        `skip(bucket_key, token)` (WAL replay) drops samples of windows already written.
        """
        # Pass 1 reads and checks every batch (so an invalid body adds nothing); pass 2 adds.
        # A batch matching its series' byte template (series.py) is read by one unpack; a new
        # series laid out like a known one, by that layout's template (`_guess`).
        raws = raw_batchs(body)
        items: list[tuple] = []
        append = items.append
        fast = self._fast.get(token) if self.fast_path else None
        if self.fast_path:
            ta, tb, tc = time_tables()
            get = fast.get if fast else {}.get
            guess = self._guess
            for raw in raws:
                k = raw[:11]
                e = get(k)
                if e is not None:
                    c0 = e if type(e) is not tuple else e[0]
                    sh = c0.spec
                    try:
                        head, v, mid, x, y, z, rest = sh.unpack(raw)
                        if head == sh.head and mid == c0.tags:
                            h = sh.times.get(rest)  # also vouches for the tail
                            if h is None:
                                h = hi_time(sh, rest)
                            append((e, v, ta[x] | tb[y] | tc[z] | h, k))  # TypeError: not a 9-byte varint
                            continue
                    except (struct.error, TypeError):
                        pass
                append(guess(raw, k) or (None, self._parse(raw, True), 0, k))
        else:
            for raw in raws:
                append((None, self._parse(raw, False), 0, raw[:11]))
        return self._add(token, items, max(math.floor(now), self.watermark), skip)

    def _guess(self, raw: bytes, k: bytes) -> tuple | None:
        """The pass-1 item of a batch read with the template of another series laid out the
        same way (same length, same bytes but the key, value, tags and time), or None.

        The shape fixes everything the careful path reads but the tags: they are checked to
        be canonical tag fields only, so they are exactly the blob the careful path keeps.
        Shapes with a skipped algorithm are never guessed (another series' tags may hold
        its source key)."""
        cands = self._layouts.get(len(raw))
        if not cands:
            return None
        ta, tb, tc = time_tables()
        for shapes in cands:
            sh = shapes[0]
            head, v, mid, x, y, z, rest = sh.unpack(raw)  # same length: cannot fail
            if head != sh.head:
                continue
            h = sh.times.get(rest)  # also vouches for the tail
            if h is None:
                h = hi_time(sh, rest)
                if h is None:
                    continue
            x, y, z = ta[x], tb[y], tc[z]
            if x is None or y is None or z is None or not key_ok(raw) or not tags_only(mid):
                continue
            return (None, (shapes, v, mid), x | y | z | h, k)
        return None

    def _parse(self, raw: bytes, learn: bool):
        """(routing key, specs, points, raw, layout) of a batch read the careful way; None when
        it has no work. With `learn`, a canonical layout (series.layout) is noted for `_guess`
        at once, so the next batches of the same body laid out alike can use it."""
        b = parse_batch(raw)
        opts = b.opts
        n = len(opts)
        if not n:
            return None
        key = opts[0] if n == 1 else tuple(opts)
        specs = self.specs.known.get(key)
        if specs is None:
            specs = self.specs.get(key)  # parses and validates: may raise, nothing added yet
        pb = b.points
        if not pb:
            return None
        points = parse_points(pb)
        where = None
        if learn and len(points) == 1:
            where = layout(raw)
            if where is not None:
                self._note_layout(raw, where, points[0], specs)
        return b.routing_key, specs, points, raw, where

    def _note_layout(self, raw, where, p, specs) -> None:
        """Remember the shapes of a canonical batch whose every algorithm reads the templated
        value (no skipped one, no `le`): what `_guess` tries on batches of the same length."""
        first = p.fields[0]
        for spec in specs:
            if spec.wants_le or not (len(first) == spec.plen9 and first.startswith(spec.prefix)):
                return
        a, b = where
        name = p.name
        shapes = tuple(shape_for(spec, raw, a, b, name, 0) for spec in specs)
        cands = self._layouts.get(len(raw))
        if cands is None:
            if len(self._layouts) >= 1024:
                self._layouts.clear()
            cands = self._layouts[len(raw)] = []
        if shapes not in cands:  # the most recent first, a few per length
            cands.insert(0, shapes)
            del cands[4:]

    def _add(self, token, items, now_s, skip) -> FeedResult:
        # The hot loop (a Python call costs as much as the work here, hence the inlining).
        res = FeedResult()
        accepted = dropped = skipped = 0
        min_key = max_key = 0
        tol = self.tolerance_s
        late = res.late_keys
        cur_key = None
        fast = self._fast.get(token)
        for e, v, t, k in items:
            if e is None:
                if v is not None:
                    if fast is None and self.fast_path:
                        fast = self._fast[token] = {}
                    if t:  # a new series read by _guess (t is its time, never 0 there)
                        self._add_new(token, v, t, k, now_s, skip, res, fast)
                    else:
                        self._add_slow(token, v, k, now_s, skip, res, fast)
                continue
            if type(e) is not tuple:  # one algorithm fed by the batch: the common case, inlined
                sp = e.spec
                skipped += sp.nskip
                if sp.lo < t <= sp.hi:
                    bk = sp.bk
                else:
                    bk = sp.align(t, tol)
                if bk <= now_s:
                    dropped += 1
                    late.add(bk)
                    continue
                if skip is not None and skip(bk, token):
                    continue
                if sp.lo < e.t <= sp.hi:  # a calculator's time is always one of its window's
                    e.add(v, t)
                else:
                    c2 = self._roll(token, k, e, e.tags, bk, v, t)
                    if c2 is not None and fast.get(k) is e:
                        fast[k] = c2
                accepted += 1
                if bk != cur_key:
                    cur_key = bk
                    if bk > max_key:
                        max_key = bk
                    if bk < min_key or not min_key:
                        min_key = bk
                continue
            c0 = e[0]
            skipped += c0.spec.nskip
            moved = None
            for c in e:
                sp = c.spec
                if sp.lo < t <= sp.hi:
                    bk = sp.bk
                else:
                    bk = sp.align(t, tol)
                if bk <= now_s:
                    dropped += 1
                    late.add(bk)
                    continue
                if skip is not None and skip(bk, token):
                    continue
                if sp.lo < c.t <= sp.hi:
                    c.add(v, t)
                else:
                    c2 = self._roll(token, k, c, c0.tags, bk, v, t)
                    if c2 is not None:
                        if moved is None:
                            moved = {}
                        moved[id(c)] = c2
                accepted += 1
                if bk != cur_key:
                    cur_key = bk
                    if bk > max_key:
                        max_key = bk
                    if bk < min_key or not min_key:
                        min_key = bk
            if moved is not None:  # the template follows its calculators, in one step
                cur = fast.get(k)
                if type(cur) is tuple:
                    new = tuple([moved.get(id(x), x) for x in cur])
                    if new != cur:
                        fast[k] = new
        res.accepted += accepted
        res.dropped += dropped
        res.skipped += skipped
        if max_key > res.max_key:
            res.max_key = max_key
        if min_key and (min_key < res.min_key or not res.min_key):
            res.min_key = min_key
        return res

    def _window(self, bk: int, token: str) -> Window:
        per_token = self.buckets.get(bk)
        if per_token is None:
            per_token = self.buckets[bk] = {}
        window = per_token.get(token)
        if window is None:
            window = per_token[token] = Window(token, bk)
        return window

    def _roll(self, token, k, c, tags, bk, v, t):
        """A templated series' sample for another window than its calculator's: find or start
        that window's calculator; return it when the template should point at it (the newer
        one), else None."""
        sp = c.spec
        groups = self._window(bk, token).groups
        gk = sp.group_keys.get(sp.name)
        if gk is None:
            gk = sp.group_key(sp.name)
        group = groups.get(gk)
        if group is None:
            group = groups[gk] = (sp.name, {})
        calcs = group[1]
        c2 = calcs.get(k)
        if c2 is None:
            c2 = calcs[k] = type(c)(sp, tags, v, t)
        else:
            c2.add(v, t)
            if c2.spec is not sp:
                if c2.spec.base is not sp.base or c2.tags != c.tags:
                    return None  # not a calculator the template can stand for
                c2.spec = sp
        return c2 if t > c.t else None

    def _add_new(self, token, info, t, k, now_s, skip, res, fast) -> None:
        """A batch read by `_guess`: what `_add_slow` does with it, then `_learn`'s template."""
        shapes, v, mid = info
        tol = self.tolerance_s
        fed: list = []
        learn = True
        for sp in shapes:
            bk = sp.bk if sp.lo < t <= sp.hi else sp.align(t, tol)
            if bk <= now_s:
                res.dropped += 1
                res.late_keys.add(bk)
                learn = False
                continue
            if skip is not None and skip(bk, token):
                learn = False
                continue
            groups = self._window(bk, token).groups
            name = sp.name
            gk = sp.group_keys.get(name)
            if gk is None:
                gk = sp.group_key(name)
            group = groups.get(gk)
            if group is None:
                group = groups[gk] = (name, {})
            calcs = group[1]
            calc = calcs.get(k)
            if calc is None:
                calc = calcs[k] = sp.cls(sp, mid, v, t)
            else:
                calc.add(v, t)
                if calc.spec.base is not sp.base or (not fed and calc.tags != mid):
                    learn = False  # the calculator's first arrival had other options or tags
            fed.append(calc)
            res.accepted += 1
            if bk > res.max_key:
                res.max_key = bk
            if bk < res.min_key or not res.min_key:
                res.min_key = bk
        if learn:
            for sp, calc in zip(shapes, fed):
                calc.spec = sp
            fast[k] = fed[0] if len(fed) == 1 else tuple(fed)

    def _add_slow(self, token, info, k, now_s, skip, res, fast) -> None:
        """The reference path: every point of a batch read field by field; learns a template."""
        rk, specs, points, raw, where = info
        tol = self.tolerance_s
        # a canonical layout starts with exactly the series key (see series_key); else compute it
        gkey = raw[:11] if where is not None else series_key(raw, rk)
        outcome: list = []
        for p in points:
            t = p.time
            name = p.name
            fields = p.fields
            blob = None
            outcome.clear()
            for spec in specs:
                v = field_value(fields, spec)
                if v is None:
                    res.skipped += 1
                    outcome.append(_SKIPPED)
                    continue
                if spec.numeric and type(v) is not float:
                    if type(v) is int:
                        v = float(v)
                    else:
                        res.skipped += 1
                        outcome.append(_SKIPPED)
                        continue
                bk = spec.bk if spec.lo < t <= spec.hi else spec.align(t, tol)
                if bk <= now_s:
                    res.dropped += 1
                    res.late_keys.add(bk)
                    outcome.append(None)
                    continue
                if skip is not None and skip(bk, token):
                    outcome.append(None)
                    continue
                groups = self._window(bk, token).groups
                gk = spec.group_keys.get(name)
                if gk is None:
                    gk = spec.group_key(name)
                group = groups.get(gk)
                if group is None:
                    group = groups[gk] = (name, {})
                calcs = group[1]
                calc = calcs.get(gkey)
                if calc is None:
                    if blob is None:
                        blob = tags_blob(fields)
                    if spec.wants_le:
                        le = le_of(fields, tag_only=False)
                        calc = calcs[gkey] = spec.cls(spec, blob, v, t, le or "")
                    else:
                        calc = calcs[gkey] = spec.cls(spec, blob, v, t)
                elif spec.wants_le:
                    calc.add(v, t, le_of(fields, tag_only=True))
                else:
                    calc.add(v, t)
                outcome.append(calc)
                res.accepted += 1
                if bk > res.max_key:
                    res.max_key = bk
                if bk < res.min_key or not res.min_key:
                    res.min_key = bk
        if where is not None:
            self._learn(fast, gkey, raw, where, points[0], specs, outcome)

    @staticmethod
    def _learn(fast, key, raw, where, p, specs, outcome) -> None:
        """Make a template of this batch for its series when its outcome allows."""
        a, b = where
        fields = p.fields
        first = fields[0]
        mid = raw[a + 8:b - 1]
        fed = []
        nskip = 0
        for spec, calc in zip(specs, outcome):
            if calc is None or spec.wants_le:
                return  # dropped or skipped by replay this time; le needs the slow path
            if calc is _SKIPPED:
                nskip += 1
                continue
            if not (len(first) == spec.plen9 and first.startswith(spec.prefix)):
                return  # fed from another field than the templated value
            if calc.spec.base is not spec or (not fed and calc.tags != mid):
                return  # the calculator's first arrival had other options or tags
            fed.append((spec, calc))
        if not fed:
            return
        name = p.name
        calcs = []
        for spec, calc in fed:
            calc.spec = shape_for(spec, raw, a, b, name, nskip)
            calcs.append(calc)
        fast[key] = calcs[0] if len(calcs) == 1 else tuple(calcs)

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
        for window in out:  # templates whose newest calculator is flushed: the series went quiet
            fast = self._fast.get(window.token)
            if fast:
                for _, calcs in window.groups.values():
                    for key, calc in calcs.items():
                        e = fast.get(key)
                        if e is not None and (e is calc or (type(e) is tuple and calc in e)):
                            del fast[key]
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
