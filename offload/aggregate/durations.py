"""Durations in the two spellings aggregation rules use, as integer nanoseconds.

* Go's `time.ParseDuration` form (`default_window = "10s"`, `"1m30s"`, `"1.5h"`, `"250ms"`)
  for the DataKit TOML rules, where an integer is already nanoseconds;
* PromQL's form (`[2m]`, `[1h30m]`, `[1d]`, `[1w]`): whole numbers only, units ms s m h d w y.

`format_duration` gives the short canonical name used in rollup output names (`5m`, `4h`, `90s`).
"""

from __future__ import annotations

import re

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY

_GO_UNITS = {"ns": NS, "us": US, "µs": US, "μs": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_PROM_UNITS = {"ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY, "w": WEEK, "y": YEAR}

_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_PROM_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


class DurationError(ValueError):
    """A duration string that does not parse; the message says which form was expected."""


def parse_go_duration(text: str) -> int:
    """Parse a Go duration string ("1m30s", "-2h", "0") into nanoseconds."""
    s = text.strip()
    if not s:
        raise DurationError("empty duration")
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos, total = 0, 0
    while pos < len(s):
        m = _GO_PART.match(s, pos)
        if m is None:
            raise DurationError(f"invalid duration {text!r} (expected Go form like \"10s\", \"1m30s\", \"250ms\")")
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _GO_UNITS[unit]
        # exact integer arithmetic: "1.5h" must not pick up float rounding
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        pos = m.end()
    return sign * total


def parse_prom_duration(text: str) -> int:
    """Parse a PromQL duration ("2m", "1h30m", "1d") into nanoseconds."""
    s = text.strip()
    pos, total, last_scale = 0, 0, None
    if not s:
        raise DurationError("empty duration")
    while pos < len(s):
        m = _PROM_PART.match(s, pos)
        if m is None:
            raise DurationError(f"invalid duration {text!r} (expected PromQL form like \"2m\", \"1h30m\")")
        scale = _PROM_UNITS[m.group(2)]
        if last_scale is not None and scale >= last_scale:
            raise DurationError(f"invalid duration {text!r}: units must go from largest to smallest")
        last_scale = scale
        total += int(m.group(1)) * scale
        pos = m.end()
    return total


def parse_window(value: object) -> int:
    """A window given as an integer (ns) or a Go duration string; anything else raises."""
    if isinstance(value, bool):
        raise DurationError("a window must be a duration string or integer nanoseconds, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_go_duration(value)
    raise DurationError(f"a window must be a duration string or integer nanoseconds, not {type(value).__name__}")


def format_duration(ns: int) -> str:
    """Shortest exact spelling with a single unit: 300 s -> "5m", 90 s -> "90s", 4 h -> "4h"."""
    if ns <= 0:
        return str(ns) + "ns" if ns else "0s"
    for unit, scale in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", MS), ("us", US)):
        if ns % scale == 0:
            return f"{ns // scale}{unit}"
    return f"{ns}ns"
