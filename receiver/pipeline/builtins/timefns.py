"""Time built-ins (§9.2, §11): default_time default_time_with_fmt parse_date datetime timestamp
adjust_timezone parse_duration duration_precision. Zones and layouts are resolved in check hooks."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from ..registry import MISSING, ArgKind, Param, ScriptRuntimeError, builtin
from ._args import is_literal
from ._dateparse import parse_time, zone_cache
from ._gotime import NAMED_LAYOUTS, GoLayout, UnknownZone, get_zone, local_ns
from ._strftime import strftime
from ._values import to_str
from .keys import cast_value

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT


def _zone_check(fn: str, index: int):
    def check(cc, args):
        a = args[index]
        if a is None:
            return None
        if not is_literal(a, str):
            cc.error(f"{fn}: the time zone must be a string literal", a)
        return None
    return check


def _zone(name: str):
    """(zone, error text)"""
    try:
        return get_zone(name), None
    except UnknownZone as exc:
        return None, str(exc)


class _Zone:
    """A default_time zone argument resolved once at compile time (an unknown zone is a run-time
    failure of each call, as upstream)."""

    __slots__ = ("cache", "err", "name", "zone")

    def __init__(self, name: str) -> None:
        self.name = name
        self.zone, self.err = _zone(name)
        self.cache = zone_cache(name)  # parse_time's results for this zone


def _check_default_time(cc, args):
    _zone_check("default_time", 1)(cc, args)
    a = args[1]
    return {"tz": _Zone(a.value if a is not None else "")}


@builtin("default_time", Param("key", KEY), Param("tz", LIT, default="", lit_types=(str,)),
         check=_check_default_time)
def default_time(ctx, key, tz):
    """Parse the key's date text; key = int ns, or pl_msg + the point's time on failure."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    if tz.__class__ is _Zone:
        if v.__class__ is str and (ns := tz.cache.get(v)) is not None:  # a text parsed before
            pt = ctx.point
            if key in pt.tags:
                ctx.set_field(key, ns)
            else:
                pt.fields[key] = ns
            return None
        zone, err, tz = tz.zone, tz.err, tz.name
    else:
        zone, err = _zone(tz)
    if zone is not None:
        try:
            ctx.set_field(key, parse_time(v if type(v) is str else to_str(v), zone, tz))
            return None
        except ValueError as exc:
            err = str(exc)
    ctx.set_field("pl_msg", f"time convert failed: {err}")
    ctx.set_field(key, ctx.point.time)
    return None


def _check_with_fmt(cc, args):
    lay = args[1]
    if not is_literal(lay, str):
        cc.error("default_time_with_fmt: the layout must be a string literal", lay)
    _zone_check("default_time_with_fmt", 2)(cc, args)
    return {"layout": GoLayout(lay.value)}


@builtin("default_time_with_fmt", Param("key", KEY), Param("layout", LIT, lit_types=(str,)),
         Param("tz", LIT, default="", lit_types=(str,)), check=_check_with_fmt)
def default_time_with_fmt(ctx, key, layout, tz):
    """Parse with a Go layout; key = int ns on success, unchanged otherwise."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    if type(layout) is str:
        layout = GoLayout(layout)
    zone, _ = _zone(tz)
    if zone is None:
        return None
    try:
        ctx.set_field(key, layout.parse(to_str(v), zone))
    except ValueError:
        pass
    return None


_MONTH_NAMES = {}
for _i, _m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august", "september",
                         "october", "november", "december")):
    _MONTH_NAMES[_m] = _i + 1
    _MONTH_NAMES[_m[:3]] = _i + 1
_MONTH_NAMES["sept"] = 9


def _num(s) -> int | None:
    if type(s) is not str or not s:
        return None
    try:
        return int(s)
    except ValueError:
        return None


_PD_PARAMS = ("yy", "MM", "dd", "hh", "mm", "ss", "ms", "us", "ns", "zone")


@builtin("parse_date", Param("key", KEY), *(Param(n, VALUE, default="") for n in _PD_PARAMS))
def parse_date(ctx, key, yy, MM, dd, hh, mm, ss, ms, us, ns, zone):
    """Build a timestamp from parts (missing parts from now, seconds and below from 0)."""
    zname = zone if type(zone) is str else ""
    if zname:
        try:
            tz = get_zone(zname, table_fallback=True)
        except UnknownZone as exc:
            raise ScriptRuntimeError(f"parse_date: {exc}") from None
    else:
        tz = timezone.utc
    now = datetime.now(tz)
    year = _num(yy)
    if year is None:
        year = now.year
    elif year < 0:
        raise ScriptRuntimeError("parse_date: negative year")
    elif year < 100:
        year += now.year // 100 * 100
    month = _num(MM)
    if month is None:
        if type(MM) is str and MM:
            month = _MONTH_NAMES.get(MM.lower())
            if month is None:
                raise ScriptRuntimeError(f"parse_date: unknown month {MM!r}")
        else:
            month = now.month
    day = _num(dd)
    day = now.day if day is None else day
    hour = _num(hh)
    hour = now.hour if hour is None else hour
    minute = _num(mm)
    minute = now.minute if minute is None else minute
    sec = _num(ss) or 0
    sub = (_num(ms) or 0) * 1_000_000 + (_num(us) or 0) * 1_000 + (_num(ns) or 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and 0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= sec <= 59):
        raise ScriptRuntimeError("parse_date: a date part is out of range")
    try:
        datetime(year, month, day)
    except ValueError as exc:
        raise ScriptRuntimeError(f"parse_date: {exc}") from None
    ctx.set_field(key, local_ns(year, month, day, hour, minute, sec, 0, tz) + sub)
    return None


def _check_datetime(cc, args):
    for a in args[1:]:
        if a is not None and not is_literal(a, str):
            cc.error("datetime: precision, fmt and tz must be string literals", a)
    fmt = args[2].value
    return {"fmt": GoLayout(NAMED_LAYOUTS[fmt]) if fmt in NAMED_LAYOUTS else fmt}


_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}


@builtin("datetime", Param("key", KEY), Param("precision", LIT, lit_types=(str,)), Param("fmt", LIT, lit_types=(str,)),
         Param("tz", LIT, default="", lit_types=(str,)), check=_check_datetime)
def datetime_(ctx, key, precision, fmt, tz):
    """Format the key's timestamp (in precision units) with a Go layout name or strftime."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    try:
        zone = get_zone(tz)
    except UnknownZone as exc:
        raise ScriptRuntimeError(f"datetime: {exc}") from None
    n = cast_value(v, "int") * _UNIT.get(precision, 1)
    secs, rem = divmod(n, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, zone).replace(microsecond=rem // 1000)
    if type(fmt) is str and fmt in NAMED_LAYOUTS:
        fmt = GoLayout(NAMED_LAYOUTS[fmt])
    ctx.set_field(key, fmt.format(dt) if isinstance(fmt, GoLayout) else strftime(fmt, dt))
    return None


@builtin("timestamp", Param("precision", VALUE, default="ns"))
def timestamp(ctx, precision):
    """Current Unix time in s, ms, us, else ns."""
    return time.time_ns() // _UNIT.get(precision, 1) if type(precision) is str else time.time_ns()


_H = 3_600_000_000_000
_2MIN = 120_000_000_000


def _tdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@builtin("adjust_timezone", Param("key", KEY))
def adjust_timezone(ctx, key):
    """Shift an int ns timestamp by whole hours into (now - 58 min, now + 2 min]."""
    t = ctx.read(key)
    if t is MISSING:
        return None
    if type(t) is not int:
        raise ScriptRuntimeError("adjust_timezone: the key must hold an int timestamp (ns)")
    now = time.time_ns()
    t -= (_tdiv(t, _H) - _tdiv(now, _H)) * _H
    if t - now > _2MIN:
        t -= _H
    elif t - now <= -_H + _2MIN:
        t += _H
    ctx.set_field(key, t)
    return None


_DUR_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
              "m": 60_000_000_000, "h": _H}
_DUR = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")


def go_parse_duration(s: str) -> int:
    """Go time.ParseDuration -> int ns; ValueError when invalid."""
    orig = s
    neg = False
    if s[:1] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"invalid duration {orig!r}")
    total = 0
    pos = 0
    while pos < len(s):
        m = _DUR.match(s, pos)
        if m is None or (not m.group(1) and not m.group(2)):
            raise ValueError(f"invalid duration {orig!r}")
        whole, frac, unit = m.groups()
        u = _DUR_UNITS[unit]
        total += int(whole or 0) * u
        if frac:
            total += int(float(int(frac)) * (u / 10 ** len(frac)))
        pos = m.end()
    if total > (1 << 63) - 1:
        raise ValueError(f"invalid duration {orig!r}")
    return -total if neg else total


@builtin("parse_duration", Param("key", KEY))
def parse_duration(ctx, key):
    """A Go duration string -> int ns; anything else leaves the key alone."""
    v = ctx.read(key)
    if type(v) is not str:
        return None
    try:
        ctx.set_field(key, go_parse_duration(v))
    except ValueError:
        pass
    return None


_SCALE = {"s": 0, "ms": 3, "us": 6, "ns": 9}


@builtin("duration_precision", Param("key", KEY), Param("old", LIT, lit_types=(str,)), Param("new", LIT, lit_types=(str,)),
         tier=2)
def duration_precision(ctx, key, old, new):
    """Rescale an int between s/ms/us/ns (x10 or /10 per step, truncating)."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    if type(v) is not int:
        raise ScriptRuntimeError("duration_precision: the key must hold an int")
    a, b = _SCALE.get(old), _SCALE.get(new)
    if a is None or b is None:
        return None
    for _ in range(abs(b - a)):
        v = v * 10 if b > a else _tdiv(v, 10)
    ctx.set_field(key, v)
    return None
