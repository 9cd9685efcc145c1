"""default_time's date parser (§11.1): DataKit's fixed layouts, then dateparse-style heuristics.

Parsing is the hot spot of log pipelines (strptime costs ~15x a regex match), so:
* results are cached per distinct (text, zone) string;
* the nginx layout and ISO 8601 are parsed by slicing and integer arithmetic;
* the other forms go through compiled Go layouts (GoLayout) or small regexes.
"""

from __future__ import annotations

import re
import time
from datetime import timezone, tzinfo

from ._gotime import GoLayout, days_from_civil, local_ns

__all__ = ["parse_time", "DateParseError"]


class DateParseError(ValueError):
    """The text is not a date default_time understands."""


_MON = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"))}

# DataKit's own layouts, tried first (§11.1 step 1); the redis form without year gets this year
_FIXED = [
    GoLayout("02/Jan/2006:15:04:05 -0700"), GoLayout("02 Jan 2006 15:04:05.000"), None,
    GoLayout("060102 15:04:05"), GoLayout("2006/01/02 - 15:04:05"), GoLayout("Mon Jan 2 15:04:05.000000 2006"),
    GoLayout("2006-01-02 15:04:05.000 UTC"),
]
_REDIS_NO_YEAR = GoLayout("02 Jan 15:04:05.000")

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})(?:-(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2}(?![\d:]))?(?:\s*\(?([A-Za-z]{3,5})\)?)?\Z")
_SLASH_YMD = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:[.,](\d+))?)?\Z")
_US = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:[.,](\d+))?"
                 r"\s*([AaPp][Mm])?)?\Z")
_COLON_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?\Z")
_CN = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2})\s*[:时]\s*(\d{1,2})"
                 r"(?:\s*[:分]\s*(\d{1,2})\s*秒?)?)?\Z")
_WEEKDAY = re.compile(r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+", re.IGNORECASE)
_MONTH_FORMS = [GoLayout(x) for x in (
    "02 Jan 2006 15:04:05 MST", "02 Jan 2006 15:04:05 -0700", "02 Jan 2006 15:04:05 -0700 (MST)",
    "02 Jan 2006 15:04:05", "02 Jan 2006 15:04", "02-Jan-06 15:04:05 MST", "02-Jan-2006 15:04:05 MST",
    "02 Jan 06 15:04 MST", "02 Jan 06 15:04 -0700", "02 Jan 06 15:04:05 MST", "02 Jan 06 15:04:05 -0700",
    "Jan _2 15:04:05 2006", "Jan _2 15:04:05 MST 2006", "Jan _2 15:04:05 -0700 2006", "Jan 02 15:04:05 -0700 2006",
    "Jan 2, 2006 3:04:05 PM", "Jan 2, 2006 3:04 PM", "Jan 2, 2006 15:04:05", "Jan 2, 2006 at 3:04pm (MST)",
    "Jan 2, 2006", "January 2, 2006 3:04:05 PM", "January 2, 2006 15:04:05", "January 2, 2006",
    "January 02, 2006 15:04:05", "2 January 2006", "2 Jan 2006", "Jan 2 2006", "2 January 2006 15:04:05",
    "Jan 2 15:04:05 2006", "Jan 2 2006 15:04:05", "January 2006", "Jan 2006",
)]

# per zone key (a zone name, or the zone itself): date text -> ns. default_time holds the dict
# of its zone and looks a text up in it directly (no key tuple per call).
_caches: dict[object, dict[str, int]] = {}
_CACHE_MAX = 100_000


def zone_cache(zone_key: object) -> dict[str, int]:
    """The cache dict parse_time uses for `zone_key` (cleared in place when full, never replaced)."""
    cache = _caches.get(zone_key)
    if cache is None:
        cache = _caches[zone_key] = {}
    return cache


def _ns(y, mo, d, h, mi, s, frac, zone: tzinfo, off: int | None) -> int:
    ns = int(frac[:9].ljust(9, "0")) if frac else 0
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 24 and mi <= 59 and s <= 60):
        raise DateParseError("field out of range")
    if off is not None:
        return (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off) * 1_000_000_000 + ns
    return local_ns(y, mo, d, h, mi, s, ns, zone)


def _offset(z: str | None) -> int | None:
    if not z:
        return None
    if z == "Z":
        return 0
    sign = -1 if z[0] == "-" else 1
    body = z[1:].replace(":", "")
    return sign * (int(body[:2]) * 3600 + int(body[2:4] or 0) * 60)


def _nginx(s: str) -> int | None:
    # 02/Jan/2006:15:04:05 -0700, by slicing
    if len(s) != 26 or s[2] != "/" or s[6] != "/" or s[11] != ":" or s[20] != " ":
        return None
    mon = _MON.get(s[3:6].lower())
    try:
        d, y, h, mi, sec = int(s[0:2]), int(s[7:11]), int(s[12:14]), int(s[15:17]), int(s[18:20])
        oh, om = int(s[22:24]), int(s[24:26])
    except ValueError:
        return None
    if mon is None or s[21] not in "+-" or not (s[0:2] + s[7:11] + s[12:14] + s[15:17] + s[18:20]).isdigit():
        return None
    off = (oh * 3600 + om * 60) * (-1 if s[21] == "-" else 1)
    return _ns(y, mon, d, h, mi, sec, "", timezone.utc, off)


def _heuristics(s: str, zone: tzinfo) -> int:
    if s.isdigit() and s.isascii():
        n = len(s)
        if n == 10:
            return int(s) * 1_000_000_000
        if n == 13:
            return int(s) * 1_000_000
        if n == 16:
            return int(s) * 1_000
        if n == 19:
            return int(s)
        if n == 8:
            return _ns(int(s[:4]), int(s[4:6]), int(s[6:8]), 0, 0, 0, "", zone, None)
        if n == 14:
            return _ns(int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]), int(s[12:14]), "", zone, None)
        if n == 4:
            return _ns(int(s), 1, 1, 0, 0, 0, "", zone, None)
        if n == 6:
            return _ns(int(s[:4]), int(s[4:6]), 1, 0, 0, 0, "", zone, None)
        raise DateParseError(f"unrecognised number of digits in {s!r}")
    m = _ISO.match(s)
    if m:
        y, mo, d, h, mi, sec, frac, z, abbr = m.groups()
        off = _offset(z)
        if off is None and abbr:
            off = _abbr_offset(abbr.upper(), zone)
        return _ns(int(y), int(mo), int(d or 1), int(h or 0), int(mi or 0), int(sec or 0), frac, zone, off)
    for rx in (_SLASH_YMD, _COLON_DATE, _CN):
        m = rx.match(s)
        if m:
            y, mo, d, h, mi, sec, *rest = m.groups()
            frac = rest[0] if rest else None
            return _ns(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0), frac, zone, None)
    m = _US.match(s)
    if m:
        mo, d, y, h, mi, sec, frac, ampm = m.groups()
        yy = int(y) if len(y) == 4 else 2000 + int(y)
        hh = int(h or 0)
        if ampm:
            if ampm.lower() == "pm" and hh < 12:
                hh += 12
            elif ampm.lower() == "am" and hh == 12:
                hh = 0
        return _ns(yy, int(mo), int(d), hh, int(mi or 0), int(sec or 0), frac, zone, None)
    rest = _WEEKDAY.sub("", s, count=1) if _WEEKDAY.match(s) else s
    for lay in _MONTH_FORMS:
        try:
            return lay.parse(rest, zone)
        except ValueError:
            continue
    raise DateParseError(f"could not find format for {s!r}")


def _abbr_offset(abbr: str, zone: tzinfo) -> int | None:
    if abbr in ("UTC", "GMT", "Z"):
        return 0
    return None if getattr(zone, "key", None) else 0


def parse_time(s: str, zone: tzinfo, zone_key: object = None) -> int:
    """Unix ns of the date text in `zone` (DataKit's layouts, then heuristics); cached."""
    cache = _caches.get(zone_key if zone_key is not None else zone)
    if cache is None:
        cache = zone_cache(zone_key if zone_key is not None else zone)
    v = cache.get(s)
    if v is not None:
        return v
    v = _parse_uncached(s.strip(), zone)
    if v <= 0:
        raise DateParseError(f"time {s!r} is not after the epoch")
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[s] = v
    return v


def _parse_uncached(s: str, zone: tzinfo) -> int:
    v = _nginx(s)
    if v is not None and v > 0:
        return v
    for k, lay in enumerate(_FIXED):
        try:
            if lay is None:
                v = _REDIS_NO_YEAR.parse(s, zone, default_year=time.gmtime().tm_year)
            else:
                v = lay.parse(s, zone)
        except ValueError:
            continue
        if v > 0:
            return v
    return _heuristics(s, zone)
