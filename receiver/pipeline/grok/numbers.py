"""Go's strconv number parsing (ParseInt with base detection, ParseFloat, ParseBool), as grok,
cast and parse_int need it: Python's int()/float() accept other spellings (e.g. '1_0' floats)."""

from __future__ import annotations

import re

__all__ = ["parse_int", "parse_float", "parse_bool", "INT64_MAX", "INT64_MIN", "RangeError"]

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class RangeError(ValueError):
    """The number is well formed but outside int64; `.value` is the clamped value."""

    def __init__(self, value: int) -> None:
        super().__init__("value out of range")
        self.value = value


def _underscore_ok(s: str) -> bool:
    # Go's underscoreOK: '_' only between digits, or between a base prefix and a digit
    saw = "^"
    i = 0
    if s[:1] in "+-":
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        hexa = s[1].lower() == "x"
        i = 2
        saw = "0"
    while i < len(s):
        c = s[i]
        if c.isdigit() or (hexa and c.lower() in "abcdef"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_int(s: str, base: int = 0) -> int:
    """Go strconv.ParseInt(s, base, 64). ValueError on syntax, RangeError (clamped) on range."""
    if not s:
        raise ValueError("empty")
    neg = False
    body = s
    if body[0] in "+-":
        neg = body[0] == "-"
        body = body[1:]
    if base == 0:
        base = 10
        if body[:1] == "0":
            if len(body) >= 3 and body[1] in "xX":
                base, body = 16, body[2:]
            elif len(body) >= 3 and body[1] in "oO":
                base, body = 8, body[2:]
            elif len(body) >= 3 and body[1] in "bB":
                base, body = 2, body[2:]
            else:
                base, body = 8, body[1:] or "0"
        if "_" in s:
            if not _underscore_ok(s):
                raise ValueError("underscore")
            body = body.replace("_", "")
    elif not 2 <= base <= 36:
        raise ValueError("base")
    if not body:
        raise ValueError("empty")
    allowed = _DIGITS[:base]
    for ch in body.lower():
        if ch not in allowed:
            raise ValueError("digit")
    v = int(body, base)
    if neg:
        v = -v
    if v > INT64_MAX:
        raise RangeError(INT64_MAX)
    if v < INT64_MIN:
        raise RangeError(INT64_MIN)
    return v


_FLOAT = re.compile(
    r"[+-]?(?:(?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][+-]?\d(?:_?\d)*)?"
    r"|inf|infinity|nan|0[xX](?:[0-9a-fA-F_]*)(?:\.[0-9a-fA-F_]*)?[pP][+-]?\d+)\Z",
    re.IGNORECASE,
)


def parse_float(s: str) -> float:
    """Go strconv.ParseFloat(s, 64); ValueError on syntax (range errors give ±Inf as Go)."""
    if not s or not _FLOAT.match(s) or s in ("+", "-", ".", "+.", "-."):
        raise ValueError("syntax")
    if "_" in s and not s.lstrip("+-")[:2].lower() == "0x":
        raise ValueError("underscore")  # Go allows '_' only with a base prefix
    low = s.lower()
    if "0x" in low:
        return float.fromhex(s.replace("_", ""))
    if low.lstrip("+-") in ("e",) or low.lstrip("+-").startswith("e"):
        raise ValueError("syntax")
    return float(s)


_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def parse_bool(s: str) -> bool:
    """Go strconv.ParseBool; ValueError when s is in neither set."""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError("syntax")
