"""Value conversions shared by the built-ins (platypus.md §7, §9.1).

* `to_str`: "reads-as-str" (int decimal, float shortest, bool true/false, list/map JSON, nil "").
* `to_json`: Go-compatible JSON text (compact, sorted keys, `<>&` escaped, non-ASCII kept,
  floats shortest with an exponent only below 1e-6 or from 1e21 on).
* `format_float`: the shortest decimal form without exponent (tag values, reads-as-str).
* `deep_equal`: type-exact structural equality (1 != 1.0 != True).
* `value_type`: the Platypus type name.
"""

from __future__ import annotations

import math
from decimal import Decimal

from ..registry import MISSING

__all__ = ["MISSING", "deep_equal", "format_float", "json_float", "to_json", "to_str", "type_name"]


def format_float(f: float) -> str:
    """Shortest round-trip decimal without exponent (Go FormatFloat(f, 'f', -1, 64))."""
    if f != f:
        return "NaN"
    if f in (math.inf, -math.inf):
        return "+Inf" if f > 0 else "-Inf"
    r = repr(f)
    if "e" in r or "E" in r:
        r = format(Decimal(r), "f")
    if r.endswith(".0"):
        r = r[:-2]
    return r


def json_float(f: float) -> str:
    """Go encoding/json float text as §7.2 shows it (`1e+21`, `1e-07`, else positional)."""
    if f != f or f in (math.inf, -math.inf):
        raise ValueError(f"unsupported value: {f!r}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        r = repr(f)
        mant, _, exp = r.partition("e")
        if not exp:  # repr chose positional; build the exponent form from the digits
            sign, digits, e = Decimal(r).normalize().as_tuple()
            ds = "".join(map(str, digits))
            exp_v = e + len(ds) - 1
            mant = ("-" if sign else "") + ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
            exp = str(exp_v)
        if mant.endswith(".0"):
            mant = mant[:-2]
        ev = int(exp)
        return f"{mant}e{'-' if ev < 0 else '+'}{abs(ev):02d}"
    return format_float(f)


_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "<": "\\u003c", ">": "\\u003e",
        "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
for _c in range(0x20):
    _ESC.setdefault(chr(_c), "\\u%04x" % _c)
_NEEDS = frozenset(_ESC)


def _json_str(s: str) -> str:
    if _NEEDS.isdisjoint(s):
        return '"' + s + '"'
    return '"' + "".join(_ESC.get(ch, ch) for ch in s) + '"'


def to_json(v) -> str:
    """Encode a script value as Go's encoding/json would (map keys sorted)."""
    t = type(v)
    if t is str:
        return _json_str(v)
    if t is bool:
        return "true" if v else "false"
    if t is int or isinstance(v, int):
        return str(int(v))
    if t is float:
        return json_float(v)
    if v is None:
        return "null"
    if t is list or t is tuple:
        return "[" + ",".join(to_json(e) for e in v) + "]"
    if t is dict:
        return "{" + ",".join(_json_str(str(k)) + ":" + to_json(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, bytes):
        return _json_str(v.decode("utf-8", "replace"))
    return _json_str(str(v))


def to_str(v) -> str:
    """Reads-as-str (§9.1). Callers handle MISSING before calling."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return format_float(v)
    if v is None:
        return ""
    if t is list or t is dict:
        return to_json(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, int):
        return str(int(v))
    return str(v)


def deep_equal(a, b) -> bool:
    """Type-exact deep equality (int 1, float 1.0, "1" and true all differ)."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        # int subclasses (UInt) read as int
        if isinstance(a, int) and isinstance(b, int) and ta is not bool and tb is not bool:
            return int(a) == int(b)
        return False
    if ta is list:
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    if ta is dict:
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return a == b


def type_name(v) -> str:
    """value_type(): int float bool str list map, "" for nil/void."""
    t = type(v)
    if t is bool:
        return "bool"
    if t is int or (isinstance(v, int) and t is not bool):
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "str"
    if t is list:
        return "list"
    if t is dict:
        return "map"
    return ""
