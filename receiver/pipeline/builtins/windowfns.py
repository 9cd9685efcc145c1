"""Tier-2 built-ins (§9.2) point_window and window_hit: keep the dropped context of an
interesting point. The run only records the request (in `ctx.options`); `Script.run`
settles it after post-processing against the script's windows (receiver/pipeline/ptwindow.py).
"""

from __future__ import annotations

from ..ptwindow import WINDOW_OPTION
from ..registry import ArgKind, Param, ScriptRuntimeError, builtin

VALUE = ArgKind.VALUE
DEFAULT_STREAM_TAGS = ("filepath", "host")


@builtin("point_window", Param("before", VALUE), Param("after", VALUE), Param("stream_tags", VALUE, default=None),
         tier=2)
def point_window(ctx, before, after, stream_tags):
    """Put this point in its stream's window (the first call of a run counts)."""
    if type(before) is not int or type(after) is not int:
        raise ScriptRuntimeError("point_window: before and after must be int")
    if stream_tags is None:
        names = DEFAULT_STREAM_TAGS
    elif type(stream_tags) is not list:
        raise ScriptRuntimeError("point_window: stream_tags must be a list")
    elif not stream_tags:
        names = DEFAULT_STREAM_TAGS
    else:
        if any(type(n) is not str for n in stream_tags):
            return None
        names = tuple(stream_tags)
    options = ctx.options
    if WINDOW_OPTION in options:
        return None
    values = []
    for name in names:
        v = ctx.read_point(name)
        if type(v) is not str:
            return None  # a point outside any stream joins no window
        values.append(v)
    options[WINDOW_OPTION] = [(names, tuple(values)), before, after, False]
    return None


@builtin("window_hit", tier=2)
def window_hit(ctx):
    """Release the held context of this point's stream and keep the next `after` points."""
    opts = ctx._options
    reg = opts.get(WINDOW_OPTION) if opts else None
    if reg is not None:
        reg[3] = True
    return None
