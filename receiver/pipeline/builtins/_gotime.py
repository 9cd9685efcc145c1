"""Go time layouts (`2006-01-02 15:04:05.000 -0700`): parse and format, plus zones (§11.1).

`GoLayout(layout).parse(text, zone)` follows time.ParseInLocation: it walks layout and text in
step without backtracking, a space in the layout matches a run of spaces, fractional seconds
are accepted after a seconds field, an explicit offset wins over the zone, a known zone
abbreviation uses the zone's offset and an unknown one means UTC. Results are Unix ns.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["GoLayout", "UnknownZone", "days_from_civil", "get_zone", "local_ns", "OFFSET_ZONES", "NAMED_LAYOUTS"]

OFFSET_ZONES = {
    "-11": "Pacific/Midway", "-10": "Pacific/Honolulu", "-9:30": "Pacific/Marquesas", "-9": "America/Anchorage",
    "-8": "America/Los_Angeles", "-7": "America/Phoenix", "-6": "America/Chicago", "-5": "America/New_York",
    "-4": "America/Santiago", "-3:30": "America/St_Johns", "-3": "America/Sao_Paulo", "-2": "America/Noronha",
    "-1": "America/Scoresbysund", "+0": "Europe/London", "+1": "Europe/Vatican", "+2": "Europe/Kiev",
    "+3": "Europe/Moscow", "+3:30": "Asia/Tehran", "+4": "Asia/Dubai", "+4:30": "Asia/Kabul",
    "+5": "Asia/Samarkand", "+5:30": "Asia/Kolkata", "+5:45": "Asia/Kathmandu", "+6": "Asia/Almaty",
    "+6:30": "Asia/Yangon", "+7": "Asia/Jakarta", "+8": "Asia/Shanghai", "+8:45": "Australia/Eucla",
    "+9": "Asia/Tokyo", "+9:30": "Australia/Darwin", "+10": "Australia/Sydney", "+10:30": "Australia/Lord_Howe",
    "+11": "Pacific/Guadalcanal", "+12": "Pacific/Auckland", "+12:45": "Pacific/Chatham", "+13": "Pacific/Apia",
    "+14": "Pacific/Kiritimati", "UTC": "Europe/London", "CST": "Asia/Shanghai",
}

NAMED_LAYOUTS = {
    "ANSIC": "Mon Jan _2 15:04:05 2006", "UnixDate": "Mon Jan _2 15:04:05 MST 2006",
    "RubyDate": "Mon Jan 02 15:04:05 -0700 2006", "RFC822": "02 Jan 06 15:04 MST", "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST", "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700", "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00", "Kitchen": "3:04PM", "Stamp": "Jan _2 15:04:05",
    "StampMilli": "Jan _2 15:04:05.000", "StampMicro": "Jan _2 15:04:05.000000", "StampNano": "Jan _2 15:04:05.000000000",
}


class UnknownZone(ValueError):
    """The zone name is neither an IANA zone nor in the offset table."""


def _local_zone() -> tzinfo:
    tz = os.environ.get("TZ", "").lstrip(":")
    try:
        if tz:
            return ZoneInfo(tz)
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="Local")
    except (OSError, ZoneInfoNotFoundError, ValueError):
        return timezone.utc


LOCAL = _local_zone()


@lru_cache(maxsize=512)
def get_zone(name: str, table_fallback: bool = False) -> tzinfo:
    """"" = host local; "UTC"; an IANA name; '+8'/'-5:30' via the offset table (any name when
    table_fallback, as parse_date does). Raises UnknownZone."""
    if name == "":
        return LOCAL
    if name == "UTC":
        return timezone.utc
    if name[0] not in "+-" or table_fallback:
        try:
            if "/" in name or name.isalpha() or name[0] not in "+-":
                return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if name[0] in "+-" or table_fallback:
        key = OFFSET_ZONES.get(name)
        if key is not None:
            return ZoneInfo(key)
    raise UnknownZone(f"unknown time zone {name}")


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def local_ns(y, mo, d, h, mi, s, ns, zone: tzinfo) -> int:
    """Unix ns of a wall-clock time in `zone`."""
    secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
    if zone is timezone.utc:
        return secs * 1_000_000_000 + ns
    if isinstance(zone, timezone):
        off = zone.utcoffset(None)
    else:
        try:
            off = datetime(y, mo, d, h, mi, s, tzinfo=zone).utcoffset()
        except ValueError:
            off = timedelta(0)
    return (secs - int(off.total_seconds())) * 1_000_000_000 + ns


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_DAYS_IN = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

# layout tokens, longest first where they share a prefix (Go's nextStdChunk)
_TOKENS = [
    "January", "Jan", "Monday", "Mon", "MST", "01", "02", "03", "04", "05", "06", "002", "15", "1", "2006", "2",
    "__2", "_2", "3", "4", "5", "PM", "pm", "-07:00:00", "-070000", "-07:00", "-0700", "-07", "Z07:00:00",
    "Z070000", "Z07:00", "Z0700", "Z07",
]
_TOKENS.sort(key=len, reverse=True)


def _chunks(layout: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    lit = []
    i = 0
    n = len(layout)
    while i < n:
        c = layout[i]
        if c in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if j >= n or not layout[j].isdigit():
                if lit:
                    out.append(("lit", "".join(lit)))
                    lit = []
                out.append(("frac0" if layout[i + 1] == "0" else "frac9", str(j - i - 1)))
                i = j
                continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                if tok == "Mon" and layout.startswith("Month", i):
                    continue
                if tok == "2" and layout.startswith("2006", i):
                    continue
                if lit:
                    out.append(("lit", "".join(lit)))
                    lit = []
                out.append(("std", tok))
                i += len(tok)
                break
        else:
            lit.append(c)
            i += 1
    if lit:
        out.append(("lit", "".join(lit)))
    return out


def _getnum(v: str, i: int, fixed: bool) -> tuple[int, int]:
    if i >= len(v) or not v[i].isdigit() or not v[i].isascii():
        raise ValueError("bad number")
    if i + 1 >= len(v) or not v[i + 1].isdigit() or not v[i + 1].isascii():
        if fixed:
            raise ValueError("bad number")
        return int(v[i]), i + 1
    return int(v[i:i + 2]), i + 2


def _lookup(names: list[str], v: str, i: int, n: int | None) -> tuple[int, int]:
    for k, name in enumerate(names):
        cand = name[:n] if n else name
        if v[i:i + len(cand)].lower() == cand.lower():
            return k, i + len(cand)
    raise ValueError("bad name")


def _skip_lit(lit: str, v: str, i: int) -> int:
    k = 0
    while k < len(lit):
        if lit[k] == " ":
            if i < len(v) and v[i] != " ":
                raise ValueError("bad literal")
            while k < len(lit) and lit[k] == " ":
                k += 1
            while i < len(v) and v[i] == " ":
                i += 1
            continue
        if i >= len(v) or v[i] != lit[k]:
            raise ValueError("bad literal")
        i += 1
        k += 1
    return i


def _zone_abbr(v: str, i: int) -> int:
    """Length of a zone abbreviation at v[i:] (Go parseTimeZone), 0 if none."""
    if v.startswith(("ChST", "MeST"), i):
        return 4
    if v.startswith("GMT", i):
        j = i + 3
        if j < len(v) and v[j] in "+-":
            k = j + 1
            while k < len(v) and v[k].isdigit():
                k += 1
            return k - i if k > j + 1 else 3
        return 3
    n = 0
    while i + n < len(v) and "A" <= v[i + n] <= "Z":
        n += 1
    if n == 3:
        return 3
    if n in (4, 5) and v[i + n - 1] == "T":
        return n
    if n == 4 and v[i + 3] == "T":
        return 4
    return 0


class GoLayout:
    """A compiled Go reference-time layout."""

    __slots__ = ("layout", "chunks")

    def __init__(self, layout: str) -> None:
        self.layout = layout
        self.chunks = _chunks(layout)

    def parse(self, v: str, zone: tzinfo, default_year: int | None = None) -> int:
        """Unix ns; ValueError when the text does not fit the layout."""
        year = default_year if default_year is not None else 0
        month = day = 1
        hour = minute = sec = ns = 0
        pm = am = False
        offset = None
        abbr = None
        i = 0
        chunks = self.chunks
        for k, (kind, tok) in enumerate(chunks):
            if kind == "lit":
                i = _skip_lit(tok, v, i)
                continue
            if kind in ("frac0", "frac9"):
                if kind == "frac0":
                    n = int(tok)
                    if i + n + 1 > len(v) or v[i] not in ".," or not v[i + 1:i + 1 + n].isdigit():
                        raise ValueError("bad fraction")
                    ns = int(v[i + 1:i + 1 + n].ljust(9, "0")[:9])
                    i += n + 1
                elif i + 1 < len(v) and v[i] in ".," and v[i + 1].isdigit():
                    j = i + 1
                    while j < len(v) and v[j].isdigit():
                        j += 1
                    ns = int(v[i + 1:j][:9].ljust(9, "0"))
                    i = j
                continue
            if tok == "2006":
                if not v[i:i + 4].isdigit() or len(v[i:i + 4]) < 4:
                    raise ValueError("bad year")
                year = int(v[i:i + 4])
                i += 4
            elif tok == "06":
                if not v[i:i + 2].isdigit() or len(v[i:i + 2]) < 2:
                    raise ValueError("bad year")
                yy = int(v[i:i + 2])
                year = yy + (1900 if yy >= 69 else 2000)
                i += 2
            elif tok in ("January", "Jan"):
                m, i = _lookup(_MONTHS, v, i, None if tok == "January" else 3)
                month = m + 1
            elif tok in ("Monday", "Mon"):
                _, i = _lookup(_DAYS, v, i, None if tok == "Monday" else 3)
            elif tok in ("1", "01"):
                month, i = _getnum(v, i, tok == "01")
                if not 1 <= month <= 12:
                    raise ValueError("month out of range")
            elif tok in ("2", "_2", "02"):
                if tok == "_2" and i < len(v) and v[i] == " ":
                    i += 1
                day, i = _getnum(v, i, tok == "02")
            elif tok in ("002", "__2"):
                j = i
                while j < len(v) and v[j] in "0123456789 " and j < i + 3:
                    j += 1
                i = j
            elif tok == "15":
                hour, i = _getnum(v, i, False)
                if hour > 23:
                    raise ValueError("hour out of range")
            elif tok in ("3", "03"):
                hour, i = _getnum(v, i, tok == "03")
                if hour > 12:
                    raise ValueError("hour out of range")
            elif tok in ("4", "04"):
                minute, i = _getnum(v, i, tok == "04")
                if minute > 59:
                    raise ValueError("minute out of range")
            elif tok in ("5", "05"):
                sec, i = _getnum(v, i, tok == "05")
                if sec > 59:
                    raise ValueError("second out of range")
                nxt = chunks[k + 1][0] if k + 1 < len(chunks) else ""
                if nxt not in ("frac0", "frac9") and i + 1 < len(v) and v[i] in ".," and v[i + 1].isdigit():
                    j = i + 1
                    while j < len(v) and v[j].isdigit():
                        j += 1
                    ns = int(v[i + 1:j][:9].ljust(9, "0"))
                    i = j
            elif tok in ("PM", "pm"):
                p = v[i:i + 2]
                if p == ("PM" if tok == "PM" else "pm"):
                    pm = True
                elif p == ("AM" if tok == "PM" else "am"):
                    am = True
                else:
                    raise ValueError("bad am/pm")
                i += 2
            elif tok[0] in "-Z":
                if tok[0] == "Z" and v[i:i + 1] == "Z":
                    offset = 0
                    i += 1
                    continue
                sign = v[i:i + 1]
                if sign not in ("+", "-"):
                    raise ValueError("bad offset")
                body = tok[1:]
                seg = v[i + 1:i + 1 + len(body)]
                if len(seg) != len(body):
                    raise ValueError("bad offset")
                for a, b in zip(body, seg):
                    if (a == ":") != (b == ":") or (a != ":" and not b.isdigit()):
                        raise ValueError("bad offset")
                digits = seg.replace(":", "")
                hh, mm, ss = int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
                offset = (hh * 3600 + mm * 60 + ss) * (-1 if sign == "-" else 1)
                i += 1 + len(body)
            elif tok == "MST":
                if v.startswith("UTC", i):
                    offset, i = 0, i + 3
                    continue
                n = _zone_abbr(v, i)
                if n < 3:
                    raise ValueError("bad zone")
                abbr = v[i:i + n]
                i += n
        if i != len(v):
            raise ValueError(f"extra text {v[i:]!r}")
        if pm and hour < 12:
            hour += 12
        elif am and hour == 12:
            hour = 0
        if day < 1 or day > (29 if month == 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
                             else _DAYS_IN[month - 1]):
            raise ValueError("day out of range")
        if offset is not None:
            return local_ns(year, month, day, hour, minute, sec, ns, timezone.utc) - offset * 1_000_000_000
        if abbr is not None:
            if abbr in ("GMT",):
                return local_ns(year, month, day, hour, minute, sec, ns, timezone.utc)
            if not isinstance(zone, timezone):
                try:
                    dt = datetime(year, month, day, hour, minute, sec, tzinfo=zone)
                    if dt.tzname() == abbr:
                        return local_ns(year, month, day, hour, minute, sec, ns, zone)
                except ValueError:
                    pass
            return local_ns(year, month, day, hour, minute, sec, ns, timezone.utc)
        return local_ns(year, month, day, hour, minute, sec, ns, zone)

    def format(self, dt: datetime) -> str:
        """Render an aware datetime with this layout."""
        out = []
        for kind, tok in self.chunks:
            if kind == "lit":
                out.append(tok)
            elif kind in ("frac0", "frac9"):
                n = int(tok)
                digits = f"{dt.microsecond:06d}000"[:n]
                if kind == "frac9":
                    digits = digits.rstrip("0")
                    if digits:
                        out.append("." + digits)
                else:
                    out.append("." + digits)
            else:
                out.append(_fmt_tok(tok, dt))
        return "".join(out)


def _fmt_tok(tok: str, dt: datetime) -> str:
    if tok == "2006":
        return f"{dt.year:04d}"
    if tok == "06":
        return f"{dt.year % 100:02d}"
    if tok == "January":
        return _MONTHS[dt.month - 1]
    if tok == "Jan":
        return _MONTHS[dt.month - 1][:3]
    if tok == "Monday":
        return _DAYS[(dt.weekday() + 1) % 7]
    if tok == "Mon":
        return _DAYS[(dt.weekday() + 1) % 7][:3]
    if tok == "1":
        return str(dt.month)
    if tok == "01":
        return f"{dt.month:02d}"
    if tok == "2":
        return str(dt.day)
    if tok == "_2":
        return f"{dt.day:2d}"
    if tok == "02":
        return f"{dt.day:02d}"
    if tok == "002":
        return f"{dt.timetuple().tm_yday:03d}"
    if tok == "__2":
        return f"{dt.timetuple().tm_yday:3d}"
    if tok == "15":
        return f"{dt.hour:02d}"
    if tok in ("3", "03"):
        h = dt.hour % 12 or 12
        return str(h) if tok == "3" else f"{h:02d}"
    if tok == "4":
        return str(dt.minute)
    if tok == "04":
        return f"{dt.minute:02d}"
    if tok == "5":
        return str(dt.second)
    if tok == "05":
        return f"{dt.second:02d}"
    if tok == "PM":
        return "PM" if dt.hour >= 12 else "AM"
    if tok == "pm":
        return "pm" if dt.hour >= 12 else "am"
    if tok == "MST":
        name = dt.tzname() or ""
        if name and name[0] in "+-":
            return name
        return name or "UTC"
    off = int(dt.utcoffset().total_seconds())
    if tok[0] == "Z" and off == 0:
        return "Z"
    sign = "-" if off < 0 else "+"
    off = abs(off)
    hh, mm, ss = off // 3600, off // 60 % 60, off % 60
    body = tok[1:]
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
