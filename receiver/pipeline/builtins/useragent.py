"""user_agent(): parse a User-Agent header the way mssola/user_agent does (§9.2) and set the
fields isMobile isBot os browser browserVer engine engineVer ua (= platform)."""

from __future__ import annotations

import re
from functools import lru_cache

from ..registry import MISSING, ArgKind, Param, builtin
from ._values import to_str

_SECTION = re.compile(r"\s*([^\s/(]+)(?:/([^\s(]*))?\s*(?:\(([^)]*)\))?")
_WIN = {"10.0": "Windows 10", "6.3": "Windows 8.1", "6.2": "Windows 8", "6.1": "Windows 7", "6.0": "Windows Vista",
        "5.2": "Windows XP x64 Edition", "5.1": "Windows XP", "5.01": "Windows 2000, Service Pack 1 (SP1)",
        "5.0": "Windows 2000", "4.0": "Windows NT 4.0"}
_BOT = re.compile(r"bot|crawl|spider|slurp|archiver|facebookexternalhit|headless", re.IGNORECASE)


def _sections(ua: str) -> list[tuple[str, str, list[str]]]:
    out = []
    pos = 0
    while pos < len(ua):
        m = _SECTION.match(ua, pos)
        if m is None or m.end() == pos:
            break
        name, ver, comment = m.groups()
        out.append((name, ver or "", [c.strip() for c in comment.split(";")] if comment else []))
        pos = m.end()
    return out


def _os(comment: list[str]) -> tuple[str, str, bool]:
    """(platform, os, mobile) from the first comment."""
    if not comment:
        return "", "", False
    first = comment[0]
    joined = "; ".join(comment)
    if first.startswith("Windows") or "Windows NT" in joined:
        plat = "Windows"
        for c in comment:
            if c.startswith("Windows NT "):
                return plat, _WIN.get(c[11:], c), "Windows Phone" in joined
            if c.startswith("Windows Phone"):
                return "Windows Phone", c, True
        return plat, first, False
    if first in ("iPhone", "iPad", "iPod") or first.startswith("iPhone"):
        os_ = next((c for c in comment if "OS" in c and c != first), "")
        return first, os_, True
    if first == "Macintosh":
        os_ = next((c for c in comment if "Mac OS" in c), "")
        return "Macintosh", os_, False
    if first == "Linux" or first == "X11" or first.startswith("Linux"):
        android = next((c for c in comment if c.startswith("Android")), None)
        if android:
            return "Linux", android, True
        os_ = next((c for c in comment[1:] if c.startswith("Linux") or "BSD" in c or "Ubuntu" in c), first)
        return first, os_, False
    if first.startswith("Android"):
        return "Linux", first, True
    if first.startswith("compatible"):
        for c in comment[1:]:
            if c.startswith("Windows NT "):
                return "Windows", _WIN.get(c[11:], c), False
        return "", "", False
    return first, (comment[1] if len(comment) > 1 else ""), "Mobile" in joined


@lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> dict:
    secs = _sections(ua)
    res = {"isMobile": False, "isBot": False, "os": "", "browser": "", "browserVer": "", "engine": "",
           "engineVer": "", "ua": ""}
    if not secs:
        res["isBot"] = True
        return res
    names = {name: ver for name, ver, _ in secs}
    if secs[0][0] != "Mozilla" and secs[0][0] != "Opera":
        res["browser"], res["browserVer"] = secs[0][0], secs[0][1]
        res["isBot"] = bool(_BOT.search(ua)) or len(secs) == 1 and not secs[0][2]
        if secs[0][2]:
            plat, os_, mob = _os(secs[0][2])
            res.update(ua=plat, os=os_, isMobile=mob)
        return res
    plat, os_, mobile = _os(secs[0][2])
    res.update(ua=plat, os=os_, isMobile=mobile or "Mobile" in names or "Mobile Safari" in ua)
    if len(secs) > 1:
        res["engine"], res["engineVer"] = secs[1][0], secs[1][1]
        if secs[1][0] == "Gecko":
            rv = next((c[3:] for c in secs[0][2] if c.startswith("rv:")), secs[1][1])
            res["engineVer"] = rv
    if "Edg" in names or "Edge" in names:
        res["browser"], res["browserVer"] = "Edge", names.get("Edg") or names.get("Edge", "")
    elif "OPR" in names:
        res["browser"], res["browserVer"] = "Opera", names["OPR"]
    elif "Chrome" in names:
        res["browser"], res["browserVer"] = "Chrome", names["Chrome"]
    elif "CriOS" in names:
        res["browser"], res["browserVer"] = "Chrome", names["CriOS"]
    elif "Firefox" in names:
        res["browser"], res["browserVer"] = "Firefox", names["Firefox"]
    elif "Safari" in names:
        res["browser"], res["browserVer"] = "Safari", names.get("Version", names["Safari"])
    else:
        comment = secs[0][2]
        msie = next((c for c in comment if c.startswith("MSIE ")), None)
        if msie:
            res["browser"], res["browserVer"] = "Internet Explorer", msie[5:]
            res["engine"], res["engineVer"] = "", ""
        elif any(c.startswith("Trident") for c in comment):
            rv = next((c[3:] for c in comment if c.startswith("rv:")), "")
            res["browser"], res["browserVer"] = "Internet Explorer", rv
        else:
            if len(secs) > 0:
                res["browser"], res["browserVer"] = secs[-1][0], secs[-1][1]
    if _BOT.search(ua) and not res["os"]:
        res["isBot"] = True
    elif _BOT.search(ua):
        res["isBot"] = "compatible" in ua
    return res


@builtin("user_agent", Param("key", ArgKind.KEY))
def user_agent(ctx, key):
    """Parse the key's User-Agent; set isMobile isBot os browser browserVer engine engineVer ua."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    for k, val in parse_user_agent(v if type(v) is str else to_str(v)).items():
        ctx.set_field(k, val)
    return None
