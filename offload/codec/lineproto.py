"""DataKit line protocol: the reader and the writer (wire.md b.1-b.4, d.4).

Reading: the payload is decoded as UTF-8 once and read line by line through three
tiers, each accepting a subset of the one before (see `_lpshape` and `_lpscan`):

1. a learned layout: once two lines had the same fields (keys, types, order), a loop
   generated for that layout reads line after line of it, one anchored regex match
   and the inline value conversions per line (the steady state of a logging payload);
2. the generic fast path: the head (measurement and tags, cached by its text) up to
   the first space, one `findall` over the fields, an all-digit last token as the
   timestamp;
3. the careful scanner, the reference grammar: comments, blank lines, escapes in
   field keys, binary values, arrays, strings spanning lines, and every malformed
   line, reported as `LineProtocolError(line, column)`.

A bad line fails the whole payload; only the silent drops of wire.md b.2 (bad
binary, mixed array, nothing but `[]`) lose a point. The tests check that the tiers
agree with the scanner on arbitrary text.

Timestamps: precision "n", "u", "ms", "s", "m", "h" multiply; any other non-empty
value means "n"; None (or "") is DataKit's dynamic detection. A line without a
timestamp gets `now_ns` in ns whatever the precision (upstream defect h.2 fixed).
An explicit timestamp 0 stays 0, which the point model reads as "not set".

Writing follows cliutils `LineProto()` (b.4): sorted tags with empty values left out,
sorted fields, Go-style shortest floats never in exponent notation. What cannot be
written is refused: `encode_point` returns "" for a point without fields or with a
NaN/±Inf float (upstream behaviour), and raises `EncodeError` for content that
would corrupt the line (a newline or trailing backslash in a key, tag value or
measurement, an empty key or measurement, a measurement starting with `#`, a tab or
a NUL, a first field key starting with a tab or NUL, integers out of range). Fields
with no value (None) and maps cannot be expressed in line protocol and are left out.
A point with time 0 is written without a timestamp (the reader then uses its receive
time, as DataKit does for 0). The batch `encode` skips every point `encode_point`
refuses.
"""

from __future__ import annotations

import base64
import time as _time
from decimal import Decimal
from typing import Iterable

from offload.codec._lpscan import (
    MAX_KEY_LEN,
    Scanner,
    parse_ts,
    unescape_measurement,
    unescape_string,
)
from offload.codec._lpshape import BOOLS, fields_re, shape_for
from offload.errors import EncodeError, LineProtocolError
from offload.point import Point, UInt

__all__ = ["PRECISIONS", "decode", "decode_careful", "encode", "encode_point", "format_float", "precision_multiplier"]

PRECISIONS = {"n": 1, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}

# --- the fast path (see _lpshape) ------------------------------------------------------------
_I64_MIN, _I64_MAX, _U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_INF, _NINF = float("inf"), float("-inf")
# Below this many characters a line cannot reach the 65535-byte key limit (4 bytes a char at most).
_SHORT_LINE = MAX_KEY_LEN // 4
# measurement+tags text -> (name, tags): logging payloads repeat a handful of heads.
_HEADS: dict[str, tuple[str, dict[str, str]]] = {}
_HEADS_MAX = 10_000
# Heads and layouts are reused on other lines only when short enough that no combination of
# them can exceed the 65535-byte key limit (4 bytes a character at most).
_HEAD_CACHE_LEN = 4000


def _ts(raw: int, mult: int | None) -> int:
    """A timestamp token in ns; ValueError when out of range (the scanner then reports it)."""
    if raw < _I64_MIN or raw > _I64_MAX:
        raise ValueError(raw)
    if mult == 1:
        return raw
    try:
        return parse_ts(raw, mult)
    except OverflowError:
        raise ValueError(raw) from None


def precision_multiplier(precision: str | None) -> int | None:
    """ns per unit of `precision`; None means dynamic detection (absent or empty precision)."""
    if not precision:
        return None
    return PRECISIONS.get(precision, 1)


def _to_text(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        return data
    data = bytes(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        col = len(data[line_start:start].decode("utf-8", "replace")) + 1
        raise LineProtocolError(
            f"invalid UTF-8 (byte 0x{data[start]:02x} at byte offset {start})", data.count(b"\n", 0, start) + 1, col
        ) from None


def decode(data: bytes | str, precision: str | None = "n", now_ns: int | None = None) -> list[Point]:
    """Parse a line-protocol payload; any malformed line raises `LineProtocolError` for the whole payload."""
    text = _to_text(data)
    now = _time.time_ns() if now_ns is None else now_ns
    mult = precision_multiplier(precision)
    exact = "\\\\" in text
    fields_fa = fields_re(exact).findall
    heads = _HEADS
    bools = BOOLS
    scanner = Scanner(text, mult, now)
    shape_run = None
    skip_at = -1  # where the layout last stopped: that line goes to the paths below
    out: list[Point] = []
    app = out.append
    pos, n = 0, len(text)
    while pos < n:
        if shape_run is not None and pos != skip_at:
            # The layout of the previous lines, read line after line by its generated loop.
            stop = shape_run(text, pos, heads, now, mult, app)
            if stop >= n:
                break
            skip_at = pos = stop
        start = pos
        nl = text.find("\n", pos)
        if nl < 0:
            nl = n
        line = text[pos:nl]
        if not line:
            pos = nl + 1
            continue
        sp = line.find(" ")
        ht = None
        if sp > 0 and len(line) <= _SHORT_LINE:
            head = line[:sp]
            ht = heads.get(head)
            if ht is None and line[0] not in "#\t\0" and line[sp - 1] != "\\":
                name, tags, end, _ = scanner.head(start)
                if end == start + sp:
                    ht = (name, tags)
                    if sp <= _HEAD_CACHE_LEN:
                        if len(heads) >= _HEADS_MAX:
                            heads.clear()
                        heads[head] = ht
        if ht is not None:
            # The generic fast path. An all-digit last token is the timestamp: a space inside
            # a string value is always followed by that value's closing quote on the same line.
            r = line.rfind(" ")
            fend = len(line)
            t = now
            if r > sp:
                tok = line[r + 1 :]
                if tok.isascii() and (tok.isdigit() or (tok[:1] == "-" and tok[1:].isdigit())):
                    fend = r
                    try:
                        t = _ts(int(tok), mult)
                    except ValueError:
                        t = None
            fields = {}
            layout = []
            if t is not None:
                for k, sv, iv, uv, fv, bv, bad in fields_fa(line, sp + 1, fend):
                    if bad:
                        break
                    if sv:
                        v = sv[1:-1]
                        if "\\" in v:
                            v = unescape_string(v)
                        layout.append((k, "s"))
                    elif iv:
                        v = int(iv)
                        if len(iv) > 18 and (v < _I64_MIN or v > _I64_MAX):
                            break
                        layout.append((k, "i"))
                    elif fv:
                        v = float(fv)
                        if v == _INF or v == _NINF:
                            break
                        layout.append((k, "f"))
                    elif uv:
                        v = UInt(uv)
                        if len(uv) > 19 and v > _U64_MAX:
                            break
                        layout.append((k, "u"))
                    else:
                        v = bools[bv]
                        layout.append((k, "b"))
                    fields[k] = v
                else:
                    if fields:
                        app(Point(ht[0], dict(ht[1]), fields, t))
                        pos = nl + 1
                        if sp <= _HEAD_CACHE_LEN and fend - sp <= _HEAD_CACHE_LEN:
                            shape = shape_for(tuple(layout), _ts)
                            if shape is not None:
                                shape_run = shape.compiled(exact)
                        continue
        # Not the common shape, or something to report: the scanner reads the line (and maybe more).
        p, pos = scanner.parse(start)
        if p is not None:
            app(p)
    return out


def decode_careful(data: bytes | str, precision: str | None = "n", now_ns: int | None = None) -> list[Point]:
    """`decode` through the careful scanner only (the reference the fast paths are tested against)."""
    text = _to_text(data)
    scanner = Scanner(text, precision_multiplier(precision), _time.time_ns() if now_ns is None else now_ns)
    out: list[Point] = []
    pos, n = 0, len(text)
    while pos < n:
        p, pos = scanner.parse(pos)
        if p is not None:
            out.append(p)
    return out


# --- the writer ---------------------------------------------------------------------------
_ESC_MEAS = str.maketrans({",": "\\,", " ": "\\ "})
_ESC_TAG = str.maketrans({",": "\\,", " ": "\\ ", "=": "\\="})
_ESC_FKEY = str.maketrans({",": "\\,", '"': '\\"', " ": "\\ ", "=": "\\="})
_CACHE_MAX = 50_000
_meas_cache: dict[str, str] = {}
_tag_cache: dict[str, str] = {}
_fkey_cache: dict[str, str] = {}


def format_float(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    r = repr(v)
    if "e" in r:
        r = format(Decimal(r), "f")
    elif r.endswith(".0"):
        r = r[:-2]
    return r


def _bad_key(kind: str, k: str) -> EncodeError:
    return EncodeError(f"{kind} {k!r} cannot be written in line protocol")


def _esc_meas(name: str) -> str:
    out = _meas_cache.get(name)
    if out is None:
        if not name or "\n" in name or name.endswith("\\") or name[0] in "#\t\0":
            raise _bad_key("measurement", name)
        # Un-escape first, then escape (cliutils): a literal `\,` is written as `\,`.
        out = unescape_measurement(name).translate(_ESC_MEAS)
        if len(_meas_cache) >= _CACHE_MAX:
            _meas_cache.clear()
        _meas_cache[name] = out
    return out


def _esc_tag(s: str, kind: str) -> str:
    out = _tag_cache.get(s)
    if out is None:
        if not s or "\n" in s or s.endswith("\\"):
            raise _bad_key(kind, s)
        out = s.translate(_ESC_TAG)
        if len(_tag_cache) >= _CACHE_MAX:
            _tag_cache.clear()
        _tag_cache[s] = out
    return out


def _esc_fkey(k: str) -> str:
    out = _fkey_cache.get(k)
    if out is None:
        if not k or "\n" in k or k.endswith("\\"):
            raise _bad_key("field key", k)
        out = k.translate(_ESC_FKEY)
        if len(_fkey_cache) >= _CACHE_MAX:
            _fkey_cache.clear()
        _fkey_cache[k] = out
    return out


class _Unencodable(Exception):
    """Internal: NaN/±Inf, the upstream writer's "empty string" case."""


def _scalar(v, t) -> str:
    if t is str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if t is int:
        if v < _I64_MIN or v > _I64_MAX:
            raise EncodeError(f"integer {v} is out of the int64 range")
        return f"{v}i"
    if t is float:
        if v != v or v == _INF or v == _NINF:
            raise _Unencodable
        return format_float(v)
    if t is bool:
        return "true" if v else "false"
    if t is UInt:
        if v < 0 or v > _U64_MAX:
            raise EncodeError(f"unsigned integer {int(v)} is out of the uint64 range")
        return f"{int(v)}u"
    if t is bytes or t is bytearray or t is memoryview:
        return '"' + base64.b64encode(v).decode("ascii") + '"b'
    # subclasses of the basic types (IntEnum, numpy scalars that subclass float ...)
    for base in (bool, UInt, int, float, str, bytes):
        if isinstance(v, base):
            return _scalar(base(v), base)
    raise EncodeError(f"value of type {t.__name__} cannot be written in line protocol")


def _value(v) -> str | None:
    t = type(v)
    if t is list or t is tuple:
        if not v:
            return "[]"
        kinds = {type(e) for e in v}
        if len(kinds) != 1:
            raise EncodeError("array elements must all have the same type")
        return "[" + ",".join([_scalar(e, type(e)) for e in v]) + "]"
    if v is None or t is dict:
        return None  # no value / map: not expressible in line protocol
    return _scalar(v, t)


def _encode(p: Point, div: int) -> str:
    fields = p.fields
    if not fields:
        return ""
    fkc = _fkey_cache
    try:
        parts = []
        for k in sorted(fields):
            v = fields[k]
            t = type(v)
            # The common scalars inline (the same text as _scalar), everything else through _value.
            if t is str:
                sv = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            elif t is int and _I64_MIN <= v <= _I64_MAX:
                sv = str(v) + "i"
            elif t is float and v - v == 0.0:  # finite
                sv = repr(v)
                if "e" in sv:
                    sv = format(Decimal(sv), "f")
                elif sv.endswith(".0"):
                    sv = sv[:-2]
            else:
                sv = _value(v)
                if sv is None:
                    continue
            ek = fkc.get(k)
            parts.append((ek if ek is not None else _esc_fkey(k)) + "=" + sv)
    except _Unencodable:
        return ""
    if not parts:
        return ""
    if parts[0][0] in "\t\0":
        # the reader skips blanks after the space, so it would lose this first character
        raise EncodeError(f"field key {parts[0].split('=', 1)[0]!r} cannot start a field section")
    head = _esc_meas(p.name)
    tags = p.tags
    if tags:
        for k in sorted(tags):
            v = tags[k]
            if v:
                head += "," + _esc_tag(k, "tag key") + "=" + _esc_tag(v, "tag value")
    line = head + " " + ",".join(parts)
    t = p.time
    if t:
        if div != 1:
            t = -((-t) // div) if t < 0 else t // div  # Go division truncates toward zero
        line += " " + str(t)
    return line


def encode_point(p: Point) -> str:
    """One point as a line (no newline, ns timestamp); "" when it has no fields or a NaN/Inf float."""
    return _encode(p, 1)


def encode(points: Iterable[Point], precision: str = "n", trailing_newline: bool = False) -> bytes:
    """Points joined by `\\n` (Dataway bodies want `trailing_newline=True`); unencodable points are skipped."""
    div = PRECISIONS.get(precision, 1) if precision else 1
    lines = []
    for p in points:
        try:
            line = _encode(p, div)
        except EncodeError:
            continue
        if line:
            lines.append(line)
    if not lines:
        return b""
    body = "\n".join(lines)
    if trailing_newline:
        body += "\n"
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate somewhere: skip the lines that cannot be UTF-8, like any unencodable point.
        good = [line for line in lines if _utf8_ok(line)]
        return ("\n".join(good) + ("\n" if trailing_newline and good else "")).encode("utf-8")


def _utf8_ok(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
