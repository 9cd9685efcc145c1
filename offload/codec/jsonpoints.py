"""JSON point bodies: a JSON array of PBJSON or simple-JSON point objects (wire.md a.6).

Decoding tries each element as PBJSON first, strictly (unknown keys or wrong types
fail), then as simple JSON; if both fail the whole body fails with a
`JSONPointError` naming the element index and both reasons. Elements of both forms
may be mixed in one array.

PBJSON (protobuf JSON of `point.PBPoint`): `name`, `fields` [{`key`, one of
`i` `u` `f` `b` `d` `s` `a`, `is_tag`, `type`, `unit`, `description`}], `time`,
`warns` [{`type`, `message`}], `debugs`. int64/uint64 may be JSON strings or integers,
`d` is base64 (standard or URL-safe), `f` may be "NaN"/"Infinity"/"-Infinity", `a`
is an Any with `@type` .../point.Array (`arr`) or .../point.Map (`map`). Both JSON
names and proto names are accepted (`is_tag`/`isTag`, `message`/`msg`).

Simple JSON: {`measurement`, `tags`, `fields`, `time`}; every JSON number becomes a
float; arrays of numbers, strings or booleans become typed arrays (numbers: floats),
other arrays are refused; nested objects and null become a field with no value
(None; the checker adds the `nil_field` warning); `time` absent or 0 = not set.

Encoding: "simple" writes {measurement, tags (if any), fields (sorted keys), time (if
set)}, bytes as base64 strings, UInt as plain integers; "pbjson" writes the protobuf
JSON form with tags first, int64/uint64/time as strings.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Iterable

import orjson

from offload.codec._pbwire import ARRAY_URL, MAP_URL
from offload.errors import EncodeError, JSONPointError
from offload.point import Point, UInt

__all__ = ["decode", "encode"]

_I64_MIN, _I64_MAX, _U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_PB_POINT_KEYS = {"name", "fields", "time", "warns", "debugs"}
_PB_FIELD_KEYS = {"key", "i", "u", "f", "b", "d", "s", "a", "is_tag", "isTag", "type", "unit", "description"}
_PB_VALUE_KEYS = ("i", "u", "f", "b", "d", "s", "a")
_SIMPLE_KEYS = {"measurement", "tags", "fields", "time"}
_METRIC_TYPES = {
    "UNSPECIFIED": 0, "COUNT": 1, "RATE": 2, "GAUGE": 3, "SUM_DELTA": 10, "SUM_CUMULATIVE": 11,
    "SUMMARY_COUNT": 12, "SUMMARY_SUM": 13, "SUMMARY_QUANTILE": 14, "HISTOGRAM_MAX": 20, "HISTOGRAM_MIN": 21,
    "HISTOGRAM_COUNT": 22, "HISTOGRAM_SUM": 23, "HISTOGRAM_BUCKET_COUNTS": 24, "HISTOGRAM_BUCKET_BOUNDS": 25,
    **{f"EXPONENTIAL_HISTOGRAM_{n}": v for n, v in (
        ("MAX", 30), ("MIN", 31), ("COUNT", 32), ("SUM", 33), ("AVG", 34), ("SCALE", 35), ("ZERO_COUNT", 36),
        ("POS_OFFSET", 37), ("POS_BUCKET_COUNTS", 38), ("NEG_OFFSET", 39), ("NEG_BUCKET_COUNTS", 40),
        ("FLAGS", 41), ("START_TIME", 42))},
}


class _Bad(ValueError):
    """Internal: this element is not valid in the form being tried."""


# --- decoding -----------------------------------------------------------------------------
def decode(data: bytes | str) -> list[Point]:
    """Decode a JSON array of points; raises `JSONPointError` (with the element index) when malformed."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JSONPointError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise JSONPointError(f"the body must be a JSON array of points, not {_kind(doc)}")
    out = []
    for i, elem in enumerate(doc):
        if not isinstance(elem, dict):
            raise JSONPointError(f"a point must be a JSON object, not {_kind(elem)}", i)
        try:
            out.append(_pbjson_point(elem))
            continue
        except _Bad as exc:
            pb_reason = str(exc)
        try:
            out.append(_simple_point(elem))
        except _Bad as exc:
            raise JSONPointError(f"neither PBJSON ({pb_reason}) nor simple JSON ({exc})", i) from None
    return out


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(v), "a number")


def _int(v: Any, what: str, lo: int, hi: int) -> int:
    # protobuf JSON: 64-bit integers are strings, plain integers are accepted too.
    if type(v) is str:
        try:
            n = int(v, 10)
        except ValueError:
            raise _Bad(f"{what} {v!r} is not an integer") from None
        if v.strip() != v or "_" in v:
            raise _Bad(f"{what} {v!r} is not an integer")
    elif type(v) is int:
        n = v
    elif type(v) is float and v.is_integer():
        n = int(v)
    else:
        raise _Bad(f"{what} must be an integer, not {_kind(v)}")
    if n < lo or n > hi:
        raise _Bad(f"{what} {n} is out of range")
    return n


def _float(v: Any, what: str) -> float:
    if type(v) is float or (type(v) is int and not isinstance(v, bool)):
        return float(v)
    if type(v) is str:
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v)
        if special is not None:
            return special
        try:
            return float(v)
        except ValueError:
            pass
    raise _Bad(f"{what} must be a number")


def _b64(v: Any, what: str) -> bytes:
    if type(v) is not str:
        raise _Bad(f"{what} must be a base64 string")
    try:
        if "-" in v or "_" in v:
            return base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
        return base64.b64decode(v + "=" * (-len(v) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _Bad(f"{what} is not valid base64") from None


def _str(v: Any, what: str) -> str:
    if type(v) is not str:
        raise _Bad(f"{what} must be a string, not {_kind(v)}")
    return v


def _pb_basic(e: Any) -> Any:
    if not isinstance(e, dict) or len(e) > 1 or (e and next(iter(e)) not in ("i", "u", "f", "b", "d", "s")):
        raise _Bad("an array element / map value must be a BasicTypes object")
    if not e:
        return None
    k, v = next(iter(e.items()))
    return _pb_scalar(k, v)


def _pb_scalar(k: str, v: Any) -> Any:
    if k == "s":
        return _str(v, "s")
    if k == "i":
        return _int(v, "i", _I64_MIN, _I64_MAX)
    if k == "u":
        return UInt(_int(v, "u", 0, _U64_MAX))
    if k == "f":
        return _float(v, "f")
    if k == "b":
        if type(v) is not bool:
            raise _Bad("b must be a boolean")
        return v
    if k == "d":
        return _b64(v, "d")
    raise _Bad(f"unknown value kind {k!r}")


def _pb_any(a: Any) -> Any:
    if not isinstance(a, dict):
        raise _Bad("a must be an object")
    url = a.get("@type")
    if url == ARRAY_URL:
        if set(a) - {"@type", "arr"}:
            raise _Bad("unknown key in point.Array")
        arr = a.get("arr", [])
        if not isinstance(arr, list):
            raise _Bad("point.Array arr must be an array")
        out = [_pb_basic(e) for e in arr]
        return out if out else None
    if url == MAP_URL:
        if set(a) - {"@type", "map"}:
            raise _Bad("unknown key in point.Map")
        m = a.get("map", {})
        if not isinstance(m, dict):
            raise _Bad("point.Map map must be an object")
        return {k: _pb_basic(v) for k, v in m.items()}
    raise _Bad(f"unsupported Any type {url!r}")


def _pbjson_point(obj: dict) -> Point:
    extra = set(obj) - _PB_POINT_KEYS
    if extra:
        raise _Bad(f"unknown key {sorted(extra)[0]!r}")
    if "fields" not in obj and "name" not in obj:
        raise _Bad("no name and no fields")
    name = _str(obj.get("name", ""), "name")
    fl = obj.get("fields", [])
    if not isinstance(fl, list):
        raise _Bad("fields must be an array")
    tags: dict = {}
    fields: dict = {}
    for f in fl:
        if not isinstance(f, dict):
            raise _Bad("a field must be an object")
        extra = set(f) - _PB_FIELD_KEYS
        if extra:
            raise _Bad(f"unknown field key {sorted(extra)[0]!r}")
        key = _str(f.get("key", ""), "key")
        members = [k for k in _PB_VALUE_KEYS if k in f]
        if len(members) > 1:
            raise _Bad(f"field {key!r} sets more than one value ({', '.join(members)})")
        val = None
        if members:
            k = members[0]
            val = _pb_any(f[k]) if k == "a" else _pb_scalar(k, f[k])
        is_tag = f.get("is_tag", f.get("isTag", False))
        if type(is_tag) is not bool:
            raise _Bad("is_tag must be a boolean")
        mt = f.get("type", 0)
        if not (type(mt) is int or mt in _METRIC_TYPES):
            raise _Bad(f"unknown metric type {mt!r}")
        for k in ("unit", "description"):
            if k in f:
                _str(f[k], k)
        if is_tag and (val is None or type(val) is str):
            tags[key] = "" if val is None else val
        else:
            fields[key] = val
    t = _int(obj.get("time", 0), "time", _I64_MIN, _I64_MAX)
    warns = None
    if "warns" in obj:
        wl = obj["warns"]
        if not isinstance(wl, list):
            raise _Bad("warns must be an array")
        warns = []
        for wd in wl:
            if not isinstance(wd, dict) or set(wd) - {"type", "message", "msg"}:
                raise _Bad("a warning must be {type, message}")
            warns.append((_str(wd.get("type", ""), "type"), _str(wd.get("message", wd.get("msg", "")), "message")))
    if "debugs" in obj and not isinstance(obj["debugs"], list):
        raise _Bad("debugs must be an array")
    return Point(name, tags, fields, t, warns or None)


def _simple_value(v: Any) -> Any:
    t = type(v)
    if t is str or t is bool:
        return v
    if t is int or t is float:
        return float(v)
    if v is None or t is dict:
        return None  # no value; the checker warns `nil_field`
    if t is list:
        if not v:
            return None
        if all(type(e) is str for e in v) or all(type(e) is bool for e in v):
            return list(v)
        if all(type(e) in (int, float) for e in v):
            return [float(e) for e in v]
        raise _Bad("array elements must all be numbers, all strings or all booleans")
    raise _Bad(f"unsupported value {v!r}")


def _simple_point(obj: dict) -> Point:
    extra = set(obj) - _SIMPLE_KEYS
    if extra:
        raise _Bad(f"unknown key {sorted(extra)[0]!r}")
    name = obj.get("measurement")
    if type(name) is not str:
        raise _Bad("measurement must be a string")
    tags = obj.get("tags") or {}
    if not isinstance(tags, dict) or not all(type(v) is str for v in tags.values()):
        raise _Bad("tags must be an object of strings")
    fields = obj.get("fields")
    if not isinstance(fields, dict):
        raise _Bad("fields must be an object")
    t = obj.get("time", 0)
    if t is None:
        t = 0
    elif type(t) is not int:
        if type(t) is float and t.is_integer():
            t = int(t)
        else:
            raise _Bad("time must be an integer (ns)")
    if t < _I64_MIN or t > _I64_MAX:
        raise _Bad("time is out of the int64 range")
    return Point(name, dict(tags), {k: _simple_value(v) for k, v in fields.items()}, t)


# --- encoding -----------------------------------------------------------------------------
def _plain(v: Any) -> Any:
    t = type(v)
    if t is UInt:
        return int(v)
    if t is bytes or t is bytearray or t is memoryview:
        return base64.b64encode(v).decode("ascii")
    if t is float and not math.isfinite(v):
        raise EncodeError(f"float {v} cannot be written as JSON")
    if t is list or t is tuple:
        return [_plain(e) for e in v]
    if t is dict:
        return {str(k): _plain(e) for k, e in v.items()}
    return v


def _simple(p: Point) -> dict:
    out: dict[str, Any] = {"measurement": p.name}
    if p.tags:
        out["tags"] = dict(sorted(p.tags.items()))
    out["fields"] = {k: _plain(p.fields[k]) for k in sorted(p.fields)}
    if p.time:
        out["time"] = p.time
    return out


def _pb_basic_json(v: Any) -> dict:
    t = type(v)
    if v is None:
        return {}
    if t is bool:
        return {"b": v}
    if t is UInt:
        return {"u": str(int(v))}
    if isinstance(v, int):
        return {"i": str(v)}
    if t is float:
        if math.isnan(v):
            return {"f": "NaN"}
        if math.isinf(v):
            return {"f": "Infinity" if v > 0 else "-Infinity"}
        return {"f": v}
    if t is str:
        return {"s": v}
    if t in (bytes, bytearray, memoryview):
        return {"d": base64.b64encode(v).decode("ascii")}
    raise EncodeError(f"value of type {t.__name__} cannot be written as PBJSON")


def _pbjson(p: Point) -> dict:
    fl: list[dict] = [{"key": k, "s": v, "is_tag": True} for k, v in p.tags.items()]
    for k, v in p.fields.items():
        f: dict[str, Any] = {"key": k}
        if isinstance(v, (list, tuple)):
            f["a"] = {"@type": ARRAY_URL, "arr": [_pb_basic_json(e) for e in v]}
        elif isinstance(v, dict):
            f["a"] = {"@type": MAP_URL, "map": {str(mk): _pb_basic_json(e) for mk, e in v.items()}}
        else:
            f.update(_pb_basic_json(v))
        fl.append(f)
    out: dict[str, Any] = {}
    if p.name:
        out["name"] = p.name
    out["fields"] = fl
    if p.time:
        out["time"] = str(p.time)
    if p.warns:
        out["warns"] = [{"type": t, "message": m} for t, m in p.warns]
    return out


def encode(points: Iterable[Point], form: str = "simple") -> bytes:
    """A JSON array of points in the "simple" or "pbjson" form."""
    if form == "simple":
        conv = _simple
    elif form == "pbjson":
        conv = _pbjson
    else:
        raise ValueError(f"unknown JSON point form {form!r} (simple or pbjson)")
    try:
        return orjson.dumps([conv(p) for p in points])
    except orjson.JSONEncodeError as exc:
        raise EncodeError(f"cannot write points as JSON: {exc}") from None
