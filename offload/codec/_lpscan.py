r"""The careful line-protocol scanner: one physical line at a time, with exact error positions.

`lineproto.decode` runs a compiled-regex fast path over the common shape of a line and
hands everything else here: escapes in field keys, binary values, arrays, leading
blanks, comments, overlong keys, and every malformed line (wire.md b.1-b.3). The
scanner is the reference grammar; the fast path only ever accepts a subset of it.

Escapes outside string values follow the upstream scanner: a backslash escapes the
next character when that character is one the element's writer escapes (b.1), and
is a literal backslash otherwise. So the tag value `a\=b`, which the writer emits as
`a\\=b` (backslashes are not escaped there), reads back as `a\=b`. Inside a quoted
string a backslash always pairs with the next character (so `\"` cannot end a
string) and only `\\` and `\"` are un-escaped.

Positions: errors name the 1-based physical line (every raw newline counts, also one
inside a quoted string) and the 1-based column in characters on that line.
"""

from __future__ import annotations

import base64
import binascii
import re

from offload.errors import LineProtocolError
from offload.point import Point, UInt

__all__ = ["MAX_KEY_LEN", "Scanner", "parse_ts", "unescape_string"]

MAX_KEY_LEN = 65535  # influxdb MaxKeyLength: measurement+tags, and +4+field key
_I64_MIN, _I64_MAX, _U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_INF = float("inf")

# Tokens up to the next unescaped terminator (see the module docstring on escapes).
_MEAS_TOK = re.compile(r"(?:[^ ,\n\\]|\\[ ,]?)*")
_TAG_TOK = re.compile(r"(?:[^ ,=\n\\]|\\[ ,=]?)*")
_FKEY_TOK = re.compile(r'(?:[^ ,=\n\\]|\\[ ,="]?)*')
_STR_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.S)
_SCALAR_TOK = re.compile(r"[^ ,\n]*")
_ELEM_TOK = re.compile(r"[^ ,\n\]]*")
_TS_TOK = re.compile(r"[^ \t\0\n]*")
_BLANKS = re.compile(r"[ \t\0]*")
_INT = re.compile(r"-?[0-9]+", re.A)
_UINT = re.compile(r"[0-9]+", re.A)
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.A)
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", re.A)
_BOOLS = {
    "t": True, "T": True, "true": True, "True": True, "TRUE": True,
    "f": False, "F": False, "false": False, "False": False, "FALSE": False,
}
_MEAS_UNESC = re.compile(r"\\([ ,])")
_TAG_UNESC = re.compile(r"\\([ ,=])")
_FKEY_UNESC = re.compile(r'\\([ ,="])')


class _Drop(Exception):
    """Internal: the point is silently dropped (bad binary, mixed array), the line is valid."""


def unescape_string(s: str) -> str:
    """Un-escape a quoted string field value: `\\\\` -> `\\`, `\\"` -> `"`, other backslashes stay."""
    if "\\\\" not in s:
        return s.replace('\\"', '"')
    # Split on the backslash pairs first: left to right they are exactly the scanner's pairs.
    return "\\".join(part.replace('\\"', '"') for part in s.split("\\\\"))


def unescape_measurement(s: str) -> str:
    return _MEAS_UNESC.sub(r"\1", s) if "\\" in s else s


def unescape_tag(s: str) -> str:
    return _TAG_UNESC.sub(r"\1", s) if "\\" in s else s


def unescape_field_key(s: str) -> str:
    return _FKEY_UNESC.sub(r"\1", s) if "\\" in s else s


def utf8_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def parse_ts(raw: int, mult: int | None) -> int:
    """A scanned timestamp times the precision unit; mult None = dynamic detection (wire.md d.4)."""
    if mult is None:
        # Go integer division truncates toward zero: negatives always count as seconds.
        if raw < 10_000_000_000:
            mult = 1_000_000_000
        elif raw < 10_000_000_000_000:
            mult = 1_000_000
        elif raw < 10_000_000_000_000_000:
            mult = 1_000
        else:
            mult = 1
    t = raw * mult
    if t < _I64_MIN or t > _I64_MAX:
        raise OverflowError(t)
    return t


class Scanner:
    """Parses lines of one payload; `parse(pos)` reads the physical line(s) starting at pos."""

    def __init__(self, text: str, mult: int | None, now: int) -> None:
        self.text = text
        self.n = len(text)
        self.mult = mult
        self.now = now

    # -- errors ---------------------------------------------------------------------------
    def error(self, message: str, pos: int) -> LineProtocolError:
        text = self.text
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return LineProtocolError(message, line, col)

    # -- one line -------------------------------------------------------------------------
    def parse(self, pos: int) -> tuple[Point | None, int]:
        """Return (point or None for blank/comment/dropped lines, position after the line)."""
        text, n = self.text, self.n
        i = _BLANKS.match(text, pos).end()
        if i >= n:
            return None, n
        c = text[i]
        if c == "\n":
            return None, i + 1
        if c == "#":
            j = text.find("\n", i)
            return None, (n if j < 0 else j + 1)
        name, tags, i, key_bytes = self.head(i)
        i = _BLANKS.match(text, i + 1).end()
        if i >= n or text[i] == "\n":
            raise self.error("missing fields", i)
        fields: dict = {}
        drop = False
        while True:
            k0 = i
            i = _FKEY_TOK.match(text, k0).end()
            if i == k0:
                raise self.error("missing field key", k0)
            if i >= n or text[i] != "=":
                raise self.error("invalid field format", i)
            raw_key = text[k0:i]
            if key_bytes + 4 + utf8_len(raw_key) > MAX_KEY_LEN:
                raise self.error(f"max key length exceeded: {key_bytes + 4 + utf8_len(raw_key)} > {MAX_KEY_LEN}", k0)
            i += 1
            try:
                value, i = self.value(i)
            except _Drop as exc:
                drop = True
                value, i = None, exc.args[0]
            if value is not _IGNORED:
                fields[unescape_field_key(raw_key)] = value
            if i >= n or text[i] == "\n":
                ts_raw = None
                break
            c = text[i]
            if c == ",":
                i += 1
                continue
            if c != " ":
                raise self.error("invalid field format", i)
            i = _BLANKS.match(text, i).end()
            if i >= n or text[i] == "\n":
                ts_raw = None
                break
            t0 = i
            i = _TS_TOK.match(text, i).end()
            tok = text[t0:i]
            if not _INT.fullmatch(tok):
                raise self.error(f"bad timestamp: {tok!r}", t0)
            ts_raw = int(tok)
            if ts_raw < _I64_MIN or ts_raw > _I64_MAX:
                raise self.error(f"bad timestamp: {tok} is out of the int64 range", t0)
            i = _BLANKS.match(text, i).end()
            if i < n and text[i] != "\n":
                raise self.error("point is invalid: unexpected text after the timestamp", i)
            break
        if ts_raw is None:
            t = self.now
        else:
            try:
                t = parse_ts(ts_raw, self.mult)
            except OverflowError:
                raise self.error(f"timestamp {ts_raw} is out of range at this precision", t0) from None
        end = n if i >= n else i + 1
        if drop or not fields:
            # Silent drops (wire.md b.2): bad binary, mixed array, or only `[]` fields left.
            return None, end
        return Point(name, tags, fields, t), end

    def head(self, i: int) -> tuple[str, dict[str, str], int, int]:
        """Measurement and tags from i; returns them, the position of the space after them, and their byte length."""
        text, n = self.text, self.n
        start = i
        if text[i] == ",":
            raise self.error("missing measurement", i)
        i = _MEAS_TOK.match(text, i).end()
        name = unescape_measurement(text[start:i])
        tags: dict[str, str] = {}
        while True:
            if i >= n or text[i] == "\n":
                raise self.error("missing fields", i)
            if text[i] == " ":
                break
            # text[i] == ",": a tag follows
            k0 = i + 1
            i = _TAG_TOK.match(text, k0).end()
            if i == k0:
                raise self.error("missing tag key", k0)
            if i >= n or text[i] != "=":
                raise self.error("missing tag value", i)
            key = unescape_tag(text[k0:i])
            v0 = i + 1
            i = _TAG_TOK.match(text, v0).end()
            if i == v0:
                raise self.error("missing tag value", v0)
            if i < n and text[i] == "=":
                raise self.error("invalid tag format", i)
            if key in tags:
                raise self.error(f"duplicate tags: {key!r}", k0)
            tags[key] = unescape_tag(text[v0:i])
        key_bytes = utf8_len(text[start:i])
        if key_bytes > MAX_KEY_LEN:
            raise self.error(f"max key length exceeded: {key_bytes} > {MAX_KEY_LEN}", start)
        return name, tags, i, key_bytes

    # -- values ---------------------------------------------------------------------------
    def value(self, i: int):
        """Parse a field value at i; return (value, position after it)."""
        text, n = self.text, self.n
        if i >= n or text[i] in " ,\n":
            raise self.error("missing field value", i)
        c = text[i]
        if c == '"':
            return self.string(i)
        if c == "[":
            return self.array(i)
        j = _SCALAR_TOK.match(text, i).end()
        return self.scalar(text[i:j], i), j

    def string(self, i: int, elem: bool = False):
        text, n = self.text, self.n
        j = _STR_BODY.match(text, i + 1).end()
        if j >= n:
            raise self.error("unbalanced quotes", i)
        body = text[i + 1 : j]
        j += 1
        if j < n and text[j] == "b":
            # Binary "<base64>"b: empty or invalid base64 drops the point silently (b.2).
            j += 1
            if not body or not _B64.fullmatch(body):
                self._check_after(j, elem)
                raise _Drop(j)
            try:
                return base64.b64decode(body, validate=True), self._check_after(j, elem)
            except (binascii.Error, ValueError):
                self._check_after(j, elem)
                raise _Drop(j) from None
        return unescape_string(body), self._check_after(j, elem)

    def _check_after(self, j: int, elem: bool) -> int:
        if j < self.n:
            c = self.text[j]
            if c not in (",]" if elem else " ,\n"):
                raise self.error("invalid field format", j)
        return j

    def scalar(self, tok: str, pos: int):
        last = tok[-1]
        if last == "i" and _INT.fullmatch(tok, 0, len(tok) - 1):
            v = int(tok[:-1])
            if v < _I64_MIN or v > _I64_MAX:
                raise self.error(f"unable to parse integer {tok[:-1]}: value out of range", pos)
            return v
        if last == "u" and _UINT.fullmatch(tok, 0, len(tok) - 1):
            v = int(tok[:-1])
            if v > _U64_MAX:
                raise self.error(f"unable to parse unsigned {tok[:-1]}: value out of range", pos)
            return UInt(v)
        if _FLOAT.fullmatch(tok):
            v = float(tok)
            if v == _INF or v == -_INF:
                raise self.error(f"unable to parse floating point number {tok}: value out of range", pos)
            return v
        b = _BOOLS.get(tok)
        if b is not None:
            return b
        if tok[0] in "0123456789-+." or tok.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise self.error(f"invalid number: {tok!r}", pos)
        raise self.error(f"invalid boolean: {tok!r}", pos)

    def array(self, i: int):
        """`[e1,e2]`: element type from the first element; mixed types drop the point; `[]` is ignored."""
        text, n = self.text, self.n
        j = i + 1
        if j < n and text[j] == "]":
            return _IGNORED, self._check_after(j + 1, False)
        out: list = []
        kind = None
        drop = False
        while True:
            if j >= n or text[j] in " ,\n]":
                raise self.error("missing array element", j)
            if text[j] == '"':
                try:
                    v, j = self.string(j, elem=True)
                except _Drop as exc:
                    drop, v, j = True, None, exc.args[0]
            elif text[j] == "[":
                raise self.error("nested arrays are not supported", j)
            else:
                e = _ELEM_TOK.match(text, j).end()
                v = self.scalar(text[j:e], j)
                j = e
            if not drop:
                t = type(v)
                if kind is None:
                    kind = t
                elif t is not kind:
                    drop = True
                out.append(v)
            if j >= n:
                raise self.error("unterminated array", i)
            c = text[j]
            if c == ",":
                j += 1
                continue
            if c == "]":
                j = self._check_after(j + 1, False)
                break
            raise self.error("unterminated array", j)
        if drop:
            raise _Drop(j)
        return out, j


_IGNORED = object()  # `[]`: the field is ignored
