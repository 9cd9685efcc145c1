"""Tier-2 built-ins (§9.2): gjson geoip query_refer_table mquery_refer_table create_point
http_request cache_get cache_set.

geoip and the reference-table look-ups are the spec's "no database / no tables => no-op" case: the
receiver ships neither an IP database nor reference tables, so they do nothing.
"""

from __future__ import annotations

import re
import time

import orjson

from offload.point import Point

from ..registry import MISSING, ArgKind, Param, builtin
from ._values import format_float, to_str
from .jsonfns import _BAD, _parse

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT


def _gjson_path(path: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(path):
        c = path[i]
        if c == "\\" and i + 1 < len(path):
            cur.append(path[i + 1])
            i += 2
            continue
        if c == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def gjson_get(obj, path: str):
    for part in _gjson_path(path):
        if type(obj) is dict:
            if part not in obj:
                return _BAD
            obj = obj[part]
        elif type(obj) is list:
            if part == "#":
                obj = len(obj)
            elif part.isdigit() and int(part) < len(obj):
                obj = obj[int(part)]
            else:
                return _BAD
        else:
            return _BAD
    return obj


@builtin("gjson", Param("key", KEY), Param("path", LIT, lit_types=(str,)), Param("newkey", KEY, default=None), tier=2)
def gjson(ctx, key, path, newkey):
    """GJSON path -> number as float, bool, str; objects/arrays as JSON text; null/missing: no-op."""
    src = ctx.read(key)
    if src is MISSING:
        return None
    obj = _parse(src if type(src) is str else to_str(src))
    if obj is _BAD:
        return None
    v = gjson_get(obj, path)
    if v is _BAD or v is None:
        return None
    if type(v) is int:
        v = float(v)
    elif type(v) in (dict, list):
        v = orjson.dumps(v).decode()
    ctx.set_field(newkey or path, v)
    return None


@builtin("geoip", Param("key", KEY), tier=2)
def geoip(ctx, key):
    """No IP database is configured on receivers: a no-op (§9.2 "No DB => no-op")."""
    return None


@builtin("query_refer_table", Param("table", VALUE), Param("col", VALUE), Param("value", VALUE), tier=2)
def query_refer_table(ctx, table, col, value):
    """No reference tables on receivers: a no-op."""
    return None


@builtin("mquery_refer_table", Param("table", VALUE), Param("cols", VALUE), Param("values", VALUE), tier=2)
def mquery_refer_table(ctx, table, cols, values):
    """No reference tables on receivers: a no-op."""
    return None


_CATEGORIES = {"M": "metric", "metric": "metric", "L": "logging", "logging": "logging", "O": "object",
               "object": "object", "CO": "custom_object", "custom_object": "custom_object", "N": "network",
               "network": "network", "E": "keyevent", "keyevent": "keyevent", "T": "tracing", "tracing": "tracing",
               "R": "rum", "rum": "rum", "S": "security", "security": "security"}


@builtin("create_point", Param("name", VALUE), Param("tags", VALUE), Param("fields", VALUE), Param("ts", VALUE, default=0),
         Param("category", VALUE, default="M"), Param("after_use", VALUE, default=""), tier=2)
def create_point(ctx, name, tags, fields, ts, category, after_use):
    """Queue an extra point (emitted after the run)."""
    cat = _CATEGORIES.get(category) if type(category) is str else None
    if cat is None or type(name) is not str:
        return None
    t = {k: v for k, v in (tags or {}).items() if type(v) is str} if type(tags) is dict else {}
    f = {k: v for k, v in (fields or {}).items() if type(v) in (int, float, str, bool)} if type(fields) is dict else {}
    p = Point(name, t, f, ts if type(ts) is int and ts > 0 else ctx.point.time)
    adder = getattr(ctx, "add_point", None)
    if adder is not None:
        adder(p, cat)
    else:
        ctx.new_points.append(p)
    return None


@builtin("http_request", Param("method", VALUE), Param("url", VALUE), Param("headers", VALUE, default=None),
         Param("body", VALUE, default=None), tier=2)
def http_request(ctx, method, url, headers, body):
    """An HTTP(S) call with a 10 s timeout -> {"status_code", "body"}, nil on failure."""
    if getattr(ctx, "options", {}).get("http_request_disabled"):
        return None
    if type(method) is not str or type(url) is not str or not re.match(r"https?://", url):
        return None
    import httpx
    hdrs = {str(k): to_str(v) for k, v in headers.items()} if type(headers) is dict else None
    content = body if type(body) is str else (None if body is None else to_str(body))
    try:
        r = httpx.request(method.upper(), url, headers=hdrs, content=content, timeout=10.0)
    except httpx.HTTPError:
        return None
    return {"status_code": r.status_code, "body": r.text}


_CACHE: dict[object, tuple[float, object]] = {}


def _cache_key(ctx, key):
    return (getattr(ctx, "script_name", None) or getattr(getattr(ctx, "script", None), "name", None), key)


@builtin("cache_set", Param("key", VALUE), Param("value", VALUE), Param("exp", VALUE, default=100), tier=2)
def cache_set(ctx, key, value, exp):
    """Store value under key for `exp` seconds (per script)."""
    if type(key) is not str:
        return None
    ttl = exp if type(exp) in (int, float) and not isinstance(exp, bool) else 100
    if len(_CACHE) > 100_000:
        now = time.monotonic()
        for k in [k for k, (t, _) in _CACHE.items() if t < now]:
            del _CACHE[k]
    _CACHE[_cache_key(ctx, key)] = (time.monotonic() + ttl, value)
    return None


@builtin("cache_get", Param("key", VALUE), tier=2)
def cache_get(ctx, key):
    """The cached value (as str) or nil when absent or expired."""
    if type(key) is not str:
        return None
    hit = _CACHE.get(_cache_key(ctx, key))
    if hit is None or hit[0] < time.monotonic():
        return None
    v = hit[1]
    return format_float(v) if type(v) is float else (v if type(v) is str else to_str(v))
