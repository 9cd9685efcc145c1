"""strftime as itchyny/timefmt-go renders it (§11.2), for datetime()."""

from __future__ import annotations

from datetime import datetime

__all__ = ["strftime"]

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_COMPOSITE = {"c": "%a %b %e %H:%M:%S %Y", "F": "%Y-%m-%d", "D": "%m/%d/%y", "x": "%m/%d/%y", "v": "%e-%b-%Y",
              "T": "%H:%M:%S", "X": "%H:%M:%S", "r": "%I:%M:%S %p", "R": "%H:%M"}


def _num(v: int, width: int, pad: str, flag: str, fwidth: int | None) -> str:
    w = fwidth if fwidth is not None else width
    if flag == "-":
        return str(v)
    p = {"_": " ", "0": "0"}.get(flag, pad)
    s = str(abs(v))
    s = s.rjust(w - (1 if v < 0 else 0), p)
    return ("-" + s) if v < 0 else s


def _directive(c: str, dt: datetime, flag: str, width: int | None) -> str | None:
    tt = dt.timetuple()
    if c == "Y":
        return _num(dt.year, 4, "0", flag, width)
    if c == "y":
        return _num(dt.year % 100, 2, "0", flag, width)
    if c == "C":
        return _num(dt.year // 100, 2, "0", flag, width)
    if c in "gG":
        iso = dt.isocalendar()
        return _num(iso[0] % 100, 2, "0", flag, width) if c == "g" else _num(iso[0], 4, "0", flag, width)
    if c == "m":
        return _num(dt.month, 2, "0", flag, width)
    if c == "B":
        return _MONTHS[dt.month - 1]
    if c in "bh":
        return _MONTHS[dt.month - 1][:3]
    if c == "A":
        return _DAYS[dt.weekday()]
    if c == "a":
        return _DAYS[dt.weekday()][:3]
    if c == "w":
        return str((dt.weekday() + 1) % 7)
    if c == "u":
        return str(dt.weekday() + 1)
    if c == "V":
        return _num(dt.isocalendar()[1], 2, "0", flag, width)
    if c == "U":
        return _num((tt.tm_yday + 6 - (dt.weekday() + 1) % 7) // 7, 2, "0", flag, width)
    if c == "W":
        return _num((tt.tm_yday + 6 - dt.weekday()) // 7, 2, "0", flag, width)
    if c == "e":
        return _num(dt.day, 2, " ", flag, width)
    if c == "d":
        return _num(dt.day, 2, "0", flag, width)
    if c == "j":
        return _num(tt.tm_yday, 3, "0", flag, width)
    if c == "k":
        return _num(dt.hour, 2, " ", flag, width)
    if c == "H":
        return _num(dt.hour, 2, "0", flag, width)
    if c == "l":
        return _num(dt.hour % 12 or 12, 2, " ", flag, width)
    if c == "I":
        return _num(dt.hour % 12 or 12, 2, "0", flag, width)
    if c == "p":
        return "PM" if dt.hour >= 12 else "AM"
    if c == "P":
        return "pm" if dt.hour >= 12 else "am"
    if c == "M":
        return _num(dt.minute, 2, "0", flag, width)
    if c == "S":
        return _num(dt.second, 2, "0", flag, width)
    if c == "s":
        return str(int(dt.timestamp()))
    if c == "f":
        return f"{dt.microsecond:06d}"
    if c == "Z":
        return dt.tzname() or ""
    if c == "z":
        off = int(dt.utcoffset().total_seconds()) // 60
        return f"{'-' if off < 0 else '+'}{abs(off) // 60:02d}{abs(off) % 60:02d}"
    if c == "t":
        return "\t"
    if c == "n":
        return "\n"
    if c == "%":
        return "%"
    return None


def strftime(fmt: str, dt: datetime) -> str:
    """Render `dt` with a C/GNU-like format; unknown directives are copied literally."""
    out = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        j = i + 1
        flag = ""
        upper = False
        while j < n and fmt[j] in "-_0^#":
            if fmt[j] == "^":
                upper = True
            elif fmt[j] != "#":
                flag = fmt[j]
            j += 1
        k = j
        while k < n and fmt[k].isdigit():
            k += 1
        width = int(fmt[j:k]) if k > j else None
        if k < n and fmt[k] == ":" and fmt.startswith(":z", k):
            off = int(dt.utcoffset().total_seconds()) // 60
            out.append(f"{'-' if off < 0 else '+'}{abs(off) // 60:02d}:{abs(off) % 60:02d}")
            i = k + 2
            continue
        if k >= n:
            out.append(fmt[i:])
            break
        d = fmt[k]
        if d in _COMPOSITE:
            s = strftime(_COMPOSITE[d], dt)
        else:
            s = _directive(d, dt, flag, width)
        if s is None:
            out.append(fmt[i:k + 1])
        else:
            if width is not None and d in "aAbBhpPZcxXrRTDFv" and len(s) < width:
                s = s.rjust(width, "0" if flag == "0" else " ")
            out.append(s.upper() if upper else s)
        i = k + 1
    return "".join(out)
