"""Built-ins that read, write, rename and delete point keys, and control the run (§9.2):
add_key set_tag rename drop_key drop exit drop_origin_data set_measurement get_key nullif cast
group_between group_in setopt use pt_name pt_kvs_get pt_kvs_set pt_kvs_del pt_kvs_keys."""

from __future__ import annotations

import math

from ..grok.numbers import INT64_MAX, INT64_MIN, parse_bool, parse_float
from ..registry import MISSING, ArgKind, Param, ScriptRuntimeError, builtin
from ._args import ident_name, is_literal
from ._values import deep_equal, to_str

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT


@builtin("add_key", Param("key", KEY), Param("value", VALUE, default=MISSING))
def add_key(ctx, key, value):
    """Store `value` at `key`; with no value, copy the current value of `key` to the point."""
    if value is MISSING:
        value = ctx.read(key)
        if value is MISSING:
            return None
    ctx.set_field(key, value)
    return None


def _check_set_tag(cc, args):
    v = args[1]
    if v is not None and v.is_literal and not isinstance(v.value, str):
        cc.error("set_tag: the value must be a string literal, an identifier or an attribute", v)
    return None


@builtin("set_tag", Param("key", KEY), Param("value", VALUE, default=MISSING), check=_check_set_tag)
def set_tag(ctx, key, value):
    """Store as a tag; one-arg form tags the current value of `key` ("" when undefined)."""
    if value is MISSING:
        value = ctx.read(key)
        if value is MISSING:
            value = ""
    ctx.set_tag(key, value)
    return None


def _check_rename(cc, args):
    if args[1] is not None and args[1].is_literal:
        cc.error("rename: the old key must be an identifier or an attribute", args[1])
    return None


@builtin("rename", Param("new_key", KEY), Param("old_key", KEY), check=_check_rename)
def rename(ctx, new_key, old_key):
    """Rename point key old_key to new_key (kind kept; an existing new_key is replaced)."""
    if new_key == old_key or ctx.read_point(old_key) is MISSING:
        return None
    ctx.rename_key(old_key, new_key)
    return None


@builtin("drop_key", Param("key", KEY))
def drop_key(ctx, key):
    """Delete tag or field `key`."""
    ctx.delete_key(key)
    return None


@builtin("drop")
def drop(ctx):
    """Mark the point dropped."""
    ctx.drop()
    return None


@builtin("exit")
def exit_(ctx):
    """Stop the script now (a successful run)."""
    ctx.exit()
    return None


@builtin("drop_origin_data")
def drop_origin_data(ctx):
    """Delete key `message`."""
    ctx.delete_key("message")
    return None


def _check_set_measurement(cc, args):
    delete = args[1]
    if delete is not None and not is_literal(delete, bool):
        cc.error("set_measurement: delete_key must be a bool literal", delete)
    name = ident_name(args[0]) if delete is not None and delete.value else None
    return {"delete_key": name}


@builtin("set_measurement", Param("name", VALUE), Param("delete_key", LIT, default=False, lit_types=(bool,)),
         check=_check_set_measurement)
def set_measurement(ctx, name, delete_key):
    """Set the measurement when `name` is a str; delete_key removes the key it was read from."""
    if type(name) is str:
        ctx.set_name(name)
    if delete_key:  # the check hook replaced True with the key name (or None)
        ctx.delete_key(delete_key)
    return None


@builtin("get_key", Param("key", KEY))
def get_key(ctx, key):
    """The value of the point key (variables ignored); nil when missing."""
    v = ctx.read_point(key)
    return None if v is MISSING else v


@builtin("nullif", Param("key", KEY), Param("value", LIT))
def nullif(ctx, key, value):
    """Delete the point key when its value deep-equals the literal (type-exact)."""
    v = ctx.read(key)
    if v is not MISSING and deep_equal(v, value):
        ctx.delete_key(key)
    return None


_CAST_TYPES = ("int", "float", "bool", "str", "string")


def _check_cast(cc, args):
    t = args[1]
    if not is_literal(t, str) or t.value not in _CAST_TYPES:
        cc.error("cast: type must be one of \"int\", \"float\", \"bool\", \"str\", \"string\"", t)
    return {"type": "str" if t.value == "string" else t.value}


def _float_of(v) -> float:
    t = type(v)
    if t is float:
        return v
    if t is bool:
        return 1.0 if v else 0.0
    if isinstance(v, int):
        return float(v)
    if t is str:
        try:
            return parse_float(v.strip())
        except ValueError:
            return 0.0
    return 0.0


def _int_of_float(f: float) -> int:
    if f != f or math.isinf(f):
        return INT64_MIN
    i = int(f)
    return i if INT64_MIN <= i <= INT64_MAX else INT64_MIN


def cast_value(v, typ: str):
    """The value converted as cast() does."""
    if typ == "int":
        if type(v) is int:
            return v
        if type(v) is bool:
            return 1 if v else 0
        if isinstance(v, int):
            return int(v)
        return _int_of_float(_float_of(v))
    if typ == "float":
        return _float_of(v)
    if typ == "bool":
        if type(v) is bool:
            return v
        if type(v) is str:
            try:
                return parse_bool(v)
            except ValueError:
                return False
        if isinstance(v, (int, float)):
            return v != 0
        return False
    return to_str(v)


@builtin("cast", Param("key", KEY), Param("type", LIT, lit_types=(str,)), check=_check_cast)
def cast(ctx, key, type):
    """Convert the key's value to int/float/bool/str and store it."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    ctx.set_field(key, cast_value(v, type))
    return None


def _check_group_between(cc, args):
    rng = args[1]
    if not is_literal(rng, list) or len(rng.value) != 2 or not all(
            type(x) in (int, float) for x in rng.value):
        cc.error("group_between: the range must be a list literal [min, max] of numbers", rng)
    lo, hi = rng.value
    if lo > hi:
        cc.error(f"group_between: range min {lo} is greater than max {hi}", rng)
    return {"range": (float(lo), float(hi))}


@builtin("group_between", Param("key", KEY), Param("range", LIT, lit_types=(list,)), Param("new_value", VALUE),
         Param("new_key", KEY, default=None), check=_check_group_between)
def group_between(ctx, key, range, new_value, new_key):
    """Store new_value at new_key (default key) when float(value) lies in [lo, hi]."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    if type(new_value) not in (int, float, str, bool):
        raise ScriptRuntimeError("group_between: new value must be an int, float, str or bool")
    f = _float_of(v)
    if range[0] <= f <= range[1]:
        ctx.set_field(new_key or key, new_value)
    return None


@builtin("group_in", Param("key", KEY), Param("set", VALUE), Param("new_value", VALUE),
         Param("new_key", KEY, default=None))
def group_in(ctx, key, set, new_value, new_key):
    """Store new_value at new_key when the value deep-equals an element of `set`."""
    v = ctx.read(key)
    if v is MISSING or type(set) is not list:
        return None
    if type(new_value) not in (int, float, str, bool):
        return None
    for e in set:
        if deep_equal(v, e):
            ctx.set_field(new_key or key, new_value)
            break
    return None


@builtin("setopt", Param("status_mapping", VALUE, default=MISSING))
def setopt(ctx, status_mapping):
    """setopt(status_mapping=false) skips the logging status post-processing for this point."""
    if type(status_mapping) is bool:
        ctx.options["status_mapping"] = status_mapping
    return None


def _check_use(cc, args):
    add = getattr(cc, "add_script_ref", None)
    if add is not None:
        add(args[0].value)
    return None


@builtin("use", Param("name", LIT, lit_types=(str,)), check=_check_use)
def use(ctx, name):
    """Run another loaded script on the same point with a fresh variable scope."""
    runner = getattr(ctx, "use", None) or getattr(ctx, "run_script", None)
    if runner is not None:
        runner(name)
    return None


@builtin("pt_name", Param("name", VALUE, default=""))
def pt_name(ctx, name):
    """Set the measurement when given a non-empty str; returns the (new) measurement."""
    if type(name) is str and name:
        ctx.set_name(name)
    return ctx.point.name


@builtin("pt_kvs_get", Param("name", VALUE))
def pt_kvs_get(ctx, name):
    """The value of point key `name` (variables ignored); nil when missing."""
    if type(name) is not str:
        return None
    v = ctx.read_point(name)
    return None if v is MISSING else v


@builtin("pt_kvs_set", Param("name", VALUE), Param("value", VALUE), Param("as_tag", VALUE, default=False))
def pt_kvs_set(ctx, name, value, as_tag):
    """Store `value` at point key `name` (as a tag when as_tag); returns true."""
    if type(name) is not str:
        return False
    if as_tag is True:
        ctx.set_tag(name, value)
    else:
        ctx.set_field(name, value)
    return True


@builtin("pt_kvs_del", Param("name", VALUE))
def pt_kvs_del(ctx, name):
    """Delete point key `name`."""
    if type(name) is str:
        ctx.delete_key(name)
    return None


@builtin("pt_kvs_keys", Param("tags", VALUE, default=True), Param("fields", VALUE, default=True))
def pt_kvs_keys(ctx, tags, fields):
    """Tag names, then field names."""
    out: list = []
    if tags is True:
        out.extend(ctx.point.tags)
    if fields is True:
        out.extend(ctx.point.fields)
    return out
