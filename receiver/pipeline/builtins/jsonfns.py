"""JSON built-ins (§9.2): json, load_json, valid_json/vaild_json, gjson, json_all.

json() parses the source text once per distinct string (a one-entry cache: a script usually
extracts many paths from the same message) with orjson; numbers become floats at extraction.
load_json() parses with msgspec into a typed JSON value whose only number type is float, so
msgspec makes every JSON number a float in C (Go decodes numbers into interface{} as float64);
what that typed decode refuses (nesting deeper than _TYPED_DEPTH, numbers out of float range,
text that is not UTF-8, invalid JSON) takes the orjson path with a walk in Python, which gives
the same values.
"""

from __future__ import annotations

import json as _stdjson
import re

import msgspec
import orjson

from ..grok.compiler import _GO_SPACE
from ..registry import MISSING, ArgKind, Param, ScriptRuntimeError, builtin
from ._args import is_literal
from ._values import to_json, to_str

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT

_BAD = object()
# the last parse as one (source, value) pair in a one-slot list: read and replaced whole, so a
# reader never pairs one thread's text with another's value; compiled json() calls read it inline
CACHE: list = [(None, _BAD)]


def _not_json(name: str):
    """NaN, Infinity and -Infinity: the json module's extensions, invalid JSON (as for Go)."""
    raise ValueError(f"{name} is not JSON")


def _parse(s: str):
    """orjson.loads with a one-entry cache; _BAD on invalid JSON. Callers must not mutate."""
    src, obj = CACHE[0]
    if s is src or s == src:
        return obj
    try:
        obj = orjson.loads(s)
    except orjson.JSONDecodeError:
        try:  # integers beyond 64 bits: orjson refuses them, Go reads them as floats
            obj = _stdjson.loads(s, parse_int=float, parse_constant=_not_json)
        except ValueError:
            obj = _BAD
    CACHE[0] = (s, obj)
    return obj


def floats(v):
    """JSON numbers as Go decodes them into interface{}: every number is a float64. A new
    value: the (cached) input is never modified."""
    t = type(v)
    if t is int:
        return float(v)
    if t is dict:
        return _floats_dict(v)
    if t is list:
        return _floats_list(v)
    return v


def _floats_dict(d: dict) -> dict:
    out = d.copy()  # then only the ints and containers are replaced
    for k, x in d.items():
        t = type(x)
        if t is int:
            out[k] = float(x)
        elif t is dict:
            out[k] = _floats_dict(x)
        elif t is list:
            out[k] = _floats_list(x)
    return out


def _floats_list(a: list) -> list:
    out = a.copy()
    for i, x in enumerate(a):
        t = type(x)
        if t is int:
            out[i] = float(x)
        elif t is dict:
            out[i] = _floats_dict(x)
        elif t is list:
            out[i] = _floats_list(x)
    return out


# ---- json paths: a.b, a[0], a.b[-1].c, `a.b` (one key), .[0] (top-level array)

_STEP = re.compile(r"`([^`]*)`|\[(-?\d+)\]|([^.\[`]+)|(\.)")


def parse_path(path: str) -> tuple:
    """The steps of a json path: str = map key, int = list index."""
    steps: list = []
    for m in _STEP.finditer(path):
        quoted, idx, name, _dot = m.groups()
        if quoted is not None:
            steps.append(quoted)
        elif idx is not None:
            steps.append(int(idx))
        elif name is not None:
            steps.append(name)
    return tuple(steps)


def _walk(obj, steps):
    for st in steps:
        if type(st) is int:
            if type(obj) is not list:
                return _BAD
            i = st + len(obj) if st < 0 else st
            if not 0 <= i < len(obj):
                return _BAD
            obj = obj[i]
        else:
            if type(obj) is not dict:
                return _BAD
            obj = obj.get(st, _BAD)
            if obj is _BAD:
                return _BAD
    return obj


def _check_json(cc, args):
    path = args[1]
    text = path.key_name if path.key_name is not None else (path.value if isinstance(path.value, str) else None)
    if text is None:
        cc.error("json: the path must be an identifier, an attribute path or a string", path)
    path_segs = getattr(path, "path", None)
    steps = tuple(path_segs) if path_segs is not None and path.node_kind != "str" else parse_path(text)
    if not steps and text not in ("", "."):
        cc.error(f"json: invalid path {text!r}", path)
    for i, name in ((3, "trim_space"), (4, "delete_after_extract")):
        a = args[i]
        if a is not None and not is_literal(a, bool):
            cc.error(f"json: {name} must be a bool literal", a)
    dae = args[4] is not None and args[4].value is True
    if dae and (not steps or type(steps[-1]) is int):
        cc.error("json: delete_after_extract is not allowed when the path ends with an index", args[4])
    default_key = "" if steps and type(steps[-1]) is int else text
    out = {"path": steps}
    if args[2] is None:
        out["newkey"] = default_key
    return out


@builtin("json", Param("key", KEY), Param("path", KEY), Param("newkey", KEY, default=None),
         Param("trim_space", LIT, default=True, lit_types=(bool,)),
         Param("delete_after_extract", LIT, default=False, lit_types=(bool,)), check=_check_json)
def json(ctx, key, path, newkey, trim_space, delete_after_extract):
    """Extract the value at `path` from the key's JSON text and store it at `newkey`."""
    src = ctx.read(key)
    if src is MISSING:
        return None
    obj = _parse(src if type(src) is str else to_str(src))
    if obj is _BAD:
        return None
    v = _walk(obj, path)
    if v is _BAD or v is None:
        return None
    store_value(ctx, newkey, v, trim_space)
    if delete_after_extract and path:
        whole = floats(obj)  # a copy: the cached parse stays intact
        parent = _walk(whole, path[:-1])
        if type(parent) is dict:
            parent.pop(path[-1], None)
            ctx.set_field(key, to_json(whole))
    return None


def store_value(ctx, newkey: str, v, trim_space: bool) -> None:
    """Store an extracted JSON value (not None) as json() does: str trimmed, numbers as floats,
    maps and lists as JSON text (the cached parse itself is never modified)."""
    t = type(v)
    if t is str:
        if trim_space:
            v = v.strip(_GO_SPACE)
    elif t is int:
        v = float(v)
    elif t is dict or t is list:
        v = to_json(floats(v))
    ctx.set_field(newkey, v)


def load(s: str):
    """JSON text -> script value (numbers as floats); nil when invalid."""
    obj = _parse(s)
    return None if obj is _BAD else floats(obj)


_CONVERTED = frozenset((int, dict, list))


def _floats_in_place(d: dict) -> dict:
    for k, x in d.items():  # replacing values of existing keys while iterating is allowed
        if x.__class__ in _CONVERTED:  # one test for the common str/float/bool values
            t = x.__class__
            if t is int:
                d[k] = float(x)
            elif t is dict:
                _floats_in_place(x)
            else:
                _floats_list_in_place(x)
    return d


def _floats_list_in_place(a: list) -> list:
    for i, x in enumerate(a):
        t = x.__class__
        if t is int:
            a[i] = float(x)
        elif t is dict:
            _floats_in_place(x)
        elif t is list:
            _floats_list_in_place(x)
    return a


# The typed decode covers JSON nested up to this many containers deep (the decoder is built
# lazily: its type tree grows ~4x per level, ~5 ms to build at 8); deeper texts use the walk.
_TYPED_DEPTH = 8
_DECODE_FAILED = (msgspec.MsgspecError, UnicodeError)


def _build_typed_decoder():
    t = float | str | bool | None
    for _ in range(_TYPED_DEPTH):
        t = float | str | bool | None | list[t] | dict[str, t]
    return msgspec.json.Decoder(t).decode


def _decode_floats(s: str):
    """JSON text -> value with every number a float (msgspec, in C); raises on what it refuses."""
    global _decode_floats
    _decode_floats = _build_typed_decoder()  # replaces this function on first use
    return _decode_floats(s)


@builtin("load_json", Param("value", VALUE))
def load_json(ctx, value):
    """Parse JSON text into map/list/float/str/bool/nil; invalid JSON gives nil."""
    if type(value) is not str:
        raise ScriptRuntimeError(f"load_json: argument must be a str, got {type(value).__name__}")
    # A parse of its own (not json()'s shared cache): the script owns and may modify the result.
    try:
        return _decode_floats(value)
    except _DECODE_FAILED:
        pass
    try:  # deeper than _TYPED_DEPTH (the numbers are converted in place), or a fallback below
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        obj = _parse(value)
        return None if obj is _BAD else floats(obj)
    t = obj.__class__
    if t is dict:
        return _floats_in_place(obj)
    if t is list:
        return _floats_list_in_place(obj)
    return float(obj) if t is int else obj


def _valid(ctx, value):
    if type(value) is not str:
        return False
    return _parse(value) is not _BAD


builtin("valid_json", Param("value", VALUE))(lambda ctx, value: _valid(ctx, value))
builtin("vaild_json", Param("value", VALUE))(lambda ctx, value: _valid(ctx, value))


@builtin("json_all", tier=2)
def json_all(ctx):
    """Disabled upstream: does nothing."""
    return None
