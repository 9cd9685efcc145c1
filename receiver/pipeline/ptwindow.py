"""Context windows of dropped points: the state behind `point_window()` and `window_hit()`.

A script that drops most of a stream (say every line of a chatty service) can keep the
lines around an interesting one: `point_window(before, after, stream_tags)` puts the
point in its stream's window, `window_hit()` marks it as interesting. After the run
(and post-processing), `StreamWindow.move` decides, as DataKit does:

* while a hit is active (the hit point and the `after - 1` points after it, dropped or
  not), the dropped points held so far and the current point are emitted: the current
  one is kept even if the script dropped it, the held ones come out after it;
* otherwise the point takes a slot of the `before`-long ring: a dropped point is held
  there, a kept one holds an empty slot (it counts, it is not stored twice). The oldest
  slot falls out when the ring is full.

A stream is the values of the stream tags (default `filepath` and `host`); a point that
lacks one of them, or holds a non-string there, joins no window. The first
`point_window()` of a stream fixes its `before` and `after`.

State lives with the compiled `Script` in the process running it: a receiver worker
keeps the windows of the batches it ran. The agent sends each file's lines in order and
a batch goes to one worker whole, so windows are exact within a batch; across batches,
a stream whose batches land on different workers (or receivers) has one window per
worker (what DataKit does per DataKit). A reloaded script starts with empty windows.
At most `MAX_STREAMS` streams per script are kept, the least recently used is forgotten
(its held points are given up: they were dropped by the script already).
"""

from __future__ import annotations

from collections import OrderedDict, deque

from offload.point import Point

__all__ = ["MAX_STREAMS", "WINDOW_OPTION", "StreamWindow", "Windows"]

MAX_STREAMS = 4096
WINDOW_OPTION = "\x00point_window"  # ctx.options key: (stream key, before, after, hit)


class StreamWindow:
    """One stream's ring of the last `before` points (dropped ones held) and its hit countdown."""

    __slots__ = ("ring", "after", "hit")

    def __init__(self, before: int, after: int) -> None:
        self.ring: deque[Point | None] | None = deque(maxlen=before) if before > 0 else None
        self.after = after
        self.hit = 0

    def move(self, point: Point, dropped: bool) -> list[Point] | None:
        """Account the point of this run; the held points to emit now (None when none)."""
        if self.hit > 0:
            self.hit -= 1
            ring = self.ring
            if ring:
                held = [p for p in ring if p is not None]
                ring.clear()
                return held or None
            return None
        if self.ring is not None:
            self.ring.append(point if dropped else None)
        return None


class Windows:
    """The stream windows of one script, least recently used first."""

    __slots__ = ("streams",)

    def __init__(self) -> None:
        self.streams: OrderedDict[tuple, StreamWindow] = OrderedDict()

    def get(self, key: tuple, before: int, after: int) -> StreamWindow:
        w = self.streams.get(key)
        if w is None:
            if len(self.streams) >= MAX_STREAMS:
                self.streams.popitem(last=False)
            w = self.streams[key] = StreamWindow(before, after)
        else:
            self.streams.move_to_end(key)
        return w

    def settle(self, registration: list, point: Point, dropped: bool) -> tuple[bool, list[Point] | None]:
        """After a run that called point_window(): (dropped, held points to emit)."""
        key, before, after, hit = registration
        w = self.get(key, before, after)
        if hit:
            w.hit = w.after
        active = w.hit > 0
        held = w.move(point, dropped)
        return (dropped and not active), held
