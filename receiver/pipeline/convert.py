"""Values crossing the point/script boundary, and Go's text forms of script values.

Point -> script (platypus.md §7.1): `point_value()`. Script -> point (§7.2): `to_tag_string()`,
`to_field_value()`, and `go_json()` (encoding/json output: compact, sorted keys, `<>&`
escaped, floats in Go's shortest form). Built-ins use these too, so "reads-as-str" and
"stores as JSON" mean the same everywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from offload.point import UInt

from .registry import MISSING

__all__ = [
    "go_float", "go_float_e", "go_json", "point_value", "to_field_value", "to_string", "to_tag_string",
    "type_name", "wrap_int64",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
_MASK64 = (1 << 64) - 1


def wrap_int64(v: int) -> int:
    """Two's complement wrap-around into int64."""
    if INT64_MIN <= v <= INT64_MAX:
        return v
    v &= _MASK64
    return v - (1 << 64) if v > INT64_MAX else v


_TYPE_NAMES = {int: "int", float: "float", bool: "bool", str: "str", list: "list", dict: "map", type(None): "nil"}


def type_name(v: Any) -> str:
    """The script type name of a value (`value_type` spelling; nil for None)."""
    return _TYPE_NAMES.get(type(v)) or ("int" if isinstance(v, int) else type(v).__name__)


def point_value(tags: dict, fields: dict, key: str) -> Any:
    """The script view of point key `key` (§7.1); MISSING when the point has no such key."""
    v = tags.get(key, MISSING)
    if v is not MISSING:
        return v if type(v) is str else to_tag_string(v)
    v = fields.get(key, MISSING)
    t = type(v)
    if t is str or t is int or t is float or t is bool or v is None or v is MISSING:
        return v
    if t is UInt or isinstance(v, int):
        return wrap_int64(int(v))
    if t is bytes or t is bytearray:
        return bytes(v).decode("utf-8", "replace")
    # Typed arrays and dict fields are not readable with DataKit's default settings.
    return None


# -- Go number formatting ---------------------------------------------------------------------
def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f.is_integer() and -1e16 < f < 1e16:
        return "-0" if (f == 0 and str(f)[0] == "-") else str(int(f))
    r = repr(f)
    if "e" not in r:
        return r
    s = format(Decimal(r), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def go_float_e(f: float) -> str:
    """strconv.FormatFloat(f, 'e', -1, 64): shortest digits, exponent with sign and >= 2 digits."""
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    e = exp + len(digits) - 1
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{'-' if sign else ''}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"


def go_json_float(f: float) -> str:
    a = abs(f)
    if f != f or a == float("inf"):
        raise ValueError(f"json: unsupported value: {go_float(f)}")
    if a != 0 and (a < 1e-6 or a >= 1e21):
        return go_float_e(f)
    return go_float(f)


_JSON_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
}
for _c in range(0x20):
    _JSON_ESCAPES.setdefault(chr(_c), f"\\u{_c:04x}")
_JSON_TRANS = str.maketrans(_JSON_ESCAPES)
_NEEDS_ESCAPE = frozenset(_JSON_ESCAPES)


def _json_str(s: str) -> str:
    if _NEEDS_ESCAPE.isdisjoint(s):
        return '"' + s + '"'
    return '"' + s.translate(_JSON_TRANS) + '"'


def _json(v: Any, out: list) -> None:
    t = type(v)
    if t is str:
        out.append(_json_str(v))
    elif t is bool:
        out.append("true" if v else "false")
    elif v is None:
        out.append("null")
    elif t is int or t is UInt:
        out.append(str(int(v)))
    elif t is float:
        out.append(go_json_float(v))
    elif t is dict:
        out.append("{")
        first = True
        for k in sorted(v):
            if not first:
                out.append(",")
            first = False
            out.append(_json_str(str(k)))
            out.append(":")
            _json(v[k], out)
        out.append("}")
    elif t is list or t is tuple:
        out.append("[")
        for i, e in enumerate(v):
            if i:
                out.append(",")
            _json(e, out)
        out.append("]")
    elif t is bytes:
        out.append(_json_str(v.decode("utf-8", "replace")))
    elif isinstance(v, int):
        out.append(str(int(v)))
    else:
        raise ValueError(f"json: unsupported type {type(v).__name__}")


def go_json(v: Any) -> str:
    """Go encoding/json text of a script value (compact, sorted keys, HTML-safe)."""
    out: list[str] = []
    _json(v, out)
    return "".join(out)


# -- script -> point ------------------------------------------------------------------------
def to_string(v: Any) -> str:
    """The "reads-as-str" form of a value (§9.1): nil -> "", float shortest, list/map JSON."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return go_float(v)
    if v is None or v is MISSING:
        return ""
    if t is list or t is dict:
        try:
            return go_json(v)
        except ValueError:
            return ""
    if t is bytes:
        return v.decode("utf-8", "replace")
    if isinstance(v, int):
        return str(int(v))
    return str(v)


to_tag_string = to_string


def to_field_value(v: Any) -> Any:
    """What a field setter stores (§7.2): scalars as they are, list/map as JSON, nil as None."""
    t = type(v)
    if t is list or t is dict:
        try:
            return go_json(v)
        except ValueError:
            return None
    return v
