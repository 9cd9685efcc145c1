"""String built-ins (§9.2): lowercase uppercase trim strfmt len strlen slice_string replace match
kv_split cover value_type append delete."""

from __future__ import annotations

from ..grok import RegexError, compile_regex
from ..grok.compiler import _GO_SPACE
from ..registry import MISSING, ArgKind, Param, ScriptRuntimeError, builtin
from ._args import ident_name, is_literal
from ._gofmt import sprintf
from ._values import to_str, type_name

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT


def _read_str(ctx, key):
    v = ctx.read(key)
    if v is MISSING:
        return None
    return v if type(v) is str else to_str(v)


@builtin("lowercase", Param("key", KEY))
def lowercase(ctx, key):
    """Unicode lower-case of the key's value."""
    s = _read_str(ctx, key)
    if s is not None:
        ctx.set_field(key, s.lower())


@builtin("uppercase", Param("key", KEY))
def uppercase(ctx, key):
    """Unicode upper-case of the key's value."""
    s = _read_str(ctx, key)
    if s is not None:
        ctx.set_field(key, s.upper())


@builtin("trim", Param("key", KEY), Param("cutset", LIT, default="", lit_types=(str,)))
def trim(ctx, key, cutset):
    """Strip whitespace (or the characters of cutset) at both ends."""
    s = _read_str(ctx, key)
    if s is not None:
        ctx.set_field(key, s.strip(cutset) if cutset else s.strip(_GO_SPACE))


@builtin("strfmt", Param("key", KEY), Param("fmt", LIT, lit_types=(str,)), Param("args", VALUE, variadic=True))
def strfmt(ctx, key, fmt, *args):
    """Go fmt.Sprintf(fmt, args...) stored at key."""
    if len(args) == 1 and type(args[0]) is tuple:  # a variadic param may arrive packed
        args = args[0]
    ctx.set_field(key, sprintf(fmt, args))


@builtin("len", Param("value", VALUE))
def len_(ctx, value):
    """str: byte length; list/map: element count; else 0."""
    t = type(value)
    if t is str:
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if t is list or t is dict:
        return len(value)
    return 0


@builtin("strlen", Param("value", VALUE))
def strlen(ctx, value):
    """Number of code points of a str."""
    if type(value) is not str:
        raise ScriptRuntimeError(f"strlen: argument must be a str, got {type_name(value) or 'nil'}")
    return len(value)


@builtin("slice_string", Param("s", VALUE), Param("start", VALUE), Param("end", VALUE))
def slice_string(ctx, s, start, end):
    """Code-point substring [start, end)."""
    if type(s) is not str or type(start) is not int or type(end) is not int:
        raise ScriptRuntimeError("slice_string: want (str, int, int)")
    n = len(s)
    if end > n:
        end = n
    if start < 0 or end < 0 or start > end:
        return ""
    return s[start:end]


def _check_regex(name, index):
    def check(cc, args):
        a = args[index]
        if not is_literal(a, str):
            cc.error(f"{name}: the regular expression must be a string literal", a)
        try:
            return {a.param.name: compile_regex(a.value)}
        except RegexError as exc:
            cc.error(f"{name}: {exc}", a)
    return check


def go_expand(template: str, m, groupindex: dict) -> str:
    """Go Regexp.Expand: $1 ${1} $name ${name} $$; bad names expand to ""."""
    out = []
    i, n = 0, len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        if i < n and template[i] == "{":
            k = template.find("}", i)
            name = template[i + 1:k] if k > 0 else ""
            if k < 0 or not name or not all(c.isalnum() or c == "_" for c in name):
                out.append("$")
                continue
            i = k + 1
        else:
            k = i
            while k < n and (template[k].isalnum() or template[k] == "_") and template[k].isascii():
                k += 1
            name = template[i:k]
            if not name:
                out.append("$")
                continue
            i = k
        if name.isdigit():
            idx = int(name)
            v = m.group(idx) if idx <= m.re.groups else None
        else:
            idx = groupindex.get(name)
            v = m.group(idx) if idx is not None else None
        out.append(v or "")
    return "".join(out)


def go_find_all(rx, s: str) -> list:
    """Matches as Go's FindAll returns them: an empty match right after a match is skipped."""
    out = []
    prev_end = -1
    for m in rx.finditer(s):
        if m.start() == m.end() and m.start() == prev_end:
            continue
        out.append(m)
        prev_end = m.end()
    return out


@builtin("replace", Param("key", KEY), Param("regex", LIT, lit_types=(str,)), Param("repl", LIT, lit_types=(str,)),
         check=_check_regex("replace", 1))
def replace(ctx, key, regex, repl):
    """Replace every match of the regex in the key's value, with Go $-expansion."""
    s = _read_str(ctx, key)
    if s is None:
        return None
    out = []
    pos = 0
    plain = "$" not in repl
    for m in go_find_all(regex, s):
        out.append(s[pos:m.start()])
        out.append(repl if plain else go_expand(repl, m, regex.groupindex))
        pos = m.end()
    out.append(s[pos:])
    ctx.set_field(key, "".join(out))
    return None


@builtin("match", Param("regex", LIT, lit_types=(str,)), Param("s", VALUE), check=_check_regex("match", 0))
def match(ctx, regex, s):
    """Unanchored search; false when s is not a str."""
    if type(s) is not str:
        return False
    return regex.search(s) is not None


def go_split(rx, s: str, n: int = -1) -> list[str]:
    """Go Regexp.Split(s, n)."""
    if n == 0:
        return []
    if not s:
        return [""]
    matches = go_find_all(rx, s)
    out: list[str] = []
    beg = end = 0
    for m in matches:
        if n > 0 and len(out) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            out.append(s[beg:end])
        beg = m.end()
    if end != len(s):
        out.append(s[beg:])
    return out


def _check_kv_split(cc, args):
    out = {}
    for i, name in ((1, "field_split_pattern"), (2, "value_split_pattern")):
        a = args[i]
        if a is None:
            out[name] = compile_regex(" " if i == 1 else "=")
            continue
        if not is_literal(a, str):
            cc.error(f"kv_split: {name} must be a string literal", a)
        try:
            out[name] = compile_regex(a.value)
        except RegexError as exc:
            cc.error(f"kv_split: {exc}", a)
    for i in (3, 4, 6):
        a = args[i]
        if a is not None and not is_literal(a, str):
            cc.error(f"kv_split: {a.param.name} must be a string literal", a)
    return out


@builtin("kv_split", Param("key", KEY), Param("field_split_pattern", LIT, default=" ", lit_types=(str,)),
         Param("value_split_pattern", LIT, default="=", lit_types=(str,)),
         Param("trim_key", LIT, default="", lit_types=(str,)), Param("trim_value", LIT, default="", lit_types=(str,)),
         Param("include_keys", VALUE, default=None), Param("prefix", LIT, default="", lit_types=(str,)),
         check=_check_kv_split)
def kv_split(ctx, key, field_split_pattern, value_split_pattern, trim_key, trim_value, include_keys, prefix):
    """Split key=value pairs; only keys in include_keys are set (as prefix+key). True if any set."""
    if type(include_keys) is not list or not include_keys:
        return False
    s = _read_str(ctx, key)
    if s is None:
        return False
    if type(field_split_pattern) is str:  # defaults arrive uncompiled when the check hook is skipped
        field_split_pattern = compile_regex(field_split_pattern)
    if type(value_split_pattern) is str:
        value_split_pattern = compile_regex(value_split_pattern)
    wanted = {k for k in include_keys if type(k) is str}
    done = False
    for piece in go_split(field_split_pattern, s):
        kv = go_split(value_split_pattern, piece, 2)
        if len(kv) < 2:
            continue
        k, v = kv
        if trim_key:
            k = k.strip(trim_key)
        if trim_value:
            v = v.strip(trim_value)
        if not k or k not in wanted:
            continue
        ctx.set_field(prefix + k, v)
        done = True
    return done


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x323AF or 0xF900 <= o <= 0xFAFF
            or 0x2E80 <= o <= 0x2FD5 or o in (0x3005, 0x3007) or 0x3021 <= o <= 0x3029 or 0x3038 <= o <= 0x303B)


def _check_cover(cc, args):
    r = args[1]
    if not is_literal(r, list) or len(r.value) != 2 or not all(type(x) is int for x in r.value):
        cc.error("cover: the range must be a list literal [start, end] of ints", r)
    return None


@builtin("cover", Param("key", KEY), Param("range", LIT, lit_types=(list,)), check=_check_cover)
def cover(ctx, key, range):
    """Mask code points start..end (1-based, inclusive): Han -> U+FF0A, others -> '*'."""
    s = ctx.read(key)
    if type(s) is not str:
        return None
    start, end = range
    n = len(s)
    if end > n:
        end = n
    if end < 0:
        end = n + end + 1
    if start <= 0:
        start = n + start + 1
    if start > end:
        return None
    start = max(start, 1)
    chars = list(s)
    for i in _range(start - 1, end):
        chars[i] = "\uff0a" if _is_han(chars[i]) else "*"
    ctx.set_field(key, "".join(chars))
    return None


_range = range


@builtin("value_type", Param("value", VALUE))
def value_type(ctx, value):
    """int float bool str list map, or "" for nil."""
    return type_name(value)


def _check_append(cc, args):
    if ident_name(args[0]) is None and args[0] is not None and args[0].is_literal:
        cc.error("append: the first argument must be an identifier", args[0])
    return None


@builtin("append", Param("list", VALUE), Param("elem", VALUE), check=_check_append)
def append(ctx, list, elem):
    """A new list: `list` with `elem` appended; void when `list` is not a list."""
    if type(list) is not _list:
        return None
    return list + [elem]


_list = list


@builtin("delete", Param("map", VALUE), Param("key", LIT, lit_types=(str,)))
def delete(ctx, map, key):
    """Remove `key` from the map in place."""
    if type(map) is dict and type(key) is str:
        map.pop(key, None)
    return None
