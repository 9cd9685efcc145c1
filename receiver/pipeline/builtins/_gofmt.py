"""Go fmt.Sprintf for strfmt() (§11.3): verbs v s d f F e E g G t x X o O b c q U %, flags
`+ - # 0 space`, width and precision, and Go's error renderings (%!d(string=x), MISSING, EXTRA)."""

from __future__ import annotations

import math
import re

from ._values import format_float

__all__ = ["sprintf", "go_type", "go_value"]

_SPEC = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.?)", re.DOTALL)


def go_type(v) -> str:
    t = type(v)
    if t is bool:
        return "bool"
    if isinstance(v, int):
        return "int64"
    if t is float:
        return "float64"
    if t is str:
        return "string"
    if t is list:
        return "[]interface {}"
    if t is dict:
        return "map[string]interface {}"
    return "<nil>"


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of |f| and the decimal exponent of the first digit."""
    from decimal import Decimal
    sign, digs, e = Decimal(repr(abs(f))).normalize().as_tuple()
    ds = "".join(map(str, digs)) or "0"
    return ds, (e + len(ds) - 1 if ds != "0" else 0)


def _g(f: float, prec: int = -1, upper: bool = False) -> str:
    """strconv.FormatFloat(f, 'g', prec, 64) (prec -1: shortest, %e from exponent 6 on)."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if prec < 0:
        ds, exp = _digits(f)
        if exp < -4 or exp >= 6:
            m = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
            s = f"{'-' if f < 0 else ''}{m}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
        else:
            s = format_float(f)
        return s.upper() if upper else s
    s = format(f, f".{max(prec, 1)}g")
    if "e" in s:
        m, _, e = s.partition("e")
        s = f"{m}e{e[0]}{int(e[1:]):02d}"
    return s.upper() if upper else s


def _e(f: float, prec: int, upper: bool) -> str:
    s = format(f, f".{prec}e")
    m, _, e = s.partition("e")
    s = f"{m}e{e[0]}{int(e[1:]):02d}"
    return s.upper() if upper else s


def _quote(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif not ch.isprintable():
            out.append("\\u%04x" % o if o < 0x10000 else "\\U%08x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_value(v) -> str:
    """%v rendering."""
    t = type(v)
    if v is None:
        return "<nil>"
    if t is bool:
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if t is float:
        return _g(v)
    if t is str:
        return v
    if t is list:
        return "[" + " ".join(go_value(e) for e in v) + "]"
    if t is dict:
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def _bad(verb: str, v) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(v)}={go_value(v)})"


def _pad(s: str, width: int | None, flags: str, numeric: bool) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s + " " * (width - len(s))
    if "0" in flags and numeric:
        sign = s[0] if s[:1] in "+- " else ""
        body = s[len(sign):]
        return sign + "0" * (width - len(s)) + body
    return " " * (width - len(s)) + s


def _int_base(v: int, base: int, verb: str, flags: str, prec: int | None) -> str:
    neg = v < 0
    a = -v if neg else v
    digits = {10: str(a), 16: format(a, "x"), 8: format(a, "o"), 2: format(a, "b")}[base]
    if verb == "X":
        digits = digits.upper()
    if prec is not None and len(digits) < prec:
        digits = "0" * (prec - len(digits)) + digits
    if "#" in flags:
        digits = {16: "0x" if verb == "x" else "0X", 8: "0", 2: "0b"}.get(base, "") + digits
    if verb == "O":
        digits = "0o" + digits
    sign = "-" if neg else ("+" if "+" in flags else (" " if " " in flags else ""))
    return sign + digits


def _one(verb: str, flags: str, width, prec, v) -> str:
    t = type(v)
    is_int = isinstance(v, int) and t is not bool
    if verb == "v":
        if t is float:
            s = _g(v, -1)
            if "+" in flags and not s.startswith("-"):
                s = "+" + s
            return _pad(s, width, flags, True)
        if is_int:
            return _pad(_int_base(v, 10, "d", flags, None), width, flags, True)
        return _pad(go_value(v), width, flags, False)
    if verb == "s":
        if t is str:
            return _pad(v if prec is None else v[:prec], width, flags, False)
        if t in (list,):
            return _pad("[" + " ".join(_one("s", "", None, None, e) for e in v) + "]", width, flags, False)
        return _bad(verb, v)
    if verb == "q":
        if t is str:
            return _pad(_quote(v), width, flags, False)
        if is_int:
            return _pad("'" + chr(v) + "'", width, flags, False)
        return _bad(verb, v)
    if verb == "t":
        return _pad("true" if v else "false", width, flags, False) if t is bool else _bad(verb, v)
    if verb in "dbo" or verb in "xXO":
        base = {"d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
        if is_int:
            return _pad(_int_base(int(v), base, verb, flags, prec), width, flags, prec is None)
        if verb in "xX" and t is str:
            h = v.encode("utf-8").hex()
            return _pad(h.upper() if verb == "X" else h, width, flags, False)
        if verb in "xX" and t is float:
            return _pad(float.hex(v), width, flags, True)
        return _bad(verb, v)
    if verb == "c":
        return _pad(chr(v), width, flags, False) if is_int else _bad(verb, v)
    if verb == "U":
        return _pad("U+%04X" % v, width, flags, False) if is_int else _bad(verb, v)
    if verb in "eEfFgG":
        if t is not float:
            return _bad(verb, v)
        if v != v or math.isinf(v):
            s = "NaN" if v != v else ("+Inf" if v > 0 else "-Inf")
            return _pad(s, width, flags.replace("0", ""), False)
        if verb in "fF":
            s = format(v, f".{6 if prec is None else prec}f")
        elif verb in "eE":
            s = _e(v, 6 if prec is None else prec, verb == "E")
        else:
            s = _g(v, -1 if prec is None else prec, verb == "G")
        if "+" in flags and not s.startswith("-"):
            s = "+" + s
        elif " " in flags and not s.startswith("-"):
            s = " " + s
        return _pad(s, width, flags, True)
    return _bad(verb, v)


def sprintf(fmt: str, args) -> str:
    """Go fmt.Sprintf."""
    out = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        m = _SPEC.match(fmt, j)
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        i = m.end()
        if verb == "%":
            out.append("%")
            continue
        if not verb:
            out.append("%!(NOVERB)")
            break
        w = int(width) if width else None
        p = (int(prec) if prec else 0) if prec is not None else None
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_one(verb, flags, w, p, args[argi]))
        argi += 1
    if argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{go_type(a)}={go_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
