"""Tier-2 built-ins (§9.2) agg_create and agg_metric: script-side aggregation buckets.

A run only records what to do (an operation tuple in `ctx.options`); `Script.run` moves
them to the script's pending list, `run_batch` returns them with the batch, and the owner
of the buckets applies them (receiver/pipeline/aggbuckets.py says who and how):

    ("c", category, bucket, interval_ns, on_count, keep_value, const_tags)
    ("m", category, bucket, new_field, agg_fn, agg_by names, their values, value as float)
"""

from __future__ import annotations

from ..aggbuckets import to_float
from ..registry import MISSING, ArgKind, Param, ScriptRuntimeError, builtin
from ..runtime import AGG_OPTION
from .extras import _CATEGORIES
from .timefns import go_parse_duration

LIT, VALUE = ArgKind.LIT, ArgKind.VALUE


def _category(value) -> str | None:
    """The bucket's category: "M" when nil; None (do nothing) when unknown; an error when not a str."""
    if value is None:
        return "metric"
    if type(value) is not str:
        raise ScriptRuntimeError(f"category must be a str, got {type(value).__name__}")
    return _CATEGORIES.get(value)


def _record(ctx, op: tuple) -> None:
    ops = ctx.options.get(AGG_OPTION)
    if ops is None:
        ops = ctx.options[AGG_OPTION] = []
    ops.append(op)


def _check_create(cc, args):
    interval_arg, count_arg = args[1], args[2]
    interval = 60_000_000_000
    if interval_arg is not None:
        try:
            interval = go_parse_duration(interval_arg.value)
        except ValueError as exc:
            cc.error(f"agg_create: parse on_interval: {exc}", interval_arg)
    count = count_arg.value if count_arg is not None else 0
    if interval <= 0 and count <= 0:
        cc.error("agg_create: on_interval and on_count cannot both be <= 0", interval_arg or count_arg or args[0])
    return {"on_interval": interval}


@builtin("agg_create", Param("bucket", LIT, lit_types=(str,)), Param("on_interval", LIT, lit_types=(str,), default="1m"),
         Param("on_count", LIT, lit_types=(int,), default=0), Param("keep_value", LIT, lit_types=(bool,), default=False),
         Param("const_tags", VALUE, default=None), Param("category", VALUE, default="M"), tier=2, check=_check_create)
def agg_create(ctx, bucket, on_interval, on_count, keep_value, const_tags, category):
    """Create the aggregation bucket `bucket` (once; later calls change nothing)."""
    cat = _category(category)
    if cat is None:
        return None
    if isinstance(on_interval, str):  # an omitted on_interval: the check hook only sees given arguments
        on_interval = go_parse_duration(on_interval)
    tags = {k: v for k, v in const_tags.items() if type(v) is str} if type(const_tags) is dict else {}
    _record(ctx, ("c", cat, bucket, on_interval, on_count, keep_value, tags))
    return None


def _check_metric(cc, args):
    by = args[3]
    if not by.value:
        cc.error("agg_metric: agg_by must name at least one key", by)
    if not all(type(x) is str for x in by.value):
        cc.error("agg_metric: agg_by must be a list of string literals", by)
    return {"agg_by": tuple(by.value)}


@builtin("agg_metric", Param("bucket", LIT, lit_types=(str,)), Param("new_field", LIT, lit_types=(str,)),
         Param("agg_fn", LIT, lit_types=(str,)), Param("agg_by", LIT, lit_types=(list,)),
         Param("agg_field", LIT, lit_types=(str,)), Param("category", VALUE, default="M"), tier=2, check=_check_metric)
def agg_metric(ctx, bucket, new_field, agg_fn, agg_by, agg_field, category):
    """Add the point's `agg_field` to `bucket`, in the timeline of its `agg_by` values."""
    cat = _category(category)
    if cat is None:
        return None
    values = []
    for name in agg_by:
        v = ctx.read_point(name)
        if type(v) is not str:
            return None  # DataKit: every agg_by key must hold a string
        values.append(v)
    v = ctx.read_point(agg_field)
    if v is MISSING:
        return None
    _record(ctx, ("m", cat, bucket, new_field, agg_fn, agg_by, tuple(values), to_float(v)))
    return None
