"""Encoding, number, URL and network built-ins (§9.2): url_decode url_parse b64enc b64dec hash
format_int parse_int conv_traceid_w3c_to_dd cidr sample decode."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import time
from urllib.parse import unquote_to_bytes, urlsplit

from ..grok.numbers import RangeError
from ..grok.numbers import parse_int as go_parse_int
from ..registry import MISSING, ArgKind, Param, ScriptRuntimeError, builtin
from ._values import to_str

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def query_unescape(s: str) -> str:
    """Go url.QueryUnescape; ValueError on a bad % escape."""
    if "%" not in s and "+" not in s:
        return s
    m = _BAD_ESCAPE.search(s)
    if m:
        raise ValueError(f"invalid URL escape {s[m.start():m.start() + 3]!r}")
    return unquote_to_bytes(s.replace("+", " ")).decode("utf-8", "replace")


def path_unescape(s: str) -> str:
    if "%" not in s:
        return s
    m = _BAD_ESCAPE.search(s)
    if m:
        raise ValueError(f"invalid URL escape {s[m.start():m.start() + 3]!r}")
    return unquote_to_bytes(s).decode("utf-8", "replace")


@builtin("url_decode", Param("key", KEY))
def url_decode(ctx, key):
    """Query-unescape the key's value (%XX, + -> space); a bad escape raises."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    try:
        ctx.set_field(key, query_unescape(to_str(v)))
    except ValueError as exc:
        raise ScriptRuntimeError(f"url_decode: {exc}") from None
    return None


def _check_ident(name):
    def check(cc, args):
        if args[0] is not None and args[0].is_literal:
            cc.error(f"{name}: the argument must be an identifier or an attribute", args[0])
        return None
    return check


def parse_url(s: str) -> dict:
    """The url_parse() map: scheme, host (with port), port, path (decoded), params."""
    try:
        u = urlsplit(s)
        port = u.port
    except ValueError as exc:
        raise ScriptRuntimeError(f"url_parse: {exc}") from None
    if any(ord(c) < 0x20 or c == "\x7f" for c in s):
        raise ScriptRuntimeError("url_parse: invalid control character in URL")
    params: dict[str, list[str]] = {}
    try:
        if u.query:
            for part in re.split("[&]", u.query):
                if not part:
                    continue
                k, _, v = part.partition("=")
                params.setdefault(query_unescape(k), []).append(query_unescape(v))
        path = path_unescape(u.path)
    except ValueError as exc:
        raise ScriptRuntimeError(f"url_parse: {exc}") from None
    return {
        "scheme": u.scheme, "host": u.netloc.rpartition("@")[2], "port": "" if port is None else str(port),
        "path": path, "params": {k: ",".join(v) for k, v in params.items()},
    }


@builtin("url_parse", Param("key", KEY), check=_check_ident("url_parse"))
def url_parse(ctx, key):
    """Parse the key's URL into a map; unparsable raises."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    return parse_url(to_str(v))


@builtin("b64enc", Param("key", KEY), check=_check_ident("b64enc"))
def b64enc(ctx, key):
    """Standard base64 (padded) of a str value."""
    v = ctx.read(key)
    if type(v) is str:
        ctx.set_field(key, base64.b64encode(v.encode("utf-8", "surrogateescape")).decode("ascii"))
    return None


@builtin("b64dec", Param("key", KEY), check=_check_ident("b64dec"))
def b64dec(ctx, key):
    """Decode a standard base64 str value; a decode error raises."""
    v = ctx.read(key)
    if type(v) is not str:
        return None
    try:
        raw = base64.b64decode(v.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ScriptRuntimeError(f"b64dec: {exc}") from None
    ctx.set_field(key, raw.decode("utf-8", "replace"))
    return None


_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


@builtin("hash", Param("text", VALUE), Param("method", VALUE))
def hash_(ctx, text, method):
    """Lower-case hex digest (md5 sha1 sha256 sha512); other methods give ""."""
    h = _HASHES.get(method) if type(method) is str else None
    if h is None or type(text) is not str:
        return ""
    return h(text.encode("utf-8", "surrogateescape")).hexdigest()


_DIG36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@builtin("format_int", Param("value", VALUE), Param("base", VALUE))
def format_int(ctx, value, base):
    """Format an int in base 2..36 (lower-case digits); "" on bad input."""
    if type(value) is not int or type(base) is not int or not 2 <= base <= 36:
        return ""
    neg, v = value < 0, abs(value)
    out = []
    while True:
        v, r = divmod(v, base)
        out.append(_DIG36[r])
        if not v:
            break
    return ("-" if neg else "") + "".join(reversed(out))


@builtin("parse_int", Param("s", VALUE), Param("base", VALUE))
def parse_int(ctx, s, base):
    """Go ParseInt(s, base, 64): invalid 0, out of range clamped to the int64 limits."""
    if type(s) is not str or type(base) is not int:
        return 0
    try:
        return go_parse_int(s, base)
    except RangeError as exc:
        return exc.value
    except ValueError:
        return 0


_HEX = frozenset("0123456789abcdefABCDEF")


@builtin("conv_traceid_w3c_to_dd", Param("key", KEY))
def conv_traceid_w3c_to_dd(ctx, key):
    """A 32- or 16-hex-digit trace id -> the decimal of its low 64 bits."""
    v = ctx.read(key)
    if type(v) is not str or len(v) not in (16, 32) or not _HEX.issuperset(v):
        return None
    ctx.set_field(key, str(int(v[-16:], 16)))
    return None


def _ip_in(ip: str, prefix: str) -> bool:
    try:
        net = ipaddress.ip_network(prefix, strict=False)
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if "/" not in prefix or addr.version != net.version:
        return False
    return addr in net


@builtin("cidr", Param("ip", VALUE), Param("prefix", VALUE))
def cidr(ctx, ip, prefix):
    """True when the address lies in the prefix."""
    if type(ip) is not str or type(prefix) is not str:
        return False
    return _ip_in(ip, prefix)


def _check_sample(cc, args):
    a = args[0]
    if a is not None and a.is_literal and type(a.value) not in (int, float):
        cc.error("sample: the probability must be a number", a)
    return None


@builtin("sample", Param("p", VALUE), check=_check_sample)
def sample(ctx, p):
    """True with probability ~p: (now_us mod 100) <= floor(p*100)."""
    if type(p) is int:
        p = float(p)  # literal ints were kept as literals by the check hook
    if type(p) is not float:
        raise ScriptRuntimeError("sample: the probability must evaluate to a float")
    if not 0.0 <= p <= 1.0:
        return None
    return (time.time_ns() // 1000) % 100 <= int(p * 100)


_CODECS = {"gbk": "gbk", "gb18030": "gb18030", "utf-16le": "utf-16-le", "utf-16be": "utf-16-be",
           "utf-8": "utf-8", "utf8": "utf-8"}


@builtin("decode", Param("key", KEY), Param("encoding", VALUE), tier=2)
def decode(ctx, key, encoding):
    """Convert the key's bytes from gbk/gb18030/utf-16le/utf-16be to UTF-8 text."""
    codec = _CODECS.get(encoding.lower()) if type(encoding) is str else None
    v = ctx.read(key)
    if codec is None or v is MISSING:
        return None
    if isinstance(v, (bytes, bytearray)):
        raw = bytes(v)
    else:
        s = to_str(v)
        try:
            raw = s.encode("latin-1")  # raw bytes carried as code points 0-255
        except UnicodeEncodeError:
            raw = s.encode("utf-8", "surrogateescape")
    ctx.set_field(key, raw.decode(codec, "replace"))
    return None

